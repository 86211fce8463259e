"""Where tasks run: this process, an embedded LocalCluster (``--workers N``) or a scheduler (``--cluster``).

:func:`connect` opens a :class:`Pool`; :meth:`Pool.execute` submits tasks, hands each result to a callback as
it arrives (the caller writes it into the run folder), prints progress, and cancels what is queued on Ctrl-C.

- Workers are separate processes started with ``spawn``, never ``fork``: the client has imported TensorFlow,
  whose threads a forked child would inherit dead.
- A worker that dies mid-task (``kill -9``) loses its task; the scheduler gives it to another worker (up to
  ``distributed.scheduler.allowed-failures`` times). The task starts over there from its seed: same numbers.
- At start every worker reports its versions of mnistlab, TensorFlow and Keras; any difference is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlparse

from mnistlab.distributed.tasks import Env, Task, check_versions, run_task, stack_versions, trainer_versions
from mnistlab.errors import MnistlabError, printable

CONNECT_TIMEOUT = 5  # seconds to reach a scheduler before saying it is unreachable
WORKERS_TIMEOUT = 60  # seconds to wait for a scheduler's first worker
PROGRESS_EVERY = 10.0  # seconds between progress lines while nothing finishes


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def parse_address(address: str) -> str:
    """``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (``HOST:PORT`` gets ``tcp://``); anything else (a user name
    or password, a path, a query, a fragment, another scheme, no port) is a one-line error."""
    shown = printable(address)
    if "://" not in address:
        address = "tcp://" + address
    try:
        u = urlparse(address)
        port = u.port
    except ValueError:
        u, port = None, None
    if u is None or u.scheme not in ("tcp", "tls") or not u.hostname or not port:
        raise MnistlabError(f"--cluster {shown!r}: expected tcp://HOST:PORT, the address `dask scheduler` prints")
    parts = (("user name or password", "@" in u.netloc), ("path", u.path not in ("", "/")),
             ("parameters", bool(u.params)), ("query", "?" in address), ("fragment", "#" in address))
    extra = [what for what, there in parts if there]
    if extra:
        raise MnistlabError(f"--cluster {shown!r}: a scheduler address takes no {extra[0]}; expected "
                            f"{u.scheme}://HOST:PORT")
    return f"{u.scheme}://{u.netloc}"


def tls_security(address: str):
    """For ``tls://``: a :class:`distributed.security.Security` from Dask's own settings, or a one-line error
    naming the settings when none are made (TLS without a certificate authority is refused)."""
    from distributed.security import Security

    security = Security()  # distributed.comm.tls.* from Dask's config files and DASK_* variables
    if security.get_connection_args("client").get("ssl_context") is None:
        raise MnistlabError(f"--cluster {address}: TLS needs Dask's TLS settings (distributed.comm.tls.ca-file, "
                            "distributed.comm.tls.client.cert and .key in a Dask config file, or "
                            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE etc.); none are set")
    return security


def probe(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Within ``timeout`` seconds: something listens at ``address`` and, over plain TCP, greets as a Dask
    scheduler does (its handshake, a few hundred bytes, sent first). Client never meets a silent port,
    an HTTP server or junk, which it would wait on or misread.

    Raises:
        MnistlabError: nothing listens, no greeting in time, or the greeting is not Dask's.
    """
    u = urlparse(address)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    except OSError as e:
        raise MnistlabError(f"cannot reach the Dask scheduler at {address} ({_reason(e)})") from None
    if u.scheme == "tls":  # the TLS handshake is Client's, under the deadline of connect()
        sock.close()
        return
    with sock:
        try:
            (n,) = _HEADER.unpack(_read(sock, _HEADER.size, deadline))
            if not _HEADER.size <= n <= MAX_GREETING:
                raise ValueError(f"a message of {n} bytes")
            greeting = _greeting(_read(sock, n, deadline))
        except TimeoutError:
            raise MnistlabError(f"cannot reach the Dask scheduler at {address} (it accepted the connection but "
                                f"said nothing within {timeout:g} s: not a Dask scheduler?)") from None
        except (OSError, EOFError) as e:
            raise MnistlabError(f"cannot reach the Dask scheduler at {address} ({_reason(e)})") from None
        except Exception as e:  # noqa: BLE001 - whatever junk it sent: one line
            raise MnistlabError(f"{address} does not answer as a Dask scheduler ({_reason(e)})") from None
    if "pickle-protocol" not in greeting:
        raise MnistlabError(f"{address} does not answer as a Dask scheduler (no Dask handshake)")


