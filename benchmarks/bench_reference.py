"""Reference runs of the whole lab at its settings, one per seed, and the grading band file built from them.

    python benchmarks/bench_reference.py run --data ../shared/datasets --seeds 1-10,42 --root runs/ref   # long
    python benchmarks/bench_reference.py build runs/ref/seed* --out src/mnistlab/grade/reference_tp2.json
    python benchmarks/bench_reference.py build --reference runs/ref20 --out bands.json  # from run --seeds N
    python benchmarks/bench_reference.py build runs/avx2/*/seed* \
        --merge benchmarks/results/reference_tp2_avx512-bf16.json     # pool with another CPU kind's band file

``run`` makes one ``mnistlab run --set seed=S --out ROOT/seedS`` per seed (a fresh process each; a finished
one has ``.done``, so a re-run skips it); ``--workers N``/``--cluster ADDR`` are passed to ``mnistlab run``.
``build`` reads finished run folders (those with ``metrics.json``), computes per step, metric and CPU kind the
summary over the seeds and the pooled 99 % prediction interval (:mod:`mnistlab.grade.bands`), pools them with
the band files given to ``--merge`` (other CPU kinds, whose runs are elsewhere), writes the band file, and a
record of it (the runs, their seconds, versions, CPU kinds, n per step) under ``benchmarks/results/``.
Nothing is typed in: every value comes from the runs' own files or the merged band files.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


HEADLINE = ("test_accuracy", "test_loss", "val_accuracy.relu", "val_accuracy.leaky_relu")


def seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def run(args) -> None:
    root = Path(args.root)
    for s in seeds(args.seeds):
        folder = root / f"seed{s}"
        if (folder / ".done").exists():
            continue
        cmd = [sys.executable, "-m", "mnistlab.cli", "run", "--set", f"seed={s}", "--out", str(folder)]
        if args.data:
            cmd += ["--data", args.data]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        if args.cluster:
            cmd += ["--cluster", args.cluster]
        start = time.monotonic()
        rc = subprocess.call(cmd, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        print(f"seed {s} rc={rc} {time.monotonic() - start:.0f} s", flush=True)
        if rc == 0:
            (folder / ".done").touch()


def build(args) -> None:
    from mnistlab.grade import bands

    dirs = [Path(d) for d in args.runs]
    if args.reference:
        dirs.append(Path(args.reference))
    finished = [d for d in dirs if (d / "manifest.json").is_file() and (args.reference or (d / ".done").exists()
                                                                        or not args.require_done)]
    if not finished and not args.merge:
        sys.exit("bench_reference: no finished run folder given")
    parts = [bands.build(finished)] if finished else []
    parts += [bands.load(Path(m)) for m in args.merge]
    merged = bands.merge(*parts)
    runs = {k: g["n_runs"] for k, g in merged["runs_by_cpu_kind"].items()}
    note = args.note or ("reference runs of the lab at its settings, by CPU kind: "
                         + ", ".join(f"{k} {n}" for k, n in runs.items()))
    data = bands.merge(*parts, note=note)
    bands.write(Path(args.out), data)
    record = {"built": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "command": " ".join(sys.argv), "runs": [], "band_file": str(args.out), "merged": args.merge,
              "n_runs": data["n_runs"], "runs_by_cpu_kind": data["runs_by_cpu_kind"], "versions": data["versions"],
              "hardware": data["hardware"], "method": data["method"], "note": note,
              "headline": {step: {m: {k: round(v[k], 4) if isinstance(v[k], float) else v[k]
                                      for k in ("n", "mean", "sd", "lo", "hi") if k in v}
                                  for m, v in metrics.items()
                                  if m in HEADLINE}
                           for step, metrics in data["bands"].items()}}
    for d in finished:
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        record["runs"].append({"dir": str(d), "seed": m.get("seed"), "status": m.get("status"),
                               "cpu_kind": (m.get("hardware") or {}).get("cpu_kind"),
                               "seconds": {k: v.get("seconds") for k, v in (m.get("experiments") or {}).items()}})
    kind = data["hardware"]["cpu_kind"] or "unknown"
    path = ROOT / "benchmarks" / "results" / f"bench_reference_{datetime.date.today()}_{kind}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {data['n_runs']} runs ({', '.join(f'{k} {n}' for k, n in runs.items())}); "
          f"record {path.relative_to(ROOT)}")
    for step, h in record["headline"].items():
        for metric, v in h.items():
            if "lo" in v:
                print(f"  {step:16s} {metric:24s} n {v['n']:3d}  mean {v['mean']:.4f}  sd {v['sd']:.4f}  "
                      f"99 % PI [{v['lo']:.4f}, {v['hi']:.4f}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="make the reference runs, one mnistlab run per seed")
    r.add_argument("--seeds", default="1-10,42")
    r.add_argument("--root", default="runs/reference")
    r.add_argument("--data", help="local data folder (as mnistlab run --data)")
    r.add_argument("--workers", type=int)
    r.add_argument("--cluster")
    b = sub.add_parser("build", help="build the band file from finished run folders")
    b.add_argument("runs", nargs="*", help="run folders, one per seed")
    b.add_argument("--reference", help="a run folder of mnistlab run --seeds N")
    b.add_argument("--out", default=str(ROOT / "src" / "mnistlab" / "grade" / "reference_tp2.json"))
    b.add_argument("--merge", action="append", default=[], metavar="BAND_FILE",
                   help="pool with this band file's CPU kinds (repeat)")
    b.add_argument("--require-done", action="store_true", help="only folders with a .done file")
    b.add_argument("--note", default="")
    args = p.parse_args()
    (run if args.cmd == "run" else build)(args)


if __name__ == "__main__":
    main()
