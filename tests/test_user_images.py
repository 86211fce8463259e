"""Image reading and the data sets' recipes (data/user_images.py): formats, modes, bad files, each step."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.data import user_images
from mnistlab.data.user_images import ImageError, dataset_format, read_image


def page_with_bar(w=300, h=200, box=(120, 40, 150, 160), paper=235, ink=30) -> np.ndarray:
    """Dark ink on light paper: a filled rectangle (left, top, right, bottom)."""
    a = np.full((h, w), paper, dtype=np.uint8)
    left, top, right, bottom = box
    a[top:bottom, left:right] = ink
    return a


def digit_image(mode="L", size=(160, 120), text_xy=(50, 10)) -> Image.Image:
    """A thick hand-drawn-like "7" in dark ink on white paper."""
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    x, y = text_xy
    d.line([(x, y + 10), (x + 60, y + 10), (x + 25, y + 95)], fill=0, width=12)
    return im if mode == "L" else im.convert(mode)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def com(a: np.ndarray) -> tuple[float, float]:
    a = a.astype(np.float64)
    i = np.arange(a.shape[0])
    return float((a.sum(1) * i).sum() / a.sum()), float((a.sum(0) * i).sum() / a.sum())


# --- the recipes ------------------------------------------------------------------------------------------


def test_digit_recipe_inverts_crops_fits_20_keeps_aspect_and_centres_mass():
    out = dataset_format(page_with_bar(box=(120, 40, 150, 160)), "mnist")  # 30 wide, 120 tall
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[:, 0].max() == 0  # the light paper became black
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] + 1 == 20  # the longest side fits the 20-pixel box
    assert cols[-1] - cols[0] + 1 == 5  # 30/120 of 20, aspect kept
    cy, cx = com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_digit_recipe_centre_of_mass_not_box_centre():
    # An L shape: its bounding box centre and its centre of mass differ; MNIST centres the mass.
    a = np.full((200, 200), 255, np.uint8)
    a[20:180, 20:50] = 0
    a[150:180, 20:180] = 0
    out = dataset_format(a, "mnist")
    cy, cx = com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert (rows[0] + rows[-1]) / 2 != pytest.approx(13.5, abs=0.6) or (cols[0] + cols[-1]) / 2 != pytest.approx(
        13.5, abs=0.6)


def test_digit_recipe_ignores_position_size_and_colours():
    a = dataset_format(np.asarray(digit_image(size=(160, 120), text_xy=(10, 5))), "mnist")
    big = digit_image(size=(400, 300), text_xy=(250, 150)).resize((800, 600))
    b = dataset_format(np.asarray(big), "mnist")
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 12
    grey_paper = np.asarray(digit_image()) * 0.5 + 110  # paper 237, ink 110: low contrast
    c = dataset_format(grey_paper.astype(np.uint8), "mnist")
    assert np.abs(dataset_format(np.asarray(digit_image()), "mnist").astype(int) - c.astype(int)).max() <= 2


def test_light_ink_on_dark_paper_is_not_inverted():
    a = 255 - page_with_bar()
    np.testing.assert_array_equal(dataset_format(a, "mnist"), dataset_format(page_with_bar(), "mnist"))


def test_paper_noise_does_not_move_the_crop():
    rng = np.random.default_rng(0)
    noisy = np.clip(page_with_bar().astype(int) + rng.integers(-20, 21, (200, 300)), 0, 255).astype(np.uint8)
    clean = dataset_format(page_with_bar(), "mnist")
    assert np.abs(dataset_format(noisy, "mnist").astype(int) - clean.astype(int)).mean() < 8


def test_fashion_recipe_trims_fits_28_and_centres():
    a = page_with_bar(w=300, h=300, box=(40, 100, 180, 170))  # 140 wide, 70 tall, off-centre
    out = dataset_format(a, "fashion_mnist")
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert cols[0] == 0 and cols[-1] == 27  # longest side fills 28
    assert rows[-1] - rows[0] + 1 == 14
    assert rows[0] == 7  # centred: (28 - 14) / 2


def test_blank_image_is_refused():
    with pytest.raises(ImageError, match="blank"):
        dataset_format(np.full((50, 60), 200, np.uint8), "mnist")
    with pytest.raises(ImageError, match="blank"):
        dataset_format(np.full((50, 60), 200, np.uint8), "fashion_mnist")


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_28x28_images_are_taken_as_the_data_set_format(dataset):
    rng = np.random.default_rng(1)
    x = np.zeros((28, 28), np.uint8)
    x[5:20, 8:18] = rng.integers(0, 256, (15, 10))
    np.testing.assert_array_equal(dataset_format(x, dataset), x)
    np.testing.assert_array_equal(dataset_format(255 - x, dataset), x)  # light paper: inverted only


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_training_and_prediction_prepare_data_set_images_identically(shared_datasets, name, tmp_path):
    """A test image saved as PNG and read back as a user's file gives exactly the training array."""
    from mnistlab.data import pipeline, sources

    ds = sources.load(name, shared_datasets)
    raw = ds.x_test[:300]
    trained_on = user_images.dataset_format_batch(raw, name)  # what pretrained.train feeds the model
    np.testing.assert_array_equal(trained_on, raw)  # and it is the data set itself
    for i in range(0, 300, 7):
        path = tmp_path / f"{i}.png"
        Image.fromarray(raw[i]).save(path)
        seen = user_images.load(path, name)
        np.testing.assert_array_equal(seen, trained_on[i])
        np.testing.assert_array_equal(pipeline.model_input(seen[None], "cnn"),
                                      pipeline.model_input(raw[i:i + 1], "cnn"))


