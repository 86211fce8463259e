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
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistlab import config, sweepfile
from mnistlab.distributed.tasks import StepSpec, Task
from mnistlab.errors import ConfigError, MnistlabError, printable
from mnistlab.fileio import sha256_file
from mnistlab.runfolder import M_SWEEP_TASKS
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


class OnSweep:
    """The runner's schedule of a sweep: one task per setting and seed on ``pool`` (None: a local pool), the
    runner's lock, manifest and resume rules kept; :class:`~mnistlab.runner.InProcess` is the lab's."""

    failures = "task(s) of the sweep failed"

    def __init__(self, sweep: dict[str, Any], pool=None):
        self.sweep = sweep
        self.pool = pool

    def prepare(self, runner: Runner, plan: list[str], exps) -> None:
        from mnistlab.distributed.cluster import Pool

        self.pool = self.pool or Pool()
        sweepfile.write(runner.run_dir, self.sweep)
        runner.manifest.update(kind="sweep", plan=[self.sweep["experiment"]], seed=self.sweep["seeds"][0],
                               cluster=self.pool.describe())
        runner.manifest.setdefault(M_SWEEP_TASKS, {})
        for note in self.sweep.get("notes", []):
            runner.log(f"note: {note}")

    def execute(self, runner: Runner, exps) -> dict[str, str]:
        from mnistlab.distributed.run import client_env, worker_record, write_step_files

        sweep, failed = self.sweep, {}

        def done(rel: str) -> bool:
            entry = runner.manifest[M_SWEEP_TASKS].get(rel) or {}
            digests = entry.get("artifacts") or {}
            return runner.resume and entry.get("status") == "complete" and bool(digests) and all(
                (runner.run_dir / rel / f).is_file() and sha256_file(runner.run_dir / rel / f) == sha
                for f, sha in digests.items())

        def take(task: Task, result: dict[str, Any]) -> None:
            spec, step = task.steps[0], result["steps"][0]
            entry = {"status": step["status"], **worker_record(task, result), "seconds": step.get("seconds")}
            if step.get("reason"):
                entry["reason"] = step["reason"]
                failed[spec.rel] = step["reason"]
            if step.get("files"):
                entry["artifacts"] = write_step_files(runner.run_dir, spec.rel, step["files"])
            runner.manifest[M_SWEEP_TASKS][spec.rel] = entry
            runner.save_manifest()
            m = step.get("metrics") or {}
            shown = f", val accuracy {m['final_val_accuracy']:.4f}" if "final_val_accuracy" in m else ""
            runner.log(f"{spec.label}: {step['status']} in {step.get('seconds') or 0:.1f}s on "
                       f"{entry['worker']}{shown}")

        env = client_env(runner, [s["config"]["dataset"] for s in sweep["settings"]], self.pool)
        tasks = tasks_of(sweep, done)
        n = len(sweep["settings"]) * len(sweep["seeds"])
        runner.log(f"sweep of {sweep['experiment']}: {len(sweep['settings'])} setting(s) x "
                   f"{len(sweep['seeds'])} seed(s), {len(tasks)} task(s) to run ({n - len(tasks)} kept) on "
                   f"{self.pool.address}")
        runner.save_manifest()
        self.pool.execute(tasks, env, take)
        return failed


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


@dataclass(frozen=True)
class Request:
    """What ``mnistlab sweep`` asks for, as the code below the command line takes it."""

    experiment: str | None = None
    grid: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE
    seeds: int = 1
    out: str | None = None
    data: str | None = None
    trust_data: bool = False
    resume: str | None = None  # the sweep's folder to continue
    lang: str = "fr"
    argv: tuple[str, ...] = ()


def planned(req: Request) -> dict[str, Any]:
    """The sweep ``req`` asks for (or the one ``--resume`` continues), checked before anything is written or
    any worker is reached.

    Raises:
        MnistlabError: options that contradict ``--resume``, a bad grid, setting or data folder.
    """
    if req.resume:
        given = [flag for flag, value in (("EXPERIMENT", req.experiment), ("--grid", req.grid),
                                          ("--set", req.overrides), ("--out", req.out), ("--data", req.data),
                                          ("--trust-data", req.trust_data)) if value]
        if given:
            raise MnistlabError(f"--resume continues a sweep with the settings it started with; drop {given[0]}")
        return read_sweep(req.resume)
    sweep = plan(req.experiment, list(req.grid), config.parse_overrides(list(req.overrides)), req.seeds)
    if req.data is not None and not os.path.isdir(req.data):
        raise MnistlabError("--data: no such folder", req.data)
    return sweep


def runner_for(req: Request, sweep: dict[str, Any], pool) -> Runner:
    """The runner of ``sweep`` on ``pool`` (None: this process), in a new run folder or the resumed one (whose
    manifest's language is then the runner's, whatever ``req.lang`` says)."""
    from mnistlab.runner import new_run_dir

    schedule = OnSweep(sweep, pool)
    if req.resume:
        return Runner.resuming(req.resume, argv=list(req.argv), schedule=schedule)
    return Runner(new_run_dir() if req.out is None else req.out, overrides=sweep["overrides"], data_dir=req.data,
                  trust_data=req.trust_data, lang=req.lang, argv=list(req.argv), seeds=len(sweep["seeds"]),
                  schedule=schedule)
