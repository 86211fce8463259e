"""Wall time of the seed study in one process, with ``--workers 2``, and on a loopback cluster of two workers.

    python benchmarks/bench_distributed.py --data ../shared/datasets --seeds 3              # the real one (long)
    python benchmarks/bench_distributed.py --data ../shared/datasets --seeds 2 --size tiny  # a minute or two

The seed study is ``mnistlab run ex2.ann ex2.activations ex2.cnn --seeds N`` (the steps ``--seeds`` repeats).
Each mode runs as its own ``mnistlab run`` (a fresh process, as a user runs it); the loopback cluster is a
``dask scheduler`` and two ``dask worker --nthreads 1`` (with their nannies) on 127.0.0.1, started before the clock
starts (a standing cluster). Prints per mode the wall time and the run's own seconds, the speed-up against one
process, and whether every metrics.json (timings and layer names aside) equals the one-process run's; with
``--threads 1`` every mode uses one intra-op thread per process, the condition for identical numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
STUDY = ["ex2.ann", "ex2.activations", "ex2.cnn"]
SIZES = {"tiny": ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"],
         "small": ["--set", "epochs=2", "--set", "train_limit=6000", "--set", "test_limit=1000"],
         "full": []}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(run_dir: Path) -> dict:
    """Every metrics.json of a run without timings and layer names (Keras numbers layers per process)."""
    out = {}
    for path in sorted(run_dir.rglob("metrics.json")):
        m = {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith("seconds")}
        if "layers" in m:
            m["layers"] = [{k: v for k, v in layer.items() if k != "name"} for layer in m["layers"]]
        out[path.relative_to(run_dir).as_posix()] = m
    return out


def loopback_cluster(env: dict, log_dir: Path, workers: int = 2) -> tuple[str, list[subprocess.Popen]]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], env=env,
                              stdout=open(log_dir / "scheduler.log", "w"), stderr=subprocess.STDOUT)]  # noqa: SIM115
    for i in range(workers):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                       "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"], env=env,
                                      stdout=open(log_dir / f"worker{i}.log", "w"),  # noqa: SIM115
                                      stderr=subprocess.STDOUT))
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(workers, timeout=120)
    return address, procs


def run_mode(name: str, extra: list[str], args, env: dict, work: Path) -> dict:
    out = work / name
    cmd = [sys.executable, "-m", "mnistlab.cli", "run", *STUDY, "--seeds", str(args.seeds), "--out", str(out),
           "--data", args.data, *SIZES[args.size], *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{name}: mnistlab run failed ({r.returncode}):\n{r.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    return {"mode": name, "wall_seconds": round(wall, 1), "run_seconds": manifest["seconds"], "dir": out}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder holding the data sets")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--size", choices=sorted(SIZES), default="full")
    p.add_argument("--threads", type=int, default=0, help="MNISTLAB_THREADS for every process (0: unset)")
    p.add_argument("--work", help="folder for the runs (default: a temporary one)")
    p.add_argument("--no-cluster", action="store_true",
                   help="skip the loopback cluster (in-process and --workers 2 only: a shorter full-size run)")
    args = p.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(x for x in (str(SRC), os.environ.get("PYTHONPATH")) if x)}
    if args.threads:
        env["MNISTLAB_THREADS"] = str(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_distributed."))
    work.mkdir(parents=True, exist_ok=True)
    results = [run_mode("in-process", [], args, env, work), run_mode("workers-2", ["--workers", "2"], args, env, work)]
    address, procs = (None, []) if args.no_cluster else loopback_cluster(env, work)
    try:
        if address:
            results.append(run_mode("loopback-cluster-2", ["--cluster", address], args, env, work))
    finally:
        for proc in reversed(procs):  # workers first: a worker whose scheduler is gone waits for it
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker still closing down: nothing of it is needed
                proc.kill()
                proc.wait()
    reference = metrics(results[0]["dir"])
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"seed study: {' '.join(STUDY)} --seeds {args.seeds}, size {args.size}, threads "
          f"{args.threads or 'default'}; {cpu}, {os.cpu_count()} logical cores")
    for r in results:
        same = metrics(r["dir"]) == reference
        print(f"{r['mode']:<20} wall {r['wall_seconds']:>8.1f} s  run {r['run_seconds']:>8.1f} s  "
              f"speed-up {results[0]['wall_seconds'] / r['wall_seconds']:.2f}x  metrics equal to in-process: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
