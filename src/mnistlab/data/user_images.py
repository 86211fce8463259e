"""Any image -> a 28x28 uint8 array in the data set's own format (light ink or object on black).

Shared by prediction (``mnistlab predict``, the web page) and training: the shipped models are trained on
arrays that went through :func:`dataset_format`, so a data set image saved as a file and read back gives
the model exactly what training gave it (``tests/test_user_images.py`` checks both ways).

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
import time
from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError

MAX_PIXELS = 40_000_000  # larger images are refused from their header, before any decoding (40 megapixels)
MAX_DECODE_BYTES = 160 * 2**20  # memory decoding may take (estimated from the header by mode); more is refused
MAX_FILE_BYTES = 64 * 2**20  # larger image files are refused before being read (the web limit is lower)
MAX_JPEG_SCANS = 100  # progressive JPEGs hold about 10; each scan costs a pass over the whole image
DECODE_CPU_S = 2.0  # CPU seconds one decode may take before it is stopped
WORK_SIDE = 1024  # images are reduced (8-bit, box average) so that their longest side is at most this
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")  # the only decoders Pillow may use
SIDE = 28  # the data sets' image side, pixels
DIGIT_BOX = 20  # MNIST fits each digit into a 20x20 box inside the 28x28 image
DIGIT_CENTRE = 14.0  # pixel index where MNIST's centre of mass falls (measured, see the module docstring)
INK_FLOOR = 0.2  # digits: after stretching paper to 0 and the darkest ink to 1, fainter pixels are paper noise
TRIM_FLOOR = 0.1  # fashion: pixels fainter than this do not count when trimming (they are kept)
MIN_CONTRAST = 24  # grey levels between paper and the strongest ink below which the image counts as blank


class ImageError(MnistlabError):
    """An image that cannot be used: empty, not an image, truncated, too large, blank."""


class _Stopped(Exception):
    """Raised from inside Pillow's read loop when the decoding budget is spent or the caller gave up."""


# Peak bytes per pixel from decoding to the reduced grey image, per Pillow mode (Pillow stores every
# multi-band 8-bit mode in 4 bytes a pixel); checked from the header, before decoding.
_PEAK_BYTES = {"1": 2, "L": 2, "P": 2, "I;16": 5, "I;16B": 5, "I;16L": 5, "I;16N": 5, "I": 9, "F": 9,
               "LA": 7, "La": 7, "PA": 7, "RGBA": 7, "RGBa": 7}
_DEFAULT_PEAK_BYTES = 5  # RGB, CMYK, YCbCr, LAB, HSV: 4 decoded + 1 for the grey copy
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")


class _Guarded(io.BytesIO):
    """The file's bytes, handed to Pillow in small blocks; each read checks the CPU budget and ``cancel``.

    Pillow decodes block by block inside ``Image.load`` (JPEG, PNG, GIF, BMP), so raising here stops a
    decoder that would otherwise run for minutes on a crafted file (a progressive JPEG of 20,000 scans).
    """

    def __init__(self, data: bytes, cpu_limit_s: float, cancel=None):
        super().__init__(data)
        self.deadline = time.thread_time() + cpu_limit_s
        self.cpu_limit_s = cpu_limit_s
        self.cancel = cancel

    def read(self, n: int | None = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise _Stopped("stopped: the client left")
        if time.thread_time() > self.deadline:
            raise _Stopped(f"decoding took over {self.cpu_limit_s:g} s of CPU; refused")
        return super().read(n)


def _jpeg_scans(data: bytes) -> int:
    """Start-of-scan markers in a JPEG's bytes (entropy-coded data never holds FF DA: FF is stuffed)."""
    return data.count(b"\xff\xda") if data[:2] == b"\xff\xd8" else 0


def _jpeg_coefficients_bytes(im, width: int, height: int) -> int:
    """The whole-image coefficient buffer libjpeg keeps for a multi-scan JPEG (2 bytes a coefficient)."""
    layers = getattr(im, "layer", None) or [("", 1, 1, 0)]
    h_max, v_max = max(c[1] for c in layers), max(c[2] for c in layers)
    return int(2 * width * height * sum(c[1] * c[2] / (h_max * v_max) for c in layers))


def _file_bytes(source: bytes | str | os.PathLike) -> tuple[bytes, str | os.PathLike | None]:
    path = None if isinstance(source, bytes | bytearray) else source
    if path is None:
        if not source:
            raise ImageError("empty file")
        return bytes(source), None
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise ImageError("empty file", path)
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{size:,} bytes, over the limit of {MAX_FILE_BYTES:,} for an image file", path)
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1), path
    except FileNotFoundError:
        raise ImageError("no such file", path) from None
    except IsADirectoryError:
        raise ImageError("is a folder, not an image", path) from None
    except PermissionError:
        raise ImageError("permission denied", path) from None
    except OSError as e:
        raise ImageError(f"cannot read ({e.strerror or e})", path) from None


