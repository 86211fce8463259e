"""Runs experiments into a run folder, in the lab's order, with their dependencies and a manifest.

The run folder holds ``manifest.json`` (what ran: versions, hardware, seed, configs, timings, status)
and one folder per experiment (see :mod:`mnistlab.train` for its artifacts). With ``seeds > 1`` the
steps in ``config.SEED_STUDY`` run again with seeds seed+1 .. seed+N-1 into ``<name>/seeds/<seed>/``
(same artifacts), recorded under the experiment's ``seeds`` entry in the manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from mnistlab import __version__, config
from mnistlab.backend import hardware, versions
from mnistlab.config import Experiment
from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_json

MANIFEST = "manifest.json"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_dir(base: str | Path = "runs") -> Path:
    """``base/<UTC timestamp>``, e.g. ``runs/20261125T031500Z``; never an existing folder."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(base) / stamp
    n = 1
    while path.exists():
        n += 1
        path = Path(base) / f"{stamp}-{n}"
    return path


def is_complete(run_dir: Path, name: str) -> bool:
    """An experiment is complete when its ``metrics.json`` exists (it is written last)."""
    return (run_dir / name / "metrics.json").is_file()


class Runner:
    """Runs experiments into ``run_dir``, loading each data set once and keeping the manifest current."""

    def __init__(self, run_dir: Path, overrides: dict[str, Any] | None = None, data_dir: str | None = None,
                 trust_data: bool = False, lang: str = "fr", stream: TextIO | None = None,
                 argv: list[str] | None = None, seeds: int = 1):
        self.run_dir = Path(run_dir)
        self.overrides = overrides or {}
        self.data_dir = data_dir
        self.trust_data = trust_data
        self.lang = lang
        self.seeds = max(1, int(seeds))  # runs per SEED_STUDY step: the experiment's seed, then seed+1 ...
        self.stream = stream or sys.stderr
        self._data: dict[str, Any] = {}
        self.manifest = self._open_manifest(argv or [])

    # --- manifest --------------------------------------------------------------------------------------
    def _open_manifest(self, argv: list[str]) -> dict[str, Any]:
        path = self.run_dir / MANIFEST
        if path.is_file():
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise MnistlabError(f"unreadable run manifest ({e})", path) from None
        else:
            manifest = {"mnistlab": __version__, "created": now(), "experiments": {}, "data": {}}
        manifest.update({
            "command": argv, "versions": versions(), "hardware": hardware(),
            "overrides": self.overrides, "lang": self.lang, "status": "running", "started": now(),
        })
        manifest.pop("finished", None)
        return manifest

    def _save_manifest(self) -> None:
        write_json(self.run_dir / MANIFEST, self.manifest)

    # --- data --------------------------------------------------------------------------------------------
    def get_data(self, name: str):
        if name not in self._data:
            from mnistlab.data.sources import load

            t0 = time.perf_counter()
            ds = load(name, self.data_dir, trust=self.trust_data)
            self._data[name] = ds
            self.manifest["data"][name] = {"source": ds.source, "layout": ds.layout, "verified": ds.verified,
                                           "load_seconds": round(time.perf_counter() - t0, 3),
                                           # what the report says about the data (lab questions on shapes)
                                           **{k: {"shape": list(getattr(ds, k).shape),
                                                  "dtype": str(getattr(ds, k).dtype),
                                                  "min": int(getattr(ds, k).min()), "max": int(getattr(ds, k).max())}
                                              for k in ("x_train", "y_train", "x_test", "y_test")},
                                           "first_train_labels": [int(v) for v in ds.y_train[:16]]}
            self._log(f"data: {name} from {ds.source} ({ds.layout}"
                      + (", verified" if ds.verified else ", NOT verified") + ")")
        return self._data[name]

    def _log(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    # --- running -----------------------------------------------------------------------------------------
    def plan(self, names: list[str]) -> list[str]:
        """The selected experiments plus the ones they need that the run folder lacks, in the lab's order."""
        every = config.names(extended=True)
        needed: set[str] = set(names)
        for name in names:
            dep = config.load(name, self.overrides).from_step
            while dep and not is_complete(self.run_dir, dep) and dep not in needed:
                needed.add(dep)
                dep = config.load(dep, self.overrides).from_step
        return [n for n in every if n in needed]

    def run(self, names: list[str]) -> dict[str, Any]:
        """Run ``names`` (and what they depend on); returns the manifest. Ctrl-C marks it interrupted."""
        plan = self.plan(names)
        exps = [config.load(n, self.overrides) for n in plan]  # every config checked before any work
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.manifest["seed"] = exps[0].seed if exps else None
        self.manifest["plan"] = plan
        self.manifest["seeds"] = self.seeds
        self._save_manifest()
        t_run = time.perf_counter()
        try:
            for i, exp in enumerate(exps, 1):
                self._run_one(exp, f"[{i}/{len(exps)}] {exp.name}")
        except KeyboardInterrupt:
            self._finish("interrupted", t_run)
            raise
        except BaseException as e:
            self._finish("failed", t_run, reason=str(e) or type(e).__name__)
            raise
        self._finish("complete", t_run)
        return self.manifest

    def _finish(self, status: str, t_run: float, reason: str | None = None) -> None:
        self.manifest["status"] = status
        self.manifest["finished"] = now()
        self.manifest["seconds"] = round(time.perf_counter() - t_run, 3)
        if reason:
            self.manifest["reason"] = reason
        self._save_manifest()

    def _run_one(self, exp: Experiment, label: str) -> None:
        from mnistlab import train

        workdir = self.run_dir / exp.name
        (workdir / "metrics.json").unlink(missing_ok=True)  # not complete until rewritten
        workdir.mkdir(parents=True, exist_ok=True)
        write_json(workdir / "config.json", exp.to_dict())
        entry = {"status": "running", "started": now(), "config": exp.to_dict()}
        self.manifest["experiments"][exp.name] = entry
        self._save_manifest()
        self._log(f"{label}: {exp.title}")
        ctx = train.Context(workdir=workdir, get_data=self.get_data, lang=self.lang, stream=self.stream,
                            label=label)
        t0 = time.perf_counter()
        try:
            metrics = self._step(exp, ctx)
        except KeyboardInterrupt:
            entry.update(status="interrupted", seconds=round(time.perf_counter() - t0, 3))
            raise
        except BaseException as e:
            entry.update(status="failed", reason=str(e) or type(e).__name__,
                         seconds=round(time.perf_counter() - t0, 3))
            raise
        seconds = time.perf_counter() - t0
        metrics["seconds"] = round(seconds, 3)
        write_json(workdir / "metrics.json", metrics)
        entry.update(status="complete", finished=now(), seconds=round(seconds, 3))
        self._save_manifest()
        acc = metrics.get("test_accuracy")
        shown = f"test accuracy {acc:.4f}" if isinstance(acc, float) else f"best {metrics.get('best')}"
        self._log(f"{label}: done in {seconds:.1f}s, {shown}")
        if self.seeds > 1 and exp.name in config.SEED_STUDY:
            self._run_seeds(exp, label, entry)

    def _step(self, exp: Experiment, ctx) -> dict[str, Any]:
        from mnistlab import evaluate, train

        if exp.step == "train":
            return train.train_step(exp, ctx)
        if exp.step == "activations":
            return train.activations_step(exp, ctx)
        model_path = self.run_dir / exp.from_step / "model.keras"
        if not model_path.is_file():
            raise MnistlabError(f"{exp.name} needs the model of {exp.from_step}, which is missing", model_path)
        step = evaluate.confusion_step if exp.step == "confusion" else train.augment_step
        return step(exp, ctx, model_path)

    def _run_seeds(self, exp: Experiment, label: str, entry: dict[str, Any]) -> None:
        """Run ``exp`` again with seeds seed+1 .. seed+N-1 into ``<name>/seeds/<seed>/``."""
        import dataclasses

        from mnistlab import train

        runs: dict[str, Any] = {}
        entry["seeds"] = runs
        for seed in range(exp.seed + 1, exp.seed + self.seeds):
            sub = dataclasses.replace(exp, seed=seed)
            workdir = self.run_dir / exp.name / "seeds" / str(seed)
            (workdir / "metrics.json").unlink(missing_ok=True)
            workdir.mkdir(parents=True, exist_ok=True)
            write_json(workdir / "config.json", sub.to_dict())
            run = {"status": "running", "dir": f"{exp.name}/seeds/{seed}", "started": now()}
            runs[str(seed)] = run
            self._save_manifest()
            ctx = train.Context(workdir=workdir, get_data=self.get_data, lang=self.lang, stream=self.stream,
                                label=f"{label} seed {seed}")
            t0 = time.perf_counter()
            try:
                metrics = self._step(sub, ctx)
            except BaseException as e:
                run.update(status="interrupted" if isinstance(e, KeyboardInterrupt) else "failed",
                           reason=str(e) or type(e).__name__, seconds=round(time.perf_counter() - t0, 3))
                self._save_manifest()
                raise
            metrics["seconds"] = round(time.perf_counter() - t0, 3)
            write_json(workdir / "metrics.json", metrics)
            run.update(status="complete", finished=now(), seconds=metrics["seconds"])
            self._save_manifest()
            self._log(f"{label} seed {seed}: done in {metrics['seconds']:.1f}s")
