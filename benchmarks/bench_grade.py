"""Time per submission of ``mnistlab grade`` on a class of N notebooks, without and with ``--execute``.

    python benchmarks/bench_grade.py --n 100                                   # grading only (seconds)
    python benchmarks/bench_grade.py --n 100 --corpus                          # the hand-written corpus
    python benchmarks/bench_grade.py --n 100 --execute 100 --data ../shared/datasets --workers 2   # long

With ``--corpus``: N notebooks drawn in turn from the hand-written corpus (``tests/grade_corpus``, every set),
each under its own student name, graded against the shipped bands.
Without it: N hand-made lab notebooks with outputs (``tests/grade_cohort.py``, each with its own
numbers and words) graded from a folder. With ``--execute K``: K notebooks written by ``mnistlab notebook
--no-execute`` at tiny settings (1 epoch, 600 training and 200 test images per data set, local data), each
made distinct by its author's name (so the cache does not hide the work), graded with ``--execute``. Prints
the wall time and the time per submission of each mode, with the CPU kind.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
TINY = {"epochs": 1, "train_limit": 600, "test_limit": 200}


def cpu_kind() -> str:
    from mnistlab import devices

    return devices.cpu().get("kind") or platform.processor() or "unknown"


def class_folder(folder: Path, n: int) -> None:
    import grade_cohort as gc

    for i in range(n):
        nb = gc.lab_notebook(f"Student {i:03d}", seed=i, epochs=5 if i % 7 else 6)
        (folder / f"Student {i:03d}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def corpus_folder(folder: Path, n: int) -> int:
    """N notebooks drawn in turn from the hand-written corpus, each under its own name; returns how many exist."""
    import shutil

    found = sorted((ROOT / "tests" / "grade_corpus").rglob("submission.ipynb"))
    for i in range(n):
        shutil.copyfile(found[i % len(found)], folder / f"Student {i:03d}.ipynb")
    return len(found)


def executable_folder(folder: Path, k: int, data: str) -> None:
    from mnistlab import notebook

    for i in range(k):
        w = notebook.make(None, dict(TINY), data_dir=data, out=folder / f"tmp{i}", execute=False,
                          author=f"Student {i:03d}")
        w.notebook.rename(folder / f"Student {i:03d}.ipynb")
        for extra in (folder / f"tmp{i}").iterdir():
            extra.unlink()
        (folder / f"tmp{i}").rmdir()


def timed(source: Path, out: Path, opts) -> tuple[float, list[dict]]:
    import io

    from mnistlab.grade import grade

    start = time.monotonic()
    entries = grade(source, out, opts, stream=io.StringIO())
    return time.monotonic() - start, entries


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100, help="submissions graded without --execute")
    p.add_argument("--execute", type=int, default=0, metavar="K", help="submissions graded with --execute")
    p.add_argument("--data", help="local data folder for the executed notebooks")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--corpus", action="store_true", help="draw the N notebooks from the hand-written corpus")
    args = p.parse_args()
    import grade_cohort as gc

    from mnistlab.grade import Options

    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        tmp = Path(tmp)
        (tmp / "class").mkdir()
        if args.corpus:
            what = f"drawn from the {corpus_folder(tmp / 'class', args.n)} hand-written corpus notebooks"
            opts = Options()
        else:
            class_folder(tmp / "class", args.n)
            gc.bands_file(tmp / "bands.json")
            what, opts = "made by tests/grade_cohort.py", Options(reference=str(tmp / "bands.json"))
        secs, entries = timed(tmp / "class", tmp / "out", opts)
        ok = sum(e["status"] == "OK" for e in entries)
        print(f"cpu {cpu_kind()}; grading {args.n} submissions ({what}) without --execute: {secs:.2f} s, "
              f"{secs / args.n * 1000:.0f} ms per submission ({ok} OK)")
        if args.execute:
            if not args.data:
                sys.exit("--execute needs --data (the notebooks read local IDX files; the sandbox has no network)")
            (tmp / "exec").mkdir()
            executable_folder(tmp / "exec", args.execute, args.data)
            opts = Options(execute=True, workers=args.workers, timeout_s=600, memory_mb=4096, data=args.data)
            secs, entries = timed(tmp / "exec", tmp / "out_exec", opts)
            status = {s: sum(e["status"] == s for e in entries) for s in {e["status"] for e in entries}}
            print(f"cpu {cpu_kind()}; grading {args.execute} submissions with --execute --workers {args.workers} "
                  f"(1 epoch, 600/200 images): {secs:.1f} s, {secs / args.execute:.1f} s per submission {status}")
            secs2, _ = timed(tmp / "exec", tmp / "out_exec", opts)
            print(f"  the same again (cached by digest): {secs2:.2f} s, {secs2 / args.execute * 1000:.0f} ms per "
                  "submission")


if __name__ == "__main__":
    main()