def test_an_mnist_digit_printed_large_on_paper_comes_back(shared_datasets):
    """MNIST's recipe undoes what a photo does: inverted, blown up 10x, off-centre on a big page."""
    from mnistlab.data import sources

    ds = sources.load("mnist", shared_datasets)
    diffs = []
    for x in ds.x_test[:40]:
        rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
        crop = x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        big = np.asarray(Image.fromarray(crop).resize((crop.shape[1] * 10, crop.shape[0] * 10), Image.BILINEAR))
        page = np.full((500, 400), 250, np.uint8)
        page[37:37 + big.shape[0], 151:151 + big.shape[1]] = 250 - (big.astype(int) * 230 // 255)
        back = dataset_format(page, "mnist")
        diffs.append(np.abs(back.astype(int) - x.astype(int)).mean())
    assert np.median(diffs) < 12  # grey levels out of 255, per pixel


# --- reading files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,kw,tol", [("PNG", {}, 0), ("JPEG", {"quality": 90}, 40), ("BMP", {}, 0),
                                        ("GIF", {}, 0), ("WEBP", {"lossless": True}, 0), ("TIFF", {}, 0)])
def test_every_format_reads_as_grey(fmt, kw, tol):
    im = digit_image()
    grey = read_image(encode(im, fmt, **kw))
    assert grey.shape == (120, 160) and grey.dtype == np.uint8
    assert np.abs(grey.astype(int) - np.asarray(im, int)).max() <= tol or tol and np.abs(
        grey.astype(int) - np.asarray(im, int)).mean() < 3


@pytest.mark.parametrize("mode", ["RGB", "CMYK", "P", "1", "I", "F", "LA"])
def test_modes_read_as_grey(mode):
    im = digit_image()
    if mode == "I":
        im = Image.fromarray(np.asarray(im, np.int32) * 257, mode="I")  # 32-bit holding 16-bit values
    elif mode == "F":
        im = Image.fromarray(np.asarray(im, np.float32) / 255.0, mode="F")
    else:
        im = im.convert(mode)
    fmt = {"CMYK": "JPEG", "I": "TIFF", "F": "TIFF"}.get(mode, "PNG")
    grey = read_image(encode(im, fmt))
    assert np.abs(grey.astype(int) - np.asarray(digit_image(), int)).mean() < 3


