"""Read back what an execution produced: kernel-side snippets that dump values, and a run folder from them.

After some code cells, :mod:`~mnistlab.notebook.execute` runs one of :func:`after`'s snippets in the same
kernel (never saved in the notebook): it writes the values that cell left in the kernel (histories, test
metrics, parameter counts, predictions, shapes) into a capture folder. :func:`write_run` turns that folder
into a run folder in ``mnistlab run``'s format, which the report's measurement functions read.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.config import Experiment
from mnistlab.derived import activation_ranking, confusion_summary
from mnistlab.fileio import write_json
from mnistlab.runfolder import (
    CONFIG,
    CONFUSION,
    HISTORY,
    M_DATA,
    M_EXPERIMENTS,
    M_LANG,
    M_SEED,
    M_STATUS,
    M_VERSIONS,
    PROBABILITIES,
    save_array,
    write_diverged,
    write_history,
    write_manifest,
    write_metrics,
)

# Defines the dump helper in the kernel; {dir!r} is the capture folder (a path this process made).
PRELUDE = '''
def _mnistlab_dump(_name, **_values):
    import json as _json, os as _os
    import numpy as _np
    _folder = _os.path.join({dir!r}, _name)
    _os.makedirs(_folder, exist_ok=True)
    _meta = {{}}
    for _k, _v in _values.items():
        if isinstance(_v, _np.ndarray):
            _np.save(_os.path.join(_folder, _k + ".npy"), _v)
        else:
            _meta[_k] = _v
    with open(_os.path.join(_folder, "values.json"), "w") as _f:
        _json.dump(_meta, _f, default=float)

def _mnistlab_layers(_model):
    return [{{"name": _l.name, "type": type(_l).__name__, "output_shape": [int(d) for d in _l.output.shape[1:]],
              "params": int(_l.count_params())}} for _l in _model.layers]

def _mnistlab_loaded(_name):
    # the SHA-256 of the arrays the lab's load_data() call returned in this kernel (None if not recorded)
    import sys as _sys
    _loader = _sys.modules.get("mnistlab.notebook.loader")
    return None if _loader is None else _loader.LOADED.get(_name)

def _mnistlab_labels(_y):
    import numpy as _np
    _y = _np.asarray(_y)
    return (_y.argmax(axis=1) if _y.ndim == 2 else _y).astype(_np.uint8)

def _mnistlab_facts(*_arrays):
    return {{_k: {{"shape": list(_a.shape), "dtype": str(_a.dtype), "min": int(_a.min()), "max": int(_a.max())}}
            for _k, _a in zip(("x_train", "y_train", "x_test", "y_test"), _arrays)}}
'''

_VERSIONS = ('_mnistlab_dump("versions", tensorflow=tf.__version__, keras=tf.keras.__version__, '
             'numpy=__import__("numpy").__version__, python=__import__("platform").python_version(), '
             'backend=tf.keras.backend.backend())')


def _train(step: str, c: dict[str, str]) -> str:
    # the test probabilities give the SD of the per-example losses, hence the noise of a mean validation loss
    model, hist, n_train, n_test = c["model"], c["history"], c["x_train"], c["x_test"]
    return (f'_mnistlab_dump({step!r}, params=int({model}.count_params()), layers=_mnistlab_layers({model}), '
            f'history={{_k: [float(_v) for _v in _vs] for _k, _vs in {hist}.items()}}, '
            f'test_loss=float(test_loss), test_accuracy=float(test_acc), n_train=len({n_train}), '
            f'n_test=len({n_test}), probabilities=__import__("numpy").asarray({model}.predict({n_test}, '
            f'verbose=0), "float32"), test_labels=_mnistlab_labels(y_test))')


def _activations(step: str, c: dict[str, str]) -> str:
    # the study's dictionary (the lab's "LeakyReLU" key as the activation's name) and each model's size
    models = ", ".join(f"({v!r}, globals().get({v!r}))" for v in c["models"])
    return (f'_mnistlab_dump({step!r}, results={{("leaky_relu" if _k == "LeakyReLU" else _k): float(_v) for _k, _v '
            f'in {c["results"]}.items()}}, params={{_k: int(_m.count_params()) for _k, _m in ({models},) '
            f'if _m is not None}}, n_train=len({c["x_train"]}))')


def _confusion(step: str, c: dict[str, str]) -> str:
    return (f'_mnistlab_dump({step!r}, y_pred=__import__("numpy").asarray({c["y_pred"]}), '
            f'y_test=__import__("numpy").asarray(y_test))')


# A step's kind (its experiment's `step`) -> the snippet that dumps what its cells left in the kernel.
SNIPPETS = {"train": _train, "augment": _train, "activations": _activations, "confusion": _confusion}

# Code block of the lab -> the snippet run after it, besides each step's own (the plan's `capture`).
FIXED = {
    "ex1.imports": _VERSIONS,
    "ex1.check": '_mnistlab_dump("data.mnist", facts=_mnistlab_facts(x_train, y_train, x_test, y_test), '
                'first_train_labels=[int(_v) for _v in y_train[:16]], digests=_mnistlab_loaded("mnist"))',
    "ex1.predictions": '_mnistlab_dump("ex1.predictions", probabilities=__import__("numpy").asarray(predictions, '
                       '"float32"), y_test=__import__("numpy").asarray(y_test))',
    "ex2.check": _VERSIONS + "\n" + '_mnistlab_dump("data.fashion_mnist", facts=_mnistlab_facts(X_train, y_train, '
                'X_test, y_test), first_train_labels=[int(_v) for _v in y_train[:16]], '
                'digests=_mnistlab_loaded("fashion_mnist"))',
    # each "what if" study, in the cell's order, as whatif.0, whatif.1, ... (write_run names them)
    "ex1.whatif": '''
for _i, (_m, _h, _yv) in enumerate(whatif_results.values()):
    _mnistlab_dump(f"whatif.{_i}", params=int(_m.count_params()), layers=_mnistlab_layers(_m),
                   history={_k: [float(_v) for _v in _vs] for _k, _vs in _h.history.items()},
                   test_loss=float(_h.history["val_loss"][-1]), test_accuracy=float(_h.history["val_accuracy"][-1]),
                   n_train=len(x_train), n_test=len(x_test),
                   probabilities=__import__("numpy").asarray(_m.predict(x_test, verbose=0), "float32"),
                   test_labels=_mnistlab_labels(y_test))
''',
}


def after() -> dict[str, str]:
    """{code block of the lab: the snippet run after it}: :data:`FIXED` and, for each step of the plan in use
    with a ``capture`` table, its kind's snippet after the block that table names."""
    from mnistlab import config
    from mnistlab.lab import plan

    out = dict(FIXED)
    for name, step in plan.load().steps.items():
        if step.capture:
            c = {"model": step.variable, "models": [step.variable, *step.more_variables], **step.capture}
            out[c["after"]] = SNIPPETS[config.load(name).step](name, c)
    return out


