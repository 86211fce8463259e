"""The sandbox of ``mnistlab grade --execute``: one submission's code in bubblewrap, capped as a whole.

Each execution runs under ``bwrap`` (Debian package ``bubblewrap``) with every namespace of its own (user, PID,
network, IPC, UTS, cgroup, mount): the student's code sees a read-only view of the Python environment, the
mnistlab package and the data folder, a fresh ``/proc`` holding only its own processes, a minimal ``/dev``, and one
size-capped tmpfs (``/tmp``, holding HOME and the working folder) as the only place it can write. The executed
notebook comes back through one host file bound alone into the sandbox (capped by ``RLIMIT_FSIZE``); the code's
stdout and stderr go through a pipe into a capped log file, never whole into memory. Nothing else of the host's
files exists inside: not ``/etc/passwd``, not HOME, not the grader's ``--out``, not the other submissions.

The whole tree is capped: memory and process count by a cgroup of its own where this machine lets us make one
(cgroup v2, or v1's ``memory`` and ``pids`` hierarchies), else ``RLIMIT_AS`` per process plus a watchdog that
sums the resident memory of the tree and ``RLIMIT_NPROC``; wall time by killing bwrap, whose PID namespace then
dies with every process in it (``setsid`` daemons and fork bombs included). :func:`capabilities` says which caps
are in force on this machine, in one line. Without ``bwrap`` there is no execution at all: :func:`require`
refuses with the way to install it.
"""

from __future__ import annotations

import collections
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mnistlab.errors import MnistlabError

INSTALL = ("--execute runs each student's code in a bubblewrap sandbox, and `bwrap` is not installed: "
           "`apt-get install bubblewrap` (Debian, Ubuntu) or `dnf install bubblewrap` (Fedora)")
UID = 65534  # the student's user inside the sandbox (nobody); it maps to the grader's own user outside
ROOT = "/tmp"  # the writable tmpfs inside (HOME and the working folder are in it)
IN, OUT = "/run/mnistlab/in.ipynb", "/run/mnistlab/out.ipynb"
DATA, KERAS_HOME, PACKAGE = "/data", "/opt/keras-home", "/opt/mnistlab"
_TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives")
_CGROUP = Path("/sys/fs/cgroup")
SHM_MB = 64  # /dev/shm (POSIX shared memory, semaphores), a tmpfs of its own
_TAIL = 8192  # bytes of output kept in memory, for the reason line


@dataclass(frozen=True)
class Limits:
    """One execution's caps, for its whole process tree."""

    timeout_s: float
    memory_mb: int
    disk_mb: int = 512  # the writable tmpfs (its pages also count as memory)
    pids: int = 512  # processes and threads (TensorFlow starts dozens of threads, more on more cores)
    log_mb: int = 8  # stdout + stderr kept; the rest is read and dropped
    result_mb: int = 64  # the executed notebook, and any one file written


