"""``mnistlab sweep EXPERIMENT --grid key=[v1,v2] ... --seeds N``: every combination of the grid, each with N
seeds, as independent tasks (in this process, ``--workers N`` or ``--cluster ADDRESS``).

Grids are typed like ``--set`` and every combination is checked with :func:`mnistlab.config.load` before
anything starts. The run folder holds ``manifest.json`` (as a run's: lock, versions, status, and per task
under ``sweep_tasks`` its worker, timings and artifact digests), ``sweep.json`` (see :mod:`mnistlab.sweepfile`:
the grid, the settings ``s01``, ``s02`` ... with their values, the seeds) and one folder per setting and
seed, ``s01/42/``, holding a training step's usual artifacts. The report compares the settings on validation.
On ``--resume`` the plan is made again from ``sweep.json``'s grid and must be the one the file holds.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from mnistlab import config, sweepfile
from mnistlab.distributed.tasks import StepSpec, Task
from mnistlab.errors import ConfigError, MnistlabError, printable
from mnistlab.fileio import sha256_file
from mnistlab.runner import Runner


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["hidden_units=[[128],[256,128]]", "learning_rate=[1e-3,3e-4]"]`` -> {key: values}, values as TOML.

    Raises:
        ConfigError: no ``=``, not a non-empty list, a key given twice, or a key scoped to an experiment.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        shown = _short(item)
        if not sep or not key:
            raise ConfigError(f"--grid {shown}: expected KEY=[V1,V2,...]")
        if len(item) > config.MAX_SET_CHARS:
            raise ConfigError(f"--grid {shown}: over {config.MAX_SET_CHARS:,} characters")
        if "." in key:
            raise ConfigError(f"--grid {shown}: a sweep has one experiment; give the key without its name")
        if key == "seed":
            raise ConfigError(f"--grid {shown}: seeds are not a setting; give --seeds N (every setting then runs "
                              "with seeds seed .. seed+N-1, and the report tests differences over them)")
        try:
            values = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            values = None
        except RecursionError:  # tomllib recurses once per nested bracket
            raise ConfigError(f"--grid {shown}: nested too deeply") from None
        except ValueError as e:  # an integer of over 4,300 digits
            raise ConfigError(f"--grid {shown}: not a usable value ({str(e)[:80]})") from None
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--grid {shown}: the values must be a non-empty TOML list, e.g. {_short(key)}=[1,2]")
        if key in grid:
            raise ConfigError(f"--grid {key} given twice; put every value in one list")
        grid[key] = values
    return grid


def _short(text: str) -> str:
    text = printable(text)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def plan(experiment: str | None, grid_items: list[str], overrides: dict[str, Any], seeds: int) -> dict[str, Any]:
    """The sweep's plan, every combination validated: experiment, grid, settings (id, overrides), seeds.

    Raises:
        ConfigError: no experiment or grid, an unknown key, a wrong type or value in any combination, a step
            that is not a training step, too many combinations, or validation on the test set asked for.
    """
    if not experiment:
        raise ConfigError("mnistlab sweep needs an EXPERIMENT (a training step: ex1, ex2.ann, ex2.cnn, ...)")
    grid = parse_grid(grid_items)
    if not grid:
        raise ConfigError("mnistlab sweep needs at least one --grid KEY=[V1,V2,...]")
    return plan_grid(experiment, grid, overrides, seeds)


def plan_grid(experiment: str, grid: dict[str, list[Any]], overrides: dict[str, Any], seeds: int) -> dict[str, Any]:
    """:func:`plan` from a parsed grid (also how ``--resume`` checks ``sweep.json``)."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if "seed" in grid:
        raise ConfigError("--grid seed: seeds are not a setting; give --seeds N")
    n = math.prod(len(v) for v in grid.values())
    if n > sweepfile.MAX_SETTINGS or n * seeds > sweepfile.MAX_TASKS:
        raise ConfigError(f"--grid gives {n:,} setting(s) x {seeds} seed(s); a sweep has at most "
                          f"{sweepfile.MAX_SETTINGS} settings and {sweepfile.MAX_TASKS:,} tasks: split it")
    base_exp = config.load(experiment, overrides)  # raises on an unknown experiment or --set
    if base_exp.step != "train":
        raise ConfigError(f"{experiment} is a {base_exp.step} step; a sweep trains one model per setting "
                          "(ex1, ex2.ann, ex2.cnn, ...)")
    notes = []
    if "validation" in grid or overrides.get("validation") == "test":
        if "test" in grid.get("validation", []) or overrides.get("validation") == "test":
            raise ConfigError("a sweep chooses on validation; validation=test would choose on the test set")
    elif base_exp.validation == "test":  # ex1 validates on the test set, as the lab does
        overrides = {**overrides, "validation": "split"}
        notes.append(f"{experiment} validates on the test set in the lab; the sweep validates on the last "
                     f"{base_exp.validation_split:g} of the training set instead, so the test set never chooses")
    settings = []
    keys = list(grid)
    for i, values in enumerate(itertools.product(*(grid[k] for k in keys)), 1):
        combo = dict(zip(keys, values, strict=True))
        exp = config.load(experiment, {**overrides, **combo})  # every combination checked before any work
        if exp.step != "train":
            raise ConfigError(f"--grid {', '.join(f'{k}={v!r}' for k, v in combo.items())} makes {experiment} a "
                              f"{exp.step} step; a sweep trains one model per setting")
        settings.append({"id": sweepfile.setting_id(i), "overrides": combo, "config": exp.to_dict()})
    first = base_exp.seed
    config.check_seed_count(first, seeds)
    return {"experiment": experiment, "grid": grid, "overrides": overrides, "settings": settings,
            "seeds": list(range(first, first + seeds)), "notes": notes}


