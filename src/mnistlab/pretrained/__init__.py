"""Small models shipped inside the package, so ``mnistlab predict`` and ``mnistlab serve`` work at once.

Files here (names never change), one set per data set (``mnist``, ``fashion_mnist``):

- ``<dataset>.toml``: how the model is trained, an experiment file read by :func:`mnistlab.config.load`;
  kept out of ``experiments/`` so that ``mnistlab run`` (the lab) never trains it.
- ``<dataset>.keras``: the trained model, weights only (no optimizer state), loaded in Keras' safe mode.
- ``pretrained.json``: per data set, the measured test accuracy and loss, parameter count, per-epoch
  history, training time, versions, date, the file's SHA-256 and the command that made it.

``python benchmarks/train_pretrained.py`` runs :func:`train` for both and rewrites these files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from mnistlab.errors import MnistlabError

DATASETS = ("mnist", "fashion_mnist")
INFO = "pretrained.json"
MAX_MODEL_FILE_BYTES = 1 * 2**30  # a .keras file larger than this is refused before it is opened
MAX_MEMBERS = 64  # a .keras zip holds 3 members (config.json, metadata.json, model.weights.h5)
# Uncompressed size of each member (as the zip declares it; zipfile never reads past it); others: the last.
MAX_MEMBER_BYTES = {"config.json": 4 * 2**20, "metadata.json": 2**20, "model.weights.h5": 2**30, "": 16 * 2**20}


def folder() -> Path:
    """The package folder holding the shipped models."""
    return Path(str(resources.files("mnistlab") / "pretrained"))


def model_path(dataset: str, base: Path | None = None) -> Path:
    """``<base>/<dataset>.keras``; ``base`` defaults to :func:`folder`."""
    _check(dataset)
    return (base or folder()) / f"{dataset}.keras"


def recipe_path(dataset: str) -> Path:
    """The experiment file that says how the shipped ``dataset`` model is trained."""
    _check(dataset)
    return folder() / f"{dataset}.toml"


def info(base: Path | None = None) -> dict[str, Any]:
    """``pretrained.json`` as a dict ({} when absent)."""
    path = (base or folder()) / INFO
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as e:
        raise MnistlabError(f"unreadable ({e})", path) from None


def check_model_file(path: Path) -> None:
    """Refuse a .keras file whose size or zip members are out of bounds, before anything is decompressed.

    Keras reads ``config.json`` whole into memory; a 1 MB zip can hold a 1 GiB one (it compresses
    1000:1), so the declared sizes are checked first.

    Raises:
        MnistlabError: not a zip, too large, too many members, or a member over its bound.
    """
    import zipfile

    try:
        size = Path(path).stat().st_size
        if size > MAX_MODEL_FILE_BYTES:
            raise MnistlabError(f"{size:,} bytes, over the limit of {MAX_MODEL_FILE_BYTES:,} for a model", path)
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
    except FileNotFoundError:
        raise MnistlabError("no such model file", path) from None
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise MnistlabError(f"not a readable .keras model ({str(e)[:200]})", path) from None
    if len(members) > MAX_MEMBERS:
        raise MnistlabError(f"a .keras file of {len(members):,} members (at most {MAX_MEMBERS}); refused", path)
    for m in members:
        limit = MAX_MEMBER_BYTES.get(m.filename, MAX_MEMBER_BYTES[""])
        if m.file_size > limit:
            raise MnistlabError(f"its {m.filename[:100]!r} is {m.file_size:,} bytes uncompressed, over the "
                                f"limit of {limit:,}; refused before reading it", path)


def _check(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"no shipped model for {dataset!r}; choose from {', '.join(DATASETS)}")


def train(dataset: str, data_dir: str | None = None, out_dir: Path | None = None,
          overrides: dict[str, Any] | None = None, stream: TextIO | None = None, trust: bool = False,
          command: str = "") -> dict[str, Any]:
    """Train the shipped model of ``dataset`` as its experiment file says; write it and its record.

    The training images go through :func:`mnistlab.data.user_images.dataset_format`, as a user's image
    does, then the lab's pipeline (scaling, split) and augmented batches with the file's ranges.

    Args:
        dataset: ``mnist`` or ``fashion_mnist``.
        data_dir: where the data sets are (see :func:`mnistlab.data.sources.load`).
        out_dir: where ``<dataset>.keras`` and ``pretrained.json`` go; default the package folder.
        overrides: experiment settings to change (smoke tests: ``epochs``, ``train_limit``, ``test_limit``).
        stream: where progress lines go (default stderr).
        trust: accept data that differs from the published data set.
        command: the command line recorded in ``pretrained.json``.

    Returns:
        The record written to ``pretrained.json`` for ``dataset``.
    """
    from mnistlab import config, models
    from mnistlab import train as training
    from mnistlab.backend import hardware, seed_everything, versions
    from mnistlab.data import pipeline, sources, user_images
    from mnistlab.fileio import write_json

    out_dir = Path(out_dir) if out_dir else folder()
    stream = stream or sys.stderr
    exp = config.load(recipe_path(dataset), overrides)
    seed_everything(exp.seed)
    ds = sources.load(exp.dataset, data_dir, trust=trust)
    if exp.train_limit:  # preprocess only what is used
        ds = dataclasses.replace(ds, x_train=ds.x_train[: exp.train_limit], y_train=ds.y_train[: exp.train_limit])
    if exp.test_limit:
        ds = dataclasses.replace(ds, x_test=ds.x_test[: exp.test_limit], y_test=ds.y_test[: exp.test_limit])
    t0 = time.perf_counter()
    ds = dataclasses.replace(ds, x_train=user_images.dataset_format_batch(ds.x_train, exp.dataset),
                             x_test=user_images.dataset_format_batch(ds.x_test, exp.dataset))
    preprocess_seconds = time.perf_counter() - t0
    data = pipeline.prepare(ds, exp)
    training.set_precision(exp)
    model = training.compile_model(models.build(exp), exp)
    with tempfile.TemporaryDirectory(prefix="mnistlab-pretrained-") as work:
        ctx = training.Context(workdir=Path(work), get_data=lambda _name: ds, stream=stream,
                               label=f"pretrained {dataset}")
        model, history, fit_seconds = training.fit(model, exp, data, ctx, Path(work), ctx.label, augment=True)
    test_loss, test_acc = model.evaluate(data.x_test, data.y_test, batch_size=1000, verbose=0)
    # The same architecture and weights without the optimizer: a third of the size, nothing to resume.
    training.set_precision(config.Experiment())  # float32 weights in the shipped file
    shipped = models.build(exp)  # uncompiled
    shipped.set_weights(model.get_weights())
    path = model_path(dataset, out_dir)
    training.save_model(shipped, path)
    path.chmod(0o644)  # a package file, readable by all (the temporary file it was renamed from was 0600)
    record = {
        "dataset": exp.dataset,
        "title": exp.title,
        "file": path.name,
        "bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "test_accuracy": round(float(test_acc), 4),
        "test_loss": round(float(test_loss), 4),
        "n_train": int(len(data.x_train)),
        "n_validation": int(len(data.x_val)),
        "n_test": int(len(data.x_test)),
        "params": int(shipped.count_params()),
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.items()},
        "preprocess_seconds": round(preprocess_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "experiment": exp.to_dict(),
        "command": command,
        "trained": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "hardware": hardware(),
    }
    records = info(out_dir)
    records[dataset] = record
    write_json(out_dir / INFO, dict(sorted(records.items())))
    (out_dir / INFO).chmod(0o644)
    return record