@dataclass
class Outcome:
    """How one sandboxed command ended: its exit status (bwrap's: 128 + signal when killed), why the grader
    stopped it (``""``, ``"time"`` or ``"memory"``), whether the kernel's OOM killer or the process cap struck,
    the last lines of its output."""

    rc: int
    stopped: str = ""
    oom: bool = False
    pids_hit: bool = False
    tail: str = ""
    seconds: float = 0.0
    log_bytes: int = 0


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets the sandbox do: the cgroup kind for memory and processes (``"v2"``, ``"v1"`` or
    ``""``), and one line saying what is in force."""

    bwrap: str
    memory: str
    pids: str
    line: str = field(default="")


def require() -> str:
    """The path of ``bwrap``.

    Raises:
        MnistlabError: it is missing (one line: how to install it).
    """
    path = shutil.which("bwrap")
    if path is None:
        raise MnistlabError(INSTALL)
    return path


def available() -> bool:
    """Whether ``bwrap`` is installed (what tests skip on; :func:`require` is what refuses)."""
    return shutil.which("bwrap") is not None


@functools.cache
def capabilities() -> Capabilities:
    """Probe bwrap once (a ``true`` in a full sandbox) and the cgroups; one line says what holds here.

    Raises:
        MnistlabError: bwrap is missing, or cannot make its namespaces on this machine (its own message).
    """
    bwrap = require()
    probe = [bwrap, *_namespaces(), *_filesystem(1, None, None), "--remount-ro", "/", "--", "/bin/true"]
    try:
        r = subprocess.run(probe, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MnistlabError(f"--execute: bubblewrap cannot start here ({e})") from None
    if r.returncode != 0:
        why = (r.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1][:200]
        raise MnistlabError(f"--execute: bubblewrap cannot make its sandbox here ({why}); on Debian and Ubuntu "
                            "unprivileged user namespaces must be on (sysctl kernel.unprivileged_userns_clone=1)")
    memory, pids = _cgroup_kind("memory"), _cgroup_kind("pids")
    said = ["bubblewrap sandbox: own user, PID, network (none), IPC, UTS and mount namespaces, read-only "
            "Python and data, no host files, one capped tmpfs"]
    said.append(f"memory of the whole tree capped by a cgroup {memory} (and per process by RLIMIT_AS)" if memory
                else "MEMORY CAPPED PER PROCESS (RLIMIT_AS) and for the tree only by a watchdog summing its resident "
                "memory every 0.2 s (no writable memory cgroup here)")
    if pids:
        said.append(f"processes capped by a cgroup {pids}")
    elif os.geteuid() == 0:
        said.append("PROCESS COUNT NOT CAPPED (no writable pids cgroup, and RLIMIT_NPROC does not bind root)")
    else:
        said.append("processes capped by RLIMIT_NPROC (per user: shared with the grader's own processes)")
    said.append("no seccomp filter")
    return Capabilities(bwrap, memory, pids, "; ".join(said))


def command(limits: Limits, host: Path, *, data: str | None = None, keras_home: str | None = None,
            argv: list[str]) -> list[str]:
    """The bwrap command line that runs ``argv`` (a command inside) in the sandbox.

    ``host`` is the grader's private folder for this execution: ``in.ipynb`` is bound read-only at :data:`IN`,
    ``out.ipynb`` (an empty file) read-write at :data:`OUT`; nothing else of it is visible.
    """
    bwrap = require()
    env = {"HOME": f"{ROOT}/home", "TMPDIR": ROOT, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PYTHONPATH": PACKAGE, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8", "USER": "student",
           "TF_CPP_MIN_LOG_LEVEL": "3", "MPLCONFIGDIR": f"{ROOT}/home/.matplotlib"}  # no MPLBACKEND: inline figures
    if keras_home:
        env["KERAS_HOME"] = KERAS_HOME
    cmd = [bwrap, *_namespaces(), *_filesystem(limits.disk_mb, data, keras_home),
           "--ro-bind", str(host / "in.ipynb"), IN, "--bind", str(host / "out.ipynb"), OUT,
           "--size", str(SHM_MB * 1024 * 1024), "--tmpfs", "/dev/shm",
           "--chdir", f"{ROOT}/work", "--clearenv",
           # the folders bwrap made on its root (/opt, /run...) and its /dev are not places to write
           "--remount-ro", "/", "--remount-ro", "/dev"]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return [*cmd, "--", *argv]


def run(cmd: list[str], limits: Limits, log: Path) -> Outcome:
    """Run ``cmd`` (from :func:`command`) with the caps of ``limits``; its output streamed into ``log``
    (the first ``limits.log_mb`` MB). Returns once every process of the sandbox is gone."""
    caps = capabilities()
    start = time.monotonic()
    groups = _Groups(caps, limits)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True,
                                preexec_fn=_preexec(limits, groups.procs_files, bool(caps.pids)))
    except OSError as e:
        groups.remove()
        raise MnistlabError(f"--execute: could not start bubblewrap ({e})") from None
    drain = _Drain(proc.stdout, log, limits.log_mb * 1024 * 1024)
    drain.start()
    stopped = ""
    try:
        while proc.poll() is None:
            if time.monotonic() - start > limits.timeout_s:
                stopped = "time"
            elif not caps.memory and _tree_rss(proc.pid) > limits.memory_mb * 1024 * 1024:
                stopped = "memory"
            if stopped:
                break
            try:
                proc.wait(timeout=0.2)  # returns as soon as bwrap ends
            except subprocess.TimeoutExpired:
                pass
    finally:
        _kill(proc)  # bwrap's PID namespace dies with it (--die-with-parent): every process inside
        groups.empty()
        drain.join(timeout=30)
        oom, pids_hit = groups.oom(), groups.pids_hit()
        groups.remove()
    return Outcome(rc=proc.returncode if proc.returncode >= 0 else 128 - proc.returncode, stopped=stopped,
                   oom=oom, pids_hit=pids_hit, tail=drain.tail(), seconds=round(time.monotonic() - start, 2),
                   log_bytes=drain.total)


def _namespaces() -> list[str]:
    # --unshare-user even as root: the student is uid 65534 in its own user namespace, with no capability;
    # --disable-userns: it cannot make another user namespace (and win capabilities there)
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--uid", str(UID),
            "--gid", str(UID), "--hostname", "sandbox", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev"]


def _filesystem(disk_mb: int, data: str | None, keras_home: str | None) -> list[str]:
    """The system, the writable tmpfs of ``disk_mb`` MB at :data:`ROOT` (with HOME and the working folder),
    then Python and the data. The tmpfs comes before Python's binds: a Python or a package installed under
    the host's /tmp (a virtual environment in a temporary clone) is then bound inside it, read-only."""
    out = [*_system(), "--size", str(disk_mb * 1024 * 1024), "--tmpfs", ROOT]
    for sub in ("home", "work"):
        out += ["--dir", f"{ROOT}/{sub}"]
    return [*out, *_python(data, keras_home)]


