"""One task: a chain of steps trained into a temporary folder by whichever process runs it; files come back.

A task is every (experiment, settings, seed) that needs no other's model, followed by the steps that build on
it (``ex2.cnn`` then ``ex2.confusion`` and ``ex2.augment``), so a child always finds its parent's model on the
same worker. A child whose parent finished in an earlier run gets the parent's ``model.keras`` shipped in the
task with its SHA-256, checked before use.

:func:`run_task` runs on a Dask worker or in this process, the same code either way: it checks the client's
versions of mnistlab, TensorFlow and Keras and the data set digests against its own, fixes TensorFlow's
intra-op threads once per process (before any op), trains with :func:`mnistlab.steps.run_step` (the runner's)
and returns each step's files as ``{relative path: (sha256, bytes)}`` with its metrics, the worker's address,
hardware, versions and timings. Nothing is written on the worker outside its temporary folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab import runfolder
from mnistlab.errors import DataError, DivergedError, MnistlabError


class VersionMismatch(MnistlabError):
    """A worker runs other versions of mnistlab, TensorFlow or Keras than the client."""


@dataclass(frozen=True)
class StepSpec:
    """One step of a task: which experiment, with which settings, into which folder of the run."""

    rel: str  # folder under the run folder: "ex2.cnn", "ex2.ann/seeds/43", "s01/42" (a sweep)
    config: dict[str, Any]  # Experiment.to_dict(), overrides and seed applied
    label: str = ""  # shown in progress lines

    @property
    def name(self) -> str:
        return self.config["name"]


@dataclass(frozen=True)
class Task:
    """Steps run one after the other on one worker; later ones may use an earlier one's model."""

    key: str  # unique within a run, e.g. "ex2.cnn@42"
    steps: tuple[StepSpec, ...]
    # A parent that finished earlier: (its experiment name, sha256 of its model.keras, the bytes).
    parent_model: tuple[str, str, bytes] | None = None


@dataclass(frozen=True)
class Env:
    """What every task of a run shares: where data is, its digests, the client's versions, thread counts."""

    data_dir: str | None = None  # the client's --data (absolute); used where it exists on the worker
    trust_data: bool = False
    lang: str = "fr"
    data_digests: dict[str, dict[str, str]] = field(default_factory=dict)  # dataset -> array -> sha256
    versions: dict[str, str] = field(default_factory=dict)  # the client's stack_versions()
    threads: int = 0  # the run's intra-op threads (its manifest's), pinned in every trainer; 0: TF's default


THREADS_ENV = "MNISTLAB_THREADS"  # intra-op threads, in-process and on every worker; unset: cores / workers


def configured_threads() -> int:
    """``$MNISTLAB_THREADS`` as a count (0 when unset): TensorFlow's intra-op threads wherever mnistlab trains.

    The thread count changes the order of floating-point sums: the same seed gives bit-identical metrics
    only with the same count (one or two threads differ in the last digit of the test loss).
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) < 1:
        raise MnistlabError(f"${THREADS_ENV} must be a positive whole number of threads, got {text!r}")
    return int(text)


def stack_versions() -> dict[str, str]:
    """The versions that must agree between client and workers: mnistlab, TensorFlow, Keras."""
    import mnistlab
    from mnistlab.backend import quiet

    quiet()  # imports Keras and its backend without their start-up noise
    import keras

    out = {"mnistlab": mnistlab.__version__, "keras": keras.__version__}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        out["tensorflow"] = tf.__version__
    return out


def check_versions(mine: dict[str, str], theirs: dict[str, str], where: str) -> None:
    """Raise :class:`VersionMismatch` naming both versions of the first package that differs."""
    for pkg in ("mnistlab", "tensorflow", "keras"):
        if mine.get(pkg) != theirs.get(pkg):
            raise VersionMismatch(f"{where} runs {pkg} {theirs.get(pkg) or 'none'} but this machine runs "
                                  f"{pkg} {mine.get(pkg) or 'none'}; install the same versions everywhere")


def data_digests(ds) -> dict[str, str]:
    """SHA-256 of each array of a data set (the IDX content, whatever the file layout)."""
    from mnistlab.data import idx

    return {k: idx.digest(getattr(ds, k)) for k in ("x_train", "y_train", "x_test", "y_test")}


def worker_address() -> str:
    """This Dask worker's address, or "in-process" outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "in-process"


# --- per-process state: threads set once, data sets loaded once, one task at a time -----------------------
_PROCESS: dict[str, Any] = {}
_DATA: dict[tuple, tuple[Any, dict[str, str]]] = {}
# A worker started with several threads would run tasks side by side, and Keras' seeding and dtype policy
# are process-wide: tasks in one process take turns.
_ONE_AT_A_TIME = threading.Lock()


def setup_process(env: Env, address: str) -> dict[str, Any]:
    """Once per process: quiet TensorFlow, give it the run's intra-op threads. Returns the worker's facts.

    The count is the run's, whatever the worker's own ``--nthreads`` or cores: the thread count changes the
    order of floating-point sums, so only the same count gives the in-process run's numbers.
    """
    if _PROCESS:
        return _PROCESS
    from mnistlab.backend import hardware, quiet, set_intra_op_threads, versions

    quiet()
    threads = set_intra_op_threads(env.threads or None)
    _PROCESS.update(address=address, pid=os.getpid(), hardware=hardware(),
                    versions={**versions(), **stack_versions()}, intra_op_threads=threads)
    return _PROCESS