def tasks_of(sweep: dict[str, Any], done) -> list[Task]:
    """One task per (setting, seed) not ``done(rel)``; ``rel`` is ``<setting id>/<seed>``."""
    out = []
    for seed in sweep["seeds"]:  # every setting's first seed first: an early stop still compares them all
        for s in sweep["settings"]:
            rel = f"{s['id']}/{seed}"
            if not done(rel):
                cfg = {**s["config"], "seed": seed}
                out.append(Task(f"{s['id']}@{seed}", (StepSpec(rel, cfg, f"{s['id']} seed {seed}"),)))
    return out


class SweepRunner(Runner):
    """A sweep into ``run_dir``: the runner's lock and manifest, tasks on ``pool``."""

    pool = None
    sweep: dict[str, Any] = {}

    def run(self, names=None) -> dict[str, Any]:
        self._lock()
        try:
            return self._sweep()
        finally:
            self._unlock()

    def _done(self, rel: str) -> bool:
        entry = self.manifest.setdefault("sweep_tasks", {}).get(rel) or {}
        digests = entry.get("artifacts") or {}
        return self.resume and entry.get("status") == "complete" and bool(digests) and all(
            (self.run_dir / rel / f).is_file() and sha256_file(self.run_dir / rel / f) == sha
            for f, sha in digests.items())

    def _sweep(self) -> dict[str, Any]:
        from mnistlab.distributed.cluster import Pool
        from mnistlab.distributed.run import client_env, finish_on_error, worker_record, write_step_files

        pool = self.pool or Pool()
        sweep = self.sweep
        sweepfile.write(self.run_dir, sweep)
        self.manifest.update(kind="sweep", plan=[sweep["experiment"]], seed=sweep["seeds"][0],
                             cluster=pool.describe())
        self.manifest.setdefault("sweep_tasks", {})
        for note in sweep.get("notes", []):
            self._log(f"note: {note}")
        t_run = time.perf_counter()
        failed = {}

        def take(task: Task, result: dict[str, Any]) -> None:
            spec, step = task.steps[0], result["steps"][0]
            entry = {"status": step["status"], **worker_record(task, result), "seconds": step.get("seconds")}
            if step.get("reason"):
                entry["reason"] = step["reason"]
                failed[spec.rel] = step["reason"]
            if step.get("files"):
                entry["artifacts"] = write_step_files(self.run_dir, spec.rel, step["files"])
            self.manifest["sweep_tasks"][spec.rel] = entry
            self._save_manifest()
            m = step.get("metrics") or {}
            shown = f", val accuracy {m['final_val_accuracy']:.4f}" if "final_val_accuracy" in m else ""
            self._log(f"{spec.label}: {step['status']} in {step.get('seconds') or 0:.1f}s on "
                      f"{entry['worker']}{shown}")

        with finish_on_error(self, t_run):
            env = client_env(self, [s["config"]["dataset"] for s in sweep["settings"]], pool)
            tasks = tasks_of(sweep, self._done)
            n = len(sweep["settings"]) * len(sweep["seeds"])
            self._log(f"sweep of {sweep['experiment']}: {len(sweep['settings'])} setting(s) x "
                      f"{len(sweep['seeds'])} seed(s), {len(tasks)} task(s) to run ({n - len(tasks)} kept) on "
                      f"{pool.address}")
            self._save_manifest()
            pool.execute(tasks, env, take)
        if failed:
            reason = "; ".join(f"{k}: {v}" for k, v in failed.items())
            self._finish("failed", t_run, reason=reason)
            raise MnistlabError(f"{len(failed)} task(s) of the sweep failed ({reason}); the others are in "
                                f"{self.run_dir}")
        self._finish("complete", t_run)
        return self.manifest


