"""The run folder's format, in one place: file names, manifest keys, ``history.csv`` both ways, safe reads.

A run folder (``mnistlab run`` writes it, ``mnistlab report`` / the notebook read it)::

    manifest.json                 MANIFEST: versions, hardware, seed, every config, timings, status
    <experiment>/config.json      CONFIG: the experiment's settings (config.Experiment.to_dict())
    <experiment>/history.csv      HISTORY: one row per epoch (epoch, loss, accuracy, val_..., seconds)
    <experiment>/metrics.json     METRICS: written last, its presence means the experiment finished
    <experiment>/model.keras      MODEL
    <experiment>/summary.txt      SUMMARY
    <experiment>/test_probabilities.npy   PROBABILITIES: float32 (n_test, 10)
    <experiment>/val_losses.npy   VAL_LOSSES: float16 (epochs, n_validation), each epoch's per-example
                                  validation cross-entropy (the judge pairs epochs with it)
    <experiment>/val_predicted.npy        VAL_PREDICTED: uint8 (epochs, n_validation), each epoch's predicted
                                  classes; with arrays/val_labels.npy, each epoch's per-image right/wrong
    <experiment>/confusion_matrix.csv     CONFUSION (the confusion step)
    <experiment>/figures/*.png    FIGURES: the run's own figures
    <experiment>/arrays/*.npy     ARRAYS: the small arrays a report needs to redraw a figure in another
                                  language (sample images and labels, test labels, shown predictions)
    report.html, report.md, report.en.html, report.en.md, report_figures/

A run folder may come from someone else: every read here goes through :func:`inside`, which refuses
symlinks and any path that leaves the folder, and :func:`read_json` / :func:`read_history` /
:func:`read_npy` raise :class:`RunFolderError` (one line: the file and the reason) on a malformed file.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_bytes, write_json, write_text

MANIFEST = "manifest.json"
CONFIG = "config.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
MODEL = "model.keras"
SUMMARY = "summary.txt"
PROBABILITIES = "test_probabilities.npy"
VAL_LOSSES = "val_losses.npy"
VAL_PREDICTED = "val_predicted.npy"
VAL_LABELS = "val_labels"  # arrays/val_labels.npy: the validation images' classes, uint8
CONFUSION = "confusion_matrix.csv"
FIGURES = "figures"
ARRAYS = "arrays"
SEEDS = "seeds"
REPORT_FIGURES = "report_figures"
CHECKPOINT = "checkpoint.keras"  # model and optimizer state after the last completed epoch (callbacks writes it)
CHECKPOINT_STATE = "checkpoint.json"  # which epoch that was, the history so far, the config it belongs to

# Manifest keys (top level, then per experiment under "experiments").
M_EXPERIMENTS, M_DATA, M_VERSIONS, M_HARDWARE = "experiments", "data", "versions", "hardware"
M_STATUS, M_LANG, M_OVERRIDES, M_SETTINGS, M_PLAN = "status", "lang", "overrides", "settings", "plan"
M_AUTHOR, M_GROUP = "author", "group"  # who hands the report in (mnistlab run --author/--group)
M_FINISHED, M_SECONDS, M_REASON, M_KIND, M_SEED = "finished", "seconds", "reason", "kind", "seed"
M_COMMAND, M_STARTED = "command", "started"  # the command line as a list; when it started (ISO 8601, UTC)
M_SWEEP_TASKS = "sweep_tasks"  # a sweep's tasks by their folder
S_THREADS = "intra_op_threads"  # under "settings": TensorFlow's intra-op threads, in-process and on every worker
E_STATUS, E_CONFIG, E_SECONDS, E_REASON, E_SEEDS, E_ARTIFACTS = (
    "status", "config", "seconds", "reason", "seeds", "artifacts")

MAX_JSON_BYTES = 20_000_000  # a metrics.json is a few kB; refuse what cannot be one
MAX_HISTORY_BYTES = 2_000_000  # history.csv: ~60 bytes per column and epoch; 1,000 epochs of 32 columns


def final_files(folder: Path, seeds: bool = True) -> list[Path]:
    """Every final file under a step's ``folder``, sorted: no checkpoint, no temporary file (``seeds=False``:
    not those of its extra seeds either). What a step's digests cover and what a worker sends back."""
    return [p for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and ".tmp" not in p.name and p.name not in (CHECKPOINT, CHECKPOINT_STATE)
            and (seeds or p.relative_to(folder).parts[0] != SEEDS)]
MAX_HISTORY_COLUMNS = 64  # metrics per epoch, train and validation, plus epoch, seconds, learning rate
MAX_HISTORY_ROWS = 10_000  # epochs
MAX_NPY_ITEMS = 20_000_000  # test probabilities are 100,000 values; arrays for figures far fewer


class RunFolderError(MnistlabError):
    """A file of a run folder that is missing, a symlink, outside the folder or malformed."""