def get_dataset(name: str, env: Env):
    """The data set as the data layer finds it here (the client's --data if it exists here, else this
    machine's own places), refused when its digests differ from the client's."""
    from mnistlab.data.sources import load

    data_dir = env.data_dir if env.data_dir and os.path.isdir(env.data_dir) else None
    key = (name, data_dir, env.trust_data)
    if key not in _DATA:
        ds = load(name, data_dir, trust=env.trust_data)
        _DATA[key] = (ds, data_digests(ds))
    ds, digests = _DATA[key]
    want = env.data_digests.get(name)
    if want and want != digests:
        field_ = next(k for k in digests if digests[k] != want.get(k))
        raise DataError(f"{_PROCESS.get('address', 'worker')}: {name} here ({ds.source}) is not the client's: "
                        f"{field_} has sha256 "
                        f"{digests[field_][:12]}… here, {str(want.get(field_))[:12]}… there; give the workers "
                        "the same data (--data valid on them, or their cache)")
    return ds


def collect(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Every final file under ``folder``: relative path -> (sha256, bytes); no checkpoints, no temp files
    (a task that stops is re-run whole)."""
    out = {}
    for path in runfolder.final_files(folder):
        data = path.read_bytes()
        out[path.relative_to(folder).as_posix()] = (hashlib.sha256(data).hexdigest(), data)
    return out


# --- the trainer: one plain child process per worker, where training runs (see trainer.py for why) ---------
_TRAINER: Any = None


def trainer(threads: int = 0):
    """The worker's trainer process (started on first use, again after it died, and again when it trains
    with another intra-op thread count than ``threads``, which TensorFlow fixes at its first op)."""
    global _TRAINER
    from mnistlab.distributed.trainer import Trainer

    if _TRAINER is not None and threads and _TRAINER.threads not in (None, threads):
        _TRAINER.close()
        _TRAINER = None
    if _TRAINER is None or not _TRAINER.alive():
        _TRAINER = Trainer()
    if threads:
        _TRAINER.threads = threads
    return _TRAINER


def _in_trainer(fn, *args, threads: int = 0):
    """``fn(*args)`` in the trainer process on a Dask worker, here otherwise."""
    address = worker_address()
    if address == "in-process":
        return fn(*args)
    from mnistlab.distributed.trainer import TrainerDied

    extra = (address,) if fn is train_task else ()
    try:
        return trainer(threads).call(fn, *args, *extra)
    except TrainerDied as e:
        raise MnistlabError(f"worker {address}: {e}") from None


def trainer_versions() -> dict[str, str]:
    """:func:`stack_versions` of the process that trains (what the start-up check asks every worker)."""
    return _in_trainer(stack_versions)


def run_task(task: Task, env: Env) -> dict[str, Any]:
    """What a worker runs: :func:`train_task` in its trainer process (in this process outside Dask)."""
    with _ONE_AT_A_TIME:
        return _in_trainer(train_task, task, env, threads=env.threads)


def train_task(task: Task, env: Env, address: str = "in-process") -> dict[str, Any]:
    """Run ``task``'s steps in a temporary folder; return per step its status, metrics and files.

    A step that diverges or fails to find its parent's model is reported, and the steps after it are
    skipped; a version or data mismatch raises (the run stops there, naming both sides).
    """
    facts = setup_process(env, address)
    if env.versions:
        check_versions(env.versions, stack_versions(), f"worker {facts['address']}")
    with tempfile.TemporaryDirectory(prefix="mnistlab-task-") as tmp:
        t_task = time.time()
        return {"key": task.key, "worker": dict(facts), "started": t_task,
                "steps": _run_steps(task, env, Path(tmp)), "finished": time.time()}


def _run_steps(task: Task, env: Env, base: Path) -> list[dict[str, Any]]:
    from mnistlab import config, train
    from mnistlab.fileio import write_json
    from mnistlab.steps import run_step

    if task.parent_model:
        name, sha, data = task.parent_model
        if hashlib.sha256(data).hexdigest() != sha:
            raise MnistlabError(f"{task.key}: the model of {name} was damaged on its way (sha256 differs)")
        (base / name).mkdir(parents=True)
        (base / name / runfolder.MODEL).write_bytes(data)
    results: list[dict[str, Any]] = []
    failed = ""
    for spec in task.steps:
        exp = config.Experiment(**spec.config)
        if failed:
            results.append({"rel": spec.rel, "status": "skipped", "reason": f"needs {failed}, which failed"})
            continue
        workdir = base / spec.rel
        workdir.mkdir(parents=True, exist_ok=True)
        write_json(workdir / runfolder.CONFIG, exp.to_dict())
        ctx = train.Context(workdir=workdir, get_data=lambda n: get_dataset(n, env), lang=env.lang,
                            stream=sys.stderr, label=spec.label or spec.rel)
        t0 = time.perf_counter()
        try:
            metrics = run_step(exp, ctx, base)
        except DivergedError as e:  # reported, not raised: the run goes on with the other tasks
            seconds = round(time.perf_counter() - t0, 3)
            train.clear_checkpoints(workdir)
            row = {"rel": spec.rel, "status": "failed", "reason": str(e), "diverged": True,
                   "last_good_epoch": e.last_good_epoch, "seconds": seconds}
            if exp.expect_divergence:  # the study's result, as the in-process runner records it
                runfolder.write_diverged(workdir, str(e), e.last_good_epoch, seconds)
                row.update(status="diverged", files=collect(workdir))
            else:
                failed = spec.name
            results.append(row)
            continue
        metrics["seconds"] = round(time.perf_counter() - t0, 3)
        runfolder.write_metrics(workdir, metrics)
        train.clear_checkpoints(workdir)
        results.append({"rel": spec.rel, "status": "complete", "seconds": metrics["seconds"],
                        "metrics": metrics, "files": collect(workdir)})
    return results


def with_seed(config_: dict[str, Any], seed: int) -> dict[str, Any]:
    """A step's settings with another seed."""
    from mnistlab.config import Experiment

    return dataclasses.replace(Experiment(**config_), seed=seed).to_dict()
