"""Reference bands: per lab step and metric, percentiles over N reference runs with different seeds.

The band file (JSON, this module owns it both ways)::

    {"format": 1, "lab": "tp2", "n_runs": 10, "seeds": [1, 2, ...], "note": "...",
     "versions": {"tensorflow": ..., "keras": ...}, "hardware": {"cpu_kind": "avx512-bf16", ...},
     "at_lab_settings": {"ex1": true, ...},
     "bands": {"ex1": {"test_accuracy": {"n", "min", "p5", "p25", "p50", "p75", "p95", "max", "mean", "sd"}, ...}}}

Built from ``mnistlab run`` folders (one per seed, e.g. ``--set seed=S``) and from the ``<step>/seeds/<seed>/``
runs of ``mnistlab run --seeds N``. Values are read from each run's ``metrics.json`` and ``history.csv``
through :mod:`mnistlab.runfolder`; nothing is typed in.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

from mnistlab import runfolder
from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_json
from mnistlab.grade import lab

FORMAT = 1
DEFAULT = "reference_tp2.json"
PERCENTILES = (5, 25, 50, 75, 95)
_SETTING_KEYS = ("dataset", "hidden_units", "dropout", "activation", "activations", "conv_filters", "optimizer",
                 "learning_rate", "loss", "epochs", "batch_size", "validation", "validation_split",
                 "train_limit", "test_limit", "rotation_degrees", "zoom", "horizontal_flip")


def samples(run_dirs: list[Path]) -> tuple[dict[str, dict[str, list[float]]], list[int], dict, dict, dict]:
    """Every metric of every step over the runs: ({step: {metric: [values]}}, seeds, versions, hardware,
    {step: whether every run of it used the lab's settings}).

    Raises:
        MnistlabError: a folder is not a run folder, or no run holds a finished step.
    """
    values: dict[str, dict[str, list[float]]] = {}
    seeds: list[int] = []
    versions: dict = {}
    hardware: dict = {}
    at_lab: dict[str, bool] = {}
    for run in run_dirs:
        manifest = runfolder.read_json(runfolder.inside(run, runfolder.MANIFEST))
        if not manifest:
            raise MnistlabError("not a run folder (no manifest.json)", run)
        versions = versions or dict(manifest.get(runfolder.M_VERSIONS) or {})
        hardware = hardware or dict(manifest.get(runfolder.M_HARDWARE) or {})
        for step in lab.steps():
            folders = [(step, runfolder.experiment_dir(run, step))]
            seeds_dir = runfolder.inside(run, step, runfolder.SEEDS)
            if seeds_dir.is_dir():
                folders += [(f"{step}/seeds/{p.name}", p) for p in sorted(seeds_dir.iterdir()) if p.name.isdigit()]
            for _, folder in folders:
                metrics = runfolder.read_json(runfolder.inside(folder, runfolder.METRICS))
                if not metrics:
                    continue
                cfg = runfolder.read_json(runfolder.inside(folder, runfolder.CONFIG)) or {}
                if isinstance(cfg.get("seed"), int) and cfg["seed"] not in seeds:
                    seeds.append(cfg["seed"])
                at_lab[step] = at_lab.get(step, True) and _at_lab_settings(step, cfg)
                for metric, value in _metrics(step, folder, metrics).items():
                    values.setdefault(step, {}).setdefault(metric, []).append(value)
    if not values:
        raise MnistlabError("no finished step in the reference runs", run_dirs[0] if run_dirs else ".")
    return values, sorted(seeds), versions, hardware, at_lab


def build(run_dirs: list[Path], note: str = "") -> dict:
    """The band file's content from run folders (see the module's docstring)."""
    values, seeds, versions, hardware, at_lab = samples(run_dirs)
    n_runs = max(len(v) for m in values.values() for v in m.values())
    return {"format": FORMAT, "lab": lab.NAME, "n_runs": n_runs, "seeds": seeds, "note": note,
            "versions": {k: versions.get(k) for k in ("tensorflow", "keras", "numpy", "python") if k in versions},
            "hardware": {"cpu": hardware.get("cpu"), "cpu_kind": hardware.get("cpu_kind"),
                         "devices": hardware.get("devices")},
            "at_lab_settings": at_lab,
            "bands": {step: {metric: summarise(v) for metric, v in sorted(m.items())} for step, m in values.items()}}


def summarise(values: list[float]) -> dict[str, float]:
    """n, min, the percentiles, max, mean and standard deviation of ``values``."""
    a = np.asarray(values, dtype=float)
    out = {"n": int(a.size), "min": float(a.min())}
    out.update({f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES})
    out.update({"max": float(a.max()), "mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0})
    return out


def write(path: Path, bands: dict) -> None:
    write_json(path, bands)


def load(path: Path | None = None) -> dict:
    """A band file (None: the one shipped with mnistlab), or the bands of a run folder given as ``path``.

    Raises:
        MnistlabError: unreadable, not a band file, or a run folder without finished steps.
    """
    if path is not None and Path(path).is_dir():
        return build([Path(path)], note=f"built from the run folder {Path(path).name}")
    try:
        text = (Path(path).read_text(encoding="utf-8") if path is not None else
                (resources.files("mnistlab.grade") / DEFAULT).read_text(encoding="utf-8"))
        data = json.loads(text)
    except (OSError, ValueError) as e:
        raise MnistlabError(f"unreadable band file ({e})", path or DEFAULT) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("bands"), dict):
        raise MnistlabError(f"not a band file of format {FORMAT}", path or DEFAULT)
    return data


def band(bands: dict, step: str, metric: str) -> dict | None:
    """The band of ``metric`` for ``step``, None when the reference does not have it."""
    b = bands.get("bands", {}).get(step, {}).get(metric)
    return b if isinstance(b, dict) and all(isinstance(b.get(k), (int, float)) for k in ("p5", "p95", "n")) else None


def _metrics(step: str, folder: Path, m: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("test_accuracy", "test_loss"):
        if isinstance(m.get(key), (int, float)) and not isinstance(m.get(key), dict):
            out[key] = float(m[key])
    for key in ("val_accuracy", "test_accuracy"):  # the activation study: one value per activation
        if isinstance(m.get(key), dict):
            ranked = sorted(m[key].items(), key=lambda kv: -kv[1])
            for name, v in m[key].items():
                if isinstance(v, (int, float)):
                    out[f"{key}.{name}"] = float(v)
            if key == "val_accuracy":
                for rank, (name, _) in enumerate(ranked, 1):
                    out[f"rank.{name}"] = float(rank)
    if isinstance(m.get("per_class"), dict):
        for name, rep in m["per_class"].items():
            if isinstance(rep, dict) and isinstance(rep.get("recall"), (int, float)):
                out[f"class_accuracy.{name}"] = float(rep["recall"])
    try:
        hist = runfolder.read_history(runfolder.inside(folder, runfolder.HISTORY))
    except MnistlabError:
        hist = None
    if hist:
        last = {k: v[-1] for k, v in hist.items() if v}
        for key in ("val_accuracy", "val_loss"):
            v = last.get(key)
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[f"final_{key}"] = float(v)
    return out


def _at_lab_settings(step: str, cfg: dict) -> bool:
    try:
        ref = lab.settings(step)
    except MnistlabError:
        return False
    return all(cfg.get(k) == ref.get(k) for k in _SETTING_KEYS if k in ref)
