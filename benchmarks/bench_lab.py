"""Side-by-side benchmark: the lab's own code against `mnistlab run`, same machine, same data, same seeds.

    python benchmarks/bench_lab.py --data ../shared/datasets --seeds 3            # about 30 min on 2 cores
    python benchmarks/bench_lab.py --data ../shared/datasets --seeds 1 --readme   # and rewrite README tables
    python benchmarks/bench_lab.py --data ../shared/datasets --seeds 2 --onednn-max-isa AVX2  # AVX-512 as AVX2

For each seed it runs benchmarks/lab_literal.py (the baseline) and `mnistlab run --set seed=S`, each in a
fresh process, one after the other: the lab's code first for even seeds and last for odd ones, so that a
slow phase of the machine does not always fall on the same side. It prints per-experiment and total wall
time, the ratio, test accuracies (mean and standard deviation over seeds, and whether the difference is
within run-to-run noise), each experiment's FLOPs and achieved GFLOP/s against this machine's measured
float32 matmul peak, and the single-image latency of the trained CNN through a compiled call, each figure
with the CPU kind (avx2, avx512-bf16, ...). Everything goes to a JSON record in benchmarks/results/, one
per date and CPU kind (bench_lab_<date>_<kind>.json); --readme rewrites that kind's README tables and
leaves the other kinds'.
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
REPO = HERE.parent
sys.path.insert(0, str(HERE))
EXPERIMENTS = ["ex1", "ex2.ann", "ex2.activations", "ex2.cnn", "ex2.confusion", "ex2.augment"]


def run_baseline(data: str, seed: int, work: Path, limit: int) -> dict:
    out = work / f"literal-{seed}.json"
    t0 = time.perf_counter()
    with open(work / f"literal-{seed}.log", "w") as log:
        subprocess.run([sys.executable, str(HERE / "lab_literal.py"), "--data", data, "--seed", str(seed),
                        "--out", str(out), "--limit", str(limit)], check=True, stdout=log, stderr=subprocess.STDOUT)
    record = json.loads(out.read_text())
    record["process_seconds"] = time.perf_counter() - t0
    return record


def run_mnistlab(data: str, seed: int, work: Path, extra: list[str], tag: str) -> dict:
    out = work / f"{tag}-{seed}"
    t0 = time.perf_counter()
    with open(work / f"{tag}-{seed}.log", "w") as log:
        subprocess.run([sys.executable, "-m", "mnistlab.cli", "run", "--out", str(out), "--data", data,
                        "--set", f"seed={seed}", *extra], check=True, stdout=log, stderr=subprocess.STDOUT)
    manifest = json.loads((out / "manifest.json").read_text())
    exps = {}
    for name in EXPERIMENTS:
        m = json.loads((out / name / "metrics.json").read_text())
        acc = m["test_accuracy"]
        exps[name] = {"seconds": manifest["experiments"][name]["seconds"],
                      "test_accuracy": max(acc.values()) if isinstance(acc, dict) else acc,
                      "fit_seconds": m.get("fit_seconds")}
        if name == "ex2.activations":
            exps[name]["val_accuracy"] = m["val_accuracy"]
            exps[name]["fit_seconds"] = sum(m["fit_seconds"].values())
    return {"run_dir": str(out), "process_seconds": time.perf_counter() - t0, "experiments": exps,
            "manifest_seconds": manifest["seconds"]}


def matmul_peak_gflops(n: int = 4096, reps: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matrix product on this machine (TensorFlow, all cores)."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((n, n), seed=(1, 2))
    b = tf.random.stateless_uniform((n, n), seed=(3, 4))
    f = tf.function(lambda a, b: tf.matmul(a, b))
    f(a, b).numpy()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def single_image_latency(model_path: Path, n: int = 2000) -> dict:
    """p50/p95 milliseconds of one 28x28 image through the model in a compiled (XLA) call, warm."""
    import numpy as np
    import tensorflow as tf

    from mnistlab.fileio import load_model

    model = load_model(model_path)
    out = {}
    for jit in (True, False):
        f = tf.function(lambda x: model(x, training=False), jit_compile=jit)
        x = tf.constant(np.random.default_rng(0).random((1, *model.input_shape[1:]), dtype=np.float32))
        for _ in range(50):
            f(x).numpy()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            f(x).numpy()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        out["xla" if jit else "graph"] = {"p50_ms": times[n // 2], "p95_ms": times[int(n * 0.95)]}
    return out


def cnn_step_floor(reps: int = 300) -> dict:
    """Milliseconds of the lab CNN's training step alone (batch 128: forward, backward, Adam), and of its
    second convolution's three kernels, which hold most of the step's arithmetic. Medians, warm.

    Multiplied by the number of CNN steps in the lab, it is the least time any pipeline around these same
    kernels can take: the floor under the whole lab's ratio.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from mnistlab import config
    from mnistlab.models import cnn

    def median_ms(f, *args):
        for _ in range(10):
            f(*args)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f(*args)
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((128, 28, 28, 1), dtype=np.float32))
    y = tf.one_hot(rng.integers(0, 10, 128), 10)
    model = cnn.build(config.load("ex2.cnn"))
    opt, loss = keras.optimizers.Adam(), keras.losses.CategoricalCrossentropy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        opt.apply(tape.gradient(value, model.trainable_variables), model.trainable_variables)
        return value

    h = tf.constant(rng.random((128, 13, 13, 32), dtype=np.float32))
    g = tf.constant(rng.random((128, 11, 11, 64), dtype=np.float32))
    w = tf.constant(rng.random((3, 3, 32, 64), dtype=np.float32))
    fwd = tf.function(lambda h: tf.nn.conv2d(h, w, 1, "VALID"))
    dw = tf.function(lambda h, g: tf.compat.v1.nn.conv2d_backprop_filter(h, [3, 3, 32, 64], g, [1] * 4, "VALID"))
    dx = tf.function(lambda g: tf.compat.v1.nn.conv2d_backprop_input([128, 13, 13, 32], w, g, [1] * 4, "VALID"))
    conv_flop = 2 * 128 * 11 * 11 * 64 * 3 * 3 * 32
    out = {"train_step_ms": median_ms(lambda: step(x, y).numpy()), "conv2_flop_each": conv_flop}
    for name, f, args in (("conv2_forward_ms", fwd, (h,)), ("conv2_filter_grad_ms", dw, (h, g)),
                          ("conv2_input_grad_ms", dx, (g,))):
        out[name] = median_ms(lambda f=f, args=args: f(*args).numpy())
    return out


