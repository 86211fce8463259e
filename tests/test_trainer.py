"""The trainer child a Dask worker trains in: a plain subprocess (so a daemonic worker under a nanny may start
it), calls and their exceptions over its pipes, a new one after it dies, and it leaves with its parent."""

import operator
import os
import signal
import subprocess
import sys
import time

import pytest

from mnistlab import config
from mnistlab.distributed.trainer import Trainer, TrainerDied, _portable
from mnistlab.errors import ConfigError, MnistlabError


def test_calls_run_in_the_child_and_exceptions_come_back():
    t = Trainer()
    try:
        assert t.call(os.getpid) == t.proc.pid != os.getpid()
        assert t.call(sorted, [3, 1, 2]) == [1, 2, 3]
        with pytest.raises(ZeroDivisionError):
            t.call(operator.truediv, 1, 0)
        with pytest.raises(ConfigError, match="no experiment named"):
            t.call(config.load, "nope")
        with pytest.raises(MnistlabError, match="cannot take this call"):  # this test module is not importable there
            t.call(_raise, MnistlabError("no such thing"))
        assert t.call(print, "to stderr, not into the replies") is None
        assert t.call(os.getpid) == t.proc.pid  # the same child, still answering
    finally:
        t.close()
    assert t.proc.returncode == 0


def test_an_exception_that_does_not_pickle_travels_as_its_text():
    e = MnistlabError("loss is NaN")
    e.hook = lambda: None  # a lambda does not pickle
    got = _portable(e)
    assert type(got) is MnistlabError and str(got) == "MnistlabError: loss is NaN"
    ok = MnistlabError("fine")
    assert _portable(ok) is ok


def test_a_child_that_dies_is_one_error():
    t = Trainer()
    os.kill(t.proc.pid, signal.SIGKILL)
    with pytest.raises(TrainerDied, match="died"):
        t.call(os.getpid)
    assert not t.alive()


def test_the_child_leaves_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text("import os, time\nfrom mnistlab.distributed.trainer import Trainer\n"
                      "t = Trainer()\nprint(t.call(os.getpid), flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    t0 = time.monotonic()
    while _alive(child) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert not _alive(child)


def _raise(e):
    raise e


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
