"""MNIST and Fashion-MNIST as raw ``uint8`` arrays, from wherever a copy lies, verified.

`load` looks for a data set, in order, in the folder it is given (``--data DIR``),
``$MNISTLAB_DATA``, the Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``), the
system folder (``$MNISTLAB_SYSTEM_DATA`` or ``/usr/share/datasets``, Debian's
``dataset-fashion-mnist``), and last downloads it from Keras' origin into the Keras cache
(unless ``MNISTLAB_NO_DOWNLOAD=1``). Each of these folders may hold one sub-folder per data
set (``mnist/``, ``fashion-mnist/``) or directly one data set's files, in any of the layouts:

- ``idx-gz``: ``train-images-idx3-ubyte.gz`` etc. (Keras, Debian, torchvision, LeCun's site);
- ``idx``: the same names without ``.gz``;
- ``kaggle-idx``: Kaggle's hojjatk/mnist-dataset, ``train-images.idx3-ubyte`` or
  ``train-images-idx3-ubyte/train-images-idx3-ubyte``;
- ``kaggle-csv``: Kaggle's zalando-research/fashionmnist, ``fashion-mnist_train.csv`` and
  ``fashion-mnist_test.csv`` (``label,pixel1,...,pixel784``, one image a row);
- ``npz``: Keras' ``mnist.npz`` (arrays ``x_train y_train x_test y_test``).

Every copy is checked against the SHA-256 of the published IDX files, whatever its layout.
Like ``keras.datasets.mnist.load_data``, this module returns the raw arrays and does nothing
else: scaling, channels and splits belong to ``mnistlab.data.pipeline``.
"""

from __future__ import annotations

import functools
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistlab.data import download, idx
from mnistlab.errors import DataError
from mnistlab.i18n import class_names as _class_names

DATASET_NAMES = ("mnist", "fashion_mnist")

# English class names in Keras' order (keras.datasets.fashion_mnist.load_data docstring), label 0 first;
# one list for the whole package, kept with the other languages in mnistlab.i18n.
CLASS_NAMES: dict[str, list[str]] = {d: _class_names(d, "en") for d in DATASET_NAMES}

_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def title(name: str) -> str:
    """How people write the data set's name (``Fashion-MNIST``); an unknown name as it is."""
    return _TITLES.get(name, str(name))

