"""A run folder read back: manifest, and per step its config, metrics, history and what is missing.

Every file goes through :mod:`mnistlab.runfolder` (names, safe paths, checked reads). Reading never fails
on a partial or doctored run: a step without ``metrics.json`` (interrupted, failed, never run) is a
:class:`Step` with ``metrics=None`` and a status saying why; a malformed file is recorded in
``Step.problems`` with its reason and read as absent. Only a folder that is not a run at all (no readable
``manifest.json``) raises :class:`MnistlabError`. Nothing here imports TensorFlow or reloads a data set.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab import config, runfolder
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.i18n import LANGS
from mnistlab.report import schema
from mnistlab.runfolder import RunFolderError


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
    problems: list[str] = field(default_factory=list)  # "file: reason" of each unreadable file
    subs: dict[str, Step] = field(default_factory=dict)  # activation study: one Step per activation
    seeds: dict[int, Step] = field(default_factory=dict)  # --seeds: extra runs by seed (complete ones)
    root: Path | None = None  # the run folder: problems name files relative to it, never by absolute path

    @property
    def complete(self) -> bool:
        return self.metrics is not None

    @functools.cached_property
    def exp(self) -> config.Experiment | None:
        """The experiment's settings, validated as ``mnistlab run`` validates them; None if invalid."""
        if not self.config:
            return None
        try:
            return runfolder.experiment(self.config, self.folder / runfolder.CONFIG)
        except (ConfigError, TypeError, ValueError) as e:
            self._problem(str(e))
            return None

    def _problem(self, text: str) -> None:
        if self.root is not None:
            for prefix in {str(self.root), str(self.root.resolve())}:
                text = text.replace(prefix + os.sep, "")
        if text not in self.problems:
            self.problems.append(text)

    def figure(self, name: str) -> Path | None:
        """The run's own PNG ``figures/<name>.png``, if it exists (a symlink is never returned)."""
        try:
            path = runfolder.inside(self.folder, runfolder.FIGURES, f"{name}.png")
        except RunFolderError as e:
            self._problem(str(e))
            return None
        return path if path.is_file() else None

    def array(self, name: str, ndim: int | None = None) -> np.ndarray | None:
        """``arrays/<name>.npy`` saved by the run for the report; None if absent or malformed."""
        try:
            return runfolder.read_array(self.folder, name, ndim)
        except RunFolderError as e:
            self._problem(str(e))
            return None


@dataclass
class Run:
    """A run folder: its manifest and every step of the lab (run or not) plus the studies it holds."""

    folder: Path
    manifest: dict[str, Any]
    steps: dict[str, Step]

    @property
    def lang(self) -> str:
        """Language of the run's own figures."""
        lang = self.manifest.get(runfolder.M_LANG)
        return lang if lang in LANGS else "fr"

    @property
    def status(self) -> str:
        return str(self.manifest.get(runfolder.M_STATUS, "unknown"))

    def step(self, name: str) -> Step:
        return self.steps.get(name) or Step(name, self.folder / "_absent_")

    def done(self, name: str) -> Step | None:
        """The step if it finished (has metrics), else None."""
        s = self.steps.get(name)
        return s if s is not None and s.complete else None

    def data_facts(self, dataset: str) -> dict[str, Any]:
        """What the manifest recorded about a data set (source, shapes, dtypes, first labels)."""
        data = self.manifest.get(runfolder.M_DATA)
        facts = data.get(dataset) if isinstance(data, dict) else None
        return facts if isinstance(facts, dict) else {}

    @property
    def problems(self) -> list[str]:
        """Every unreadable file of the run, "file: reason"."""
        out = list(self.manifest_problems)
        for s in self.steps.values():
            out += s.problems
        return list(dict.fromkeys(out))

    manifest_problems: list[str] = field(default_factory=list)


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
    path = folder / runfolder.MANIFEST
    if not path.is_file() and not path.is_symlink():
        raise MnistlabError("not a mnistlab run folder (no manifest.json); give the folder `mnistlab run` wrote",
                            folder)
    try:
        manifest = runfolder.read_json(path)
    except RunFolderError as e:
        raise MnistlabError(f"unreadable run manifest ({e.message})", path) from None
    entries = manifest.get(runfolder.M_EXPERIMENTS)
    entries = entries if isinstance(entries, dict) else {}
    lab = config.names()
    known = config.names(extended=True)
    found = [p.name for p in sorted(folder.iterdir())
             if not p.is_symlink() and p.is_dir() and (p / runfolder.CONFIG).is_file()]
    order = lab + [n for n in known if n not in lab and (n in entries or n in found)]
    order += [n for n in list(entries) + found if n not in order and isinstance(n, str)]
    steps = {}
    for name in dict.fromkeys(order):
        entry = entries.get(name)
        steps[name] = _read_step(folder, name, entry if isinstance(entry, dict) else {}, manifest)
    return Run(folder, manifest, steps)