def inside(root: str | os.PathLike, *parts: str) -> Path:
    """``root/parts...``, checked: no symlink on the way (root excepted) and nothing outside ``root``.

    Raises:
        RunFolderError: a part is absolute or ``..``, or the path (or a folder on it) is a symlink.
    """
    root = Path(root)
    path = root
    for part in parts:
        for piece in Path(part).parts:
            if piece in ("..", "") or os.path.isabs(piece) or os.sep in piece:
                raise RunFolderError("path leaves the run folder", root / part)
            path = path / piece
            if path.is_symlink():
                raise RunFolderError("is a symbolic link; refused in a run folder", path)
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise RunFolderError("path leaves the run folder", path) from None
    return path


def experiment_dir(run_dir: str | os.PathLike, name: str) -> Path:
    """The folder of experiment ``name`` (``a/seeds/43`` for a seed run), checked by :func:`inside`."""
    return inside(run_dir, *name.split("/"))


def read_json(path: Path, kind: type = dict) -> Any:
    """A JSON file of the run folder as ``kind`` (an object by default); None when absent.

    NaN and Infinity are refused (``json`` would read them as floats and they would reach the report).

    Raises:
        RunFolderError: a symlink, too large, not UTF-8 JSON, NaN/Infinity, or not a ``kind``.
    """
    if path.is_symlink():
        raise RunFolderError("is a symbolic link; refused in a run folder", path)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise RunFolderError("too large to be a run file", path)
        value = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RunFolderError(f"unreadable ({e})", path) from None
    if not isinstance(value, kind):
        raise RunFolderError(f"not a JSON {'object' if kind is dict else kind.__name__}", path)
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a run writes")


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Write per-epoch rows as CSV: epoch, loss, accuracy, val_loss, val_accuracy, ..., seconds."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def read_history(path: Path) -> dict[str, list[float]] | None:
    """``history.csv`` -> {column: values}, like ``History.history`` plus epoch and seconds; None if absent.

    Raises:
        RunFolderError: a symlink, larger than a run writes (``MAX_HISTORY_BYTES``, ``MAX_HISTORY_COLUMNS``,
            ``MAX_HISTORY_ROWS``: checked before the values are read), not CSV, a value that is not a finite
            number, or ragged rows.
    """
    if path.is_symlink():
        raise RunFolderError("is a symbolic link; refused in a run folder", path)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_HISTORY_BYTES:
            raise RunFolderError(f"over {MAX_HISTORY_BYTES:,} bytes, more than a run writes", path)
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if len(reader.fieldnames or ()) > MAX_HISTORY_COLUMNS:
                raise RunFolderError(f"over {MAX_HISTORY_COLUMNS} columns, more than a run writes", path)
            rows = list(itertools.islice(reader, MAX_HISTORY_ROWS + 1))
        if len(rows) > MAX_HISTORY_ROWS:
            raise RunFolderError(f"over {MAX_HISTORY_ROWS:,} epochs, more than a run writes", path)
        cols = {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}
    except (OSError, UnicodeDecodeError, ValueError, TypeError, csv.Error) as e:
        raise RunFolderError(f"unreadable history ({e})", path) from None
    if any(k is None for k in cols) or any(not math.isfinite(v) for vs in cols.values() for v in vs):
        raise RunFolderError("unreadable history (a value that is not a finite number, or a ragged row)", path)
    return cols


def read_npy(path: Path, max_items: int = MAX_NPY_ITEMS, ndim: int | None = None) -> np.ndarray | None:
    """A ``.npy`` array, its header checked before any data is read; None if absent.

    Raises:
        RunFolderError: a symlink, not a ``.npy``, an object array, more than ``max_items`` values, a header
            that claims more bytes than the file holds, or not ``ndim`` dimensions.
    """
    if path.is_symlink():
        raise RunFolderError("is a symbolic link; refused in a run folder", path)
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise RunFolderError(f"unknown .npy version {version}", path)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)  # the header only
            offset = f.tell()
            if dtype.hasobject:
                raise RunFolderError("holds Python objects; refused", path)
            items = math.prod(shape)
            if items > max_items:
                raise RunFolderError(f"claims {items:,} values, more than a run writes", path)
            if offset + items * dtype.itemsize > path.stat().st_size:
                raise RunFolderError("shorter than its header says", path)
            if ndim is not None and len(shape) != ndim:
                raise RunFolderError(f"has {len(shape)} dimensions, expected {ndim}", path)
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except (OSError, ValueError, SyntaxError, tokenize.TokenError, RecursionError, MemoryError) as e:
        # NumPy parses the header's dict with Python's tokenizer: a truncated one raises TokenError
        raise RunFolderError(f"unreadable array ({type(e).__name__}: {str(e)[:120]})", path) from None