def _system() -> list[str]:
    """Read-only binds of the system: /usr and its top-level links, the dynamic loader's files."""
    out = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP:
        p = Path("/") / top
        if p.is_symlink():
            out += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            out += ["--ro-bind", str(p), str(p)]
    for name in _ETC:
        out += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return out


def _python(data: str | None, keras_home: str | None) -> list[str]:
    """Read-only binds of Python's prefixes (at their own paths: a virtual environment's scripts name them),
    the mnistlab package (at /opt/mnistlab), the data folder (at /data) and the Keras cache (at
    /opt/keras-home)."""
    out: list[str] = []
    bound = ["/usr"]
    for prefix in sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                         sys.base_exec_prefix, Path(sys.executable).parent.parent,
                                                         Path(os.path.realpath(sys.executable)).parent.parent)}):
        if not any(prefix == b or prefix.startswith(b + "/") for b in bound) and prefix != "/":
            out += ["--ro-bind", prefix, prefix]
            bound.append(prefix)
    out += ["--ro-bind", str(Path(__file__).resolve().parents[1]), f"{PACKAGE}/mnistlab"]
    if data:
        out += ["--ro-bind", os.path.realpath(data), DATA]
    if keras_home:
        out += ["--ro-bind", os.path.realpath(keras_home), KERAS_HOME]
    return out


def _own_cgroup(controller: str) -> tuple[Path, str] | None:
    """(the folder of this process's cgroup for ``controller``, ``"v1"``/``"v2"``), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            folder = _CGROUP / controller / path.lstrip("/")
            if folder.is_dir():
                return folder, "v1"
    for line in lines:
        if line.startswith("0::"):
            for root in (_CGROUP, _CGROUP / "unified"):
                folder = root / line[3:].lstrip("/")
                try:
                    if controller in (root / "cgroup.controllers").read_text().split():
                        return folder, "v2"
                except OSError:
                    continue
    return None


def _cgroup_kind(controller: str) -> str:
    """``"v1"``/``"v2"`` when a child cgroup with ``controller`` can be made here (tried), else ``""``."""
    own = _own_cgroup(controller)
    if own is None:
        return ""
    folder, kind = own
    trial = folder / f"mnistlab-probe-{os.getpid()}"
    try:
        if kind == "v2":
            _enable_v2(folder, controller)
        trial.mkdir()
    except OSError:
        return ""
    try:
        knob = {"memory": "memory.limit_in_bytes", "pids": "pids.max"}[controller] if kind == "v1" else \
            {"memory": "memory.max", "pids": "pids.max"}[controller]
        return kind if (trial / knob).is_file() and os.access(trial / knob, os.W_OK) else ""
    finally:
        trial.rmdir()


def _enable_v2(folder: Path, controller: str) -> None:
    """Turn ``controller`` on for ``folder``'s children (cgroup v2); OSError when it cannot be."""
    control = folder / "cgroup.subtree_control"
    if controller not in control.read_text().split():
        control.write_text(f"+{controller}")


