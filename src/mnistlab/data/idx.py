"""The IDX file format of MNIST and Fashion-MNIST: read, write and hash ``uint8`` arrays.

An IDX file is a 4-byte magic number (two zero bytes, the type code ``0x08`` for unsigned
bytes, the number of dimensions), one big-endian ``uint32`` per dimension, then the values
in C order (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"). The data sets use two
kinds: labels ``0x00000801`` (N,) and images ``0x00000803`` (N, rows, cols).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from mnistlab.errors import DataError

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803

# The largest file we agree to read or decompress (MNIST train images: 47,040,016 bytes).
# A bound keeps a mislabelled or malicious file (a gzip bomb) from exhausting memory.
MAX_BYTES = 256 * 1024 * 1024


def read_bytes(path: str | os.PathLike) -> bytes:
    """Return the content of ``path``, decompressed when its name ends in ``.gz``.

    Args:
        path: an IDX file, plain or gzip'd.

    Returns:
        The (decompressed) bytes.

    Raises:
        DataError: the file cannot be read, is not gzip, is truncated or is too large.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror or e})", path) from None
    if len(raw) > MAX_BYTES:
        raise DataError(f"larger than {MAX_BYTES // 2**20} MiB, not an MNIST file", path)
    if path.suffix != ".gz":
        if raw[:2] == b"\x1f\x8b":  # no IDX magic starts so: a gzip file that lost its suffix
            raise DataError("gzip-compressed, but the name does not end in .gz", path)
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            data = f.read(MAX_BYTES + 1)
    except EOFError:
        raise DataError("truncated gzip file (it ends before the end of the stream)", path) from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"not a valid gzip file ({' '.join(str(e).split())})", path) from None
    if len(data) > MAX_BYTES:
        raise DataError(f"decompresses to more than {MAX_BYTES // 2**20} MiB, not an MNIST file", path)
    return data


def decode(data: bytes, ndim: int, path: str | os.PathLike) -> np.ndarray:
    """Decode IDX bytes holding unsigned bytes in ``ndim`` dimensions.

    Args:
        data: the whole (decompressed) file content.
        ndim: 1 for a labels file, 3 for an images file.
        path: the file the bytes came from, named in errors.

    Returns:
        A writable, C-contiguous ``uint8`` array with the shape the header gives.

    Raises:
        DataError: wrong magic number, or header dimensions that do not match the payload.
    """
    what = "labels" if ndim == 1 else "images"
    expected = LABELS_MAGIC if ndim == 1 else IMAGES_MAGIC
    if len(data) < 4:
        raise DataError(f"not an IDX {what} file ({len(data)} bytes, shorter than a header)", path)
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected:
        raise DataError(f"not an IDX {what} file (magic 0x{magic:08x}, expected 0x{expected:08x})", path)
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DataError(f"truncated IDX header ({len(data)} bytes, expected {start})", path)
    shape = struct.unpack(f">{ndim}I", data[4:start])
    size = math.prod(shape)  # Python ints: a forged header cannot overflow
    payload = len(data) - start
    if payload != size:
        dims = "x".join(map(str, shape))
        problem = "truncated" if payload < size else "trailing data"
        raise DataError(f"{problem}: header says {dims} = {size} bytes, file holds {payload}", path)
    # A copy: writable (like Keras' arrays) and independent of the file buffer.
    return np.frombuffer(data, np.uint8, size, start).reshape(shape).copy()


def read(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read an IDX file, plain or gzip'd (see `read_bytes` and `decode`)."""
    return decode(read_bytes(path), ndim, path)


def header(array: np.ndarray) -> bytes:
    """The IDX header of a ``uint8`` array of 1 or 3 dimensions."""
    magic = LABELS_MAGIC if array.ndim == 1 else IMAGES_MAGIC
    return struct.pack(f">I{array.ndim}I", magic, *array.shape)


def encode(array: np.ndarray) -> bytes:
    """The IDX file content of a ``uint8`` array of 1 or 3 dimensions."""
    return header(array) + np.ascontiguousarray(array, np.uint8).tobytes()


def digest(array: np.ndarray) -> str:
    """SHA-256 (hex) of ``encode(array)``, without building the bytes.

    For an array read from an IDX file this is the digest of the file's content, so one
    set of published digests verifies every layout (IDX, CSV, npz).
    """
    h = hashlib.sha256(header(array))
    h.update(np.ascontiguousarray(array, np.uint8).reshape(-1).data)  # a view: no copy
    return h.hexdigest()