def save_array(workdir: Path, name: str, array: np.ndarray) -> None:
    """Write ``workdir/arrays/<name>.npy`` atomically (a small array a figure is redrawn from)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes(workdir / ARRAYS / f"{name}.npy", buf.getvalue())


def read_array(workdir: Path, name: str, ndim: int | None = None) -> np.ndarray | None:
    """``workdir/arrays/<name>.npy`` through :func:`read_npy`; None if absent."""
    return read_npy(inside(workdir, ARRAYS, f"{name}.npy"), ndim=ndim)


def write_epoch_outputs(workdir: Path, losses: np.ndarray, predicted: np.ndarray) -> None:
    """Write each epoch's per-example validation losses (float16) and predicted classes (uint8), one row per
    completed epoch, each file atomically (rewritten whole after every epoch: a few hundred kB)."""
    for name, array, dtype in ((VAL_LOSSES, losses, np.float16), (VAL_PREDICTED, predicted, np.uint8)):
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)
        write_bytes(workdir / name, buf.getvalue())


@dataclass(frozen=True)
class EpochOutputs:
    """Each epoch's per-example validation results (:func:`read_epoch_outputs`)."""

    losses: np.ndarray  # float64 (epochs, n): per-example cross-entropy
    right: np.ndarray | None  # bool (epochs, n): predicted class == label; None without predictions or labels

    @property
    def epochs(self) -> int:
        return int(self.losses.shape[0])


def read_epoch_outputs(workdir: Path) -> EpochOutputs | None:
    """``val_losses.npy`` (with ``val_predicted.npy`` and ``arrays/val_labels.npy`` when present) of an
    experiment folder; None when absent.

    Raises:
        RunFolderError: a file that is not what a run writes (not 2-D, negative or non-finite losses, classes
            outside 0-9, shapes that disagree).
    """
    losses = read_npy(inside(workdir, VAL_LOSSES), ndim=2)
    if losses is None:
        return None
    if not np.issubdtype(losses.dtype, np.floating) or not np.isfinite(losses).all() or (losses < 0).any():
        raise RunFolderError("not per-example losses (finite, non-negative floats)", workdir / VAL_LOSSES)
    predicted = read_npy(inside(workdir, VAL_PREDICTED), ndim=2)
    labels = read_array(workdir, VAL_LABELS, ndim=1)
    right = None
    if predicted is not None and labels is not None:
        if predicted.shape != losses.shape or len(labels) != losses.shape[1] \
                or not np.issubdtype(predicted.dtype, np.integer) or not np.issubdtype(labels.dtype, np.integer):
            raise RunFolderError(f"does not match {VAL_LOSSES} and {ARRAYS}/{VAL_LABELS}.npy", workdir / VAL_PREDICTED)
        right = predicted.astype(np.int64) == labels.astype(np.int64)[None, :]
    return EpochOutputs(losses.astype(np.float64), right)


def write_metrics(workdir: Path, metrics: dict[str, Any]) -> None:
    """A step's ``metrics.json``, atomically: written last, its presence means the step finished."""
    write_json(Path(workdir) / METRICS, metrics)


def read_metrics(workdir: Path) -> dict[str, Any] | None:
    """A step's ``metrics.json`` as written (None when the step has not finished); the report's
    ``schema`` checks its values.

    Raises:
        RunFolderError: a symlink, too large, not a JSON object, NaN or Infinity.
    """
    return read_json(inside(workdir, METRICS))


def unfinish(workdir: Path) -> None:
    """Remove a step's ``metrics.json``: the step is not finished until it is written again."""
    (Path(workdir) / METRICS).unlink(missing_ok=True)


def write_diverged(workdir: Path, reason: str, last_good_epoch: int | None, seconds: float) -> None:
    """``metrics.json`` of a step whose divergence is its result (a study of a learning rate far too high)."""
    write_metrics(workdir, {"diverged": True, "reason": reason, "last_good_epoch": last_good_epoch,
                            "seconds": seconds})


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    write_json(Path(run_dir) / MANIFEST, manifest)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path: Path, max_bytes: int = 20_000_000) -> bytes | None:
    """The bytes of a run's PNG figure, only if they are a PNG; None if absent.

    Raises:
        RunFolderError: a symlink, too large, or bytes that are not a PNG.
    """
    if path.is_symlink():
        raise RunFolderError("is a symbolic link; refused in a run folder", path)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > max_bytes:
            raise RunFolderError("too large for a figure", path)
        data = path.read_bytes()
    except OSError as e:
        raise RunFolderError(f"unreadable ({e.strerror})", path) from None
    if not data.startswith(PNG_MAGIC) or b"IEND" not in data[-16:]:
        raise RunFolderError("not a PNG image", path)
    return data


def experiment(values: dict[str, Any], source: str | os.PathLike = CONFIG):
    """A ``config.json`` as a :class:`~mnistlab.config.Experiment`, every value checked as ``--set`` checks it.

    Keys the current version does not know (a run of another version) are left out.

    Raises:
        ConfigError: a value of the wrong type or out of range (``dataset = "cifar10"``, ``dropout``
            shorter than ``hidden_units``, ...), naming ``source``.
    """
    from mnistlab import config
    from mnistlab.errors import ConfigError

    if not isinstance(values, dict):
        raise ConfigError("not a JSON object", source)
    known = {f for f in config.Experiment.__dataclass_fields__}
    checked = {"name": str(values.get("name", ""))}
    for key, value in values.items():
        if key in known and key != "name":
            try:
                checked[key] = config._check(key, value, source=os.fspath(source))
            except ConfigError as e:
                raise ConfigError(e.message, source) from None
    exp = config.Experiment(**checked)
    config._validate(exp, source=os.fspath(source))
    return exp
