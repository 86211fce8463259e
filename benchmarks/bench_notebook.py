"""The hand-in's speed: `mnistlab notebook` against `mnistlab run` and against the same cells in a plain kernel.

Three ways of running the same steps with the same settings, in alternating rounds (the order rotates each
round, so slow phases of the host hit each way alike):

- ``notebook``: the `mnistlab notebook` command (the lab's own code, cell by cell, in the kernel with the
  start-up speed settings of mnistlab.notebook.speed);
- ``plain``: the same notebook's cells executed in a plain kernel (only the offline data loader installed),
  what running the notebook in Jupyter costs;
- ``run``: `mnistlab run`, the fast path.

Per step: the notebook's seconds are the sum of its cells' execution times (nbclient's timing metadata;
a cell belongs to the step whose name starts its block name: ``ex2.cnn.fit`` -> ``ex2.cnn``; the data
loading and plotting cells of no step count in ``other``), the run's those of its manifest. Per way, the whole
command's wall time too. The full length is the default; ``--set epochs=2 --set train_limit=12000`` and the
like shorten it. Writes ``benchmarks/results/bench_notebook_<date>_<kind>.json`` (``..._reduced.json`` when
settings were overridden) and prints a Markdown table for docs/SPEED.md with the CPU kind.

    python benchmarks/bench_notebook.py --data ../shared/datasets --rounds 3
    nice python benchmarks/bench_notebook.py --data ../shared/datasets --rounds 3 ex1 ex2.cnn ex2.augment \\
        --set epochs=1 --set train_limit=6000 --set test_limit=2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WAYS = ("notebook", "plain", "run")


def _cli(args: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "w") as out:
        subprocess.run([sys.executable, "-m", "mnistlab.cli", *args], check=True, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0


def cell_seconds(nb, steps: list[str]) -> dict[str, float]:
    """Seconds per step from the executed notebook's timing metadata (``other`` for cells of no step)."""
    out: dict[str, float] = {}
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            continue
        took = (dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
                - dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
        block = cell.metadata.get("mnistlab", {}).get("block", "")
        owner = max((s for s in steps if block == s or block.startswith(s + ".")), key=len, default="other")
        out[owner] = out.get(owner, 0.0) + took
    return out


def fit_cell_seconds(nb, steps: list[str]) -> dict[str, float]:
    """Seconds of each step's training cell (the plan's ``fit_cell``): what grows with the epochs."""
    from mnistlab.lab import plan

    cells = {b: s for b, s in plan.fit_cells().items() if s in steps}  # block -> step
    out = {}
    for cell in nb.cells:
        block = cell.get("metadata", {}).get("mnistlab", {}).get("block", "")
        timing = cell.get("metadata", {}).get("execution", {})
        if block in cells and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            out[cells[block]] = (dt.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
                                 - dt.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
                                 ).total_seconds()
    return out


def from_notebook(path: Path, steps: list[str], wall: float | None) -> dict:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return {"wall_seconds": wall, "steps": cell_seconds(nb, steps), "fit": fit_cell_seconds(nb, steps)}


def from_run(out: Path, steps: list[str], wall: float | None) -> dict:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    fit = {}
    for name in steps:
        metrics = out / name / "metrics.json"
        if metrics.is_file():
            f = json.loads(metrics.read_text(encoding="utf-8")).get("fit_seconds")
            fit[name] = sum(f.values()) if isinstance(f, dict) else f
    return {"wall_seconds": wall, "fit": {k: v for k, v in fit.items() if v is not None},
            "steps": {n: e["seconds"] for n, e in manifest["experiments"].items() if n in steps and "seconds" in e}}


def run_notebook(data: str, steps: list[str], sets: list[str], work: Path, tag: str) -> dict:
    out = work / tag
    wall = _cli(["notebook", *steps, "--data", data, "--out", str(out), *sets], work / f"{tag}.log")
    return from_notebook(next(out.glob("*.ipynb")), steps, wall)


def run_plain(data: str, steps: list[str], sets: list[str], work: Path, tag: str) -> dict:
    """The notebook written by `mnistlab notebook --no-execute`, executed in a plain kernel here."""
    import nbformat
    from nbclient import NotebookClient

    from mnistlab.notebook import kernel

    out = work / tag
    t0 = time.perf_counter()
    _cli(["notebook", *steps, "--data", data, "--out", str(out), "--no-execute", *sets], work / f"{tag}.log")
    path = next(out.glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    with kernel.manager(data, speed=False) as km:
        try:
            NotebookClient(nb, km=km, timeout=None, record_timing=True, allow_errors=False,
                           resources={"metadata": {"path": str(out)}}).execute()
        finally:  # nbclient leaves a kernel it did not create running
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    nbformat.write(nb, path)
    return from_notebook(path, steps, time.perf_counter() - t0)


def run_run(data: str, steps: list[str], sets: list[str], work: Path, tag: str) -> dict:
    out = work / tag
    wall = _cli(["run", *steps, "--data", data, "--out", str(out), *sets], work / f"{tag}.log")
    return from_run(out, steps, wall)


RUNNERS = {"notebook": run_notebook, "plain": run_plain, "run": run_run}


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def table(record: dict) -> str:
    """The Markdown table for docs/SPEED.md: per step, the medians of the rounds and the ratios to the run."""
    from machine import kind, label

    k = kind(record["hardware"])
    rounds = record["rounds"]
    names = [*record["steps"], "other", "all steps", "whole command"]

    names += [f"{s} (training cell)" for s in record["steps"] if any(s in r["run"].get("fit", {}) for r in rounds)]

    def per(way: str, name: str) -> list[float]:
        if name.endswith(" (training cell)"):
            step = name.removesuffix(" (training cell)")
            return [r[way]["fit"][step] for r in rounds if step in r[way].get("fit", {})]
        if name == "whole command":
            return [r[way]["wall_seconds"] for r in rounds if r[way].get("wall_seconds") is not None]
        if name == "all steps":  # the cells (or the run's steps) together: the work the three ways share
            return [sum(r[way]["steps"].values()) for r in rounds]
        return [r[way]["steps"][name] for r in rounds if name in r[way]["steps"]]

    def cell(xs: list[float]) -> str:
        return f"{median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})" if xs else "—"

    def ratio(a: list[float], b: list[float]) -> str:
        return f"{median(a) / median(b):.2f}x" if a and b and median(b) else "—"

    lines = ["| step | CPU | plain kernel s | `mnistlab notebook` s | `mnistlab run` s | notebook / run | "
             "plain / run | notebook / plain |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in names:
        p, n, r = per("plain", name), per("notebook", name), per("run", name)
        if not (p or n or r):
            continue
        bold = "**" if name == "all steps" else ""
        lines.append(f"| {bold}{name}{bold} | {k} | {cell(p)} | {cell(n)} | {cell(r)} | {bold}{ratio(n, r)}{bold} | "
                     f"{ratio(p, r)} | {ratio(n, p)} |")
    lines.append("")
    lines.append(f"Medians (min-max) of {len(rounds)} alternating rounds; settings: "
                 f"{' '.join(record['sets']) or 'the lab as it is'}. CPU {label(record['hardware'])}, "
                 f"{record['hardware'].get('logical_cores')} logical cores; {record['date'][:10]}. The 'other' row "
                 "is the data loading and plotting cells of no step (the run counts that work in its steps); a "
                 "'(training cell)' row is the step's fit cell against the run's fit time, the part that grows "
                 "with the epochs; 'all "
                 "steps' is every cell (the run: every step) and 'whole command' adds the kernel's start, the "
                 "captures, the report and the HTML export (the run: its report).")
    return "\n".join(lines)


def save(record: dict) -> Path:
    from machine import record_path

    path = record_path("bench_notebook", record["date"], record["hardware"])
    if record["sets"]:
        path = path.with_name(path.stem + "_reduced.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def rebuild(work: Path, args) -> int:
    """The record of the rounds whose three ways all finished in ``work``."""
    import re

    from mnistlab.backend import hardware, quiet, versions
    from mnistlab.lab import plan

    steps = [s for s in (args.steps or plan.step_names())]
    walls = {}
    if args.log:
        for m in re.finditer(r"round (\d+): (\w+) ([\d.]+) s", Path(args.log).read_text(encoding="utf-8")):
            walls[(m[2], int(m[1]))] = float(m[3])
    rounds = []
    for i in range(1, 100):
        nbs = {w: next((work / f"{w}-{i}").glob("*.ipynb"), None) for w in ("notebook", "plain")}
        run = work / f"run-{i}"
        if not all(nbs.values()) or not (run / "manifest.json").is_file() or ("plain", i) not in walls \
                and args.log:
            break
        rounds.append({"order": list(WAYS[(i - 1) % 3:] + WAYS[:(i - 1) % 3]),
                       "notebook": from_notebook(nbs["notebook"], steps, walls.get(("notebook", i))),
                       "plain": from_notebook(nbs["plain"], steps, walls.get(("plain", i))),
                       "run": from_run(run, steps, walls.get(("run", i)))})
    quiet()
    record = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "steps": steps, "sets": args.sets,
              "hardware": hardware(), "versions": versions(), "load_average": os.getloadavg(), "rounds": rounds,
              "rebuilt_from": str(work)}
    path = save(record)
    print(table(record))
    print(f"\nrecord: {path}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("steps", nargs="*", help="steps (default: the whole lab)")
    p.add_argument("--data", required=True, help="folder with mnist/ and fashion-mnist/")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3, at least 3 for a record)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="settings for all three ways, e.g. epochs=1, train_limit=6000 (default: the lab's)")
    p.add_argument("--work", help="folder for logs and outputs (default: a temporary folder, kept)")
    p.add_argument("--author", help="the name in the notebooks' and reports' title block (a hand-in to print)")
    p.add_argument("--group", help="the group in the title block")
    p.add_argument("--from-record", metavar="JSON", help="print the table of an existing record and stop")
    p.add_argument("--from-work", metavar="DIR", help="write the record of the complete rounds in a work folder "
                   "(an interrupted benchmark), with the wall times of the log given by --log")
    p.add_argument("--log", metavar="FILE", help="with --from-work: this benchmark's printed lines")
    args = p.parse_args()
    if args.from_record:
        print(table(json.loads(Path(args.from_record).read_text(encoding="utf-8"))))
        return 0
    if args.from_work:
        return rebuild(Path(args.from_work), args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mnistlab.lab import plan

    steps = [s for s in (args.steps or plan.step_names())]
    unknown = [s for s in steps if s not in plan.step_names()]
    if unknown:
        print(f"bench_notebook: unknown step(s) {', '.join(unknown)}; the lab's are {', '.join(plan.step_names())}",
              file=sys.stderr)
        return 2
    data = str(Path(args.data).resolve())
    work = Path(args.work or tempfile.mkdtemp(prefix="mnistlab-bench-notebook-"))
    work.mkdir(parents=True, exist_ok=True)
    sets = [x for s in args.sets for x in ("--set", s)]
    sets += [x for flag, v in (("--author", args.author), ("--group", args.group)) if v for x in (flag, v)]
    print(f"work folder: {work}", flush=True)
    rounds = []
    for i in range(args.rounds):
        order = WAYS[i % 3:] + WAYS[:i % 3]
        done = {}
        for way in order:
            print(f"round {i + 1}: {way} ...", flush=True)
            done[way] = RUNNERS[way](data, steps, sets, work, f"{way}-{i + 1}")
            print(f"round {i + 1}: {way} {done[way]['wall_seconds']:.1f} s", flush=True)
        rounds.append({"order": list(order), **done})

    from mnistlab.backend import hardware, quiet, versions

    quiet()
    record = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "steps": steps, "sets": args.sets,
              "hardware": hardware(), "versions": versions(), "load_average": os.getloadavg(), "rounds": rounds}
    path = save(record)
    print(table(record))
    print(f"\nrecord: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
