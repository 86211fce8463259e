"""Runs experiments into a run folder, in the lab's order, with their dependencies and a manifest.

The run folder holds ``manifest.json`` (what ran: versions, hardware, seed, configs, timings, status)
and one folder per experiment (see :mod:`mnistlab.train` for its artifacts). With ``seeds > 1`` the
lab plan's seed-study steps run again with seeds seed+1 .. seed+N-1 into ``<name>/seeds/<seed>/``
(same artifacts), recorded under the experiment's ``seeds`` entry in the manifest.

Nothing is lost when a run stops: every file is written atomically, training checkpoints every epoch, and
``resume=True`` (``mnistlab run --resume RUN_DIR``) skips experiments whose artifacts still match the
digests recorded in the manifest and continues the interrupted one from its last completed epoch. A lock
file keeps a second process out of a folder that is being written. A diverging experiment (NaN loss) is
recorded as failed and the run goes on with the experiments that do not need it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from mnistlab import __version__, config, devices, manifest_check, runfolder
from mnistlab.backend import hardware, set_intra_op_threads, versions
from mnistlab.config import Experiment
from mnistlab.errors import DivergedError, MnistlabError, RunFolderBusy
from mnistlab.fileio import sha256_file, write_json
from mnistlab.lab import plan as lab_plan
from mnistlab.runfolder import (
    CONFIG,
    M_DATA,
    M_EXPERIMENTS,
    M_FINISHED,
    M_HARDWARE,
    M_LANG,
    M_OVERRIDES,
    M_PLAN,
    M_REASON,
    M_SECONDS,
    M_SETTINGS,
    M_STATUS,
    M_VERSIONS,
    MANIFEST,
    METRICS,
)

LOCK = ".lock"


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
    return (run_dir / name / METRICS).is_file()


class InProcess:
    """The runner's schedule in this process: one experiment after another in the lab's order, each data set
    loaded once. :class:`~mnistlab.distributed.run.OnPool` and :class:`~mnistlab.distributed.sweep.OnSweep`
    are the others; a schedule has the same three members."""

    failures = "experiment(s) did not finish"  # what the run's error says of what failed

    def prepare(self, runner: Runner, plan: list[str], exps: list[Experiment]) -> None:
        """What the manifest says of the run before anything runs."""
        runner.manifest.update(seed=exps[0].seed if exps else None, plan=plan, seeds=runner.seeds,
                               compute=devices.record(e.precision for e in exps))  # CPU/GPU, precision, why

    def execute(self, runner: Runner, exps: list[Experiment]) -> dict[str, str]:
        """Run ``exps``; {name: why} of those that failed ("skipped" for those that needed one)."""
        failed: dict[str, str] = {}
        for i, exp in enumerate(exps, 1):
            label = f"[{i}/{len(exps)}] {exp.name}"
            if exp.from_step in failed:
                runner.skip(exp, label, f"needs {exp.from_step}, which failed")
                failed[exp.name] = "skipped"
            elif runner.resume and runner.still_complete(exp.name):
                runner.log(f"{label}: already complete, artifacts verified")
                if runner.seeds > 1 and exp.name in lab_plan.seed_study():
                    runner.run_seeds(exp, label, runner.manifest[M_EXPERIMENTS][exp.name])
            else:
                try:
                    runner.run_one(exp, label)
                except DivergedError as e:
                    failed[exp.name] = str(e)
                    runner.log(f"{label}: FAILED: {e}")
        return failed


class Runner:
    """Runs experiments into ``run_dir``, loading each data set once and keeping the manifest current."""

    def __init__(self, run_dir: Path, overrides: dict[str, Any] | None = None, data_dir: str | None = None,
                 trust_data: bool = False, lang: str = "fr", stream: TextIO | None = None,
                 argv: list[str] | None = None, seeds: int = 1, resume: bool = False, schedule=None):
        self.run_dir = Path(run_dir)
        self.schedule = schedule or InProcess()  # where and in what order the experiments run
        self.resume = resume
        self.overrides = overrides or {}
        self.data_dir = data_dir
        self.trust_data = trust_data
        self.lang = lang
        self.seeds = max(1, int(seeds))  # runs per seed-study step: the experiment's seed, then seed+1 ...
        self.stream = stream or sys.stderr
        self._data: dict[str, Any] = {}
        self._lock_file = None
        self.manifest = self._open_manifest(argv or [])

    @classmethod
    def resuming(cls, run_dir: str | Path, stream: TextIO | None = None, argv: list[str] | None = None,
                 schedule=None) -> Runner:
        """A runner that continues ``run_dir`` with the settings it was started with (see its manifest)."""
        path = Path(run_dir) / MANIFEST
        if not path.is_file():
            raise MnistlabError("not a run folder (no manifest.json) or nothing to resume", run_dir)
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest_check.check(manifest, path)  # every field read below, and the plan's names
            settings, plan = manifest[M_SETTINGS], manifest[M_PLAN]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise MnistlabError(f"unreadable run manifest ({e})", path) from None
        set_intra_op_threads(settings.get(runfolder.S_THREADS))  # the count it started with: the same sums
        runner = cls(Path(run_dir), overrides=manifest.get(M_OVERRIDES) or {}, data_dir=settings.get("data_dir"),
                     trust_data=bool(settings.get("trust_data")), lang=manifest.get(M_LANG, "fr"), stream=stream,
                     argv=argv, seeds=int(settings.get("seeds", 1)), resume=True, schedule=schedule)
        runner.resume_plan = list(plan)
        return runner

    # --- manifest --------------------------------------------------------------------------------------
    def _open_manifest(self, argv: list[str]) -> dict[str, Any]:
        path = self.run_dir / MANIFEST
        if path.is_file():
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise MnistlabError(f"unreadable run manifest ({e})", path) from None
        else:
            manifest = {"mnistlab": __version__, "created": now(), M_EXPERIMENTS: {}, M_DATA: {}}
        manifest.update({
            runfolder.M_COMMAND: argv, M_VERSIONS: versions(), M_HARDWARE: hardware(),
            M_OVERRIDES: self.overrides, M_LANG: self.lang, M_STATUS: "running", runfolder.M_STARTED: now(),
            M_SETTINGS: {"data_dir": None if self.data_dir is None else os.path.abspath(self.data_dir),
                         "trust_data": self.trust_data, "seeds": self.seeds,
                         # the count in force here (set before TensorFlow's first op), given to every worker
                         runfolder.S_THREADS: set_intra_op_threads(None)},
        })
        manifest.pop("finished", None)
        return manifest

    def save_manifest(self) -> None:
        runfolder.write_manifest(self.run_dir, self.manifest)

    # --- data --------------------------------------------------------------------------------------------
    def get_data(self, name: str):
        if name not in self._data:
            from mnistlab.data.sources import load

            t0 = time.perf_counter()
            ds = load(name, self.data_dir, trust=self.trust_data)
            self._data[name] = ds
            self.manifest[M_DATA][name] = {"source": ds.source, "layout": ds.layout, "verified": ds.verified,
                                           "load_seconds": round(time.perf_counter() - t0, 3),
                                           # what the report says about the data (lab questions on shapes)
                                           **{k: {"shape": list(getattr(ds, k).shape),
                                                  "dtype": str(getattr(ds, k).dtype),
                                                  "min": int(getattr(ds, k).min()), "max": int(getattr(ds, k).max())}
                                              for k in ("x_train", "y_train", "x_test", "y_test")},
                                           "first_train_labels": [int(v) for v in ds.y_train[:16]]}
            self.log(f"data: {name} from {ds.source} ({ds.layout}"
                      + (", verified" if ds.verified else ", NOT verified") + ")")
        return self._data[name]

    def log(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    # --- running -----------------------------------------------------------------------------------------
    def plan(self, names: list[str]) -> list[str]:
        """The selected experiments plus the ones they need that the run folder lacks, in the lab's order."""
        every = config.names(extended=True, on_demand=True)
        needed: set[str] = set(names)
        for name in names:
            dep = config.load(name, self.overrides).from_step
            while dep and not is_complete(self.run_dir, dep) and dep not in needed:
                needed.add(dep)
                dep = config.load(dep, self.overrides).from_step
        return [n for n in every if n in needed]

    def run(self, names: list[str] | None = None) -> dict[str, Any]:
        """Run ``names`` (and what they depend on); returns the manifest. Ctrl-C marks it interrupted.

        Raises:
            MnistlabError: another process holds the run folder; or some experiment failed (after the
                others ran), naming it and why.
        """
        plan = self.resume_plan if self.resume else self.plan(names or [])
        exps = [config.load(n, self.overrides) for n in plan]  # every config checked before any work
        self._lock()
        try:
            return self._run(plan, exps)
        finally:
            self._unlock()

    def _lock(self) -> None:
        """Hold ``run_dir/.lock`` (an OS lock, released even by ``kill -9``) for the whole run."""
        import fcntl

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            f = open(self.run_dir / LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - held until _unlock
        except OSError as e:
            raise MnistlabError(f"cannot write the run folder ({e.strerror})", self.run_dir) from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise RunFolderBusy(f"another mnistlab process (pid {pid}) is writing this run folder; wait for it "
                                "to finish or choose another --out", self.run_dir) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._lock_file = f

    def _unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _run(self, plan: list[str], exps: list[Experiment]) -> dict[str, Any]:
        if self.resume:  # half-written temporary files of a killed process (never under a final name)
            for tmp in self.run_dir.rglob(".*.tmp*"):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)
        self.schedule.prepare(self, plan, exps)
        self.save_manifest()
        t_run = time.perf_counter()
        with self.finishing(t_run):
            failed = self.schedule.execute(self, exps)
        if failed:
            reason = "; ".join(f"{n}: {r}" for n, r in failed.items() if r != "skipped")
            self._finish("failed", t_run, reason=reason)
            raise MnistlabError(f"{len(failed)} {self.schedule.failures} ({reason}); the others are in "
                                f"{self.run_dir}")
        self._finish("complete", t_run)
        return self.manifest

    @contextlib.contextmanager
    def finishing(self, t_run: float):
        """Mark the run interrupted (Ctrl-C) or failed (anything else) in its manifest, and re-raise."""
        try:
            yield
        except KeyboardInterrupt:
            self._finish("interrupted", t_run)
            raise
        except BaseException as e:
            self._finish("failed", t_run, reason=str(e) or type(e).__name__)
            raise

    def skip(self, exp: Experiment, label: str, reason: str) -> None:
        self.manifest[M_EXPERIMENTS][exp.name] = {"status": "skipped", "reason": reason, "config": exp.to_dict()}
        self.save_manifest()
        self.log(f"{label}: skipped, {reason}")

    # --- artifacts and their digests ------------------------------------------------------------------
    def _artifact_digests(self, workdir: Path) -> dict[str, str]:
        """SHA-256 of every final file of an experiment (not its extra seeds, checkpoints or temp files)."""
        return {p.relative_to(workdir).as_posix(): sha256_file(p) for p in runfolder.final_files(workdir, seeds=False)}

    def still_complete(self, name: str) -> bool:
        """Complete in the manifest, and every recorded artifact still there with its recorded digest."""
        entry = self.manifest[M_EXPERIMENTS].get(name) or {}
        digests = entry.get("artifacts")
        if entry.get("status") != "complete" or not digests:
            return False
        workdir = self.run_dir / name
        bad = [rel for rel, sha in digests.items()
               if not (workdir / rel).is_file() or sha256_file(workdir / rel) != sha]
        if bad:
            self.log(f"{name}: {len(bad)} artifact(s) missing or changed ({bad[0]}...): running it again")
        return not bad

    def _finish(self, status: str, t_run: float, reason: str | None = None) -> None:
        self.manifest[M_STATUS] = status
        self.manifest[M_FINISHED] = now()
        self.manifest[M_SECONDS] = round(time.perf_counter() - t_run, 3)
        if reason:
            self.manifest[M_REASON] = reason
        self.save_manifest()

    def run_one(self, exp: Experiment, label: str) -> None:
        from mnistlab import train

        workdir = self.run_dir / exp.name
        runfolder.unfinish(workdir)  # not complete until metrics.json is rewritten
        workdir.mkdir(parents=True, exist_ok=True)
        write_json(workdir / CONFIG, exp.to_dict())
        previous = self.manifest[M_EXPERIMENTS].get(exp.name) or {}
        entry = {"status": "running", "started": now(), "config": exp.to_dict()}
        if self.resume and previous.get("status") in ("running", "interrupted"):
            entry["resumed"] = previous.get("resumed", 0) + 1
        self.manifest[M_EXPERIMENTS][exp.name] = entry
        self.save_manifest()
        self.log(f"{label}: {exp.title}")
        ctx = train.Context(workdir=workdir, get_data=self.get_data, lang=self.lang, stream=self.stream,
                            label=label, resume=self.resume)
        t0 = time.perf_counter()
        try:
            metrics = self._step(exp, ctx)
        except KeyboardInterrupt:
            entry.update(status="interrupted", seconds=round(time.perf_counter() - t0, 3))
            raise
        except DivergedError as e:
            entry.update(status="failed", reason=str(e), diverged=True, last_good_epoch=e.last_good_epoch,
                         seconds=round(time.perf_counter() - t0, 3))
            train.clear_checkpoints(workdir)
            if exp.expect_divergence:  # the study's result (a learning rate far too high), not a failure
                entry.update(status="diverged", finished=now())
                runfolder.write_diverged(workdir, str(e), e.last_good_epoch, entry["seconds"])
                self.save_manifest()
                self.log(f"{label}: diverged, which is what this study shows: {e}")
                return
            self.save_manifest()
            raise
        except BaseException as e:
            entry.update(status="failed", reason=str(e) or type(e).__name__,
                         seconds=round(time.perf_counter() - t0, 3))
            raise
        seconds = time.perf_counter() - t0
        metrics["seconds"] = round(seconds, 3)
        runfolder.write_metrics(workdir, metrics)
        train.clear_checkpoints(workdir)
        entry.update(status="complete", finished=now(), seconds=round(seconds, 3),
                     artifacts=self._artifact_digests(workdir))
        self.save_manifest()
        acc = metrics.get("test_accuracy")
        shown = f"test accuracy {acc:.4f}" if isinstance(acc, float) else f"best {metrics.get('best')}"
        self.log(f"{label}: done in {seconds:.1f}s, {shown}")
        if self.seeds > 1 and exp.name in lab_plan.seed_study():
            self.run_seeds(exp, label, entry)

    def _step(self, exp: Experiment, ctx) -> dict[str, Any]:
        from mnistlab.steps import run_step  # the same dispatch in-process and on workers

        return run_step(exp, ctx, self.run_dir)

    def run_seeds(self, exp: Experiment, label: str, entry: dict[str, Any]) -> None:
        """Run ``exp`` again with seeds seed+1 .. seed+N-1 into ``<name>/seeds/<seed>/``."""
        import dataclasses

        from mnistlab import train

        previous = entry.get("seeds") or {}
        runs: dict[str, Any] = {}
        entry["seeds"] = runs
        for seed in range(exp.seed + 1, exp.seed + self.seeds):
            sub = dataclasses.replace(exp, seed=seed)
            workdir = self.run_dir / exp.name / "seeds" / str(seed)
            if self.resume and (previous.get(str(seed)) or {}).get("status") == "complete" \
                    and (workdir / METRICS).is_file():
                runs[str(seed)] = previous[str(seed)]
                continue
            runfolder.unfinish(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            write_json(workdir / CONFIG, sub.to_dict())
            run = {"status": "running", "dir": f"{exp.name}/seeds/{seed}", "started": now()}
            runs[str(seed)] = run
            self.save_manifest()
            ctx = train.Context(workdir=workdir, get_data=self.get_data, lang=self.lang, stream=self.stream,
                                label=f"{label} seed {seed}", resume=self.resume)
            t0 = time.perf_counter()
            try:
                metrics = self._step(sub, ctx)
            except BaseException as e:
                run.update(status="interrupted" if isinstance(e, KeyboardInterrupt) else "failed",
                           reason=str(e) or type(e).__name__, seconds=round(time.perf_counter() - t0, 3))
                self.save_manifest()
                raise
            metrics["seconds"] = round(time.perf_counter() - t0, 3)
            runfolder.write_metrics(workdir, metrics)
            train.clear_checkpoints(workdir)
            run.update(status="complete", finished=now(), seconds=metrics["seconds"])
            self.save_manifest()
            self.log(f"{label} seed {seed}: done in {metrics['seconds']:.1f}s")
