"""The trainer: a plain child process of a Dask worker where tasks train, ``python -m mnistlab.distributed.trainer``.

A Dask worker's own threads (heartbeats, its event loop) draw from Python's global ``random`` while a task
runs, and Keras draws its default seeds from it after ``set_random_seed``: training in the worker process
itself gives other numbers from run to run. Training therefore runs in a child that does nothing else.

The child is started with :mod:`subprocess`, not :mod:`multiprocessing`: a worker under a nanny (``dask
worker``, ``LocalCluster()``, dask-jobqueue, the Kubernetes operator) is a daemonic process, and a daemonic
process may not have multiprocessing children; a plain subprocess it may. The worker sends ``(function,
arguments)`` as length-prefixed pickles on the child's stdin and reads ``("ok", result)`` or ``("error",
exception)`` back on its stdout; the child's own prints go to stderr. The child exits when its stdin closes
or its parent is gone (a ``kill -9`` of the worker). Both ends are the same installed mnistlab: the pickles
never cross a machine.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any

from mnistlab.errors import MnistlabError

_HEADER = struct.Struct("<Q")


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next object, or ``EOFError`` when the other side is gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 - our own parent, on this machine


class TrainerDied(MnistlabError):
    """The trainer process exited while a call was under way."""


class Trainer:
    """A running trainer child; :meth:`call` runs ``fn(*args)`` there and returns its result or raises."""

    def __init__(self):
        import mnistlab

        src = os.path.dirname(os.path.dirname(os.path.abspath(mnistlab.__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "mnistlab.distributed.trainer", str(os.getpid())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.lock = threading.Lock()
        self.threads: int | None = None  # the intra-op threads of the tasks it trained (fixed at its first op)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, fn, *args):
        with self.lock:
            try:
                _send(self.proc.stdin, (fn, args))
                status, value = _receive(self.proc.stdout)
            except (EOFError, OSError):
                self.close()
                raise TrainerDied("the trainer process died (out of memory?)") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _watch_parent(parent: int) -> None:
    """Exit as soon as the worker that started this process is gone."""
    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives a pickle round trip, else a :class:`MnistlabError` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
        return exc
    except Exception:  # noqa: BLE001 - any exception that does not pickle becomes one line
        return MnistlabError(f"{type(exc).__name__}: {exc}")


def main(argv: list[str]) -> int:
    """Serve calls from the parent until it closes our stdin."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints from training go to stderr, never into the replies
    sys.stdout = sys.stderr
    if argv:
        _watch_parent(int(argv[0]))
    inp = sys.stdin.buffer
    while True:
        try:
            fn, args = _receive(inp)
        except EOFError:
            return 0
        except Exception as e:  # noqa: BLE001 - a call this process cannot import: answered, not fatal
            _send(out, ("error", MnistlabError(f"the trainer cannot take this call ({type(e).__name__}: {e})")))
            continue
        try:
            reply = ("ok", fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
            reply = ("error", _portable(e))
        _send(out, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
