"""A run folder read back: manifest, and per step its config, metrics, history and what is missing.

Reading never fails on a partial run: a step without ``metrics.json`` (interrupted, failed, never run)
is a :class:`Step` with ``metrics=None`` and a status saying why. Only a folder that is not a run at
all (no readable ``manifest.json``) raises :class:`MnistlabError`.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab import config
from mnistlab.errors import MnistlabError

MANIFEST = "manifest.json"


@dataclass
class Step:
    """One experiment of the run as its folder holds it."""

    name: str
    folder: Path
    config: dict[str, Any] | None = None  # config.json, else the manifest's copy
    metrics: dict[str, Any] | None = None  # metrics.json: present means the step finished
    history: dict[str, list[float]] | None = None  # history.csv columns (partial if interrupted)
    status: str = "not run"  # complete | diverged | interrupted | failed | skipped | running | incomplete | not run
    reason: str = ""  # the manifest's reason for a failure
    seconds: float | None = None  # wall time of the step, from the manifest or metrics
    problems: list[str] = field(default_factory=list)  # unreadable files, in words for the report
    subs: dict[str, Step] = field(default_factory=dict)  # activation study: one Step per activation
    seeds: dict[int, Step] = field(default_factory=dict)  # --seeds: extra runs by seed (complete ones)

    @property
    def complete(self) -> bool:
        return self.metrics is not None

    @property
    def exp(self) -> config.Experiment | None:
        """The experiment's settings as an :class:`~mnistlab.config.Experiment`, if known."""
        if not self.config:
            return None
        known = {k: v for k, v in self.config.items() if k in config.Experiment.__dataclass_fields__}
        try:
            return config.Experiment(**known)
        except TypeError:
            return None

    def figure(self, name: str) -> Path | None:
        """The run's own PNG ``figures/<name>.png``, if it exists."""
        path = self.folder / "figures" / f"{name}.png"
        return path if path.is_file() else None


@dataclass
class Run:
    """A run folder: its manifest and every step of the lab (run or not) plus the studies it holds."""

    folder: Path
    manifest: dict[str, Any]
    steps: dict[str, Step]

    @property
    def lang(self) -> str:
        """Language of the run's own figures."""
        return self.manifest.get("lang", "fr")

    @property
    def status(self) -> str:
        return self.manifest.get("status", "unknown")

    def step(self, name: str) -> Step:
        return self.steps.get(name) or Step(name, self.folder / name)

    def done(self, name: str) -> Step | None:
        """The step if it finished (has metrics), else None."""
        s = self.steps.get(name)
        return s if s is not None and s.complete else None

    def data_facts(self, dataset: str) -> dict[str, Any]:
        """What the manifest recorded about a data set (source, shapes, dtypes, first labels)."""
        return (self.manifest.get("data") or {}).get(dataset) or {}

    def load_dataset(self, dataset: str):
        """The data set the run used, reloaded from the source the manifest records; None if unavailable.

        Never downloads and never raises: the report then falls back to what the run folder holds.
        """
        cache = self.__dict__.setdefault("_datasets", {})
        if dataset not in cache:
            cache[dataset] = _reload(self.data_facts(dataset), dataset)
        return cache[dataset]


