"""Distributed runs on loopback: a `dask scheduler` and two stock `dask worker` processes (nanny on) on
127.0.0.1, a `LocalCluster()` with its defaults, a worker started with `--no-nanny`; tiny settings on slices
of the real data. The same metrics as in one process; kill -9 of a worker; Ctrl-C and --resume; addresses
that are not a scheduler; a worker with another mnistlab version."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC.parent / "benchmarks"))
from bench_distributed import metrics as _metrics  # noqa: E402 - every metrics.json, timings aside

QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]
# ex2.ann and its extra seed, the CNN with the confusion step that uses its model, and the CNN's extra seed
PLAN = ["ex2.ann", "ex2.confusion", "--seeds", "2", *QUICK]
ENV = {"PYTHONPATH": str(SRC), "MNISTLAB_THREADS": "1", "MNISTLAB_NO_DOWNLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp: Path) -> dict:
    return {**os.environ, **ENV, "KERAS_HOME": str(tmp / "keras_home")}


def _wait_port(port: int, proc, timeout=60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited with {proc.returncode}")
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


class Cluster:
    """A scheduler and stock workers (``nanny=False``: started with ``--no-nanny``) on 127.0.0.1."""

    def __init__(self, tmp: Path, n_workers: int, preload: Path | None = None, nanny: bool = True):
        self.tmp, self.procs, self.workers = tmp, [], {}
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler = self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                      "--port", str(port), "--no-dashboard"], "scheduler")
        _wait_port(port, self.scheduler)
        for i in range(n_workers):
            wport = _free_port()
            cmd = [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads",
                   "1", "--host", "127.0.0.1", "--worker-port", str(wport), "--no-dashboard",
                   *([] if nanny else ["--no-nanny"])]
            if preload:
                cmd += ["--preload", str(preload)]
            self.workers[f"tcp://127.0.0.1:{wport}"] = self._start(cmd, f"worker{i}")
        from distributed import Client

        with Client(self.address, timeout=30) as c:
            c.wait_for_workers(n_workers, timeout=60)

    def _start(self, cmd, name):
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(self.tmp))
        self.procs.append(p)
        return p

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), 2)
    yield c
    c.close()


def _mnistlab(tmp: Path, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mnistlab.cli", *args], capture_output=True, text=True,
                          env=_env(tmp), timeout=timeout)


def _start_mnistlab(tmp: Path, log: Path, *args):
    return subprocess.Popen([sys.executable, "-m", "mnistlab.cli", *args], stdout=open(log, "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, env=_env(tmp))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_datasets):
    """The plan in one process, as `mnistlab run` without --workers or --cluster."""
    tmp = tmp_path_factory.mktemp("ref")
    r = _mnistlab(tmp, "run", *PLAN, "--out", str(tmp / "run"), "--data", str(shared_datasets))
    assert r.returncode == 0, r.stderr
    got = _metrics(tmp / "run")
    assert sorted(got) == ["ex2.ann/metrics.json", "ex2.ann/seeds/43/metrics.json", "ex2.cnn/metrics.json",
                           "ex2.cnn/seeds/43/metrics.json", "ex2.confusion/metrics.json"]
    return got


def _check_manifest(run_dir: Path, workers) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    entries = [*manifest["experiments"].values(), *[s for e in manifest["experiments"].values()
                                                    for s in (e.get("seeds") or {}).values()]]
    assert len(entries) == 5
    for e in entries:
        assert e["status"] == "complete" and e["worker"] in workers
        assert e["versions"]["mnistlab"] and e["versions"]["tensorflow"] and e["hardware"]["logical_cores"] >= 1
        assert e["intra_op_threads"] == 1 and e["timings"]["task_seconds"] > 0
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name or p.name.startswith("checkpoint.")]
    return manifest


def test_remote_workers_give_the_numbers_of_one_process(tmp_path, cluster, reference, shared_datasets):
    r = _mnistlab(tmp_path, "run", *PLAN, "--cluster", cluster.address, "--out", str(tmp_path / "run"),
                  "--data", str(shared_datasets))
    assert r.returncode == 0, r.stderr
    assert _metrics(tmp_path / "run") == reference  # exactly: every value of every metrics.json
    manifest = _check_manifest(tmp_path / "run", cluster.workers)
    assert manifest["cluster"]["scheduler"] == cluster.address
    # the confusion step ran after its CNN, in the same task, on the same worker
    exps = manifest["experiments"]
    assert exps["ex2.confusion"]["task"] == exps["ex2.cnn"]["task"] == "ex2.cnn@42"
    assert exps["ex2.confusion"]["worker"] == exps["ex2.cnn"]["worker"]
    assert "progress: " in r.stderr and " done, " in r.stderr and " queued; " in r.stderr


def test_default_threads_give_the_numbers_of_one_process_on_one_thread_workers(tmp_path, cluster, shared_datasets):
    """Without $MNISTLAB_THREADS one process trains on all this machine's CPUs; stock `--nthreads 1` workers
    train with the run's count (the manifest's), so the numbers are the same and the manifest says so."""
    plan = ["ex2.ann", "--seeds", "2", *QUICK]
    env = {k: v for k, v in _env(tmp_path).items() if k != "MNISTLAB_THREADS"}
    runs = {}
    for mode, extra in (("alone", []), ("cluster", ["--cluster", cluster.address])):
        r = subprocess.run([sys.executable, "-m", "mnistlab.cli", "run", *plan, *extra, "--out",
                            str(tmp_path / mode), "--data", str(shared_datasets)],
                           capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, r.stderr
        runs[mode] = _metrics(tmp_path / mode)
    assert runs["cluster"] == runs["alone"] and len(runs["alone"]) == 2
    from mnistlab.backend import default_threads

    manifest = json.loads((tmp_path / "cluster" / "manifest.json").read_text())
    assert manifest["settings"]["intra_op_threads"] == default_threads()
    entries = [*manifest["experiments"].values(), *manifest["experiments"]["ex2.ann"]["seeds"].values()]
    assert {e["intra_op_threads"] for e in entries} == {default_threads()}


def test_embedded_workers_give_the_numbers_of_one_process(tmp_path, reference, shared_datasets):
    r = _mnistlab(tmp_path, "run", "ex2.ann", "--seeds", "2", *QUICK, "--workers", "2", "--out",
                  str(tmp_path / "run"), "--data", str(shared_datasets))
    assert r.returncode == 0, r.stderr
    assert "on this machine (spawned)" in r.stderr
    assert _metrics(tmp_path / "run") == {k: v for k, v in reference.items() if k.startswith("ex2.ann/")}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["cluster"]["embedded"] is True and len(manifest["cluster"]["workers"]) == 2


def _a_step_complete(run_dir: Path) -> bool:
    """Whether the manifest (written atomically) records a step of the run, not an extra seed, as complete."""
    try:
        entries = json.loads((run_dir / "manifest.json").read_text())["experiments"]
    except (OSError, ValueError, KeyError):
        return False
    return any(isinstance(e, dict) and e.get("status") == "complete" for e in entries.values())


def test_ctrl_c_cancels_queued_tasks_and_resume_finishes(tmp_path, cluster, reference, shared_datasets):
    run_dir, log = tmp_path / "run", tmp_path / "log"
    proc = _start_mnistlab(tmp_path, log, "run", *PLAN, "--cluster", cluster.address, "--out", str(run_dir),
                           "--data", str(shared_datasets))
    t0 = time.monotonic()
    while not _a_step_complete(run_dir) and proc.poll() is None and time.monotonic() - t0 < 240:
        time.sleep(0.1)  # an extra seed may finish first: wait for a step of the run itself
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=120)
    text = log.read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if rc != 0:  # it may have finished first; otherwise it stopped cleanly, keeping what finished
        assert rc == 130 and manifest["status"] == "interrupted", text
        assert "mnistlab run --resume" in text
    done = {n for n, e in manifest["experiments"].items() if e["status"] == "complete"}
    assert done  # finished tasks are kept
    r = _mnistlab(tmp_path, "run", "--resume", str(run_dir), "--cluster", cluster.address)
    assert r.returncode == 0, r.stderr
    assert f"kept {len(done)} complete step(s)" in r.stderr
    assert _metrics(run_dir) == reference


def test_a_worker_killed_mid_task_loses_nothing(tmp_path, cluster, reference, shared_datasets):
    """Runs last in this file: it leaves the cluster with one worker."""
    from distributed import Client

    run_dir, log = tmp_path / "run", tmp_path / "log"
    proc = _start_mnistlab(tmp_path, log, "run", *PLAN, "--cluster", cluster.address, "--out", str(run_dir),
                           "--data", str(shared_datasets))
    victim, key = None, None
    with Client(cluster.address, timeout=30) as c:
        t0 = time.monotonic()
        while victim is None and time.monotonic() - t0 < 240 and proc.poll() is None:
            for worker, keys in c.processing().items():
                if keys and ": complete in " in log.read_text():  # training is under way
                    victim, key = worker, keys[0]
                    break
            time.sleep(0.05)
        assert victim, log.read_text()
        pid = c.run(os.getpid, workers=[victim])[victim]  # the worker process under its nanny
    os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, log.read_text()
    assert _metrics(run_dir) == reference
    manifest = _check_manifest(run_dir, cluster.workers)
    task = key.split("-")[1]  # mnistlab-<task>-<token>
    records = [e for e in manifest["experiments"].values() if e.get("task") == task]
    records += [s for e in manifest["experiments"].values() for s in (e.get("seeds") or {}).values()
                if s.get("task") == task]
    assert records and all(r["status"] == "complete" for r in records)  # run again, by a live worker
    assert "task(s) not finished" not in log.read_text()


def test_a_default_local_cluster_gives_the_numbers_of_one_process(tmp_path, reference, shared_datasets):
    """``LocalCluster()`` as a user starts it (nanny, its own worker and thread counts), then ``--cluster``."""
    script = tmp_path / "local_cluster.py"
    script.write_text("import sys, time\nfrom distributed import LocalCluster\n"
                      "if __name__ == '__main__':\n"
                      "    c = LocalCluster(dashboard_address=None)\n"
                      "    print(c.scheduler_address, flush=True)\n"
                      "    sys.stdin.read()\n"
                      "    c.close()\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=_env(tmp_path))
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://"), address
        r = _mnistlab(tmp_path, "run", "ex2.ann", "--seeds", "2", *QUICK, "--cluster", address,
                      "--out", str(tmp_path / "run"), "--data", str(shared_datasets))
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert r.returncode == 0, r.stderr
    got = _metrics(tmp_path / "run")
    assert got == {k: v for k, v in reference.items() if k.startswith("ex2.ann/")}


def test_a_worker_without_nanny_gives_the_numbers_of_one_process(tmp_path, reference, shared_datasets):
    solo = Cluster(tmp_path, 1, nanny=False)
    try:
        r = _mnistlab(tmp_path, "run", "ex2.ann", "--seeds", "2", *QUICK, "--cluster", solo.address,
                      "--out", str(tmp_path / "run"), "--data", str(shared_datasets))
    finally:
        solo.close()
    assert r.returncode == 0, r.stderr
    assert _metrics(tmp_path / "run") == {k: v for k, v in reference.items() if k.startswith("ex2.ann/")}


def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path):
    port = _free_port()  # nothing listens there
    t0 = time.monotonic()
    r = _mnistlab(tmp_path, "run", "ex2.ann", "--cluster", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "r"))
    assert r.returncode == 1 and time.monotonic() - t0 < 60
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith(f"mnistlab: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert not (tmp_path / "r").exists()
    r = _mnistlab(tmp_path, "run", "--cluster", "nowhere", "--out", str(tmp_path / "r"))
    assert r.returncode == 1 and "expected tcp://HOST:PORT" in r.stderr


def test_worker_with_another_version_is_refused(tmp_path):
    preload = tmp_path / "other_version.py"
    preload.write_text(
        "import mnistlab.distributed.tasks as t\n"
        "t.trainer_versions = lambda: {'mnistlab': '0.0.0+other', 'tensorflow': '?', 'keras': '?'}\n")
    other = Cluster(tmp_path, 1, preload=preload, nanny=False)
    try:
        r = _mnistlab(tmp_path, "run", "ex2.ann", "--cluster", other.address, "--out", str(tmp_path / "r"))
    finally:
        other.close()
    import mnistlab

    assert r.returncode == 1, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("mnistlab: error:")]
    want = f"runs mnistlab 0.0.0+other but this machine runs mnistlab {mnistlab.__version__}"
    assert len(err) == 1 and want in err[0]
    assert not (tmp_path / "r").exists()