class _Groups:
    """This execution's cgroups (memory, pids), made before bwrap starts and removed after its processes."""

    def __init__(self, caps: Capabilities, limits: Limits) -> None:
        self.folders: dict[str, tuple[Path, str]] = {}
        tag = f"mnistlab-sandbox-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        wanted = {"memory": (caps.memory, limits.memory_mb * 1024 * 1024), "pids": (caps.pids, limits.pids)}
        for controller, (kind, value) in wanted.items():
            own = _own_cgroup(controller) if kind else None
            if own is None:
                continue
            folder = own[0] / tag
            try:
                folder.mkdir()
                for knob in _knobs(controller, kind):
                    if (folder / knob).exists():  # v2's swap: none; v1's memory+swap: the same as memory
                        (folder / knob).write_text("0" if knob == "memory.swap.max" else str(value))
            except OSError:
                continue  # capabilities() said it works: a failure here leaves the rlimit fallback
            self.folders[controller] = (folder, kind)

    @property
    def procs_files(self) -> list[str]:
        return [str(f / "cgroup.procs") for f, _ in self.folders.values()]

    def empty(self) -> None:
        """Kill whatever is left in the cgroups (nothing, normally: the PID namespace took it)."""
        for _ in range(50):
            left = {int(p) for f, _ in self.folders.values() for p in _read(f / "cgroup.procs").split()}
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.1)

    def oom(self) -> bool:
        folder = self.folders.get("memory")
        if folder is None:
            return False
        text = _read(folder[0] / ("memory.oom_control" if folder[1] == "v1" else "memory.events"))
        return any(len(w) == 2 and w[0] == "oom_kill" and w[1] != "0" for w in map(str.split, text.splitlines()))

    def pids_hit(self) -> bool:
        folder = self.folders.get("pids")
        text = _read(folder[0] / "pids.events") if folder else ""
        return any(len(w) == 2 and w[0] == "max" and w[1] != "0" for w in map(str.split, text.splitlines()))

    def remove(self) -> None:
        for folder, _ in self.folders.values():
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = {}


def _knobs(controller: str, kind: str) -> tuple[str, ...]:
    if controller == "pids":
        return ("pids.max",)
    # v1: swap too, when the kernel accounts it (set after the plain limit: it must stay above it)
    return ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") if kind == "v1" else ("memory.max",
                                                                                            "memory.swap.max")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _preexec(limits: Limits, procs: list[str], pids_group: bool):
    """Run in the forked child before bwrap: join the cgroups (raw os calls only), set the rlimits."""
    memory = limits.memory_mb * 1024 * 1024
    result = limits.result_mb * 1024 * 1024

    def apply() -> None:
        me = str(os.getpid()).encode()
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, me)
            finally:
                os.close(fd)
        resource.setrlimit(resource.RLIMIT_FSIZE, (result, result))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # per process too, always: one process's allocation past the cap fails with a MemoryError the notebook
        # shows, rather than an OOM kill of the whole execution
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if not pids_group and os.geteuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.pids, limits.pids))
    return apply


class _Drain(threading.Thread):
    """Reads the sandbox's output to its end: the first ``cap`` bytes into ``log``, the last few in memory."""

    def __init__(self, pipe, log: Path, cap: int) -> None:
        super().__init__(daemon=True)
        self.pipe, self.log, self.cap = pipe, log, cap
        self.total = 0
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0

    def run(self) -> None:
        with open(self.log, "wb") as f:
            while chunk := self.pipe.read1(65536):
                if self.total < self.cap:
                    try:
                        f.write(chunk[: self.cap - self.total])
                    except OSError:  # the grader's disk: the log stops, the draining goes on
                        self.cap = 0
                self.total += len(chunk)
                self._tail.append(chunk)
                self._tail_size += len(chunk)
                while self._tail_size - len(self._tail[0]) >= _TAIL:
                    self._tail_size -= len(self._tail.popleft())
        self.pipe.close()

    def tail(self) -> str:
        return b"".join(self._tail)[-_TAIL:].decode(errors="replace")


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (the watchdog without a memory cgroup)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid = int(entry.name)
        children[int(fields.get("PPid", "0").strip() or 0)].append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:  # only a live bwrap: its process group's id cannot have been reused
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()
