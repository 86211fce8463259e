"""All-or-nothing file writes: a temporary file in the same folder, flushed, then renamed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError

# mkstemp creates files readable by their owner only; final files get the usual mode (0666 less umask).
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Whoever writes to the yielded path (our code, Keras, matplotlib) never leaves a
    half-written file under the final name: a crash leaves at most a ``.tmp`` file.

    Raises:
        MnistlabError: the folder cannot be written (permission, full disk), naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise MnistlabError(f"cannot write here ({e.strerror})", path) from None
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MnistlabError(f"cannot write ({e.strerror})", path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def _jsonable(o: Any) -> Any:
    # NumPy scalars and arrays reach us from Keras histories and metrics.
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(model, path: Path) -> None:
    """``model.save`` (a Keras model) to a temporary ``.keras`` file beside ``path``, renamed into place when
    complete."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(path: Path):
    """Load a ``.keras`` model (:func:`save_model` writes them) with Keras' safe mode on (no arbitrary code from
    the file).

    Raises:
        MnistlabError: not a ``.keras`` file (``.h5`` can carry code), a ``Lambda`` layer (Python code
            inside the model), or a file Keras cannot read; one line naming the file.
    """
    import zipfile

    import keras

    path = Path(path)
    if path.suffix.lower() != ".keras":
        raise MnistlabError(f"only Keras 3 '.keras' model files are loaded, not '{path.suffix or path.name}' "
                            "(legacy .h5 files can carry code)", path)
    try:
        with zipfile.ZipFile(path) as z:
            model_config = z.read("config.json").decode("utf-8")
    except FileNotFoundError:
        raise MnistlabError("no such model file", path) from None
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise MnistlabError(f"not a readable .keras model ({e})", path) from None
    if '"class_name": "Lambda"' in model_config:
        raise MnistlabError("the model holds a Lambda layer, which runs arbitrary Python code; refused", path)
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a bad file; the user gets one line
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MnistlabError(f"Keras cannot load this model ({reason})", path) from None
