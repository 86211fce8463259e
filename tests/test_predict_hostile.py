"""Hostile images against the reader and `mnistlab predict`: bounded memory and CPU, clean errors."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.cli import main
from mnistlab.data import user_images
from mnistlab.data.user_images import ImageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from hostile_inputs import encode, png_header_only, progressive_jpeg, tiff_float_strip  # noqa: E402


def stroke(mode: str, size: int, bg, ink) -> Image.Image:
    im = Image.new(mode, (size, size), bg)
    ImageDraw.Draw(im).line([(size // 2, size // 8), (size // 2, size * 7 // 8)], fill=ink, width=max(2, size // 10))
    return im


def test_tiff_whose_strip_offsets_are_float_is_one_line():
    with pytest.raises(ImageError, match="truncated or damaged image") as e:
        user_images.load(tiff_float_strip(), "mnist")
    assert "\n" not in str(e.value)


def test_rgba_png_over_the_decode_memory_is_refused_from_its_header():
    with pytest.raises(ImageError, match=r"6300x6300 RGBA needs about 265 MiB to decode, over the limit"):
        user_images.read_image(png_header_only(6300, 6300, 6))
    user_images.read_image(encode(stroke("L", 300, 255, 0), "PNG"))  # a grey one of the same kind is fine


def test_jpeg_with_too_many_scans_is_refused_before_decoding():
    data = progressive_jpeg(64, 64, user_images.MAX_JPEG_SCANS + 50)
    with pytest.raises(ImageError, match=f"a JPEG of {user_images.MAX_JPEG_SCANS + 50} scans"):
        user_images.load(data, "mnist")
    assert user_images.load(progressive_jpeg(64, 64, 12), "mnist").shape == (28, 28)


def test_decoding_stops_past_its_cpu_budget_or_when_cancelled():
    data = encode(stroke("L", 400, 255, 0), "PNG")
    with pytest.raises(ImageError, match="over -1 s of CPU"):
        user_images.load(data, "mnist", cpu_limit_s=-1)
    gone = threading.Event()
    gone.set()
    with pytest.raises(ImageError, match="the client left"):
        user_images.load(data, "mnist", cancel=gone)


def test_large_images_are_reduced_while_8_bit():
    grey = user_images.read_image(encode(stroke("L", 3000, 255, 0), "PNG"))
    assert grey.dtype == np.uint8 and max(grey.shape) <= user_images.WORK_SIDE
    small = user_images.load(encode(stroke("L", 300, 255, 0), "PNG"), "mnist")
    large = user_images.load(encode(stroke("L", 3000, 255, 0), "PNG"), "mnist")
    assert np.abs(small.astype(int) - large.astype(int)).mean() < 8  # the same digit at any size


DECODE_PEAK = r"""
import sys
from mnistlab.data import user_images
user_images.read_image(open(sys.argv[2], "rb").read())  # imports and warms the decoder
open("/proc/self/clear_refs", "w").write("5")
kb = lambda key: int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1])
idle = kb("VmRSS:")
user_images.load(open(sys.argv[1], "rb").read(), "mnist")
print((kb("VmHWM:") - idle) / 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc peak RSS")
def test_memory_of_a_large_accepted_image_is_bounded(tmp_path):
    """A 16 MP RGBA PNG (accepted) decodes within 200 MiB over idle, in a fresh process."""
    path = tmp_path / "big.png"
    path.write_bytes(encode(stroke("RGBA", 4000, (0, 0, 0, 0), (0, 0, 0, 255)), "PNG"))
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(encode(stroke("RGBA", 40, (0, 0, 0, 0), (0, 0, 0, 255)), "PNG"))
    done = subprocess.run([sys.executable, "-c", DECODE_PEAK, str(path), str(tiny)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 200


@pytest.mark.parametrize("mode,bg,ink", [
    ("LA", (0, 0), (0, 255)),
    ("RGBA", (255, 255, 255, 0), (0, 0, 0, 255)),
    ("RGBA", (0, 0, 0, 0), (255, 255, 255, 255)),
])
def test_transparent_background_is_paper(mode, bg, ink):
    out = user_images.load(encode(stroke(mode, 200, bg, ink), "PNG"), "mnist")
    assert out.max() == 255 and out[0].max() == 0 and out.sum() > 0


@pytest.mark.parametrize("palette,fmt", [([0, 0, 0, 0, 0, 0], "PNG"), ([255, 255, 255, 0, 0, 0], "PNG"),
                                         ([0, 0, 0, 255, 255, 255], "PNG"), ([0, 0, 0, 0, 0, 0], "GIF")])
def test_palette_with_a_transparent_background_is_paper(palette, fmt):
    im = stroke("P", 200, 0, 1)
    im.putpalette(palette + [0] * (768 - len(palette)))
    out = user_images.load(encode(im, fmt, transparency=0), "mnist")
    assert out.max() == 255 and out[0].max() == 0


def test_palette_with_an_rgba_palette_in_memory_is_paper():
    im = stroke("RGBA", 200, (0, 0, 0, 0), (0, 0, 0, 255)).quantize()  # P with an RGBA palette, no info
    buf = io.BytesIO()
    im.save(buf, "PNG")
    assert user_images.load(buf.getvalue(), "mnist").max() == 255


@pytest.mark.parametrize("size", [28, 29, 200])
@pytest.mark.parametrize("level", [0, 255, 128])
def test_blank_images_are_blank_at_every_size(size, level):
    with pytest.raises(ImageError, match="blank"):
        user_images.load(encode(Image.new("L", (size, size), level), "PNG"), "mnist")


def test_a_28x28_data_set_image_is_still_taken_as_it_is():
    a = np.zeros((28, 28), np.uint8)
    a[6:22, 12:16] = 255
    assert np.array_equal(user_images.load(encode(Image.fromarray(a), "PNG"), "mnist"), a)


def test_predict_keeps_the_other_results_and_escapes_file_names(tmp_path, capsys):
    good = tmp_path / "seven\n7.png: 1 100.0%\x1b[2J.png"
    good.write_bytes(encode(stroke("L", 200, 255, 0), "PNG"))
    bad = tmp_path / "bad.tif"
    bad.write_bytes(tiff_float_strip())
    assert main(["predict", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and "\\n7.png" in out and "\\x1b[2J" in out and "\x1b" not in out
    assert len(err.splitlines()) == 1 and "bad.tif: truncated or damaged image" in err
    assert main(["predict", "--json", str(good)]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_model_zip_holding_a_huge_config_is_refused_cheaply(tmp_path, capsys):
    import zipfile

    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("config.json", "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(b" " * 2**20)  # 64 MiB of spaces in about 64 KB
    assert path.stat().st_size < 2**20
    assert main(["predict", "--model", str(path), "--dataset", "mnist", str(path)]) == 1
    assert "config.json' is 67,108,864 bytes uncompressed, over the limit" in capsys.readouterr().err