_HEADER = struct.Struct("<Q")  # distributed.comm.tcp: a message's byte count, then its frames
MAX_GREETING = 64 * 1024  # a scheduler's handshake is ~100 bytes


def _read(sock: socket.socket, n: int, deadline: float) -> bytes:
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("it closed the connection")
        out += chunk
    return bytes(out)


def _greeting(body: bytes) -> dict:
    """The handshake dict a Dask peer sends first (frames of msgpack); raises on anything else."""
    from distributed.protocol.core import loads
    from distributed.protocol.utils import unpack_frames

    msg = loads(unpack_frames(body), deserialize=False)
    if not isinstance(msg, dict):
        raise ValueError("not a Dask message")
    return msg


def _within(seconds: float, fn, what: str):
    """``fn()`` in a thread, given up after ``seconds`` (Client can wait forever on a peer that stalls)."""
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True, name="mnistlab-connect")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise MnistlabError(f"{what} did not answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass
class Pool:
    """A connection to workers (or none: tasks run in this process)."""

    client: Any = None  # distributed.Client, None for in-process
    cluster: Any = None  # the embedded LocalCluster, if we started it
    address: str = "in-process"
    stream: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def distributed(self) -> bool:
        return self.client is not None

    def workers(self) -> dict[str, dict[str, Any]]:
        return dict(self.client.scheduler_info(n_workers=-1)["workers"]) if self.client else {}

    def describe(self) -> dict[str, Any]:
        """For the manifest: scheduler address, whether embedded, the workers at start."""
        return {"scheduler": self.address, "embedded": self.cluster is not None,
                "workers": sorted(self.workers())}

    def check_versions(self) -> dict[str, dict[str, str]]:
        """Every worker's mnistlab, TensorFlow and Keras; raises :class:`VersionMismatch` on a difference."""
        if not self.client:
            return {}
        mine = stack_versions()
        theirs = self.client.run(trainer_versions)
        for address, versions in sorted(theirs.items()):
            check_versions(mine, versions, f"worker {address}")
        return theirs

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.client is not None:
                self.client.close(timeout=10)
        with contextlib.suppress(Exception):
            if self.cluster is not None:
                self.cluster.close(timeout=20)
        self.client = self.cluster = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- running ----------------------------------------------------------------------------------------
    def execute(self, tasks: Iterable[Task], env: Env, on_result: Callable[[Task, dict[str, Any]], None]) -> None:
        """Run every task; ``on_result(task, result)`` in this process as each finishes, in finishing order.

        Raises:
            MnistlabError: a task was refused (versions, data) or lost its worker too often; queued tasks
                are cancelled first, finished ones were already handed over.
            KeyboardInterrupt: Ctrl-C; queued tasks are cancelled, finished ones were handed over.
        """
        tasks = list(tasks)
        if not tasks:
            return
        if not self.client:
            for task in tasks:
                on_result(task, run_task(task, env))
            return
        self._execute(tasks, env, on_result)

    def _execute(self, tasks: list[Task], env: Env, on_result) -> None:
        from distributed import wait
        from distributed.client import FutureCancelledError

        token = uuid.uuid4().hex[:8]
        futures = {}
        for i, task in enumerate(tasks):
            fut = self.client.submit(run_task, task, env, key=f"mnistlab-{task.key}-{token}", pure=False,
                                     priority=len(tasks) - i)  # in the lab's order, as far as workers allow
            futures[fut] = task
        progress = Progress(self, len(tasks), self.stream)
        pending = set(futures)
        try:
            while pending:
                try:
                    with self.client.as_current():
                        done, pending = wait(pending, timeout=PROGRESS_EVERY, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    progress.show(futures, pending)
                    continue
                for fut in done:
                    try:
                        result = fut.result()
                    except MnistlabError:
                        raise
                    except FutureCancelledError:
                        raise MnistlabError(f"task {futures[fut].key} was cancelled on the scheduler") from None
                    except Exception as e:  # noqa: BLE001 - KilledWorker, a worker's own error: one line
                        raise MnistlabError(f"task {futures[fut].key} failed on the cluster "
                                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                                            ) from None
                    progress.finished(result)
                    on_result(futures[fut], result)
                progress.show(futures, pending)
        except BaseException:
            if pending:
                self.client.cancel(list(pending))
                self.stream.write(f"mnistlab: cancelled {len(pending)} task(s) not finished\n")
                self.stream.flush()
            raise


class Progress:
    """Progress lines on stderr: tasks done / running / queued, per worker, time elapsed and left."""

    def __init__(self, pool: Pool, total: int, stream: TextIO):
        self.pool, self.total, self.stream = pool, total, stream
        self.t0 = time.monotonic()
        self.done = 0
        self.per_worker: Counter[str] = Counter()

    def finished(self, result: dict[str, Any]) -> None:
        self.done += 1
        self.per_worker[result["worker"]["address"]] += 1

    def show(self, futures: dict, pending: set) -> None:
        try:
            processing = self.pool.client.processing()
        except Exception:  # noqa: BLE001 - progress is best effort
            processing = {}
        keys = {f.key: t.key for f, t in futures.items() if f in pending}
        running = {w: [keys[k] for k in ks if k in keys] for w, ks in processing.items()}
        n_running = sum(1 for ks in running.values() if ks)
        elapsed = time.monotonic() - self.t0
        left = f", ~{_clock(elapsed / self.done * (self.total - self.done))} left" if self.done else ""
        workers = "; ".join(f"{w.removeprefix('tcp://')}: {self.per_worker[w]} done"
                            + (f", running {ks[0]}" if ks else ", idle") + (f" (+{len(ks) - 1} assigned)"
                                                                           if len(ks) > 1 else "")
                            for w, ks in sorted(running.items()))
        self.stream.write(f"progress: {self.done}/{self.total} done, {n_running} running, "
                          f"{len(pending) - n_running} queued; {_clock(elapsed)} elapsed{left}"
                          + (f" | {workers}" if workers else "") + "\n")
        self.stream.flush()


def connect(workers: int | None = None, address: str | None = None, stream: TextIO | None = None) -> Pool:
    """A :class:`Pool`: in-process (neither given), ``workers`` spawned processes here, or ``address``.

    Raises:
        MnistlabError: the scheduler is unreachable (within ``CONNECT_TIMEOUT`` seconds), has no workers,
            or a worker runs other versions.
    """
    stream = stream or sys.stderr
    if workers and address:
        raise MnistlabError("give --workers N (workers on this machine) or --cluster ADDRESS, not both")
    if workers is not None and workers < 1:
        raise MnistlabError(f"--workers must be at least 1, got {workers}")
    if not workers and not address:
        return Pool(stream=stream)
    if address:
        address = parse_address(address)
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.worker.multiprocessing-method": "spawn",
                     "distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s",
                     # a task is minutes of training: never run it twice at once to balance load
                     "distributed.scheduler.work-stealing": False})
    pool = Pool(stream=stream)
    try:
        if address:
            security = tls_security(address) if address.startswith("tls://") else None
            probe(address)
            try:
                pool.client = _within(2 * CONNECT_TIMEOUT, lambda: Client(
                    address, timeout=CONNECT_TIMEOUT, set_as_default=False, security=security),
                    f"the Dask scheduler at {address}")
            except MnistlabError:
                raise
            except Exception as e:  # noqa: BLE001 - OSError, TimeoutError, a peer's garbled answer: one line
                raise MnistlabError(f"cannot reach the Dask scheduler at {address} ({_reason(e)})") from None
            pool.address = address
        else:
            pool.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.ERROR,
                                        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": _pythonpath()})
            pool.client = Client(pool.cluster, set_as_default=False)
            pool.address = pool.cluster.scheduler_address
        try:
            pool.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            raise MnistlabError(f"the Dask scheduler at {pool.address} has no workers (none joined within "
                                f"{WORKERS_TIMEOUT} s); start some with `dask worker {pool.address}`") from None
        pool.check_versions()
    except BaseException:
        pool.close()
        raise
    n = len(pool.workers())
    stream.write(f"cluster: {pool.address}, {n} worker(s)" + (" on this machine (spawned)" if pool.cluster else "")
                 + "\n")
    stream.flush()
    return pool


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return printable(text[:160])


def _pythonpath() -> str:
    """The client's import path for spawned workers (so they import this mnistlab, not another)."""
    import mnistlab

    here = os.path.dirname(os.path.dirname(os.path.abspath(mnistlab.__file__)))
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