def read_image(source: bytes | str | os.PathLike, max_pixels: int = MAX_PIXELS, cancel=None,
               cpu_limit_s: float = DECODE_CPU_S) -> np.ndarray:
    """Decode an image file into grey levels, paper left as it is, at most ``WORK_SIDE`` pixels a side.

    Reads PNG, JPEG, BMP, GIF (first frame), WebP and TIFF; honours EXIF orientation; palette, 16-bit and
    float images become 8-bit grey; transparent pixels become paper (see :func:`_flatten_alpha`).
    Memory and CPU are bounded before and while decoding: the pixel count and the memory the decoded
    image needs are checked from the header; a JPEG is decoded at a reduced scale (``draft``) and refused
    when it holds over ``MAX_JPEG_SCANS`` scans; decoding stops past ``cpu_limit_s`` of CPU or when
    ``cancel`` (a :class:`threading.Event`) is set; a large image is reduced while still 8-bit.

    Args:
        source: a path, or the file's bytes.
        max_pixels: images with more pixels are refused from their header, before decoding.
        cancel: an event that, once set, stops decoding (the web client hung up).
        cpu_limit_s: CPU seconds decoding may take.

    Returns:
        uint8 array (height, width), both at most ``WORK_SIDE``.

    Raises:
        ImageError: the file is missing, empty, not one of the formats, damaged, over a limit, or stopped.
    """
    from PIL import Image, UnidentifiedImageError

    data, path = _file_bytes(source)
    try:
        # Our limits are checked before Pillow's own, which warns at 89 MP and raises at 179 MP; no
        # warnings filter here, as changing filters is not thread-safe (the web server decodes in threads).
        with Image.open(_Guarded(data, cpu_limit_s, cancel), formats=FORMATS) as im:
            width, height = im.size  # from the header; nothing decoded yet
            if width * height > max_pixels:
                raise ImageError(f"{width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit"
                                 f" of {max_pixels / 1e6:g}", path)
            if width == 0 or height == 0:
                raise ImageError("image has no pixels", path)
            if im.format == "JPEG":
                if (scans := _jpeg_scans(data)) > MAX_JPEG_SCANS:
                    raise ImageError(f"a JPEG of {scans:,} scans (over {MAX_JPEG_SCANS}); refused before "
                                     "decoding", path)
                scale = min(1.0, WORK_SIDE / max(width, height))
                im.draft("L", (max(1, int(width * scale)), max(1, int(height * scale))))  # decode at 1/2..1/8
            need = im.size[0] * im.size[1] * _peak_bytes(im)
            if im.format == "JPEG" and _jpeg_scans(data) > 1:
                need += _jpeg_coefficients_bytes(im, width, height)  # held for all scans, at any draft scale
            if im.format == "WEBP":  # Pillow's WebP decoder makes RGBA copies: 247 MiB measured for 16 MP RGB
                need += im.size[0] * im.size[1] * 11
            if need > MAX_DECODE_BYTES:
                raise ImageError(f"{width}x{height} {im.mode} needs about {need / 2**20:,.0f} MiB to decode, "
                                 f"over the limit of {MAX_DECODE_BYTES / 2**20:,.0f} MiB", path)
            im.seek(0)  # first frame of an animation
            im.decodermaxblock = 16384  # the budget is checked between blocks of this many bytes
            im.load()
            grey, alpha = _grey_alpha(im)
    except ImageError:
        raise
    except _Stopped as e:
        raise ImageError(str(e), path) from None
    except UnidentifiedImageError:
        raise ImageError("not an image (readable formats: PNG, JPEG, BMP, GIF, WebP, TIFF)", path) from None
    except Image.DecompressionBombError:
        raise ImageError("too many pixels (decompression bomb)", path) from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image", path) from None
    except Exception as e:  # noqa: BLE001 - Pillow's decoders raise many types (TypeError for a FLOAT tag)
        reason = str(e).splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ImageError(f"truncated or damaged image ({reason})", path) from None
    return grey if alpha is None else _flatten_alpha(*alpha)


def _peak_bytes(im) -> int:
    """Bytes a pixel that decoding ``im`` and making it grey take at the peak (see ``_PEAK_BYTES``)."""
    peak = _PEAK_BYTES.get(im.mode, _DEFAULT_PEAK_BYTES)
    if im.mode not in _ALPHA_MODES and "transparency" in im.info:
        peak += 7  # converted to RGBA (4 bytes), then grey, alpha and their product (1 byte each)
    return peak


def _reduced(im, factor: int):
    """``im`` shrunk by ``factor`` (box average), or itself when ``factor`` is 1."""
    return im.reduce(factor) if factor > 1 else im


