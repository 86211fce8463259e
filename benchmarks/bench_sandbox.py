"""What the bubblewrap sandbox of ``mnistlab grade --execute`` costs per notebook.

    python benchmarks/bench_sandbox.py --rounds 7                                     # start-up only
    python benchmarks/bench_sandbox.py --rounds 7 --lab 1 --data ../shared/datasets   # + the whole lab, --quick

Start-up: a notebook of one trivial cell, executed by the grader's child process (``mnistlab.grade.child``: a
Jupyter kernel with the start-up file) in the sandbox (:func:`mnistlab.grade.execute.fresh`) and without it (the
same child process started directly, in a temporary folder), alternating, ``--rounds`` times each; prints the
median and every value. ``--lab K``: the whole lab's notebook (``mnistlab notebook --no-execute`` at its
default settings) executed with ``--quick`` (1 epoch on slices), K times each way, alternating. Timings depend
on the machine's load: say it beside any figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]


def trivial() -> dict:
    from nbformat import v4

    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell("1 + 1")]
    return json.loads(json.dumps(nb))


def lab_notebook(data: str) -> dict:
    from mnistlab import notebook

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        w = notebook.make(None, {}, data_dir=data, out=Path(tmp) / "nb", execute=False, author="Bench")
        return json.loads(w.notebook.read_text(encoding="utf-8"))


def errors(nb: dict) -> int:
    """Code cells of the executed notebook that ended in an error."""
    return sum(any(o.get("output_type") == "error" for o in c.get("outputs", [])) for c in nb["cells"])


def sandboxed(nb: dict, settings) -> tuple[float, str, int]:
    from mnistlab.grade import execute

    start = time.monotonic()
    r = execute.fresh(nb, settings)
    return time.monotonic() - start, r.status, errors(r.nb) if r.nb else -1


def unsandboxed(nb: dict, settings) -> tuple[float, str, int]:
    """The same child process and kernel, started directly (no bwrap, no cgroup), as before the sandbox."""
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        src, dst = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        src.write_text(json.dumps(nb), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "LANG": "C.UTF-8",
               "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        argv = [sys.executable, "-m", "mnistlab.grade.child", str(src), str(dst), str(int(settings.timeout_s))]
        if settings.data:
            argv += ["--data", os.path.realpath(settings.data)]
        if settings.quick:
            argv += ["--quick"]
        start = time.monotonic()
        r = subprocess.run(argv, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=settings.timeout_s)
        secs = time.monotonic() - start
        if r.returncode != 0 or not dst.stat().st_size:
            return secs, f"rc {r.returncode}", -1
        return secs, "OK", errors(json.loads(dst.read_text(encoding="utf-8")))


def compare(name: str, nb: dict, settings, rounds: int) -> None:
    times: dict[str, list[float]] = {"sandbox": [], "plain": []}
    failed: dict[str, set[int]] = {"sandbox": set(), "plain": set()}
    for i in range(rounds):
        order = (("sandbox", sandboxed), ("plain", unsandboxed))
        for mode, fn in order if i % 2 == 0 else order[::-1]:
            secs, status, bad = fn(nb, settings)
            if status != "OK":
                sys.exit(f"{name}, {mode}: {status}")
            times[mode].append(secs)
            failed[mode].add(bad)
    s, p = statistics.median(times["sandbox"]), statistics.median(times["plain"])
    print(f"{name}: median {s:.2f} s in the sandbox, {p:.2f} s without, difference {s - p:+.2f} s "
          f"({rounds} alternating rounds)")
    for mode, values in times.items():
        print(f"  {mode}: " + ", ".join(f"{v:.2f}" for v in values) + f"  (cells in error: {sorted(failed[mode])})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7, help="start-up rounds, each way")
    p.add_argument("--lab", type=int, default=0, metavar="K", help="whole-lab --quick executions, each way")
    p.add_argument("--data", help="local data folder (needed by --lab)")
    args = p.parse_args()
    from mnistlab import devices
    from mnistlab.grade import execute

    print(f"cpu {devices.cpu().get('kind') or 'unknown'}, {os.cpu_count()} logical cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"sandbox: {execute.isolation()}")
    compare("empty notebook start-up", trivial(), execute.Settings(timeout_s=300, memory_mb=4096), args.rounds)
    if args.lab:
        if not args.data:
            sys.exit("--lab needs --data (the sandbox has no network)")
        settings = execute.Settings(timeout_s=3000, memory_mb=4096, data=args.data, quick=True)
        compare("whole lab, --quick", lab_notebook(args.data), settings, args.lab)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
