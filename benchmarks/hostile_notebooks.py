"""Hostile submissions against ``mnistlab grade`` (no ``--execute``): wall time, peak memory and statuses.

    python benchmarks/hostile_notebooks.py [--only NAME ...] [--timeout 300] [--src DIR]

Each case is a class folder (or zip) generated in a temporary folder, then graded by ``mnistlab grade`` in a
child process run under ``/usr/bin/time -v``; the line printed per case gives the child's return code, its
wall seconds, its peak RSS (``Maximum resident set size``, the whole process: Python, TensorFlow-free imports
and the grading) and the statuses it wrote to grades.csv (or the last line it printed). A case still running
at ``--timeout`` seconds or past ``--max-mib`` MiB (the machine is shared) is killed with its process group
and shown as such, with the peak RSS it had reached. ``--src`` grades with another checkout's ``src`` folder
(to measure before and after a change on the same machine).

``--checks`` times the duplicate-cell-id check and the lab parser alone (the cell cap lifted) on 20,000,
40,000 and 1,000,000 cells.

The cases: a 24 MB notebook whose one cell is ``x=[1,1,...]``; the same size as 24 MB of Markdown and as
24 MB of printed text; notebooks of 20,000, 40,000 and 1,000,000 cells (unique ids, the last one repeated);
four 44 MB zip members of a million lines each; 1.99 million one-character strings; a notebook printing
``x_train shape: (6`` and 400 zeros; 260 students with Cyrillic
names. The generators are also used by the tests (tests/test_grade_bounds.py), at tiny sizes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def notebook(cells: list[dict]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def code(src: str, outputs: list | None = None, cid: str | None = None, count: int | None = 1) -> dict:
    cell = {"cell_type": "code", "metadata": {}, "source": src, "outputs": outputs or [], "execution_count": count}
    if cid is not None:
        cell["id"] = cid
    return cell


def markdown(src: str, cid: str | None = None) -> dict:
    cell = {"cell_type": "markdown", "metadata": {}, "source": src}
    if cid is not None:
        cell["id"] = cid
    return cell


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def big_literal(megabytes: float) -> dict:
    """One code cell ``x=[1,1,...]`` of about ``megabytes`` MB."""
    n = int(megabytes * 1e6 / 2)
    return notebook([code("x=[" + ",".join(["1"] * n) + "]")])


def big_markdown(megabytes: float) -> dict:
    """An analysis heading followed by ``megabytes`` MB of distinct words (every 5-word shingle is new)."""
    n = int(megabytes * 1e6 / 8)
    return notebook([markdown("### Analyse personnelle\n\n" + " ".join(f"w{i:06d}" for i in range(n)))])


def big_output(megabytes: float) -> dict:
    """One code cell that printed ``megabytes`` MB of Keras-like lines."""
    line = "1875/1875 - 3s - 2ms/step - accuracy: 0.9751 - loss: 0.0823\n"
    return notebook([code("print(x)", [stream(line * int(megabytes * 1e6 / len(line)))])])


def many_cells(n: int) -> dict:
    """``n`` tiny code cells with their own ids, the last two sharing one (so every id is compared)."""
    cells = [{"cell_type": "code", "id": f"c{i:x}", "source": "1"} for i in range(n)]
    cells[-1]["id"] = cells[-2]["id"]
    return notebook(cells)


def many_lines(megabytes: float, seed: int = 0) -> dict:
    """One code cell whose source is a list of distinct short lines (``x = 0.8147236863931789``): about
    ``megabytes`` MB of JSON, over a million strings once parsed, and not a zip bomb (random digits)."""
    import random

    rng = random.Random(seed)
    lines = [f"x = {rng.random()!r}\n" for _ in range(int(megabytes * 1e6 / 26))]
    return notebook([code(lines)])


def many_strings(megabytes: float) -> dict:
    """The most JSON values a notebook may hold under the caps: a list of one-character strings as one
    cell's source (each a separate object once parsed)."""
    n = min(int(megabytes * 1e6 / 4), 1_990_000)
    return notebook([code([chr(0x4E00 + i % 20000) for i in range(n)])])


