"""Short A/B probes of one training step of the lab's CNN under TensorFlow's CPU settings, alternating rounds.

    python benchmarks/probe_step.py [--steps 20] [--rounds 3] [--experiment ex2.cnn]
    python benchmarks/probe_step.py --only "oneDNN AVX2 only" --rounds 7 \
        --experiment ex2.cnn improved.mnist "improved.mnist;conv_filters=[24,48,96]"

An experiment may carry overrides after ";" (`name;key=value;key=value`, values as for `--set`): the
models of several recipes, alternated in the same rounds, give their cost relative to one another.

Each setting (oneDNN on/off, intra-op and inter-op thread counts) runs in a fresh process, since TensorFlow
reads them once at start-up: Keras `fit` on `--steps` batches of 128 random images from mnistlab's own
`tf.data` pipeline (`data.pipeline.batches`), once to trace, then timed. Rounds alternate over the
settings and the medians over rounds are printed with the CPU kind, with this machine's float32 matmul peak
beside them. A probe, not a speed result: seconds of work per setting,
so run it on a quiet machine before drawing conclusions (docs/DEVELOPING.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {  # name -> environment and thread counts (0: TensorFlow's default, one per core)
    "default": {},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    # oneDNN's kernels limited to AVX2 (and FMA): an AVX-512 machine standing in for an AVX2 one. Only the
    # oneDNN kernels change; Eigen's are built for the wheel's baseline either way.
    "oneDNN AVX2 only": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "intra 1, inter 1": {"intra": 1, "inter": 1},
    "intra 2, inter 1": {"intra": 2, "inter": 1},
    "intra 2, inter 2": {"intra": 2, "inter": 2},
    "intra 1, inter 2": {"intra": 1, "inter": 2},
}


def child(spec: str, steps: int, intra: int, inter: int, precision: str) -> None:
    """Runs in the fresh process: time ``steps`` training steps, print one JSON line."""
    from mnistlab.backend import quiet

    quiet()
    import keras
    import numpy as np
    import tensorflow as tf

    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    from mnistlab import config, models
    from mnistlab.data.pipeline import batches
    from mnistlab.train import compile_model, set_precision

    name, *sets = spec.split(";")
    exp = config.load(name, {**config.parse_overrides(sets), "precision": precision,
                             "loss": "sparse_categorical_crossentropy", "label_smoothing": 0.0})
    set_precision(exp)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    shape = (28, 28) if exp.model == "dense" else (28, 28, 1)
    x = rng.random((128 * steps, *shape), dtype=np.float32)
    y = rng.integers(0, 10, 128 * steps)
    model = compile_model(models.build(exp), exp)
    data = batches(x, y, 128)  # the pipeline mnistlab's fit reads from (tf.data, autotuner off)
    model.fit(data.take(2), epochs=1, verbose=0)  # trace
    t0 = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    print(json.dumps({"ms_per_step": (time.perf_counter() - t0) / steps * 1e3}))


def cap(setting: dict) -> str:
    """`` with oneDNN capped at AVX2`` for a setting that caps it, else nothing: the kind a figure is of."""
    isa = setting.get("ONEDNN_MAX_CPU_ISA")
    return f" with oneDNN capped at {isa}" if isa else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", nargs="+", default=["ex2.cnn"],
                   help="whose model and batch (default ex2.cnn); several alternate in each round")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per setting and round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--precision", default="float32", choices=("float32", "bf16"))
    p.add_argument("--only", nargs="+", choices=list(SETTINGS), help="settings to compare (default: all)")
    p.add_argument("--child", nargs=3, type=int, metavar=("STEPS", "INTRA", "INTER"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.experiment, *args.child, args.precision)
        return 0
    chosen = {k: SETTINGS[k] for k in args.only or SETTINGS}
    pairs = [(e, k) for e in args.experiment for k in chosen]
    times: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    for r in range(args.rounds):
        for experiment, name in pairs:
            s = chosen[name]
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                   **{k: v for k, v in s.items() if k.startswith(("TF_", "ONEDNN_"))}}
            out = subprocess.run([sys.executable, __file__, "--experiment", experiment, "--precision",
                                  args.precision, "--child", str(args.steps), str(s.get("intra", 0)),
                                  str(s.get("inter", 0))], env=env, capture_output=True, text=True, check=True)
            times[experiment, name].append(json.loads(out.stdout.strip().splitlines()[-1])["ms_per_step"])
            print(f"round {r + 1}: {experiment}: {name}: {times[experiment, name][-1]:.1f} ms a step", flush=True)
    from mnistlab.backend import hardware, quiet

    quiet()
    hw = hardware()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_lab import matmul_peak_gflops
    from machine import label

    print(f"\n{', '.join(args.experiment)}, {args.precision}, batch 128, {args.steps} steps, medians of {args.rounds} "
          f"alternating rounds; CPU {label(hw)}, {hw['logical_cores']} logical cores; float32 matmul peak "
          f"{matmul_peak_gflops(2048):.0f} GFLOP/s")
    first = statistics.median(times[pairs[0]])
    for (experiment, name), ts in times.items():
        ratio = f"  {statistics.median(ts) / first:.2f}x the first" if len(pairs) > 1 else ""
        print(f"  {experiment} | {name:<18} {statistics.median(ts):7.1f} ms a step{ratio}  (rounds "
              f"{', '.join(f'{t:.1f}' for t in ts)})  [{hw['cpu_kind']}{cap(chosen[name])}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
