"""Time to accuracy of the `improved` models: test accuracy, training time, and when validation got there.

    python benchmarks/bench_improved.py --data ../shared/datasets                # about 17 min on 2 cores
    python benchmarks/bench_improved.py --from-runs RUN_DIR [RUN_DIR ...] --readme  # tables of runs made
    python benchmarks/bench_improved.py --data ../shared/datasets --seeds 3 --only improved.mnist \
        --onednn-max-isa AVX2                       # an AVX-512 machine with oneDNN limited to AVX2

Each seed runs `mnistlab run improved --set seed=S` in a fresh process. The models validate on the last 10%
of the training set and touch the test set once, at the end; the goal (MNIST 0.995, Fashion-MNIST
0.935) is judged on that test accuracy. The table also gives the training time (`fit`, all epochs) and the
first epoch whose validation accuracy reached the goal, with the training time up to it, and the CPU kind
(avx2, avx512-bf16, ...) beside every figure: the precision `auto` picks, and so the time, depends on it.
Everything goes to a JSON record in benchmarks/results/, one per date and CPU kind
(bench_improved_<date>_<kind>.json); --readme rewrites that kind's README table only.

    python benchmarks/bench_improved.py --from-record benchmarks/results/bench_improved_<date>_<kind>.json
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
GOALS = {"improved.mnist": 0.995, "improved.fashion_mnist": 0.935}
# Training-time goals on a 2-core AVX2 CPU, seconds of `fit`: the table says whether each run met them.
TIME_GOALS = {"improved.mnist": 240.0, "improved.fashion_mnist": 900.0}


def measure(run_dir: Path, name: str) -> dict | None:
    """One experiment's numbers from its folder in ``run_dir``, or None if the run does not hold it."""
    folder = run_dir / name
    if not (folder / "metrics.json").is_file():
        return None
    m = json.loads((folder / "metrics.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    with open(folder / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    goal, elapsed, reached = GOALS[name], 0.0, None
    epoch_seconds = [float(row["seconds"]) for row in rows]
    for row in rows:
        elapsed += float(row["seconds"])
        if reached is None and float(row["val_accuracy"]) >= goal:
            reached = {"epoch": int(row["epoch"]), "seconds": elapsed}
    # the precision it ran in (metrics.json, since precision = "auto"), else the one it asked for
    return {"experiment": name, "seed": cfg["seed"], "precision": m.get("precision", cfg.get("precision", "float32")),
            "epochs": len(rows), "goal": goal, "test_accuracy": m["test_accuracy"],
            "final_val_accuracy": m.get("final_val_accuracy"), "best_val_accuracy": m.get("best_val_accuracy"),
            "final_train_accuracy": m.get("final_accuracy"), "fit_seconds": m["fit_seconds"],
            "epoch_seconds": epoch_seconds, "median_epoch_seconds": statistics.median(epoch_seconds),
            "params": m.get("params"), "val_goal_reached": reached, "test_goal_met": m["test_accuracy"] >= goal,
            "time_goal_seconds": TIME_GOALS[name], "time_goal_met": m["fit_seconds"] <= TIME_GOALS[name],
            "test_time_flip": bool(m.get("test_time_flip")),
            "test_accuracy_single_view": m.get("test_accuracy_single_view", m["test_accuracy"]),
            "recipe": recipe(cfg), "run_dir": str(run_dir)}


def recipe(cfg: dict) -> str:
    """The settings that tell one improved recipe from another, in a few words for the tables."""
    if "conv_filters" not in cfg:
        return ""
    convs = cfg.get("convs_per_block", [2])
    convs = convs if isinstance(convs, list) else [convs]
    words = [f"{cfg.get('conv_filters')} x {convs[0] if len(convs) == 1 else convs} convs",
             f"batch {cfg.get('batch_size')}", f"{cfg.get('lr_schedule')} {cfg.get('learning_rate')}"]
    if cfg.get("label_smoothing"):
        words.append(f"label smoothing {cfg['label_smoothing']}")
    if cfg.get("cutout"):
        words.append(f"cutout {cfg['cutout']}")
    return ", ".join(words)


def summary(results: list[dict]) -> list[dict]:
    """Per experiment and settings: the seeds, mean and standard deviation of the test accuracy, how many
    seeds met the goal, and the training time at the median epoch time (the machine's quiet pace)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        key = (r["experiment"], r["epochs"], r["params"], r["precision"], r.get("test_time_flip", False),
               r.get("recipe", ""))
        groups.setdefault(key, []).append(r)
    out = []
    for (name, epochs, params, precision, flip, recipe), rs in groups.items():
        acc = [r["test_accuracy"] for r in rs]
        median_epoch = statistics.median(s for r in rs for s in r.get("epoch_seconds") or [r["fit_seconds"] / epochs])
        single = [r.get("test_accuracy_single_view", r["test_accuracy"]) for r in rs]
        out.append({"experiment": name, "epochs": epochs, "params": params, "precision": precision,
                    "test_time_flip": flip, "mean_test_accuracy_single_view": statistics.fmean(single),
                    "recipe": recipe, "time_goal_met": sum(bool(r.get("time_goal_met")) for r in rs),
                    "seeds": [r["seed"] for r in rs], "goal": rs[0]["goal"],
                    "mean_test_accuracy": statistics.fmean(acc),
                    "sd_test_accuracy": statistics.stdev(acc) if len(acc) > 1 else None,
                    "min_test_accuracy": min(acc), "goal_met": sum(r["test_goal_met"] for r in rs),
                    "median_epoch_seconds": median_epoch, "quiet_fit_seconds": median_epoch * epochs,
                    "mean_fit_seconds": statistics.fmean(r["fit_seconds"] for r in rs)})
    return out


def rescore(result: dict, data_dir: str) -> dict:
    """Test-time mirroring for a run made before ``test_time_flip``: load its ``model.keras``, predict the test
    and validation images and their mirrors, and give the run the numbers ``mnistlab run`` now writes
    (training is the same: the flag changes only the evaluation). The single-view test accuracy must match
    the run's own ``metrics.json``."""
    import numpy as np

    from mnistlab import config
    from mnistlab.data import sources
    from mnistlab.data.pipeline import prepare
    from mnistlab.fileio import load_model
    from mnistlab.train import mirror_average, probability_scores

    folder = Path(result["run_dir"]) / result["experiment"]
    cfg = json.loads((folder / "config.json").read_text())
    exp = config.Experiment(**{k: v for k, v in cfg.items() if k in config.Experiment.__dataclass_fields__})
    data = prepare(sources.load(exp.dataset, data_dir), exp)
    model = load_model(folder / "model.keras")
    val_labels = data.y_val.argmax(axis=1) if data.y_val.ndim == 2 else data.y_val
    out = dict(result)
    for split, x, labels in (("test", data.x_test, data.labels_test), ("val", data.x_val, val_labels)):
        single = np.asarray(model.predict(x, batch_size=1000, verbose=0), np.float64)
        out[f"{split}_accuracy_single_view"] = probability_scores(single, labels)[0]
        out[f"{split}_accuracy_mirror"] = probability_scores(mirror_average(model, x, single), labels)[0]
    if abs(out["test_accuracy_single_view"] - result["test_accuracy"]) > 1e-4:
        raise SystemExit(f"{folder}: single-view test accuracy {out['test_accuracy_single_view']:.4f} does not "
                         f"match metrics.json ({result['test_accuracy']:.4f})")
    out["test_accuracy"], out["test_time_flip"], out["rescored"] = out["test_accuracy_mirror"], True, True
    out["test_goal_met"] = out["test_accuracy"] >= out["goal"]
    return out


def table(results: list[dict], hardware: dict) -> str:
    from machine import kind, label

    k = kind(hardware)
    lines = ["| model | CPU | seeds | goal (test) | test accuracy, mean ± SD (lowest) | goal met | training time, "
             "measured (at the median epoch time) | within the time goal |", "| --- " * 8 + "|"]
    for g in summary(results):
        sd = f" ± {g['sd_test_accuracy']:.4f}" if g["sd_test_accuracy"] is not None else ""
        flip = (f"; image alone {g['mean_test_accuracy_single_view']:.4f}" if g["test_time_flip"] else "")
        what = f"{g['experiment']}, {g['epochs']} epochs{', mirror-averaged test' * g['test_time_flip']}"
        what += f" ({g['recipe']})" if g["recipe"] else ""
        budget = TIME_GOALS[g["experiment"]] / 60
        lines.append(f"| {what} | {k} | "
                     f"{', '.join(map(str, g['seeds']))} | {g['goal']:.3f} | "
                     f"{g['mean_test_accuracy']:.4f}{sd} ({g['min_test_accuracy']:.4f}{flip}) | "
                     f"{g['goal_met']} of {len(g['seeds'])} | {g['mean_fit_seconds'] / 60:.1f} min "
                     f"({g['quiet_fit_seconds'] / 60:.1f} min: {g['median_epoch_seconds']:.0f} s an epoch) | "
                     f"{g['time_goal_met']} of {len(g['seeds'])} within {budget:.0f} min |")
    lines += ["", "Each run:", ""]
    lines += ["| model | CPU | goal (test) | test accuracy | validation (last epoch) | training time | "
              "validation at goal | parameters | precision |", "| --- " * 9 + "|"]
    for r in results:
        at = (f"epoch {r['val_goal_reached']['epoch']}, {r['val_goal_reached']['seconds']:.0f} s"
              if r["val_goal_reached"] else "not reached")
        verdict = "met" if r["test_goal_met"] else "**not met**"
        if r.get("test_time_flip"):
            verdict += f"; image alone {r['test_accuracy_single_view']:.4f}"
        lines.append(f"| {r['experiment']} (seed {r['seed']}) | {k} | {r['goal']:.3f} | {r['test_accuracy']:.4f} "
                     f"({verdict}) | {r['final_val_accuracy']:.4f} | {r['fit_seconds']:.0f} s, {r['epochs']} epochs "
                     f"| {at} | {r['params']:,} | {r['precision']} |")
    lines += ["", f"Measured on CPU {label(hardware)}, {hardware.get('logical_cores')} logical cores; validation on "
              "the last 10% of the training set, the test set evaluated once after the last epoch."]
    if rescored := [r for r in results if r.get("rescored")]:
        gains = [100 * (r["val_accuracy_mirror"] - r["val_accuracy_single_view"]) for r in rescored]
        lines += ["", f"{len(rescored)} runs were made before `test_time_flip` existed; their mirror-averaged numbers "
                  "come from re-scoring their saved models (`--rescore`; training does not depend on the flag). "
                  "Mirroring was chosen on the validation split, where it changed accuracy by "
                  + ", ".join(f"{g:+.2f}" for g in gains) + f" points (mean {statistics.fmean(gains):+.2f}); for "
                  "these runs the test set was read twice, image alone first."]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder with mnist/ and fashion-mnist/")
    p.add_argument("--seeds", type=int, default=1, help="seeds 42, 43, ... (default 1)")
    p.add_argument("--work", help="folder for logs and runs (default: a temporary folder, kept)")
    p.add_argument("--from-runs", nargs="+", metavar="RUN_DIR", help="tabulate existing runs; runs nothing")
    p.add_argument("--from-record", metavar="JSON", help="print (with --readme write) an earlier record's tables")
    p.add_argument("--readme", action="store_true", help="rewrite the README's table of improved models")
    p.add_argument("--only", choices=list(GOALS), help="run one of the two improved experiments (default both)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to mnistlab run")
    p.add_argument("--onednn-max-isa", metavar="ISA", help="cap oneDNN's kernels (ONEDNN_MAX_CPU_ISA, e.g. AVX2): "
                   "an AVX-512 machine standing in for a smaller one; records get the kind '<kind>-capped'")
    p.add_argument("--rescore", metavar="DATA_DIR", help="with --from-runs: score runs made before test_time_flip "
                   "with it, where their experiment now sets it (loads each model.keras)")
    args = p.parse_args()
    from machine import kind, record_path
    from results_table import markers, write_readme_section

    if args.from_record:
        record = json.loads(Path(args.from_record).read_text(encoding="utf-8"))
        text = table(record["results"], record["hardware"])
        print(text)
        if args.readme:
            write_readme_section(*markers("improved", kind(record["hardware"])), text, section="improved")
        return 0
    if args.from_runs:
        run_dirs = [Path(d) for d in args.from_runs]
    else:
        if not args.data:
            p.error("--data is required unless --from-runs is given")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if args.onednn_max_isa:
            os.environ["ONEDNN_MAX_CPU_ISA"] = args.onednn_max_isa.upper()
        sets = [a for kv in args.set for a in ("--set", kv)]
        work = Path(args.work or tempfile.mkdtemp(prefix="mnistlab-improved-"))
        work.mkdir(parents=True, exist_ok=True)
        print(f"work folder: {work}", flush=True)
        run_dirs = []
        for seed in (42 + i for i in range(args.seeds)):
            out = work / f"improved-{seed}"
            what = args.only or "improved"
            print(f"seed {seed}: mnistlab run {what} {' '.join(sets)} ...", flush=True)
            with open(work / f"improved-{seed}.log", "w") as log:
                subprocess.run([sys.executable, "-m", "mnistlab.cli", "run", what, "--out", str(out),
                                "--data", str(Path(args.data).resolve()), "--set", f"seed={seed}", *sets],
                               check=True, stdout=log, stderr=subprocess.STDOUT)
            run_dirs.append(out)

    results = [r for d in run_dirs for name in GOALS if (r := measure(d, name))]
    if args.rescore:
        from mnistlab import config

        results = [rescore(r, args.rescore) if config.load(r["experiment"]).test_time_flip
                   and not r["test_time_flip"] else r for r in results]
    results.sort(key=lambda r: (list(GOALS).index(r["experiment"]), r["epochs"], r["seed"]))
    if not results:
        print("no improved.* experiment in " + ", ".join(map(str, run_dirs)), file=sys.stderr)
        return 1
    manifest = json.loads((run_dirs[0] / "manifest.json").read_text())
    hardware = manifest.get("hardware", {})
    text = table(results, hardware)
    print(text)
    record = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "hardware": hardware,
              "versions": manifest.get("versions"), "results": results}
    path = record_path("bench_improved", record["date"], hardware)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"\nrecord: {path}")
    if args.readme:
        write_readme_section(*markers("improved", kind(hardware)), text, section="improved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