def huge_n_train(zeros: int = 400) -> dict:
    """Prints ``x_train shape: (6000...0, 28, 28)`` and answers the n_train question with that number."""
    from mnistlab.grade import lab

    q = next(q for q in lab.questions() if q.key == "ex1.2.3")  # the n_train fact
    n = "6" + "0" * zeros
    return notebook([code("print('x_train shape:', x_train.shape)", [stream(f"x_train shape: ({n}, 28, 28)\n")]),
                     markdown(f"**Question** : {q.text}"),
                     markdown(f"**Réponse** : il y a {n} images d'entraînement, soit 1e999 ou 1 000 000 000 000")])


def cyrillic_class(folder: Path, n: int = 260) -> None:
    """``n`` students whose names hold no Latin letter (each a small valid notebook)."""
    first = ["Александр", "Екатерина", "Дмитрий", "Анастасия", "Владимир", "Ольга", "Сергей", "Татьяна"]
    for i in range(n):
        name = f"{first[i % len(first)]} Константинопольский-{chr(0x0410 + i // 32)}{chr(0x0430 + i % 32)}"
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook([code("x = 1")])), encoding="utf-8")


def _dumps(nb: dict) -> str:
    return json.dumps(nb, separators=(",", ":"), ensure_ascii=False)


def write(folder: Path, name: str, nb: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(_dumps(nb), encoding="utf-8")


def zip_of_big_members(path: Path, count: int = 4, megabytes: float = 44) -> None:
    """``count`` members of ``megabytes`` MB each: valid notebooks of a million lines (under the 50 MB cap)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            zf.writestr(f"Student {i}_{100 + i}_assignsubmission_file_/TP2.ipynb", _dumps(many_lines(megabytes, i)))


def cases() -> dict:
    """name -> a function filling a temporary folder and returning the source to grade."""
    def one(nb_fn, *a):
        def make(tmp: Path) -> Path:
            write(tmp / "class", "Student.ipynb", nb_fn(*a))
            return tmp / "class"
        return make

    def cyr(tmp: Path) -> Path:
        (tmp / "class").mkdir()
        cyrillic_class(tmp / "class")
        return tmp / "class"

    def bigzip(tmp: Path) -> Path:
        zip_of_big_members(tmp / "all.zip")
        return tmp / "all.zip"

    return {"24 MB cell x=[1,1,...]": one(big_literal, 24), "24 MB of Markdown": one(big_markdown, 24),
            "24 MB of printed text": one(big_output, 24), "20,000 cells": one(many_cells, 20_000),
            "40,000 cells": one(many_cells, 40_000), "1,000,000 cells": one(many_cells, 1_000_000),
            "4 zip members of 44 MB": bigzip, "1.99 M one-character strings": one(many_strings, 49),
            "x_train shape: (6 + 400 zeros": one(huge_n_train),
            "260 Cyrillic names": cyr}


def _descendants_hwm_kib(pid: int) -> int:
    """The largest peak RSS (VmHWM) among ``pid``'s children (the grader under /usr/bin/time)."""
    best = 0
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    for kid in kids:
        try:
            status = Path(f"/proc/{kid}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmHWM:\s+(\d+)", status)
        best = max(best, int(m[1]) if m else 0, _descendants_hwm_kib(int(kid)))
    return best


def run(source: Path, out: Path, src: Path, timeout: float, max_mib: float) -> dict:
    """Grade ``source`` in a child under /usr/bin/time -v; killed (its whole process group) past ``timeout``
    seconds or ``max_mib`` MiB of RSS, so that a runaway case never takes the machine's memory."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-c", "import sys; from mnistlab.cli import main; "
           "sys.exit(main())", "grade", str(source), "--out", str(out)]
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as errf:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, text=True, env=env,
                                 start_new_session=True)
        peak, killed = 0, ""
        while child.poll() is None:
            peak = max(peak, _descendants_hwm_kib(child.pid))
            elapsed = time.monotonic() - start
            if elapsed > timeout or peak / 1024 > max_mib:
                killed = (f"killed: still running at {elapsed:.0f} s" if elapsed > timeout else
                          f"killed: over {max_mib:g} MiB after {elapsed:.0f} s")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            time.sleep(0.2)
        errf.seek(0)
        err = errf.read()
    if killed:
        return {"rc": "killed", "wall": time.monotonic() - start, "peak_mib": peak / 1024, "says": killed}
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
    secs = (int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])) if wall else float("nan")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("\t")
             and "Command exited" not in ln]
    says = lines[-1] if lines else ""
    grades = out / "grades.csv"
    if grades.is_file():
        with grades.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r.get("status", "?")] = statuses.get(r.get("status", "?"), 0) + 1
        reason = next((r.get("reason", "") for r in rows if r.get("reason")), "")
        says = f"{statuses} {reason}".strip()
    return {"rc": child.returncode, "wall": secs, "peak_mib": int(rss[1]) / 1024 if rss else float("nan"),
            "says": says}


CHECK = r"""
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import hostile_notebooks as hn
from mnistlab.grade import parse, submissions
submissions.MAX_CELLS = submissions.MAX_JSON_VALUES = 10**9  # the caps lifted: the checks themselves are timed
n, what = int(sys.argv[3]), sys.argv[4]
nb = hn.many_cells(n)
if what == "parse":
    nb["cells"][0]["source"] = "model = Sequential([Dense(10)])"  # every later cell's outputs go to its step
    nb["cells"][-1]["id"] = "last"
data = json.dumps(nb, separators=(",", ":")).encode()  # 1,000,000 cells in 44 MB, under the 50 MB cap
t = time.perf_counter()
sub = submissions.parse(submissions.Submission("x", "x.ipynb"), data)
if what == "parse":
    parse.read(sub.nb)
print(json.dumps({"seconds": time.perf_counter() - t, "status": sub.status}))
"""


def check_times(src: Path, timeout: float, only: list[str] | None = None) -> None:
    """Seconds of the duplicate-cell-id check (submissions.parse) and of the lab parser (parse.read) alone."""
    print(f"{'check':<32} {'cells':>9} {'seconds':>8}  status")
    for what, sizes in (("ids", (20_000, 40_000, 1_000_000)), ("parse", (20_000, 40_000))):
        for n in sizes:
            if only and not any(w in f"{what} {n}" for w in only):
                continue
            try:
                done = subprocess.run([sys.executable, "-c", CHECK, str(src), str(ROOT / "benchmarks"), str(n), what],
                                      capture_output=True, text=True, timeout=timeout)
                r = json.loads(done.stdout) if done.returncode == 0 else {"seconds": float("nan"),
                                                                          "status": done.stderr[-150:]}
            except subprocess.TimeoutExpired:
                r = {"seconds": timeout, "status": f"killed: still running at {timeout:g} s"}
            name = "duplicate ids (submissions)" if what == "ids" else "lab parser (parse.read)"
            print(f"{name:<32} {n:>9,} {r['seconds']:>8.1f}  {r['status']}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="run the cases whose name contains one of these words")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a case is killed")
    p.add_argument("--max-mib", type=float, default=6000.0, help="MiB of RSS at which a case is killed")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder to grade with")
    p.add_argument("--checks", action="store_true", help="time the per-notebook checks alone on many cells")
    args = p.parse_args()
    if args.checks:
        check_times(args.src, args.timeout, args.only)
        return 0
    sys.path.insert(0, str(args.src))
    print(f"grading with {args.src}")
    print(f"{'case':<32} {'rc':>6} {'wall s':>8} {'peak MiB':>9}  statuses / last line")
    for name, make in cases().items():
        if args.only and not any(w in name for w in args.only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            source = make(Path(tmp))
            r = run(source, Path(tmp) / "out", args.src, args.timeout, args.max_mib)
        print(f"{name:<32} {r['rc']!s:>6} {r['wall']:>8.1f} {r['peak_mib']:>9.0f}  {r['says'][:150]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
