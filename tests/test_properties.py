"""Property-based tests: mutated IDX, CSV and image bytes either load correctly or get our one-line error."""

import gzip
import io
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mnistlab.data import idx
from mnistlab.data.sources import _read_csv
from mnistlab.data.user_images import load as load_image
from mnistlab.errors import MnistlabError

# derandomize: the same examples every run, so CI never fails on a new draw (explore with --hypothesis-seed).
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
RNG = np.random.default_rng(0)
LABELS = struct.pack(">II", 0x801, 20) + bytes(RNG.integers(0, 10, 20, dtype=np.uint8))
IMAGES = struct.pack(">IIII", 0x803, 3, 28, 28) + bytes(RNG.integers(0, 256, 3 * 784, dtype=np.uint8))


@st.composite
def mutated(draw, data: bytes):
    """``data`` with a few random edits: byte changes, deletions, insertions, truncation."""
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "delete", "insert", "truncate"]))
        if not b and kind != "insert":
            continue
        pos = draw(st.integers(0, max(0, len(b) - 1)))
        if kind == "set":
            b[pos] = draw(st.integers(0, 255))
        elif kind == "delete":
            del b[pos: pos + draw(st.integers(1, 8))]
        elif kind == "insert":
            b[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del b[pos:]
    return bytes(b)


def _idx_outcome(data: bytes, ndim: int):
    try:
        arr = idx.decode(data, ndim, "x.idx")
    except MnistlabError as e:
        assert "\n" not in str(e) and str(e).startswith("x.idx: ")
        return
    # Accepted: the array is exactly what the header says, and re-encodes to the same bytes.
    assert arr.dtype == np.uint8 and arr.ndim == ndim
    assert idx.encode(arr) == data


@SETTINGS
@given(mutated(LABELS))
def test_mutated_idx_labels(data):
    _idx_outcome(data, 1)


@SETTINGS
@given(mutated(IMAGES))
def test_mutated_idx_images(data):
    _idx_outcome(data, 3)


@SETTINGS
@given(mutated(gzip.compress(LABELS, mtime=0)))
def test_mutated_gzip(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train-labels-idx1-ubyte.gz"
        path.write_bytes(data)
        try:
            raw = idx.read_bytes(path)
        except MnistlabError as e:
            assert "\n" not in str(e) and "train-labels-idx1-ubyte.gz" in str(e)
            return
        _idx_outcome(raw, 1)


def _csv_text(rows: int = 3) -> str:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    body = [",".join([str(int(RNG.integers(0, 10)))] + [str(int(v)) for v in RNG.integers(0, 256, 784)])
            for _ in range(rows)]
    return "\n".join([header, *body]) + "\n"


CSV = _csv_text()


def _oracle(text: str):
    """A slow, obvious parser: the rows if every one is label 0-9 + 784 integers 0-255, else None."""
    lines = text.split("\n")  # numpy splits rows on newlines only (str.splitlines also splits on \x0b, \x0c...)
    if not lines or lines[0].split(",")[0].strip().strip('"').lower() != "label" or len(lines[0].split(",")) != 785:
        return None
    rows = []
    if set("\n".join(lines[1:])) - set("0123456789,+ \t\r\n"):
        return None  # the loader takes digits, commas, signs and blanks only in data rows
    for ln in lines[1:]:
        if not ln.strip():
            continue
        cells = ln.split(",")
        try:
            values = [int(c) for c in cells]
        except ValueError:
            return None
        if len(values) != 785 or not all(0 <= v <= 255 for v in values) or values[0] > 9:
            return None
        rows.append(values)
    return np.array(rows, dtype=np.uint8) if rows else None


@SETTINGS
@given(mutated(CSV.encode()))
def test_mutated_csv(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fashion-mnist_train.csv"
        path.write_bytes(data)
        try:
            x, y = _read_csv(path)
        except MnistlabError as e:
            assert "\n" not in str(e) and "fashion-mnist_train.csv" in str(e)
            return
    try:
        expected = _oracle(data.decode("ascii"))
    except UnicodeDecodeError:
        expected = None
    assert expected is not None, "accepted a CSV the plain parser rejects"
    np.testing.assert_array_equal(y, expected[:, 0])
    np.testing.assert_array_equal(x.reshape(len(x), -1), expected[:, 1:])


def _image(fmt: str) -> bytes:
    """A 40x40 dark stroke on white, in ``fmt``, small enough for hundreds of mutations."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(im).line([(20, 5), (20, 35)], fill=0, width=4)
    if fmt == "GIF":
        im = im.convert("P")
    buf = io.BytesIO()
    im.save(buf, fmt, **({"compression": "tiff_deflate"} if fmt == "TIFF" else {}))
    return buf.getvalue()


def _png() -> bytes:
    return _image("PNG")


def _image_outcome(data: bytes) -> None:
    """Every mutated file is either a 28x28 uint8 image or our one-line error, never another exception."""
    try:
        out = load_image(data, "mnist")
    except MnistlabError as e:
        assert "\n" not in str(e)
        return
    assert out.shape == (28, 28) and out.dtype == np.uint8


def _tiff_float_strip() -> bytes:
    """The 186-byte TIFF whose StripOffsets tag has type FLOAT: Pillow raised TypeError in load()."""
    float8 = struct.unpack("<I", struct.pack("<f", 8.0))[0]
    entries = [(256, 3, 1, 4), (257, 3, 1, 4), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 11, 1, float8), (278, 3, 1, 4), (279, 4, 1, 16)]
    data = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    data += b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0" * 4
    return data + bytes(186 - len(data))


@SETTINGS
@given(mutated(_png()))
def test_mutated_image_bytes(data):
    _image_outcome(data)


@SETTINGS
@given(mutated(_image("JPEG")))
def test_mutated_jpeg(data):
    _image_outcome(data)


@SETTINGS
@given(mutated(_image("BMP")))
def test_mutated_bmp(data):
    _image_outcome(data)


@SETTINGS
@given(mutated(_image("GIF")))
def test_mutated_gif(data):
    _image_outcome(data)


@SETTINGS
@given(mutated(_image("WEBP")))
def test_mutated_webp(data):
    _image_outcome(data)


@SETTINGS
@example(_tiff_float_strip())
@example(_tiff_float_strip()[:100])
@given(mutated(_image("TIFF")))
def test_mutated_tiff(data):
    _image_outcome(data)


@SETTINGS
@example(_tiff_float_strip())
@given(mutated(_tiff_float_strip()))
def test_mutated_hand_made_tiff(data):
    _image_outcome(data)