def data_check(dataset: str, digests: Any) -> dict[str, Any]:
    """The manifest's verdict on the arrays the kernel loaded: ``verified`` is True only when the SHA-256 of
    each of the four arrays equals the published one; ``differing`` names the others. Nothing recorded (a
    loader that did not run): no ``verified`` key, so nothing is claimed."""
    from mnistlab.data import sources

    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        return {}
    diff = sources.differing(dataset, digests)
    return {"verified": not diff, "differing": diff}


def _read(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / name / "values.json"
    if not path.is_file():
        return None
    values = json.loads(path.read_text(encoding="utf-8"))
    for npy in (folder / name).glob("*.npy"):
        values[npy.stem] = np.load(npy, allow_pickle=False)
    return values


def _rows(history: dict[str, list[float]]) -> list[dict[str, float]]:
    """Keras' ``History.history`` as the per-epoch rows of ``history.csv``."""
    keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in history]
    return [{"epoch": i + 1, **{k: float(history[k][i]) for k in keys}} for i in range(len(history.get("loss", [])))]


def _n_fit(exp: Experiment, n: int) -> tuple[int, int]:
    """Training and validation sizes as Keras' ``validation_split`` cuts them (ceil of the training part)."""
    if exp.validation == "test":
        return n, 0
    split_at = int(math.ceil(n * (1.0 - exp.validation_split)))
    return split_at, n - split_at