def lab_floor(record: dict) -> dict:
    """The whole lab's least possible time with these kernels: mnistlab's own dense steps, plus every CNN
    training step at ``train_step_ms`` and nothing else (no validation, evaluation, augmentation or saving)."""
    first = Path(record["runs"]["mnistlab"][0]["run_dir"])
    cnn_steps = 0
    for name in ("ex2.cnn", "ex2.augment"):
        cfg = json.loads((first / name / "config.json").read_text())
        m = json.loads((first / name / "metrics.json").read_text())
        cnn_steps += -(-m["n_train"] // cfg["batch_size"]) * cfg["epochs"]
    rows = {row["experiment"]: row for row in record["experiments"]}
    dense = sum(rows[n]["mnistlab"]["seconds"][0] for n in EXPERIMENTS if n not in ("ex2.cnn", "ex2.augment"))
    cnn_s = cnn_steps * record["cnn_step"]["train_step_ms"] / 1e3
    return {"cnn_steps": cnn_steps, "cnn_seconds": cnn_s, "dense_seconds": dense,
            "ratio": (dense + cnn_s) / record["total_seconds"]["literal"][0]}


def summarize(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def noise_verdict(a: list[float], b: list[float]) -> str:
    """Welch's t-test over seeds at the 5 % level: 'differs' only when the means are apart by more than the
    seed-to-seed spread allows for that many seeds (two standard errors were far too lax with two seeds)."""
    if len(a) < 2 or len(b) < 2:
        return "one seed: no verdict"
    from scipy import stats

    diff = (statistics.fmean(b) - statistics.fmean(a)) * 100
    if statistics.pvariance(a) + statistics.pvariance(b) == 0:
        return "identical" if diff == 0 else f"differs ({diff:+.2f} pts)"
    p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    return f"differs ({diff:+.2f} pts, p = {p:.3f})" if p < 0.05 else f"within noise ({diff:+.2f} pts, p = {p:.2f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with mnist/ and fashion-mnist/")
    p.add_argument("--seeds", type=int, default=3, help="seeds 42, 43, ... (default 3)")
    p.add_argument("--with-faithful", action="store_true", help="also time `mnistlab run --faithful`")
    p.add_argument("--with-bf16", action="store_true", help="also time `mnistlab run --precision bf16`")
    p.add_argument("--readme", action="store_true", help="rewrite the README's results and speed tables")
    p.add_argument("--work", help="folder for logs and runs (default: a temporary folder, kept)")
    p.add_argument("--limit", type=int, default=0,
                   help="smoke test of this script: first N train and N/5 test images (numbers mean nothing)")
    p.add_argument("--onednn-max-isa", metavar="ISA",
                   help="cap oneDNN's kernels (ONEDNN_MAX_CPU_ISA, e.g. AVX2) for every run: the record's kind is "
                        "then the capped one (avx2-capped)")
    p.add_argument("--from-record", metavar="JSON",
                   help="print (and with --readme write) the tables of an earlier record; runs nothing")
    args = p.parse_args()
    if args.from_record:
        record = json.loads(Path(args.from_record).read_text(encoding="utf-8"))
        print(speed_table(record))
        if args.readme:
            write_tables(record)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.onednn_max_isa:
        os.environ["ONEDNN_MAX_CPU_ISA"] = args.onednn_max_isa.upper()
    data = str(Path(args.data).resolve())
    work = Path(args.work or tempfile.mkdtemp(prefix="mnistlab-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)

    variants = {"mnistlab": []}
    if args.with_faithful:
        variants["faithful"] = ["--faithful"]
    if args.with_bf16:
        variants["bf16"] = ["--precision", "bf16"]
    runs: dict[str, list[dict]] = {"literal": [], **{k: [] for k in variants}}
    seeds = [42 + i for i in range(args.seeds)]
    for seed in seeds:
        order = ["literal", *variants] if seed % 2 == 0 else [*variants, "literal"]
        for tag in order:
            if tag == "literal":
                print(f"seed {seed}: lab literal ...", flush=True)
                runs["literal"].append(run_baseline(data, seed, work, args.limit))
                continue
            extra = variants[tag]
            if args.limit:
                extra = [*extra, "--set", f"train_limit={args.limit}", "--set", f"test_limit={args.limit // 5}"]
            print(f"seed {seed}: mnistlab {' '.join(extra) or '(default)'} ...", flush=True)
            runs[tag].append(run_mnistlab(data, seed, work, extra, tag))

    from mnistlab.backend import hardware, quiet, versions

    quiet()
    from flops import experiment_flops

    peak = matmul_peak_gflops()
    first_run = Path(runs["mnistlab"][0]["run_dir"])
    latency = single_image_latency(first_run / "ex2.cnn" / "model.keras")
    step = cnn_step_floor()

    rows = []
    for name in EXPERIMENTS:
        row = {"experiment": name}
        for tag in runs:
            secs = [r["experiments"][name]["seconds"] for r in runs[tag]]
            accs = [r["experiments"][name]["test_accuracy"] for r in runs[tag]]
            row[tag] = {"seconds": summarize(secs), "test_accuracy": summarize(accs), "accuracies": accs}
        flops = experiment_flops(first_run, name)
        fit_s = statistics.fmean(r["experiments"][name]["fit_seconds"] or r["experiments"][name]["seconds"]
                                 for r in runs["mnistlab"])
        row["flops"] = flops
        row["gflops_per_s"] = flops / fit_s / 1e9 if flops and fit_s else None
        row["fraction_of_peak"] = row["gflops_per_s"] / peak if row["gflops_per_s"] else None
        row["ratio"] = row["mnistlab"]["seconds"][0] / row["literal"]["seconds"][0]
        row["accuracy_verdict"] = noise_verdict(row["literal"]["accuracies"], row["mnistlab"]["accuracies"])
        rows.append(row)
    totals = {tag: summarize([sum(r["experiments"][n]["seconds"] for n in EXPERIMENTS) for r in runs[tag]])
              for tag in runs}
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seeds": seeds, "hardware": hardware(), "versions": versions(),
        "matmul_peak_gflops": peak, "single_image_latency_ms": latency,
        "experiments": rows, "total_seconds": totals,
        "total_ratio": totals["mnistlab"][0] / totals["literal"][0], "runs": runs, "cnn_step": step,
    }
    record["floor"] = lab_floor(record)
    from machine import record_path

    path = record_path("bench_lab", record["date"], record["hardware"])
    if args.limit:  # a sliced run is no record of the lab: its own name, never the kind's record
        path = path.with_name(f"{path.stem}_limit{args.limit}.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    text = speed_table(record)
    print(text)
    print(f"\nrecord: {path}")
    if args.readme and not args.limit:
        write_tables(record)
    return 0


def write_tables(record: dict) -> None:
    """Rewrite the README's speed table and its results table (from the first seed's mnistlab run) for the
    record's CPU kind; a record whose runs are gone rewrites only the speed table."""
    from machine import kind
    from results_table import markers, table, write_readme_section

    k = kind(record["hardware"])
    write_readme_section(*markers("bench", k), speed_table(record), section="bench")
    first = Path(record["runs"]["mnistlab"][0]["run_dir"])
    if (first / "manifest.json").is_file():
        write_readme_section(*markers("results", k), table(first), section="results")
    else:
        print(f"{first}: no such run folder any more; the results table is left as it is")


def speed_table(r: dict) -> str:
    tags = [t for t in ("literal", "mnistlab", "faithful", "bf16") if t in r["runs"]]
    head = {"literal": "lab code", "mnistlab": "mnistlab", "faithful": "mnistlab --faithful",
            "bf16": "mnistlab --precision bf16"}
    n = len(r["seeds"])
    from machine import kind, label

    k = kind(r["hardware"])
    lines = ["| experiment | CPU | " + " | ".join(f"{head[t]} s" for t in tags)
             + " | ratio | " + " | ".join(f"{head[t]} test acc" for t in tags)
             + " | mnistlab vs lab | GFLOP | GFLOP/s (of peak) |",
             "| --- " * (2 * len(tags) + 6) + "|"]
    for row in r["experiments"]:
        secs = " | ".join(f"{row[t]['seconds'][0]:.1f}" for t in tags)
        accs = " | ".join(f"{row[t]['test_accuracy'][0]:.4f} ± {row[t]['test_accuracy'][1]:.4f}" for t in tags)
        gf = f"{row['flops'] / 1e9:.0f}" if row["flops"] else ""
        rate = (f"{row['gflops_per_s']:.0f} ({row['fraction_of_peak']:.0%})" if row["gflops_per_s"] else "")
        verdict = noise_verdict(row["literal"]["accuracies"], row["mnistlab"]["accuracies"])  # today's test
        lines.append(f"| {row['experiment']} | {k} | {secs} | {row['ratio']:.2f}x | {accs} | {verdict} "
                     f"| {gf} | {rate} |")
    tot = " | ".join(f"**{r['total_seconds'][t][0]:.0f}**" for t in tags)
    lines.append(f"| **whole lab** | {k} | {tot} | **{r['total_ratio']:.2f}x** |" + " |" * (len(tags) + 3))
    hw, v, lat = r["hardware"], r["versions"], r["single_image_latency_ms"]
    lines += ["", f"Mean over {n} seed(s) ({', '.join(map(str, r['seeds']))}); accuracy ± standard deviation. "
              f"CPU {label(hw)}, {hw['logical_cores']} logical cores; float32 matmul peak "
              f"{r['matmul_peak_gflops']:.0f} GFLOP/s ({k}); TensorFlow {v.get('tensorflow')}, Keras {v['keras']}; "
              f"{r['date'][:10]}. One image through the CNN, compiled: p50 {lat['xla']['p50_ms']:.3f} ms, "
              f"p95 {lat['xla']['p95_ms']:.3f} ms (XLA); {lat['graph']['p50_ms']:.3f} ms (graph) ({k})."]
    if "floor" in r:
        st, fl = r["cnn_step"], r["floor"]
        conv_ms = st["conv2_forward_ms"] + st["conv2_filter_grad_ms"] + st["conv2_input_grad_ms"]
        lines += ["", f"Floor ({k}): one CNN training step (batch 128, forward, backward, Adam) takes "
                  f"{st['train_step_ms']:.1f} ms on its own, {conv_ms:.1f} ms of it in the second convolution's "
                  f"three kernels ({3 * st['conv2_flop_each'] / conv_ms / 1e6:.0f} GFLOP/s). The lab has "
                  f"{fl['cnn_steps']:,} CNN steps: {fl['cnn_seconds']:.0f} s at that rate with nothing else, plus "
                  f"{fl['dense_seconds']:.0f} s of dense steps, is {fl['ratio']:.2f}x of the lab's code: the best "
                  "ratio float32 can reach with these kernels."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
