"""``--execute``: run a student's notebook in the bubblewrap sandbox of :mod:`mnistlab.grade.sandbox`.

Each notebook runs in ``python -m mnistlab.grade.child`` (an nbclient kernel) inside its own sandbox, with caps on
the whole tree (time, memory, processes, disk, output). The executed notebook comes back through the sandbox's one
writable host file and is read here as untrusted input (size-capped). Results are cached under
``<out>/cache/<sha256 of the notebook>[-quick].json`` (+ ``.ipynb``), so a re-grade does not re-execute; a
TIMEOUT is reused only under the same ``--timeout`` and a memory failure only under the same ``--memory``, and a
grader's error (the data folder, the sandbox itself) is never cached.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text
from mnistlab.grade import sandbox
from mnistlab.grade.words import Why, why

GRADER_ERROR = "GRADER_ERROR"  # the execution could not be judged, by the grader's fault (data, sandbox)
DATA_ERROR = "DataUnavailable"  # the exception the kernel's loader raises when the grader's data cannot serve


@dataclass(frozen=True)
class Settings:
    """How to execute: the caps, the data served to ``load_data()``, and ``--quick`` (1 epoch on slices)."""

    timeout_s: float = 1800.0
    memory_mb: int = 4096
    data: str | None = None
    keras_home: str | None = None
    quick: bool = False

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(timeout_s=self.timeout_s, memory_mb=self.memory_mb)


@dataclass
class Executed:
    """How one execution ended: ``OK``, ``TIMEOUT``, ``BROKEN`` or :data:`GRADER_ERROR` with the reason;
    the executed notebook (OK only)."""

    status: str
    nb: dict | None
    reason: str = ""  # in English; ``why`` writes it in any language
    seconds: float = 0.0
    cached: bool = False
    limit: str = ""  # "time" or "memory": the cap that ended it (a cached entry is reused only under the same)
    why: Why | None = None


def _ended(status: str, reason: Why, limit: str = "") -> Executed:
    return Executed(status, None, str(reason), limit=limit, why=reason)


def isolation() -> str:
    """One line: what the sandbox gives on this machine, and what it cannot.

    Raises:
        MnistlabError: bubblewrap is missing or cannot run here (one line: how to install it).
    """
    sandbox.require()  # each time: the probe below is cached, a missing bwrap is refused whatever it said
    return sandbox.capabilities().line


def run(nb: dict, digest: str, cache: Path, settings: Settings) -> Executed:
    """Execute ``nb`` (its cells' outputs replaced) in the sandbox; cached by ``digest`` and the mode."""
    found = cached(cache, digest, settings)
    if found is not None:
        return found
    result = fresh(nb, settings)
    store(cache, digest, settings, result)
    return result


def key(digest: str, settings: Settings) -> str:
    """The cache entry's name: a ``--quick`` execution is not a full one."""
    return f"{digest}-quick" if settings.quick else digest


def cached(cache: Path, digest: str, settings: Settings) -> Executed | None:
    """The cached execution of the notebook with SHA-256 ``digest``, None when there is none or when it ended on
    a cap that this run sets differently (a TIMEOUT under another ``--timeout``)."""
    name = key(digest, settings)
    nb_path, meta = cache / f"{name}.ipynb", cache / f"{name}.json"
    if not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        limit = info.get("limit", "")
        if (limit == "time" and info.get("timeout_s") != settings.timeout_s) or (
                limit == "memory" and info.get("memory_mb") != settings.memory_mb):
            return None
        nb_out = json.loads(nb_path.read_text(encoding="utf-8")) if info["status"] == "OK" else None
        reason = Why.from_json(info.get("why"))
        return Executed(info["status"], nb_out, str(reason) if reason else str(info.get("reason", ""))[:300],
                        info.get("seconds", 0.0), True, limit, reason)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged cache entry: execute again


def store(cache: Path, digest: str, settings: Settings, result: Executed) -> None:
    """Cache ``result`` (the notebook first, its status file last: a status file means a whole entry); a grader's
    error is not cached."""
    if result.status == GRADER_ERROR:
        return
    name = key(digest, settings)
    cache.mkdir(parents=True, exist_ok=True)
    if result.nb is not None:
        write_text(cache / f"{name}.ipynb", json.dumps(result.nb))
    write_text(cache / f"{name}.json", json.dumps({
        "status": result.status, "reason": result.reason, "why": result.why.to_json() if result.why else None,
        "seconds": result.seconds, "limit": result.limit,
        "timeout_s": settings.timeout_s, "memory_mb": settings.memory_mb}))


def fresh(nb: dict, settings: Settings) -> Executed:
    """Execute ``nb`` in a sandbox now (on whatever machine calls it: a Dask worker too).

    Raises:
        MnistlabError: bubblewrap is missing or cannot run on this machine.
    """
    limits = settings.limits()
    with tempfile.TemporaryDirectory(prefix="mnistlab-grade-") as tmp:
        host = Path(tmp)
        os.chmod(host, 0o700)
        write_text(host / "in.ipynb", json.dumps(nb))
        (host / "out.ipynb").touch()
        argv = [_python(), "-m", "mnistlab.grade.child", sandbox.IN, sandbox.OUT, str(int(settings.timeout_s))]
        if settings.data:
            argv += ["--data", sandbox.DATA]
        if settings.keras_home:
            argv += ["--keras-home"]
        if settings.quick:
            argv += ["--quick"]
        cmd = sandbox.command(limits, host, data=settings.data, keras_home=settings.keras_home, argv=argv)
        try:
            outcome = sandbox.run(cmd, limits, host / "output.log")
        except MnistlabError as e:  # bwrap could not be started for this one: the grader's, not the student's
            return _ended(GRADER_ERROR, why("sandbox_error", detail=str(e)[:300]))
        result = _result(outcome, host / "out.ipynb", limits)
    result.seconds = outcome.seconds
    return result


def _python() -> str:
    """The interpreter to run inside: this one, by a path that the sandbox binds (its prefix's)."""
    import sys

    return sys.executable if os.path.isfile(sys.executable) else shutil.which("python3") or "python3"


def _result(o: sandbox.Outcome, out: Path, limits: sandbox.Limits) -> Executed:
    """The status of an execution, from what the sandbox says (never guessed from an exit code alone)."""
    tail = _last_line(o.tail)
    if o.stopped == "time":
        return _ended("TIMEOUT", why("timeout", seconds=f"{limits.timeout_s:g}"), limit="time")
    if o.oom or o.stopped == "memory":
        return _ended("BROKEN", why("memory", mb=limits.memory_mb), limit="memory")
    if o.rc == 0:
        return _read_result(out, limits)
    if o.rc == 1 and tail.startswith("bwrap:"):
        return _ended(GRADER_ERROR, why("sandbox_start", detail=tail[:200]))
    if o.rc > 128:
        try:
            sig = signal.Signals(o.rc - 128).name
        except ValueError:
            sig = f"signal {o.rc - 128}"
        key, args = "killed", {"signal": sig}
    else:
        key, args = "failed", {"detail": tail}
    if o.pids_hit:
        key, args = f"{key}_at_pids", {**args, "pids": limits.pids}
    return _ended("BROKEN", why(key, **args))


def _read_result(out: Path, limits: sandbox.Limits) -> Executed:
    """The executed notebook, read as untrusted input: capped in size, JSON, a notebook's shape."""
    try:
        fd = os.open(out, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            data = f.read(limits.result_mb * 1024 * 1024 + 1)
    except OSError as e:
        return _ended("BROKEN", why("result_unreadable", error=e.strerror or type(e).__name__))
    if len(data) > limits.result_mb * 1024 * 1024:
        return _ended("BROKEN", why("result_too_large", mb=limits.result_mb))
    try:
        nb = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        return _ended("BROKEN", why("result_unreadable", error=type(e).__name__))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return _ended("BROKEN", why("result_not_notebook"))
    data_error = _data_error(nb)
    if data_error:
        return _ended(GRADER_ERROR, data_error)
    return Executed("OK", nb)


def _data_error(nb: dict) -> Why | None:
    """The grader's data problem that a cell met (the loader's :data:`DATA_ERROR`), or None."""
    for cell in nb["cells"]:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for o in outputs if isinstance(outputs, list) else []:
            if isinstance(o, dict) and o.get("output_type") == "error" and o.get("ename") == DATA_ERROR:
                return why("data", detail=str(o.get("evalue", ""))[:200])
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines or ["no message"])[-1][:300]