def read_sweep(run_dir: str | Path) -> dict[str, Any]:
    """The plan of the sweep in ``run_dir``, checked as every file of a run folder is, then made again from its
    grid: a setting, seed or value that is not what the grid gives is refused before anything runs.

    Raises:
        MnistlabError: one line naming ``sweep.json`` and what is wrong.
    """
    path = Path(run_dir) / sweepfile.SWEEP
    sweep = sweepfile.read(run_dir)
    try:
        again = plan_grid(sweep["experiment"], sweep["grid"], sweep["overrides"], len(sweep["seeds"]))
    except ConfigError as e:
        raise MnistlabError(f"not a plan this version can run ({e.message})", path) from None
    for key in ("experiment", "grid", "seeds"):
        if again[key] != sweep[key]:
            raise MnistlabError(f"{key} is not what its grid and settings give (edited?)", path)
    mine = [(s["id"], s["overrides"], s.get("config")) for s in sweep["settings"]]
    want = [(s["id"], s["overrides"], _json(s["config"])) for s in again["settings"]]
    if mine != want:
        which = next((m[0] for m, w in zip(mine, want, strict=False) if m != w), "the list")
        raise MnistlabError(f"setting {which} is not what its grid gives (edited, or made by another "
                            "version); start a new sweep", path)
    return again


def _json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    import json

    return json.loads(json.dumps(value))


def planned(args) -> dict[str, Any]:
    """The sweep ``mnistlab sweep`` asks for (or the one ``--resume`` continues), checked before anything is
    written or any worker is reached.

    Raises:
        MnistlabError: options that contradict ``--resume``, a bad grid, setting or data folder.
    """
    if args.resume:
        given = [flag for flag, value in (("EXPERIMENT", args.experiment), ("--grid", args.grid),
                                          ("--set", args.overrides), ("--out", args.out), ("--data", args.data),
                                          ("--trust-data", args.trust_data)) if value]
        if given:
            raise MnistlabError(f"--resume continues a sweep with the settings it started with; drop {given[0]}")
        return read_sweep(args.resume)
    sweep = plan(args.experiment, args.grid, config.parse_overrides(args.overrides), args.seeds)
    if args.data is not None and not os.path.isdir(args.data):
        raise MnistlabError("--data: no such folder", args.data)
    return sweep


def runner_for(args, sweep: dict[str, Any], pool) -> SweepRunner:
    """The runner of ``sweep`` on ``pool`` (None: this process), in a new run folder or the resumed one
    (whose language then replaces ``args.lang``)."""
    from mnistlab.runner import new_run_dir

    if args.resume:
        runner = SweepRunner.resuming(args.resume, argv=sys.argv[1:])
        args.lang = runner.lang
    else:
        runner = SweepRunner(new_run_dir() if args.out is None else args.out, overrides=sweep["overrides"],
                             data_dir=args.data, trust_data=args.trust_data, lang=args.lang, argv=sys.argv[1:],
                             seeds=len(sweep["seeds"]))
    runner.sweep, runner.pool = sweep, pool
    return runner
