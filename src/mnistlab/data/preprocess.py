"""Any image -> a 28x28 uint8 array in the data set's own format (light ink or object on black).

Shared by prediction (``mnistlab predict``, the web page) and training: the shipped models are trained on
arrays that went through :func:`dataset_format`, so a data set image saved as a file and read back gives
the model exactly what training gave it (``tests/test_predict_preprocess.py`` checks both ways).

The recipes are the data sets' own:

- MNIST (LeCun et al.): grey levels, light ink on black, the digit fitted into a 20x20 box keeping its
  aspect ratio (anti-aliased), pasted into 28x28 so that its centre of mass is at the centre.
  Measured on the training set: the centre of mass sits at pixel index (14.0, 14.0), +-0.3.
- Fashion-MNIST (Xiao et al.): the product trimmed, its longest side resized to 28, centred, intensities
  negated so the white studio background becomes black.

A photo or a drawing is dark ink on light paper, so the paper is detected from the image border and
inverted when light. An image that is already 28x28 is taken to be in the data set's format (an export of
a test image, or what ``--save-input`` wrote) and is only inverted when its background is light.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError

MAX_PIXELS = 40_000_000  # larger images are refused from their header, before any decoding (40 megapixels)
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")  # the only decoders Pillow may use
SIDE = 28  # the data sets' image side, pixels
DIGIT_BOX = 20  # MNIST fits each digit into a 20x20 box inside the 28x28 image
DIGIT_CENTRE = 14.0  # pixel index where MNIST's centre of mass falls (measured, see the module docstring)
INK_FLOOR = 0.2  # digits: after stretching paper to 0 and the darkest ink to 1, fainter pixels are paper noise
TRIM_FLOOR = 0.1  # fashion: pixels fainter than this do not count when trimming (they are kept)
MIN_CONTRAST = 24  # grey levels between paper and the strongest ink below which the image counts as blank


class ImageError(MnistlabError):
    """An image that cannot be used: empty, not an image, truncated, too large, blank."""


def read_image(source: bytes | str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file into grey levels, paper left as it is.

    Reads PNG, JPEG, BMP, GIF (first frame), WebP and TIFF; honours EXIF orientation; palette, 16-bit and
    float images become 8-bit grey; transparent pixels become paper (see :func:`_flatten_alpha`).

    Args:
        source: a path, or the file's bytes.
        max_pixels: images with more pixels are refused from their header, before decoding.

    Returns:
        uint8 array (height, width).

    Raises:
        ImageError: the file is missing, empty, not one of the formats, truncated or over ``max_pixels``.
    """
    from PIL import Image, UnidentifiedImageError

    path = None if isinstance(source, bytes | bytearray) else source
    try:
        if path is not None and os.path.getsize(path) == 0:
            raise ImageError("empty file", path)
        if path is None and not source:
            raise ImageError("empty file")
    except FileNotFoundError:
        raise ImageError("no such file", path) from None
    except OSError as e:
        raise ImageError(f"cannot read ({e.strerror})", path) from None
    try:
        # Our limit (40 MP) is checked before Pillow's own, which warns at 89 MP and raises at 179 MP; no
        # warnings filter here, as changing filters is not thread-safe (the web server decodes in threads).
        with Image.open(io.BytesIO(source) if path is None else path, formats=FORMATS) as im:
            width, height = im.size  # from the header; nothing decoded yet
            if width * height > max_pixels:
                raise ImageError(f"{width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit"
                                 f" of {max_pixels / 1e6:g}", path)
            if width == 0 or height == 0:
                raise ImageError("image has no pixels", path)
            im.seek(0)  # first frame of an animation
            im.load()
            im = _orient(im)
            return _to_grey(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image (readable formats: PNG, JPEG, BMP, GIF, WebP, TIFF)", path) from None
    except Image.DecompressionBombError:
        raise ImageError("too many pixels (decompression bomb)", path) from None
    except FileNotFoundError:
        raise ImageError("no such file", path) from None
    except IsADirectoryError:
        raise ImageError("is a folder, not an image", path) from None
    except PermissionError:
        raise ImageError("permission denied", path) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageError(f"truncated or damaged image ({reason})", path) from None


def _orient(im):
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not cost the picture: keep it unrotated
        return im


def _to_grey(im) -> np.ndarray:
    """Any Pillow mode -> uint8 grey (ITU-R 601 luma for colour), alpha flattened onto paper."""
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        top = 1.0 if a.max() <= 1.0 else 255.0
        return np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float64)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        return _flatten_alpha(grey, alpha)
    return np.asarray(im.convert("L"), dtype=np.uint8)