def test_16_bit_png_and_tiff():
    a16 = (np.asarray(digit_image(), np.uint16) * 257).astype(np.uint16)
    for fmt in ("PNG", "TIFF"):
        im = Image.fromarray(a16)  # mode I;16
        assert im.mode.startswith("I;16")
        grey = read_image(encode(im, fmt))
        np.testing.assert_array_equal(grey, np.asarray(digit_image()))


def test_transparent_background_becomes_paper():
    strokes = np.asarray(digit_image())  # 0 where ink
    alpha = (255 - strokes).astype(np.uint8)  # opaque ink, transparent paper
    for ink in (0, 255):  # dark strokes -> white paper; light strokes -> black paper
        rgba = np.zeros((*strokes.shape, 4), np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = alpha
        grey = read_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
        expected = strokes if ink == 0 else 255 - strokes
        assert np.abs(grey.astype(int) - expected.astype(int)).max() <= 1
        assert dataset_format(grey, "mnist").max() == 255


def test_opaque_picture_with_transparent_margin_keeps_its_own_paper():
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[20:180, 20:180, :3] = 240  # light paper...
    rgba[20:180, 20:180, 3] = 255
    rgba[60:140, 90:110, :3] = 10  # ...with a dark bar
    grey = read_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert grey[0, 0] == 240
    out = dataset_format(grey, "mnist")
    assert np.flatnonzero(out.any(0)).size <= 8  # only the bar is ink


def test_palette_with_transparency():
    im = digit_image().convert("P")
    im.info["transparency"] = 255  # the white entry
    grey = read_image(encode(im, "PNG", transparency=255))
    assert np.abs(grey.astype(int) - np.asarray(digit_image(), int)).mean() < 3


def test_gif_first_frame():
    first = digit_image()
    second = Image.new("L", first.size, 255)
    ImageDraw.Draw(second).rectangle((10, 10, 40, 40), fill=0)
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    np.testing.assert_array_equal(read_image(data), np.asarray(first))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_honoured(fmt):
    im = Image.new("L", (60, 40), 255)
    im.paste(0, (0, 0, 10, 10))  # a dark square top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored top-left shows top-right
    grey = read_image(encode(im, fmt, exif=exif))
    assert grey.shape == (60, 40)
    assert grey[:10, -10:].mean() < 60 and grey[:10, :10].mean() > 200


# --- files that cannot be used ----------------------------------------------------------------------------


def test_bad_files(tmp_path):
    good = encode(digit_image(), "PNG")
    cases = {
        "empty.png": (b"", "empty file"),
        "text.png": (b"hello, not a picture\n" * 10, "not an image"),
        "cut.png": (good[: len(good) // 2], "truncated or damaged"),
        "cut.jpg": (encode(digit_image(), "JPEG")[:400], "truncated or damaged"),
        "page.eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),  # no Ghostscript
        "svg.png": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match=reason) as e:
            user_images.load(path, "mnist")
        assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)
        if data:
            with pytest.raises(ImageError, match=reason):
                user_images.load(data, "mnist")
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_too_many_pixels_refused_from_the_header():
    big = encode(Image.new("1", (8000, 6000), 1), "PNG")  # 48 megapixels, a few kB compressed
    assert len(big) < 100_000
    t0 = time.perf_counter()
    with pytest.raises(ImageError, match="48.0 megapixels, over the limit of 40"):
        read_image(big)
    assert time.perf_counter() - t0 < 0.5  # refused before decoding
    with pytest.raises(ImageError, match="over the limit"):
        read_image(encode(digit_image(), "PNG"), max_pixels=1000)


def test_decompression_bomb_error_is_one_line(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own guard, below our limit here
    with pytest.raises(ImageError, match="decompression bomb"):
        read_image(encode(digit_image(), "PNG"))