def write_run(capture_dir: Path, run_dir: Path, exps: dict[str, Experiment], seconds: dict[str, float],
              lang: str = "fr", execution: dict[str, Any] | None = None) -> Path:
    """Write a run folder (manifest, per step config, metrics, history) from an execution's captures.

    Args:
        capture_dir: the folder the snippets wrote.
        run_dir: the run folder to write (created).
        exps: the validated settings of each step the notebook holds.
        seconds: wall time of each step's ``fit`` cell, measured around its execution.
        execution: what the manifest says of the execution itself (``command``, ``hardware``, ``started``,
            ``finished``, ``seconds``), for the report's date and appendix.

    Returns:
        ``run_dir``.
    """
    from mnistlab.i18n import class_names
    from mnistlab.train import curve_summary

    versions = _read(capture_dir, "versions") or {}
    manifest: dict[str, Any] = {M_VERSIONS: versions, M_DATA: {}, M_EXPERIMENTS: {}, M_LANG: lang,
                                M_STATUS: "complete", M_SEED: next(iter(exps.values())).seed if exps else None,
                                **(execution or {})}
    for ds in ("mnist", "fashion_mnist"):
        facts = _read(capture_dir, f"data.{ds}")
        if facts:
            manifest[M_DATA][ds] = {**facts["facts"], "first_train_labels": facts["first_train_labels"],
                                    "source": "notebook", **data_check(ds, facts.get("digests"))}
    from mnistlab.lab import plan

    alias = {n: f"whatif.{i}" for names in plan.extended_cells().values()
             for i, n in enumerate(n for n in names if n in exps)}
    for name, exp in exps.items():
        # the notebook ran the lab's own code (NumPy arrays into fit, ImageDataGenerator): its faithful path
        exp = dataclasses.replace(exp, faithful=True)
        got = _read(capture_dir, alias.get(name, name))
        if got is None:
            manifest[M_EXPERIMENTS][name] = {"status": "not run", "config": exp.to_dict()}
            continue
        folder = run_dir / name
        write_json(folder / CONFIG, exp.to_dict())
        metrics: dict[str, Any]
        losses = got.get("history", {}).get("loss", []) if isinstance(got.get("history"), dict) else []
        if not all(math.isfinite(v) for v in losses):  # a study whose divergence is its result
            good = [i + 1 for i, v in enumerate(losses) if math.isfinite(v)]
            write_diverged(folder, "training loss became NaN or infinite", good[-1] if good else None,
                           round(seconds.get(name, 0.0), 3))
            manifest[M_EXPERIMENTS][name] = {"status": "diverged", "config": exp.to_dict()}
            continue
        if exp.step == "activations":
            val = got["results"]
            n_train, n_val = _n_fit(exp, got["n_train"])
            params = got["params"]
            metrics = {"val_accuracy": val, **activation_ranking(val),
                       "params": {a: params.get("model_leaky" if a == "leaky_relu" else "model_act") for a in val},
                       "n_train": n_train, "n_validation": n_val}
        elif exp.step == "confusion":
            y, pred = got["y_test"].astype(np.int64), got["y_pred"].astype(np.int64)
            metrics = _confusion_metrics(y, pred, class_names(exp.dataset, "en"), folder, exp.from_step)
        else:
            n_train, n_val = _n_fit(exp, got["n_train"])
            metrics = {"test_loss": got["test_loss"], "test_accuracy": got["test_accuracy"],
                       "test_errors": int(round((1 - got["test_accuracy"]) * got["n_test"])),
                       "params": got["params"], "layers": got["layers"], "n_train": n_train, "n_validation": n_val,
                       "n_test": got["n_test"], "validation_is_test": exp.validation == "test",
                       **curve_summary(got["history"])}
            if name in seconds:
                metrics["fit_seconds"] = round(seconds[name], 3)
            write_history(folder / HISTORY, _rows(got["history"]))
            pred = _read(capture_dir, f"{name}.predictions")  # the lab's own predictions cell, where it has one
            if pred is not None:
                got = {**got, "probabilities": pred["probabilities"], "test_labels": pred["y_test"]}
            probs, labels = got.get("probabilities"), got.get("test_labels")
            if probs is not None and labels is not None and len(probs) == len(labels):
                metrics["test_errors"] = int((probs.argmax(axis=1) != labels).sum())
                np.save(folder / PROBABILITIES, probs)
                save_array(folder, "test_labels", np.asarray(labels, dtype=np.uint8))
            if exp.uses_model:
                metrics["continued_from"] = exp.from_step
        write_metrics(folder, metrics)
        manifest[M_EXPERIMENTS][name] = {"status": "complete", "config": exp.to_dict(),
                                         **({"seconds": round(seconds[name], 3)} if name in seconds else {})}
    write_manifest(run_dir, manifest)
    return run_dir


# Code block of the lab -> (step, figure name) of the figure it draws that the report shows as the run's own PNG.
FIGURES = {"ex1.samples": ("ex1", "samples"), "ex2.samples": ("ex2.ann", "samples")}


def save_figures(nb, run_dir: Path) -> None:
    """The notebook's own sample figures as the run's ``<step>/figures/<name>.png`` (the report shows them)."""
    import base64

    from mnistlab.fileio import write_bytes
    from mnistlab.runfolder import FIGURES as FIGURES_DIR

    for cell in nb.cells:
        where = FIGURES.get(cell.get("metadata", {}).get("mnistlab", {}).get("block", ""))
        if where is None or not (run_dir / where[0]).is_dir():
            continue
        png = next((o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})), None)
        if isinstance(png, str):
            write_bytes(run_dir / where[0] / FIGURES_DIR / f"{where[1]}.png", base64.b64decode(png))


def _confusion_metrics(y: np.ndarray, pred: np.ndarray, names: list[str], folder: Path, model: str
                       ) -> dict[str, Any]:
    """A confusion step's metrics from the labels and the predictions of ``model``'s step (as ``mnistlab run``
    writes them)."""
    from mnistlab.evaluate import confusion_and_report

    matrix, report = confusion_and_report(y, pred, names, folder / CONFUSION)
    return {"model": model, **confusion_summary(matrix, report, names, float((pred == y).mean()), len(y))}