def read_run(folder: str | os.PathLike) -> Run:
    """Read a run folder written by ``mnistlab run``.

    Args:
        folder: the run folder (holds ``manifest.json``).

    Returns:
        The :class:`Run`, with a :class:`Step` for every step of the lab and every other experiment
        the manifest or the folder holds.

    Raises:
        MnistlabError: the folder does not exist, is not a run folder, or its manifest is unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MnistlabError("not a folder" if folder.exists() else "no such folder", folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise MnistlabError("not a mnistlab run folder (no manifest.json); give the folder `mnistlab run` wrote",
                            folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MnistlabError(f"unreadable run manifest ({e})", path) from None
    if not isinstance(manifest, dict):
        raise MnistlabError("unreadable run manifest (not a JSON object)", path)
    entries = manifest.get("experiments") if isinstance(manifest.get("experiments"), dict) else {}
    lab = config.names()
    known = config.names(extended=True)
    found = [p.name for p in sorted(folder.iterdir()) if p.is_dir() and (p / "config.json").is_file()]
    order = lab + [n for n in known if n not in lab and (n in entries or n in found)]
    order += [n for n in list(entries) + found if n not in order]
    steps = {name: _read_step(folder, name, entries.get(name) or {}, manifest) for name in dict.fromkeys(order)}
    return Run(folder, manifest, steps)


def _read_step(run_dir: Path, name: str, entry: dict[str, Any], manifest: dict[str, Any]) -> Step:
    step = Step(name, run_dir / name)
    step.config = _read_json(step.folder / "config.json", step.problems) or entry.get("config")
    step.metrics = _read_json(step.folder / "metrics.json", step.problems)
    step.history = _read_history(step.folder / "history.csv", step.problems)
    if step.metrics is not None:
        step.status = "diverged" if step.metrics.get("diverged") else "complete"
    elif entry.get("status"):
        step.status = entry["status"]
        if step.status == "complete":  # the manifest says done but the file is gone
            step.status = "incomplete"
        elif step.status == "running" and manifest.get("status") != "running":
            step.status = "interrupted"
    elif step.folder.is_dir():
        step.status = "incomplete"
    step.reason = str(entry.get("reason") or "")
    seconds = entry.get("seconds", (step.metrics or {}).get("seconds"))
    step.seconds = float(seconds) if isinstance(seconds, (int, float)) else None
    exp = step.exp
    if exp is not None and exp.step == "activations":
        for act in exp.activations:
            sub = Step(act, step.folder / act)
            sub.metrics = _read_json(sub.folder / "metrics.json", step.problems)
            sub.history = _read_history(sub.folder / "history.csv", step.problems)
            sub.status = "complete" if sub.metrics is not None else ("incomplete" if sub.folder.is_dir()
                                                                     else "not run")
            step.subs[act] = sub
    for seed, run in (entry.get("seeds") or {}).items():
        if not isinstance(run, dict):
            continue
        sub = _read_step(run_dir, str(run.get("dir") or f"{name}/seeds/{seed}"), {}, manifest)
        sub.status = sub.status if sub.complete else str(run.get("status") or "incomplete")
        with contextlib.suppress(ValueError):
            step.seeds[int(seed)] = sub
    return step


def _read_json(path: Path, problems: list[str]) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        problems.append(str(path))
        return None


def _read_history(path: Path, problems: list[str]) -> dict[str, list[float]] | None:
    """``history.csv`` -> {column: values}; None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}
    except (OSError, UnicodeDecodeError, ValueError, TypeError, csv.Error):
        problems.append(str(path))
        return None


def read_confusion_csv(path: Path) -> tuple[list[str], np.ndarray] | None:
    """``confusion_matrix.csv`` -> (English class names, counts); None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        names = rows[0][1:]
        matrix = np.array([[int(v) for v in row[1:]] for row in rows[1:]], dtype=np.int64)
        if matrix.shape != (len(names), len(names)):
            return None
        return names, matrix
    except (OSError, UnicodeDecodeError, ValueError, IndexError, csv.Error):
        return None


def _reload(facts: dict[str, Any], dataset: str):
    """Load ``dataset`` from the recorded source without downloading; None when that fails."""
    from mnistlab.data import sources

    source = str(facts.get("source") or "")
    if not source or "://" in source:
        data_dir = None  # downloaded: it now lies in the Keras cache
    else:
        data_dir = Path(source)
        if data_dir.is_file():
            data_dir = data_dir.parent
        if not data_dir.exists():
            return None
    saved = os.environ.get("MNISTLAB_NO_DOWNLOAD")
    os.environ["MNISTLAB_NO_DOWNLOAD"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sources.load(dataset, data_dir, trust=not facts.get("verified", True))
    except Exception:  # noqa: BLE001 - a figure falls back to the run's PNG whatever went wrong
        return None
    finally:
        if saved is None:
            os.environ.pop("MNISTLAB_NO_DOWNLOAD", None)
        else:
            os.environ["MNISTLAB_NO_DOWNLOAD"] = saved
