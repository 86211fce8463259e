"""Reference runs of the whole lab at its settings, one per seed, and the grading band file built from them.

    python benchmarks/bench_reference.py run --data ../shared/datasets --seeds 1-10,42 --root runs/ref   # long
    python benchmarks/bench_reference.py build runs/ref/seed* --out src/mnistlab/grade/reference_tp2.json
    python benchmarks/bench_reference.py build --reference runs/ref20 --out bands.json  # from run --seeds N
    python benchmarks/bench_reference.py build runs/avx2/*/seed* \
        --merge benchmarks/results/reference_tp2_avx512-bf16.json     # pool with another CPU kind's band file
    python benchmarks/bench_reference.py build --lab-code labcode/dense-*.json \
        --merge src/mnistlab/grade/reference_tp2.json                 # add runs of the lab's own cells
    python benchmarks/bench_reference.py tables src/mnistlab/grade/reference_tp2.json    # GRADING's tables

``run`` makes one ``mnistlab run --set seed=S --out ROOT/seedS`` per seed (a fresh process each; a finished
one has ``.done``, so a re-run skips it); ``--workers N``/``--cluster ADDR`` are passed to ``mnistlab run``.
``build`` reads finished run folders (those with ``metrics.json``), computes per step, metric and CPU kind the
summary over the seeds and the pooled 99 % prediction interval (:mod:`mnistlab.grade.bands`), pools them with
the band files given to ``--merge`` (other CPU kinds, whose runs are elsewhere) and with results of the lab's
own cells (``--lab-code``: files of ``lab_literal.py``, each CPU kind's group ``<kind>/lab-code``), writes the
band file, and a record of it (the runs, their seconds, versions, CPU kinds, n per step) under
``benchmarks/results/``. ``tables`` prints GRADING.md's tables from a band file: the bands, each pair of groups
compared (Welch, :func:`mnistlab.judge.compare.seeds`), and a leave-one-out check of the rate.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

import lab_literal  # noqa: E402 - the one reader of its result files

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
    lab_code = []
    for path in args.lab_code:
        try:
            lab_code.append(lab_literal.read(path))
        except (OSError, ValueError) as e:
            sys.exit(f"bench_reference: {e}")
    if not finished and not lab_code and not args.merge:
        sys.exit("bench_reference: no finished run folder given")
    parts = [bands.build(finished, lab_code=lab_code)] if finished or lab_code else []
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
    for path, r in zip(args.lab_code, lab_code, strict=True):
        record["runs"].append({"file": str(path), "seed": r["seed"], "cpu_kind": r["hardware"].get("cpu_kind"),
                               "lab_code": True,
                               "seconds": {k: v.get("seconds") for k, v in r["experiments"].items()}})
    kind = "+".join(data["hardware"].get("groups") or [data["hardware"]["cpu_kind"] or "unknown"]).replace("/", "-")
    path = Path(args.record_dir) / f"bench_reference_{datetime.date.today()}_{kind}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.out}: {data['n_runs']} runs ({', '.join(f'{k} {n}' for k, n in runs.items())}); "
          f"record {path}")
    for step, h in record["headline"].items():
        for metric, v in h.items():
            if "lo" in v:
                print(f"  {step:16s} {metric:24s} n {v['n']:3d}  mean {v['mean']:.4f}  sd {v['sd']:.4f}  "
                      f"99 % PI [{v['lo']:.4f}, {v['hi']:.4f}]")


ROWS = (("ex1", "test_accuracy"), ("ex2.ann", "test_accuracy"), ("ex2.ann", "final_val_accuracy"),
        ("ex2.activations", "val_accuracy.relu"), ("ex2.activations", "val_accuracy.leaky_relu"),
        ("ex2.cnn", "test_accuracy"), ("ex2.augment", "test_accuracy"))


def tables(args) -> None:
    """GRADING.md's tables from a band file: the bands by group, the groups compared, leave-one-out."""
    import itertools

    from mnistlab.grade import bands
    from mnistlab.judge.compare import seeds_from_stats as welch

    try:
        data = bands.load(Path(args.band_file))
    except Exception as e:  # noqa: BLE001 - one line, whatever the file holds
        sys.exit(f"bench_reference: {args.band_file}: {e}")
    rate = bands.rate(data)
    rows = [(s, m) for s, m in ROWS if bands.band(data, s, m)]
    groups = list(data["runs_by_cpu_kind"])
    print(f"| step | metric | n ({' + '.join(groups)}) | mean | SD | {100 * (1 - rate):g} % band [lo, hi] |")
    print("|---|---|---|---|---|---|")
    for step, metric in rows:
        b = bands.band(data, step, metric)
        ns = " + ".join(str((b["by_cpu_kind"].get(g) or {}).get("n", 0)) for g in groups)
        print(f"| {step} | {metric} | {b['n']} ({ns}) | {b['mean']:.4f} | {b['sd']:.4f} | "
              f"{b['lo']:.4f} – {b['hi']:.4f} |")
    print()
    print("| step | metric | group A: n, mean ± SD | group B: n, mean ± SD | A - B ± 2 SE (Welch p) | verdict |")
    print("|---|---|---|---|---|---|")
    for step, metric in rows:
        parts = bands.band(data, step, metric)["by_cpu_kind"]
        for ga, gb in itertools.combinations([g for g in groups if (parts.get(g) or {}).get("n", 0) > 1], 2):
            a, b = parts[ga], parts[gb]
            w = welch(a["mean"], a["sd"], a["n"], b["mean"], b["sd"], b["n"])
            verdict = "measurable difference" if w.finding else "no measurable difference"
            p = f"{w.p:.2f}" if w.p is not None else "-"
            print(f"| {step} | {metric} | {ga}: {w.n_a}, {w.mean_a:.4f} ± {w.sd_a:.4f} | {gb}: {w.n_b}, "
                  f"{w.mean_b:.4f} ± {w.sd_b:.4f} | {w.diff.value:+.4f} ± {2 * w.diff.se:.4f} (p = {p}) | {verdict} |")
    print()
    # Leave-one-out: each run whose value is kept, against the band of all the other runs (a group whose values
    # are not kept enters by its n, mean and SD); then each such group against the band of the other groups only
    # (a student of that kind graded by bands that never saw one).
    for title, alone in (("each run against the band of the other runs", None),
                         *((f"{g} against the band of the other groups only", g) for g in groups)):
        out, total, misses = 0, 0, []
        for step, metric in rows:
            parts = bands.band(data, step, metric)["by_cpu_kind"]
            for g, part in parts.items():
                kept = part.get("values") or []
                if (alone is not None and g != alone) or len(kept) != part.get("n"):
                    continue
                for i, v in enumerate(kept):
                    rest = [x for j, x in enumerate(kept) if j != i] if alone is None else []
                    others = [bands.summarise(rest)] if rest else []
                    others += [q for h, q in parts.items() if h != g and q.get("n")]
                    if sum(int(q["n"]) for q in others) < 2:
                        continue
                    pooled = bands.pool(others)
                    edges = bands.interval(pooled["mean"], pooled["sd"], pooled["n"], rate)
                    if not edges:
                        continue
                    total += 1
                    if not edges[0] <= v <= edges[1]:
                        out += 1
                        misses.append(f"{step} {metric} {g} {v:.4f} outside [{edges[0]:.4f}, {edges[1]:.4f}]")
        if total:
            print(f"leave-one-out, {title}: {out} of {total} outside ({100 * out / total:.1f} %, rate "
                  f"{100 * rate:g} %){': ' + '; '.join(misses) if misses else ''}")


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
    b.add_argument("--record-dir", default=str(ROOT / "benchmarks" / "results"), help="where the record goes")
    b.add_argument("--lab-code", nargs="+", default=[], metavar="RESULT",
                   help="results of benchmarks/lab_literal.py (the lab's own cells), one per seed")
    t = sub.add_parser("tables", help="print GRADING.md's band tables from a band file")
    t.add_argument("band_file")
    args = p.parse_args()
    {"run": run, "build": build, "tables": tables}[args.cmd](args)


if __name__ == "__main__":
    main()