def _read(step: Step, fn, *args):
    """``fn(*args)`` of :mod:`runfolder`; a malformed file is recorded in ``step.problems`` and read as None."""
    try:
        return fn(*args)
    except RunFolderError as e:
        step._problem(str(e))
        return None


def _read_step(run_dir: Path, name: str, entry: dict[str, Any], manifest: dict[str, Any]) -> Step:
    try:
        step = Step(name, runfolder.experiment_dir(run_dir, name), root=run_dir)
    except RunFolderError as e:
        step = Step(name, run_dir / "_refused_", root=run_dir)
        step._problem(str(e))
        return step
    if step.folder.is_symlink():
        step._problem(f"{step.folder}: is a symbolic link; refused in a run folder")
        step.folder = run_dir / "_refused_"
        return step
    cfg = _read(step, runfolder.read_json, step.folder / runfolder.CONFIG)
    step.config = cfg if cfg is not None else (entry.get(runfolder.E_CONFIG)
                                               if isinstance(entry.get(runfolder.E_CONFIG), dict) else None)
    if step.config is not None and step.exp is None:
        step.config = None  # refused, its problem recorded: no reader meets a value of the wrong type
    step.metrics = _read(step, runfolder.read_json, step.folder / runfolder.METRICS)
    exp = step.exp
    if step.metrics is not None:
        try:
            schema.check_metrics(step.metrics, exp.step if exp is not None else "train")
        except schema.Invalid as e:
            step._problem(f"{step.folder / runfolder.METRICS}: {e}")
            step.metrics = None
            entry = {**entry, runfolder.E_STATUS: "unreadable"}
    step.history = _read(step, runfolder.read_history, step.folder / runfolder.HISTORY)
    status = entry.get(runfolder.E_STATUS)
    if step.metrics is not None:
        step.status = "diverged" if step.metrics.get("diverged") else "complete"
    elif isinstance(status, str) and status:
        step.status = status
        if status == "complete":  # the manifest says done but the file is gone
            step.status = "incomplete"
        elif status == "running" and manifest.get(runfolder.M_STATUS) != "running":
            step.status = "interrupted"
    elif step.folder.is_dir():
        step.status = "incomplete"
    step.reason = str(entry.get(runfolder.E_REASON) or "")
    seconds = entry.get(runfolder.E_SECONDS, (step.metrics or {}).get("seconds"))
    step.seconds = float(seconds) if _finite(seconds) and seconds >= 0 else None
    if exp is not None and exp.step == "activations":
        for act in exp.activations:
            sub = _read_step(run_dir, f"{name}/{act}", {}, manifest)
            sub.name = act
            step.problems += [p for p in sub.problems if p not in step.problems]
            sub.status = "complete" if sub.metrics is not None else ("incomplete" if sub.folder.is_dir()
                                                                     else "not run")
            step.subs[act] = sub
    seeds = entry.get(runfolder.E_SEEDS)
    for seed, run in (seeds.items() if isinstance(seeds, dict) else ()):
        if not isinstance(run, dict) or not str(seed).isdigit():
            continue
        sub = _read_step(run_dir, f"{name}/{runfolder.SEEDS}/{int(seed)}", {}, manifest)
        sub.status = sub.status if sub.complete else str(run.get("status") or "incomplete")
        step.seeds[int(seed)] = sub
    return step


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_confusion_csv(step: Step) -> tuple[list[str], np.ndarray] | None:
    """``confusion_matrix.csv`` -> (English class names, counts); None when absent or malformed."""
    try:
        path = runfolder.inside(step.folder, runfolder.CONFUSION)
    except RunFolderError as e:
        step._problem(str(e))
        return None
    if path.is_symlink() or not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        names = rows[0][1:]
        values = [[int(v) for v in row[1:]] for row in rows[1:]]
    except (OSError, UnicodeDecodeError, ValueError, IndexError, csv.Error) as e:
        step._problem(f"{path}: unreadable ({e})")
        return None
    matrix = counts_matrix(values)
    if matrix is None or matrix.shape[0] != len(names):
        step._problem(f"{path}: counts that no test set gives (negative, over {schema.MAX_COUNT:,}, or not square)")
        return None
    return names, matrix


def counts_matrix(values: Any) -> np.ndarray | None:
    """A square list of lists of counts (0 .. MAX_COUNT) as an int64 array; None for anything else."""
    if not isinstance(values, list) or not values or not all(isinstance(r, list) and len(r) == len(values)
                                                              for r in values):
        return None
    if not all(schema.count(v) for r in values for v in r):
        return None
    return np.array(values, dtype=np.int64)
