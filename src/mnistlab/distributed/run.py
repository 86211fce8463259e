"""``mnistlab run --workers N | --cluster ADDRESS``: the run's steps as independent tasks on a Dask pool.

The run folder on this machine stays the one source of truth: the :class:`~mnistlab.runner.Runner`'s lock,
manifest and resume rules hold; only the training happens elsewhere. Each result's files come back with
their SHA-256, are checked, and written atomically (``metrics.json`` last, so a folder without it is never
taken for complete); the manifest records per task the worker, its hardware and versions, and its timings.
``--resume`` skips what is complete (digests checked) and re-runs the rest as whole tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnistlab import runfolder
from mnistlab.config import Experiment
from mnistlab.distributed.cluster import Pool
from mnistlab.distributed.tasks import Env, StepSpec, Task, data_digests, stack_versions, with_seed
from mnistlab.errors import MnistlabError
from mnistlab.fileio import sha256_file, write_bytes
from mnistlab.lab import plan as lab_plan
from mnistlab.runfolder import M_EXPERIMENTS, M_SETTINGS, S_THREADS
from mnistlab.runner import Runner, now


def build_tasks(exps: list[Experiment], seeds: int, done, seed_done, parent_model) -> list[Task]:
    """The run's tasks: each step that needs no other's model starts a task, and the steps that use its
    model follow it in the same task; with ``seeds`` > 1 every extra seed of a
    seed-study step (the lab plan's) is a task.

    Args:
        exps: the plan's experiments, in the lab's order.
        done: ``name -> bool``, the step is complete in the run folder (skipped).
        seed_done: ``(name, seed) -> bool``, that extra seed is complete.
        parent_model: ``name -> (sha256, bytes)`` of a complete step's ``model.keras``, shipped to a child
            whose parent is not re-run.
    """
    tasks: list[Task] = []
    chain_of: dict[str, list[StepSpec]] = {}  # step name -> the chain (list) it runs in
    for exp in exps:
        if not done(exp.name):
            spec = StepSpec(exp.name, exp.to_dict(), exp.name)
            parent = exp.from_step
            if parent and parent in chain_of:
                chain_of[parent].append(spec)
                chain_of[exp.name] = chain_of[parent]
            else:
                steps = [spec]
                chain_of[exp.name] = steps
                shipped = (parent, *parent_model(parent)) if parent else None
                tasks.append(Task(f"{exp.name}@{exp.seed}", steps, shipped))  # type: ignore[arg-type]
        if seeds > 1 and exp.name in lab_plan.seed_study():
            for seed in range(exp.seed + 1, exp.seed + seeds):
                if not seed_done(exp.name, seed):
                    rel = f"{exp.name}/seeds/{seed}"
                    tasks.append(Task(f"{exp.name}@{seed}", (StepSpec(rel, with_seed(exp.to_dict(), seed),
                                                                      f"{exp.name} seed {seed}"),)))
    return [Task(t.key, tuple(t.steps), t.parent_model) for t in tasks]


def write_step_files(run_dir: Path, rel: str, files: dict[str, tuple[str, bytes]]) -> dict[str, str]:
    """Write a step's files under ``run_dir/rel`` atomically, ``metrics.json`` last; returns their digests.

    Raises:
        MnistlabError: a file's bytes do not match the digest the worker sent (nothing of the step written).
    """
    import hashlib

    for name, (sha, data) in files.items():
        if hashlib.sha256(data).hexdigest() != sha:
            raise MnistlabError(f"{rel}/{name}: damaged on its way from the worker (sha256 differs)")
    folder = run_dir / rel
    runfolder.unfinish(folder)  # not complete until metrics.json is rewritten
    for name in sorted(files, key=lambda n: n == runfolder.METRICS):
        write_bytes(folder / name, files[name][1])
    return {name: sha for name, (sha, _) in sorted(files.items())}


class OnPool:
    """The runner's schedule on a Dask pool (:class:`~mnistlab.runner.InProcess` runs in this process): each
    step, with its seeds, a task; the run folder and its manifest written here as results come back."""

    failures = "experiment(s) did not finish"

    def __init__(self, pool: Pool | None = None):
        self.pool = pool  # None: a local pool, made when the run starts
        self._failed: dict[str, str] = {}
        self._kept = 0

    def prepare(self, runner: Runner, plan: list[str], exps: list[Experiment]) -> None:
        self.pool = self.pool or Pool()
        runner.manifest.update(seed=exps[0].seed if exps else None, plan=plan, seeds=runner.seeds,
                               cluster=self.pool.describe())

    def execute(self, runner: Runner, exps: list[Experiment]) -> dict[str, str]:
        self._failed = {}
        env = client_env(runner, [e.dataset for e in exps], self.pool)
        runner.save_manifest()  # with the data facts
        tasks = self._tasks(runner, exps)
        runner.log(f"{len(tasks)} task(s) on {self.pool.address}"
                   + (f" (kept {self._kept} complete step(s))" if runner.resume else ""))
        self.pool.execute(tasks, env, lambda task, result: self._take(runner, task, result))
        return self._failed

    def _tasks(self, runner: Runner, exps: list[Experiment]) -> list[Task]:
        entries = runner.manifest[M_EXPERIMENTS]
        kept = [e.name for e in exps if runner.resume and runner.still_complete(e.name)]
        self._kept = len(kept)

        def seed_done(name: str, seed: int) -> bool:
            run = ((entries.get(name) or {}).get("seeds") or {}).get(str(seed)) or {}
            return runner.resume and run.get("status") == "complete" and \
                (runner.run_dir / name / "seeds" / str(seed) / "metrics.json").is_file()

        def parent_model(name: str) -> tuple[str, bytes]:
            path = runner.run_dir / name / "model.keras"
            if not path.is_file():
                raise MnistlabError(f"the model of {name} is missing", path)
            return sha256_file(path), path.read_bytes()

        tasks = build_tasks(exps, runner.seeds, lambda n: n in kept, seed_done, parent_model)
        for exp in exps:  # what is about to run, in the manifest before anything runs
            if exp.name not in kept:
                previous = entries.get(exp.name) or {}
                entries[exp.name] = {"status": "queued", "config": exp.to_dict(),
                                     **({"seeds": previous["seeds"]} if previous.get("seeds") else {})}
        runner.log("; ".join(f"{t.key}: " + " -> ".join(s.rel for s in t.steps) for t in tasks))
        runner.save_manifest()
        return tasks

    def _take(self, runner: Runner, task: Task, result: dict[str, Any]) -> None:
        """Write one task's results into the run folder and the manifest."""
        worker = result["worker"]
        where = worker_record(task, result)
        for spec, step in zip(task.steps, result["steps"], strict=True):
            name = spec.name
            is_seed = "/seeds/" in spec.rel
            entry = runner.manifest[M_EXPERIMENTS].setdefault(name, {"status": "queued", "config": spec.config})
            if is_seed:
                entry = entry.setdefault("seeds", {}).setdefault(spec.rel.rsplit("/", 1)[1], {})
                entry["dir"] = spec.rel
            entry.update(status=step["status"], finished=now(), **where)
            for k in ("reason", "seconds", "diverged", "last_good_epoch"):
                if k in step:
                    entry[k] = step[k]
            if step.get("files"):
                digests = write_step_files(runner.run_dir, spec.rel, step["files"])
                if not is_seed:
                    entry["artifacts"] = digests
            if step["status"] in ("failed", "skipped") and not is_seed:
                self._failed[name] = "skipped" if step["status"] == "skipped" else step.get("reason", "")
            elif step["status"] == "failed":
                self._failed[spec.rel] = step.get("reason", "")
            runner.save_manifest()
            acc = (step.get("metrics") or {}).get("test_accuracy")
            shown = f", test accuracy {acc:.4f}" if isinstance(acc, float) else ""
            runner.log(f"{spec.label or spec.rel}: {step['status']} in {step.get('seconds', 0):.1f}s on "
                       f"{worker['address']}{shown}")


def client_env(runner: Runner, datasets: list[str], pool: Pool) -> Env:
    """What every task needs from this machine: data location and digests (loading each data set here,
    which records it in the manifest), versions, and the run's intra-op threads (the manifest's)."""
    settings = runner.manifest[M_SETTINGS]
    return Env(data_dir=settings["data_dir"], trust_data=runner.trust_data, lang=runner.lang,
               data_digests={d: data_digests(runner.get_data(d)) for d in sorted(set(datasets))},
               versions=stack_versions(), threads=int(settings.get(S_THREADS) or 0))


def worker_record(task: Task, result: dict[str, Any]) -> dict[str, Any]:
    """What the manifest keeps about where and when a task ran."""
    worker = result["worker"]
    return {"started": _stamp(result["started"]), "worker": worker["address"], "hardware": worker["hardware"],
            "versions": worker["versions"], "intra_op_threads": worker["intra_op_threads"], "task": task.key,
            "timings": {"task_started": _stamp(result["started"]), "task_finished": _stamp(result["finished"]),
                        "task_seconds": round(result["finished"] - result["started"], 3), "received": now()}}


def _stamp(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds")
