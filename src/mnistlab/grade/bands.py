"""Reference bands: per lab step and metric, the interval an honest new run falls in, with a stated rate.

The band file (JSON, this module owns it both ways)::

    {"format": 2, "lab": "tp2", "n_runs": 31, "seeds": [1, 2, ...], "note": "...",
     "method": {"name": "prediction-interval-t", "rate": 0.01, "formula": "...", "binomial": "..."},
     "runs_by_cpu_kind": {"avx512-bf16": {"n_runs": 11, "seeds": [...]}, "avx2": {...}},
     "versions": {"tensorflow": ..., "keras": ...}, "hardware": {"cpu_kinds": ["avx2", "avx512-bf16"], ...},
     "at_lab_settings": {"ex1": true, ...},
     "bands": {"ex1": {"test_accuracy": {"n", "mean", "sd", "lo", "hi", "min", "max",
                                          "by_cpu_kind": {"avx2": {"n", "mean", "sd", "min", "max", "p5", ...,
                                                                   "values"}, ...}}, ...}}}

**The method.** A new honest run's value of a metric is a draw from the same distribution as the reference
runs' (normal, mean mu, SD sigma, both unknown). With n reference values of mean m and SD s, the two-sided
prediction interval ``m +- t(1 - rate/2, n - 1) * s * sqrt(1 + 1/n)`` holds a new run with probability
``1 - rate`` exactly (Student's t, :mod:`scipy.stats`), so an honest student is wrongly placed outside it with
probability ``rate`` (1 % by default) per item; the t-quantile widens it where n is small. The band is that
interval widened, where needed, to the reference runs' own range: a value one of them gave (the lab's default
seed, which every user of ``mnistlab notebook`` shares, among them) is never called out of band, and the rate
stays at most ``rate``. The test set's
binomial noise is already in the seed spread: every reference run and every student evaluates on the same
fixed images (the test set, or the last 20 % of the training set for ``validation_split``), so the runs'
spread is the whole variation a new run has, not an estimate to which a sampling term must be added.
Runs from several CPU kinds are pooled (exact pooled mean and SD of the union from each kind's n, mean and SD;
the difference between kinds is part of the spread) and each kind's own summary is kept.

Built from ``mnistlab run`` folders (one per seed, e.g. ``--set seed=S``), from the ``<step>/seeds/<seed>/``
runs of ``mnistlab run --seeds N``, from ``mnistlab notebook``'s run folders and results of the lab's own code
(both in the group ``<kind>/lab-code``), and merged with an earlier band file (:func:`merge`). Values are read from
each run's ``metrics.json`` and ``history.csv`` through :mod:`mnistlab.runfolder`; nothing is typed in.
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

FORMAT = 2
FORMATS = (1, 2)
DEFAULT = "reference_tp2.json"
RATE = 0.01  # the false-accusation rate per item for an honest run
LAB_CODE = "/lab-code"  # a group's suffix: runs of the lab's own cells, not of ``mnistlab run``
PERCENTILES = (5, 25, 50, 75, 95)
METHOD = {"name": "prediction-interval-t", "rate": RATE,
          "formula": "mean +- t(1 - rate/2, n - 1) * sd * sqrt(1 + 1/n) (two-sided prediction interval for one "
                     "new run, Student's t, scipy.stats.t.ppf), widened to the reference runs' min and max",
          "binomial": "in the seed spread: every run, the student's included, is evaluated on the same fixed "
                      "images, so no separate binomial term is added",
          "pooling": "runs of every CPU kind pooled: exact mean and SD of the union from each kind's n, mean, SD"}
_SETTING_KEYS = ("dataset", "hidden_units", "dropout", "activation", "activations", "conv_filters", "optimizer",
                 "learning_rate", "loss", "epochs", "batch_size", "validation", "validation_split",
                 "train_limit", "test_limit", "rotation_degrees", "zoom", "horizontal_flip")


def interval(mean: float, sd: float, n: int, rate: float = RATE) -> tuple[float, float] | None:
    """The two-sided ``1 - rate`` prediction interval of one new run; None with fewer than 2 runs."""
    from scipy import stats

    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)) or not 0 < rate < 1:
        return None
    half = float(stats.t.ppf(1 - rate / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def pool(groups: list[dict]) -> dict:
    """n, mean, SD (ddof 1), min and max of the union of groups given by their own n, mean, sd, min, max."""
    groups = [g for g in groups if int(g.get("n") or 0) > 0]
    n = sum(int(g["n"]) for g in groups)
    mean = sum(int(g["n"]) * g["mean"] for g in groups) / n
    ss = sum((int(g["n"]) - 1) * (g.get("sd") or 0.0) ** 2 + int(g["n"]) * (g["mean"] - mean) ** 2 for g in groups)
    return {"n": n, "mean": mean, "sd": math.sqrt(ss / (n - 1)) if n > 1 else 0.0,
            "min": min(g["min"] for g in groups), "max": max(g["max"] for g in groups)}


def samples(run_dirs: list[Path]) -> tuple[dict, dict, dict, dict, dict]:
    """Every metric of every step over the runs, by CPU kind: ({kind: {step: {metric: [values]}}},
    {kind: [seeds]}, versions, {kind: hardware}, {step: whether every run of it used the lab's settings}).

    Raises:
        MnistlabError: a folder is not a run folder, or no run holds a finished step.
    """
    values: dict[str, dict[str, dict[str, list[float]]]] = {}
    seeds: dict[str, list[int]] = {}
    versions: dict = {}
    hardware: dict[str, dict] = {}
    at_lab: dict[str, bool] = {}
    for run in run_dirs:
        manifest = runfolder.read_json(runfolder.inside(run, runfolder.MANIFEST))
        if not manifest:
            raise MnistlabError("not a run folder (no manifest.json)", run)
        versions = versions or dict(manifest.get(runfolder.M_VERSIONS) or {})
        hw = dict(manifest.get(runfolder.M_HARDWARE) or {})
        kind = str(hw.get("cpu_kind") or "unknown")
        command = manifest.get(runfolder.M_COMMAND) if isinstance(manifest.get(runfolder.M_COMMAND), list) else []
        if command[:1] == ["notebook"]:  # mnistlab notebook's run folder: the lab's own cells ran
            kind += LAB_CODE
        hardware.setdefault(kind, hw)
        for step in lab.steps():
            folders = [runfolder.experiment_dir(run, step)]
            seeds_dir = runfolder.inside(run, step, runfolder.SEEDS)
            if seeds_dir.is_dir():
                folders += [p for p in sorted(seeds_dir.iterdir()) if p.name.isdigit()]
            for folder in folders:
                metrics = runfolder.read_metrics(folder)
                if not metrics:
                    continue
                cfg = runfolder.read_json(runfolder.inside(folder, runfolder.CONFIG)) or {}
                if isinstance(cfg.get("seed"), int) and cfg["seed"] not in seeds.setdefault(kind, []):
                    seeds[kind].append(cfg["seed"])
                at_lab[step] = at_lab.get(step, True) and _at_lab_settings(step, cfg)
                for metric, value in _metrics(step, folder, metrics).items():
                    values.setdefault(kind, {}).setdefault(step, {}).setdefault(metric, []).append(value)
    return values, seeds, versions, hardware, at_lab


def build(run_dirs: list[Path], note: str = "", rate: float = RATE, lab_code: list[dict] = ()) -> dict:
    """The band file's content from run folders and from results of the lab's own code (see the module's
    docstring): each of ``lab_code`` is ``{"seed", "hardware": {"cpu_kind"}, "versions", "experiments": {step:
    {metric: value or {activation: value}}}}`` with metrics.json's names, and forms the group ``<kind>/lab-code``.
    """
    values, seeds, versions, hardware, at_lab = samples(run_dirs) if run_dirs else ({}, {}, {}, {}, {})
    for result in lab_code:
        kind = f"{(result.get('hardware') or {}).get('cpu_kind') or 'unknown'}{LAB_CODE}"
        hardware.setdefault(kind, dict(result.get("hardware") or {}))
        versions = versions or dict(result.get("versions") or {})
        if int(result["seed"]) not in seeds.setdefault(kind, []):  # one seed's dense and CNN files: one run
            seeds[kind].append(int(result["seed"]))
        for step, metrics in result["experiments"].items():
            at_lab[step] = at_lab.get(step, True)  # the lab's own cells: its settings by construction
            for metric, value in _metric_values(metrics).items():
                values.setdefault(kind, {}).setdefault(step, {}).setdefault(metric, []).append(value)
    if not values:
        raise MnistlabError("no finished step in the reference runs", run_dirs[0] if run_dirs else ".")
    groups = {kind: {"n_runs": max(len(v) for m in steps.values() for v in m.values()),
                     "seeds": sorted(seeds.get(kind, [])), "cpu": hardware[kind].get("cpu"),
                     "versions": _versions(versions)}
              for kind, steps in values.items()}
    by_kind = {kind: {step: {metric: summarise(v, rate, keep=True) for metric, v in m.items()}
                      for step, m in steps.items()} for kind, steps in values.items()}
    return _assemble(groups, by_kind, at_lab, note, rate, _versions(versions))


def merge(*band_files: dict, note: str = "", rate: float = RATE) -> dict:
    """One band file pooling the CPU kinds of several (format 1 files count as one kind, their summaries kept).

    Raises:
        MnistlabError: two files hold runs of the same CPU kind (they would be counted twice).
    """
    groups: dict[str, dict] = {}
    by_kind: dict[str, dict] = {}
    at_lab: dict[str, bool] = {}
    versions: dict = {}
    for data in band_files:
        data = upgrade(data)
        for kind, group in data["runs_by_cpu_kind"].items():
            if kind in groups:
                raise MnistlabError(f"runs of CPU kind {kind} are in two of the band files merged", kind)
            groups[kind] = group
        for step, metrics in data["bands"].items():
            for metric, b in metrics.items():
                for kind, g in (b.get("by_cpu_kind") or {}).items():
                    by_kind.setdefault(kind, {}).setdefault(step, {})[metric] = g
        for step, ok in (data.get("at_lab_settings") or {}).items():
            at_lab[step] = at_lab.get(step, True) and bool(ok)
        versions = versions or dict(data.get("versions") or {})
    return _assemble(groups, by_kind, at_lab, note, rate, versions)


def _assemble(groups: dict, by_kind: dict, at_lab: dict, note: str, rate: float, versions: dict) -> dict:
    bands: dict[str, dict] = {}
    for step in [s for s in lab.steps() if any(s in k for k in by_kind.values())]:
        metrics = sorted({m for k in by_kind.values() for m in k.get(step, {})})
        for metric in metrics:
            parts = {kind: k[step][metric] for kind, k in sorted(by_kind.items()) if metric in k.get(step, {})}
            bands.setdefault(step, {})[metric] = _pooled(parts, rate)
    kinds = sorted(groups)
    cpu_kinds = sorted({k.removesuffix(LAB_CODE) for k in kinds})
    return {"format": FORMAT, "lab": lab.NAME, "n_runs": sum(g["n_runs"] for g in groups.values()),
            "seeds": sorted({s for g in groups.values() for s in g.get("seeds", [])}), "note": note,
            "method": {**METHOD, "rate": rate}, "runs_by_cpu_kind": {k: groups[k] for k in kinds},
            "versions": versions, "hardware": {"cpu_kinds": cpu_kinds, "cpu_kind": "+".join(cpu_kinds),
                         "groups": kinds},
            "at_lab_settings": at_lab, "bands": bands}


def _set_edges(out: dict, rate: float) -> None:
    """``out``'s band ``lo``-``hi``: the prediction interval of its n, mean and SD, widened to its min and max
    (a value an honest reference run gave is never outside); none with fewer than 2 runs."""
    edges = interval(out["mean"], out["sd"], out["n"], rate)
    if edges:
        out["lo"], out["hi"] = min(edges[0], out["min"]), max(edges[1], out["max"])


def _pooled(parts: dict[str, dict], rate: float) -> dict:
    out = pool(list(parts.values()))
    _set_edges(out, rate)
    out["by_cpu_kind"] = parts
    values = [v for p in parts.values() for v in (p.get("values") or [])]
    if len(values) == out["n"]:  # every run's value is known: the percentiles of the union too
        out.update({f"p{q}": float(np.percentile(values, q)) for q in PERCENTILES})
    elif len(parts) == 1:  # one kind: its percentiles are the union's
        out.update({k: v for k, v in next(iter(parts.values())).items() if k in {f"p{q}" for q in PERCENTILES}})
    return out


def _versions(versions: dict) -> dict:
    return {k: versions.get(k) for k in ("tensorflow", "keras", "numpy", "python") if k in versions}


def summarise(values: list[float], rate: float = RATE, keep: bool = False) -> dict:
    """n, min, the percentiles, max, mean, standard deviation and prediction interval (lo, hi) of ``values``;
    ``keep``: the values themselves too."""
    a = np.asarray(values, dtype=float)
    out = {"n": int(a.size), "min": float(a.min())}
    out.update({f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES})
    out.update({"max": float(a.max()), "mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0})
    _set_edges(out, rate)
    if keep:
        out["values"] = [float(v) for v in a]
    return out


def upgrade(data: dict) -> dict:
    """A format 1 band file (percentiles of one CPU kind) as format 2: its summaries become that kind's."""
    if data.get("format") == FORMAT:
        return data
    kind = str((data.get("hardware") or {}).get("cpu_kind") or "unknown")
    groups = {kind: {"n_runs": int(data.get("n_runs") or 0), "seeds": list(data.get("seeds") or []),
                     "cpu": (data.get("hardware") or {}).get("cpu"), "versions": dict(data.get("versions") or {})}}
    by_kind = {kind: {step: {m: {k: v for k, v in b.items() if k not in ("lo", "hi")} for m, b in metrics.items()
                             if isinstance(b, dict)}
                      for step, metrics in (data.get("bands") or {}).items() if isinstance(metrics, dict)}}
    out = _assemble(groups, by_kind, dict(data.get("at_lab_settings") or {}), str(data.get("note") or ""), RATE,
                    dict(data.get("versions") or {}))
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
    if not isinstance(data, dict) or data.get("format") not in FORMATS or not isinstance(data.get("bands"), dict):
        raise MnistlabError(f"not a band file of format {' or '.join(map(str, FORMATS))}", path or DEFAULT)
    try:
        return upgrade(data)
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as e:
        raise MnistlabError(f"not a band file: {type(e).__name__} in its bands", path or DEFAULT) from None


def band(bands: dict, step: str, metric: str) -> dict | None:
    """The band of ``metric`` for ``step`` (with its prediction interval ``lo``-``hi``), None when the reference
    does not have it or has fewer than 2 runs of it."""
    b = bands.get("bands", {}).get(step, {}).get(metric)
    ok = isinstance(b, dict) and all(isinstance(b.get(k), (int, float)) for k in ("lo", "hi", "n", "min", "max"))
    return b if ok else None


def rate(bands: dict) -> float:
    """The false-accusation rate per item the bands were built for."""
    r = (bands.get("method") or {}).get("rate")
    return float(r) if isinstance(r, (int, float)) else RATE


def _metrics(step: str, folder: Path, m: dict) -> dict[str, float]:
    out = _metric_values(m)
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


def _metric_values(m: dict) -> dict[str, float]:
    """The band's metrics from one step's metrics mapping (metrics.json's names; an activation's name as the
    lab spells it, e.g. LeakyReLU, becomes the run's, leaky_relu)."""
    out: dict[str, float] = {}
    known = _activations() if any(isinstance(m.get(k), dict) for k in ("val_accuracy", "test_accuracy")) else {}
    for key in ("final_val_accuracy", "final_val_loss"):
        if isinstance(m.get(key), (int, float)) and math.isfinite(m[key]):
            out[key] = float(m[key])
    for key in ("test_accuracy", "test_loss"):
        if isinstance(m.get(key), (int, float)) and not isinstance(m.get(key), dict):
            out[key] = float(m[key])
    for key in ("val_accuracy", "test_accuracy"):  # the activation study: one value per activation
        if isinstance(m.get(key), dict):
            named = {_snake(str(k), known): v for k, v in m[key].items()}
            ranked = sorted(named.items(), key=lambda kv: -kv[1])
            for name, v in named.items():
                if isinstance(v, (int, float)):
                    out[f"{key}.{name}"] = float(v)
            if key == "val_accuracy":
                for rank, (name, _) in enumerate(ranked, 1):
                    out[f"rank.{name}"] = float(rank)
    if isinstance(m.get("per_class"), dict):
        for name, rep in m["per_class"].items():
            if isinstance(rep, dict) and isinstance(rep.get("recall"), (int, float)):
                out[f"class_accuracy.{name}"] = float(rep["recall"])
    return out


def _activations() -> dict[str, str]:
    """The lab's activations by their name without underscores (``leakyrelu`` -> ``leaky_relu``)."""
    return {a.replace("_", ""): a for step in lab.steps() for a in lab.settings(step).get("activations") or []}


def _snake(name: str, known: dict[str, str]) -> str:
    """An activation's name as the lab's code spells it (LeakyReLU) as the run's (leaky_relu): the lab's own
    activation (``known``, :func:`_activations`) whose name matches it without case and underscores; any other
    name, lowercased."""
    return known.get(name.lower().replace("_", ""), name.lower())


def _at_lab_settings(step: str, cfg: dict) -> bool:
    try:
        ref = lab.settings(step)
    except MnistlabError:
        return False
    return all(cfg.get(k) == ref.get(k) for k in _SETTING_KEYS if k in ref)
