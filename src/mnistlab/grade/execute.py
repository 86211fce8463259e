"""``--execute``: run a student's notebook in a child process, sandboxed as far as this OS allows.

Each notebook runs in ``python -m mnistlab.grade.child`` (an nbclient kernel), started as its own process group in a
fresh temporary working folder, with a wall-clock limit (the whole process group is killed past it), a
memory limit (``RLIMIT_AS`` on the child, inherited by its kernel), a file-size limit, and no network when a
network namespace can be made (``unshare -rn``). What could not be applied is said in :func:`isolation`.
Results are cached under ``<out>/cache/<sha256 of the notebook>.ipynb``, so a re-grade does not re-execute.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mnistlab.fileio import write_text

MAX_OUTPUT_BYTES = 200_000_000  # largest file the child may write


@dataclass
class Executed:
    """How one execution ended: ``OK``, ``TIMEOUT`` or ``BROKEN`` with the reason; the executed notebook."""

    status: str
    nb: dict | None
    reason: str = ""
    seconds: float = 0.0
    cached: bool = False


@functools.cache
def isolation() -> tuple[list[str], str]:
    """(command prefix for no network, a sentence saying what isolation is in force)."""
    unshare = shutil.which("unshare")
    if sys.platform.startswith("linux") and unshare:
        try:
            r = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
            if r.returncode == 0:
                return [unshare, "-rn"], "no network (own network namespace), memory and time limits, temp folder"
            why = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["refused"]
        except (OSError, subprocess.TimeoutExpired) as e:
            why = [str(e)]
        return [], f"NETWORK NOT ISOLATED (unshare -rn: {why[0]}); memory and time limits, temp folder"
    return [], "NETWORK NOT ISOLATED (no unshare on this OS); memory and time limits, temp folder"


def run(nb: dict, digest: str, cache: Path, timeout_s: float, memory_mb: int,
        keras_home: str | None = None) -> Executed:
    """Execute ``nb`` (its cells' outputs replaced) in a sandboxed child; cached by ``digest``."""
    found = cached(cache, digest)
    if found is not None:
        return found
    result = fresh(nb, timeout_s, memory_mb, keras_home)
    store(cache, digest, result)
    return result


def cached(cache: Path, digest: str) -> Executed | None:
    """The cached execution of the notebook with SHA-256 ``digest``, None when there is none."""
    nb_path, meta = cache / f"{digest}.ipynb", cache / f"{digest}.json"
    if not meta.is_file():
        return None
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        nb_out = json.loads(nb_path.read_text(encoding="utf-8")) if info["status"] == "OK" else None
        return Executed(info["status"], nb_out, info.get("reason", ""), info.get("seconds", 0.0), True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged cache entry: execute again


def store(cache: Path, digest: str, result: Executed) -> None:
    """Cache ``result`` (the notebook first, its status file last: a status file means a whole entry)."""
    cache.mkdir(parents=True, exist_ok=True)
    if result.nb is not None:
        write_text(cache / f"{digest}.ipynb", json.dumps(result.nb))
    write_text(cache / f"{digest}.json", json.dumps({"status": result.status, "reason": result.reason,
                                                      "seconds": result.seconds}))


def fresh(nb: dict, timeout_s: float, memory_mb: int, keras_home: str | None = None) -> Executed:
    """Execute ``nb`` in a sandboxed child process now (on whatever machine calls it: a Dask worker too)."""
    prefix, _ = isolation()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mnistlab-grade-") as tmp:
        src, dst = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        src.write_text(json.dumps(nb), encoding="utf-8")
        work = Path(tmp) / "work"
        work.mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "TF_CPP_MIN_LOG_LEVEL": "3",
               "LANG": "C.UTF-8"}
        if keras_home:
            env["KERAS_HOME"] = keras_home
        cmd = [*prefix, sys.executable, "-m", "mnistlab.grade.child", str(src), str(dst), str(int(timeout_s))]
        try:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, preexec_fn=_limits(memory_mb))
        except OSError as e:
            return Executed("BROKEN", None, f"could not start the child process ({e})")
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            result = Executed("TIMEOUT", None, f"over the {timeout_s:.0f} s time limit")
        else:
            result = _result(proc.returncode, err.decode(errors="replace"), dst, memory_mb)
    result.seconds = round(time.monotonic() - start, 2)
    return result


def _result(rc: int, err: str, dst: Path, memory_mb: int) -> Executed:
    if rc == 0 and dst.is_file():
        try:
            return Executed("OK", json.loads(dst.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            return Executed("BROKEN", None, f"the executed notebook is unreadable ({e})")
    tail = (err.strip().splitlines() or ["no message"])[-1][:300]
    if "MemoryError" in err or "std::bad_alloc" in err or rc in (-9, 137):
        return Executed("BROKEN", None, f"ran out of its {memory_mb} MB memory limit ({tail})")
    return Executed("BROKEN", None, f"execution failed ({tail})")


def _limits(memory_mb: int):
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