# SHA-256 of each published file's decompressed IDX bytes (shared/datasets/SHA256SUMS). The
# gzip wrappers differ between mirrors; this content does not.
_DIGESTS = {
    "mnist": {
        "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# The four arrays: Dataset field, IDX file stem, number of dimensions.
_FILES = (
    ("x_train", "train-images-idx3-ubyte", 3),
    ("y_train", "train-labels-idx1-ubyte", 1),
    ("x_test", "t10k-images-idx3-ubyte", 3),
    ("y_test", "t10k-labels-idx1-ubyte", 1),
)
# Sub-folders of a data folder that hold one data set (ours and Debian's, then torchvision's).
_SUBFOLDERS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion_mnist": ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
}
_NPZ = "mnist.npz"  # Keras' name, in the Keras cache
_CSV = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}  # Kaggle's names
_CSV_HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
_CSV_COLUMNS = 1 + 28 * 28
# Bytes a data row may hold. numpy's parser is laxer (it reads "\x1c39" as 39): anything else is refused.
_CSV_BODY_BYTES = b"0123456789,+ \t\r\n"
_CSV_FIELDS = {"x_train": "train", "y_train": "train", "x_test": "test", "y_test": "test"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """One data set as Keras returns it, plus where it came from.

    MNIST (Y. LeCun, C. Cortes, C. Burges; CC BY-SA 3.0): handwritten digits, labels 0-9
    are the digits. Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, Zalando; MIT): article
    images, labels index `CLASS_NAMES["fashion_mnist"]`.

    Attributes:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        x_train: ``uint8`` (60000, 28, 28), C-contiguous, 0 background (MNIST: ink 255).
        y_train: ``uint8`` (60000,), values 0-9.
        x_test: ``uint8`` (10000, 28, 28).
        y_test: ``uint8`` (10000,).
        source: the folder (or ``.npz`` file) read, or the URL downloaded from.
        layout: ``"idx-gz"``, ``"idx"``, ``"kaggle-idx"``, ``"kaggle-csv"`` or ``"npz"``.
        verified: True when every array matched the published SHA-256 digests.
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    source: str
    layout: str
    verified: bool


@dataclass(frozen=True)
class _Copy:
    """The files of one data set in one folder, in one layout."""

    folder: Path
    layout: str
    paths: dict[str, Path]  # Dataset field -> the file holding it
    missing: tuple[str, ...] = ()  # names of the files an incomplete copy lacks

    @property
    def source(self) -> Path:
        return self.paths["x_train"] if self.layout == "npz" else self.folder


def load(name: str, data_dir: str | os.PathLike | None = None, *, trust: bool = False) -> Dataset:
    """Load MNIST or Fashion-MNIST from the first place that holds it, downloading last.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        data_dir: a folder searched first: one holding ``mnist/`` and ``fashion-mnist/``, or
            one data set's files directly (used only for the data set it holds).
        trust: accept content that differs from the published data set, with a warning, and
            return it with ``verified=False``.

    Returns:
        A `Dataset` of raw ``uint8`` arrays.

    Raises:
        ValueError: ``name`` is not one of `DATASET_NAMES`.
        DataError: ``data_dir`` does not exist; a copy found is incomplete, unreadable,
            malformed or (without ``trust``) not the published content; nothing was found
            and downloading is off or failed. The message is one line naming the file.
    """
    _check_name(name)
    copy, searched = _find(name, data_dir)
    origin = None
    if copy is None:
        if _downloads_off():
            raise DataError(
                f"{name} not found; looked in {'; '.join(searched)}; downloading is off "
                "(MNISTLAB_NO_DOWNLOAD=1): pass --data DIR"
            )
        copy, origin = _download(name)
    arrays = _read(copy)
    verified = _verify(name, copy, arrays, trust)
    return Dataset(
        name=name,
        **arrays,
        source=origin or str(copy.source),
        layout=copy.layout,
        verified=verified,
    )


def published(name: str) -> dict[str, str]:
    """The published SHA-256 of each array of ``name`` ({"x_train": hex, ...}), as :func:`differing` checks."""
    _check_name(name)
    return dict(_DIGESTS[name])


def differing(name: str, digests: dict[str, str]) -> list[str]:
    """The fields (``x_train``, ...) whose SHA-256 (:func:`mnistlab.data.idx.digest`) is not the published one;
    a field missing from ``digests`` counts as differing."""
    _check_name(name)
    return [f for f, d in _DIGESTS[name].items() if digests.get(f) != d]


def find_dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder `load` would read ``name`` from, without reading, verifying or downloading.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        data_dir: as for `load`.

    Returns:
        The folder holding the data set's files (for ``npz``, the folder of ``mnist.npz``),
        or None when no place holds it (`load` would download it).

    Raises:
        ValueError: ``name`` is not one of `DATASET_NAMES`.
        DataError: ``data_dir`` does not exist, or a copy found is incomplete.
    """
    _check_name(name)
    copy, _ = _find(name, data_dir)
    return None if copy is None else copy.folder


def keras_cache_dir() -> Path:
    """Keras' download folder: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME")
    return (Path(home) if home else Path.home() / ".keras") / "datasets"


def _check_name(name: str) -> None:
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASET_NAMES)}")


def _downloads_off() -> bool:
    return os.environ.get("MNISTLAB_NO_DOWNLOAD", "").strip().lower() not in ("", "0", "false", "no")


# --- where to look -----------------------------------------------------------------------


def _places(data_dir: str | os.PathLike | None) -> list[tuple[Path, str, bool]]:
    """(folder, label, strict) in search order; strict places report an incomplete copy."""
    places = []
    for given, label in ((data_dir, "--data"), (os.environ.get("MNISTLAB_DATA") or None, "$MNISTLAB_DATA")):
        if given is None:
            continue
        folder = Path(given)
        if not folder.exists():
            raise DataError(f"no such folder (from {label})", folder)
        if not folder.is_dir():
            raise DataError(f"not a folder (from {label})", folder)
        places.append((folder, label, True))
    # An interrupted download may leave the Keras cache incomplete: downloading completes it.
    places.append((keras_cache_dir(), "Keras cache", False))
    places.append((Path(os.environ.get("MNISTLAB_SYSTEM_DATA") or "/usr/share/datasets"), "system", True))
    return places


def _find(name: str, data_dir: str | os.PathLike | None) -> tuple[_Copy | None, list[str]]:
    """The first complete copy of ``name``, and the places searched (for messages)."""
    searched = []
    for root, label, strict in _places(data_dir):
        searched.append(f"{root} ({label})")
        if not root.is_dir():
            continue
        for sub in _SUBFOLDERS[name]:
            copy = _scan(root / sub)
            if copy is not None and _usable(copy, strict):
                return copy, searched
        copy = _scan(root)
        if copy is not None and _usable(copy, strict) and _identify(copy) in (name, None):
            return copy, searched
    return None, searched


def _usable(copy: _Copy, strict: bool) -> bool:
    if not copy.missing:
        return True
    if strict:
        raise DataError(f"incomplete {copy.layout} data set: missing {', '.join(copy.missing)}", copy.folder)
    return False


def _scan(folder: Path) -> _Copy | None:
    """The copy of a data set directly in ``folder``: complete if any, else the most complete."""
    if not folder.is_dir():
        return None
    incomplete = []

    def first_file(names: list[str]) -> Path | None:
        return next((folder / n for n in names if (folder / n).is_file()), None)

    for layout in ("idx-gz", "idx", "kaggle-idx"):
        paths, missing = {}, []
        for field_, stem, _ in _FILES:
            dotted = stem.replace("-idx", ".idx")
            names = {
                "idx-gz": [stem + ".gz"],
                "idx": [stem],
                "kaggle-idx": [dotted, f"{stem}/{stem}", f"{dotted}/{dotted}"],
            }[layout]
            path = first_file(names)
            if path is None:
                missing.append(names[0])
            else:
                paths[field_] = path
        if not missing:
            return _Copy(folder, layout, paths)
        if paths:
            incomplete.append(_Copy(folder, layout, paths, tuple(missing)))
    if (folder / _NPZ).is_file():
        return _Copy(folder, "npz", dict.fromkeys(("x_train", "y_train", "x_test", "y_test"), folder / _NPZ))
    csv = {part: folder / n for part, n in _CSV.items() if (folder / n).is_file()}
    paths = {f: csv[p] for f, p in _CSV_FIELDS.items() if p in csv}
    missing = tuple(n for p, n in _CSV.items() if p not in csv)
    if not missing:
        return _Copy(folder, "kaggle-csv", paths)
    if paths:
        incomplete.append(_Copy(folder, "kaggle-csv", paths, missing))
    return max(incomplete, key=lambda c: len(c.paths), default=None)


def _identify(copy: _Copy) -> str | None:
    """Which data set a folder of one data set's files holds; None when nothing tells."""
    if copy.layout == "kaggle-csv":
        return "fashion_mnist"  # the file names say so
    # The train labels are 60 KB: hashing them tells the data sets apart at no cost.
    if copy.layout == "npz":
        labels = _read_npz(copy.paths["y_train"], ("y_train",))["y_train"]
    else:
        labels = idx.read(copy.paths["y_train"], 1)
    found = idx.digest(labels)
    for name in DATASET_NAMES:
        if found == _DIGESTS[name]["y_train"]:
            return name
    # Not the published labels: trust the folder's name, and let verification speak.
    hint = copy.folder.name.lower()
    if "fashion" in hint:
        return "fashion_mnist"
    if "mnist" in hint or copy.layout == "npz":
        return "mnist"
    return None


# --- reading the layouts -----------------------------------------------------------------


def _read(copy: _Copy) -> dict[str, np.ndarray]:
    """The four arrays of a complete copy, checked for shape, size, labels and pairing."""
    if copy.layout == "npz":
        arrays = _read_npz(copy.paths["x_train"], tuple(f for f, _, _ in _FILES))
    elif copy.layout == "kaggle-csv":
        arrays = {}
        for part in ("train", "test"):
            arrays[f"x_{part}"], arrays[f"y_{part}"] = _read_csv(copy.paths[f"x_{part}"])
    else:
        arrays = {f: idx.read(copy.paths[f], ndim) for f, _, ndim in _FILES}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        x_path, y_path = copy.paths[f"x_{part}"], copy.paths[f"y_{part}"]
        # One file holding several arrays (npz): say which.
        x_what = f"x_{part}: images" if copy.layout == "npz" else "images"
        y_what = f"y_{part}: label" if copy.layout == "npz" else "label"
        if x.shape[1:] != (28, 28):
            raise DataError(f"{x_what} are {'x'.join(map(str, x.shape[1:]))}, expected 28x28", x_path)
        if len(y) and y.max() > 9:
            i = int(np.argmax(y > 9))
            raise DataError(f"{y_what} {y[i]} at index {i} is outside 0-9", y_path)
        if len(x) != len(y):
            if x_path == y_path:
                problem = f"y_{part} holds {len(y)} labels for {len(x)} images in x_{part}"
            else:
                problem = f"{len(y)} labels for {len(x)} images in {x_path.name}"
            raise DataError(problem, y_path)
    return arrays


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` file, each ``uint8``: images 3-D, labels 1-D."""
    arrays = {}
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):  # a plain .npy array under an .npz name
            raise DataError("not an .npz archive", path)
        with npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                holds = ", ".join(n if n.isprintable() else repr(n) for n in npz.files) or "nothing"
                raise DataError(f"missing arrays {', '.join(missing)} (it holds {holds})", path)
            for k in keys:
                arrays[k] = npz[k]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile, zlib.error) as e:
        # A truncated archive, a corrupt member, a pickled (object) array, an unknown compression
        # method (NotImplementedError) or an encrypted member (RuntimeError): all bad data.
        raise DataError(f"not a valid .npz file ({type(e).__name__}: {_one_line(e)})", path) from None
    for k, a in arrays.items():
        ndim = 3 if k.startswith("x") else 1
        if a.dtype != np.uint8 or a.ndim != ndim:
            raise DataError(f"{k} is {a.dtype} {a.shape}, expected uint8 with {ndim} dimension(s)", path)
        arrays[k] = np.ascontiguousarray(a)
    return arrays


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a Kaggle Fashion-MNIST CSV: a header, then label + 784 pixels a row."""
    try:
        with open(path, "rb") as f:
            first = f.readline(2 * len(_CSV_HEADER))
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror or e})", path) from None
    if not first.strip():
        raise DataError("empty file" if not first else "empty first line, expected the header", path)
    header = first.decode("ascii", "replace").strip().split(",")
    if not first.isascii() or header[0].strip().strip('"').lower() != "label" or len(header) != _CSV_COLUMNS:
        expected = "label,pixel1,...,pixel784"
        raise DataError(f"missing header: line 1 should be '{expected}' ({_CSV_COLUMNS} names)", path)
    try:
        with open(path, "rb") as f:
            f.readline()
            stray = f.read().translate(None, _CSV_BODY_BYTES)
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror or e})", path) from None
    if stray:
        raise DataError(_csv_problem(path) or f"unexpected character {stray[:1]!r} after the header", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            # numpy's C parser: about 1 s for the 60,000 rows; uint8 rejects anything not 0-255.
            rows = np.loadtxt(path, np.uint8, delimiter=",", skiprows=1, ndmin=2, comments=None)
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror or e})", path) from None
    except ValueError as e:
        raise DataError(_csv_problem(path) or f"not a valid CSV file ({_one_line(e)})", path) from None
    if len(rows) == 0:
        raise DataError("no images after the header", path)
    if rows.shape[1] != _CSV_COLUMNS or rows[:, 0].max() > 9:
        raise DataError(_csv_problem(path) or "not a valid CSV file", path)
    return np.ascontiguousarray(rows[:, 1:]).reshape(-1, 28, 28), rows[:, 0].copy()


def _csv_problem(path: Path) -> str | None:
    """The first bad row of a CSV, found the slow way once the fast parser has failed."""
    with open(path, "rb") as f:
        next(f, None)
        for lineno, line in enumerate(f, start=2):
            values = line.strip().split(b",")
            if values == [b""]:
                continue  # blank lines are skipped by the fast parser too
            if len(values) != _CSV_COLUMNS:
                return f"line {lineno}: {len(values)} values, expected {_CSV_COLUMNS} (label + 784 pixels)"
            for column, value in enumerate(values, start=1):
                digits = value.strip().removeprefix(b"+")
                if not digits.isdigit() or int(digits) > 255:
                    text = value.decode("ascii", "replace")
                    return f"line {lineno}, column {column}: {text!r} is not an integer in 0-255"
            if int(values[0]) > 9:
                return f"line {lineno}: label {int(values[0])} is outside 0-9"
    return None


def _one_line(error: Exception) -> str:
    """An exception's text on one line (it may quote names read from a damaged file)."""
    return " ".join(str(error).split())


# --- verification and download -----------------------------------------------------------


def _verify(name: str, copy: _Copy, arrays: dict[str, np.ndarray], trust: bool) -> bool:
    """True if every array is the published one; else a DataError, or a warning with ``trust``."""
    differing = [(f, d) for f, a in arrays.items() if (d := idx.digest(a)) != _DIGESTS[name][f]]
    if not differing:
        return True
    field_, found = differing[0]
    path = copy.paths[field_]
    shared = sum(p == path for p in copy.paths.values()) > 1
    what = f"{field_} content" if shared else "content"
    message = f"{what} differs from the published {_TITLES[name]} (sha256 {found[:8]}…)"
    if not trust:
        raise DataError(f"{message}; pass --trust-data to use it anyway", path)
    warnings.warn(f"{path}: {message}; using it as --trust-data asks", UserWarning, stacklevel=3)
    return False


def _download(name: str) -> tuple[_Copy, str]:
    """Fetch ``name`` from Keras' origin into the Keras cache; return the copy and the URL."""
    base = download.base_url()
    cache = keras_cache_dir()
    if name == "mnist":
        dest = cache / _NPZ
        fields = tuple(f for f, _, _ in _FILES)
        download.fetch(base + _NPZ, dest, functools.partial(_check_download, name, fields), f"MNIST ({_NPZ})")
        return _Copy(cache, "npz", dict.fromkeys(fields, dest)), base + _NPZ
    paths = {}
    for field_, stem, _ in _FILES:
        dest = paths[field_] = cache / "fashion-mnist" / f"{stem}.gz"
        if not dest.is_file():  # kept from an earlier, interrupted run: checked on reading
            check = functools.partial(_check_download, name, (field_,))
            download.fetch(base + dest.name, dest, check, f"Fashion-MNIST {dest.name}")
    return _Copy(cache / "fashion-mnist", "idx-gz", paths), base


def _check_download(name: str, fields: tuple[str, ...], tmp: Path) -> None:
    """Reject a downloaded file unless it holds the published arrays (``trust`` plays no part)."""
    if len(fields) > 1:
        arrays = _read_npz(tmp, fields)
    else:
        arrays = {fields[0]: idx.read(tmp, 3 if fields[0].startswith("x") else 1)}
    for field_, array in arrays.items():
        found = idx.digest(array)
        if found != _DIGESTS[name][field_]:
            raise DataError(f"{field_} differs from the published {_TITLES[name]} (sha256 {found[:8]}…)", tmp)