def _flatten_alpha(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put transparent pixels on paper.

    Strokes on a transparent layer (a drawing exported from a canvas): the paper is white under dark ink,
    black under light ink. An opaque picture with transparent margins: the paper is the picture's own
    background (its median grey).
    """
    opaque = alpha >= 0.5
    if not opaque.any():
        paper = 255.0
    elif opaque.mean() > 0.5:
        paper = float(np.median(grey[opaque]))
    else:
        paper = 255.0 if grey[opaque].mean() < 128 else 0.0
    return np.clip(np.rint(grey * alpha + paper * (1.0 - alpha)), 0, 255).astype(np.uint8)


def dataset_format(grey: np.ndarray, dataset: str) -> np.ndarray:
    """Grey levels of any size -> the 28x28 uint8 image a model trained on ``dataset`` expects.

    Args:
        grey: uint8 (height, width), dark ink on light paper or light ink on black.
        dataset: ``mnist`` (digit recipe) or ``fashion_mnist`` (product recipe).

    Raises:
        ImageError: the image is blank (no ink stands out from the paper).
    """
    grey = np.asarray(grey, dtype=np.uint8)
    if grey.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {grey.shape}")
    if grey.shape == (SIDE, SIDE):
        return 255 - grey if _paper_is_light(grey) else grey.copy()
    if dataset == "mnist":
        return digit(grey)
    if dataset == "fashion_mnist":
        return fashion(grey)
    raise ValueError(f"unknown data set {dataset!r}")


def _paper_is_light(grey: np.ndarray) -> bool:
    return _paper(grey.astype(np.float32)) > 127.5


def _paper(g: np.ndarray) -> float:
    """The paper's grey level: the median of the outermost rows and columns."""
    border = np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]])
    return float(np.median(border))


def ink(grey: np.ndarray) -> np.ndarray:
    """Paper -> 0, the strongest ink -> 1 (inverting light paper), float32 of the same shape.

    Raises:
        ImageError: nothing stands out from the paper by at least ``MIN_CONTRAST`` grey levels.
    """
    g = grey.astype(np.float32)
    paper = _paper(g)
    if paper > 127.5:
        g, paper = 255.0 - g, 255.0 - paper
    peak = float(g.max())
    if peak - paper < MIN_CONTRAST:
        raise ImageError("the image is blank: no ink stands out from the paper")
    return np.clip((g - paper) / (peak - paper), 0.0, 1.0)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit(a: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longest side is ``side`` pixels, keeping the aspect ratio (area-averaged when shrinking)."""
    from PIL import Image

    h, w = a.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    out = np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, resample), dtype=np.float32)
    return np.clip(out, 0.0, 1.0)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def digit(grey: np.ndarray) -> np.ndarray:
    """MNIST's recipe: invert light paper, crop to the ink, fit into 20x20, centre of mass to the centre.

    Returns:
        uint8 (28, 28), light ink on black.
    """
    a = ink(grey)
    a[a < INK_FLOOR] = 0.0  # paper grain, shadows, JPEG noise
    top, bottom, left, right = _bbox(a > 0)
    fitted = _fit(a[top:bottom, left:right], DIGIT_BOX)
    fitted = fitted / max(float(fitted.max()), 1e-6)  # thin strokes shrunk by averaging get their contrast back
    h, w = fitted.shape
    total = float(fitted.sum())
    cy = float((fitted.sum(axis=1) * np.arange(h)).sum() / total)
    cx = float((fitted.sum(axis=0) * np.arange(w)).sum() / total)
    # Centre of mass onto DIGIT_CENTRE; never push ink out of the frame.
    y0 = min(max(int(round(DIGIT_CENTRE - cy)), 0), SIDE - h)
    x0 = min(max(int(round(DIGIT_CENTRE - cx)), 0), SIDE - w)
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[y0:y0 + h, x0:x0 + w] = fitted
    return _to_uint8(out)


def fashion(grey: np.ndarray) -> np.ndarray:
    """Fashion-MNIST's recipe: invert light paper, trim, fit the longest side into 28, centre.

    Returns:
        uint8 (28, 28), the product light on black.
    """
    a = ink(grey)
    top, bottom, left, right = _bbox(a >= TRIM_FLOOR)
    fitted = _fit(a[top:bottom, left:right], SIDE)
    h, w = fitted.shape
    y0, x0 = (SIDE - h) // 2, (SIDE - w) // 2
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[y0:y0 + h, x0:x0 + w] = fitted
    return _to_uint8(out)


def load(source: bytes | str | Path, dataset: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """:func:`read_image` then :func:`dataset_format`: a file -> the 28x28 uint8 image the model sees.

    Raises:
        ImageError: see :func:`read_image`; also a blank image. The error names the path when given one.
    """
    grey = read_image(source, max_pixels)
    try:
        return dataset_format(grey, dataset)
    except ImageError as e:
        if e.path is None and not isinstance(source, bytes | bytearray):
            raise ImageError(e.message, source) from None
        raise


def dataset_format_batch(raw: np.ndarray, dataset: str) -> np.ndarray:
    """:func:`dataset_format` over a (N, H, W) uint8 stack; what training applies to its images."""
    return np.stack([dataset_format(x, dataset) for x in raw]) if len(raw) else np.asarray(raw, dtype=np.uint8)