def _grey_alpha(im):
    """A loaded image -> (uint8 grey, None) or (None, (premultiplied grey, alpha) as float32), reduced.

    The EXIF orientation is applied to the reduced image; every full-size copy is 8-bit and one at a time.
    """
    from PIL import ImageChops

    factor = max(1, -(-max(im.size) // WORK_SIDE))  # ceil: the longest side ends at most WORK_SIDE
    try:
        orientation = im.getexif().get(0x0112, 1) if im.format in ("JPEG", "PNG", "TIFF", "WEBP") else 1
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not cost the picture: keep it unrotated
        orientation = 1
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _reduced(_wide_to_l(im), factor)
        return np.asarray(_oriented(grey, orientation), dtype=np.uint8), None
    if mode == "P" and im.has_transparency_data:
        im = im.convert("RGBA")  # palette of 256 entries at most: converted once, 4 bytes a pixel
        mode = "RGBA"
    if mode in _ALPHA_MODES or im.has_transparency_data:
        if mode not in _ALPHA_MODES:
            im = im.convert("RGBA")  # "transparency" colour of an RGB or L image
        alpha = im.getchannel("A")
        grey = im.convert("L") if im.mode not in ("La", "RGBa") else im.convert("RGB").convert("L")
        premult = _reduced(ImageChops.multiply(grey, alpha), factor)
        del grey
        alpha = _reduced(alpha, factor)
        premult, alpha = _oriented(premult, orientation), _oriented(alpha, orientation)
        return None, (np.asarray(premult, dtype=np.float32), np.asarray(alpha, dtype=np.float32) / 255.0)
    grey = im if mode == "L" else im.convert("L")
    return np.asarray(_oriented(_reduced(grey, factor), orientation), dtype=np.uint8), None


def _wide_to_l(im):
    """16-bit, 32-bit integer and float images -> 8-bit grey, row block by row block (no float copy)."""
    from PIL import Image

    a = np.asarray(im)
    blocks = [slice(r, r + 256) for r in range(0, a.shape[0], 256)]
    peak = max(float(np.nan_to_num(a[b].astype(np.float64)).max()) for b in blocks)
    if im.mode == "F":
        top = 1.0 if peak <= 1.0 else 255.0
    else:
        top = 65535.0 if im.mode.startswith("I;16") or peak > 255 else 255.0
    out = np.empty(a.shape, dtype=np.uint8)
    for b in blocks:
        out[b] = np.clip(np.rint(np.nan_to_num(a[b].astype(np.float64)) / top * 255.0), 0, 255)
    return Image.fromarray(out, mode="L")


def _oriented(im, orientation: int):
    """Apply an EXIF orientation (1-8) to an image; other values leave it as it is."""
    from PIL import Image

    ops = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
           4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
           6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_90]}
    for op in ops.get(orientation if isinstance(orientation, int) else 1, []):
        im = im.transpose(op)
    return im


def _flatten_alpha(premult: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put transparent pixels on paper, from the grey premultiplied by alpha (0-255) and alpha (0-1).

    Strokes on a transparent layer (a drawing exported from a canvas): the paper is white under dark ink,
    black under light ink. An opaque picture with transparent margins: the paper is the picture's own
    background (its median grey).
    """
    opaque = alpha >= 0.5
    if not opaque.any():
        paper = 255.0
    else:
        grey = premult[opaque] / alpha[opaque]
        if opaque.mean() > 0.5:
            paper = float(np.median(grey))
        else:
            paper = 255.0 if grey.mean() < 128 else 0.0
    return np.clip(np.rint(premult + paper * (1.0 - alpha)), 0, 255).astype(np.uint8)


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
        ink(grey)  # raises when blank, as at every other size
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


def load(source: bytes | str | Path, dataset: str, max_pixels: int = MAX_PIXELS, cancel=None,
         cpu_limit_s: float = DECODE_CPU_S) -> np.ndarray:
    """:func:`read_image` then :func:`dataset_format`: a file -> the 28x28 uint8 image the model sees.

    Raises:
        ImageError: see :func:`read_image`; also a blank image. The error names the path when given one.
    """
    grey = read_image(source, max_pixels, cancel=cancel, cpu_limit_s=cpu_limit_s)
    try:
        return dataset_format(grey, dataset)
    except ImageError as e:
        if e.path is None and not isinstance(source, bytes | bytearray):
            raise ImageError(e.message, source) from None
        raise


def dataset_format_batch(raw: np.ndarray, dataset: str) -> np.ndarray:
    """:func:`dataset_format` over a (N, H, W) uint8 stack; what training applies to its images."""
    return np.stack([dataset_format(x, dataset) for x in raw]) if len(raw) else np.asarray(raw, dtype=np.uint8)
