"""The lab CNN's training step under the alternatives to its convolution kernels, measured, with GFLOP/s
against a float32 matmul peak measured by the same script.

The step: the lab's CNN (Conv2D 32 3x3 relu, MaxPooling 2, Conv2D 64 3x3 relu, MaxPooling 2, Flatten,
Dense 128 relu, Dropout 0.3, Dense 10 softmax), Adam, categorical cross-entropy, one batch of 128 through
Keras' ``train_on_batch`` (forward, backward, update), as ``fit`` runs it. Each alternative runs in its own
process (the settings must precede the backend's import), in alternating rounds; a figure is the median of
each process's median over ``--reps`` steps after warm-up:

- ``tf`` TensorFlow as the lab runs it (oneDNN on, channels_last, graph without XLA, default threads);
- ``tf-onednn-off`` with ``TF_ENABLE_ONEDNN_OPTS=0`` (Eigen's kernels);
- ``tf-channels-first`` with the convolutions and pooling in ``channels_first``;
- ``tf-xla`` compiled with ``jit_compile=True`` (XLA's CPU kernels);
- ``tf-intra1-inter1``, ``tf-intra2-inter1``, ``tf-intra1-inter2``: TensorFlow's thread pools set;
- ``torch``, ``torch-channels-first``: Keras' torch backend (PyTorch's CPU kernels, oneDNN among them), if
  torch is installed.

Changing kernels changes the rounding of the sums: none of these is number-identical to the lab's run
unless its losses match the reference's to the last bit, which the record says per alternative
(``same_numbers``: the loss of 5 steps from the same weights and batch, bit for bit).

    nice python benchmarks/conv_kernels.py --rounds 3 --reps 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

VARIANTS: dict[str, dict] = {
    "tf": {},
    "tf-onednn-off": {"env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    "tf-channels-first": {"data_format": "channels_first"},
    "tf-xla": {"jit": True},
    "tf-intra1-inter1": {"threads": (1, 1)},
    "tf-intra2-inter1": {"threads": (2, 1)},
    "tf-intra1-inter2": {"threads": (1, 2)},
    "torch": {"env": {"KERAS_BACKEND": "torch"}},
    "torch-channels-first": {"env": {"KERAS_BACKEND": "torch"}, "data_format": "channels_first"},
}


def train_flops(batch: int = 128) -> int:
    """FLOPs of one training step of the lab CNN: forward, gradients of the weights and of each layer's input
    but the first (2 per multiply-add), for ``batch`` images; pooling, activations and Adam not counted."""
    conv1 = 2 * 26 * 26 * 3 * 3 * 1 * 32
    conv2 = 2 * 11 * 11 * 3 * 3 * 32 * 64
    dense = 2 * (5 * 5 * 64 * 128 + 128 * 10)
    forward = conv1 + conv2 + dense
    return batch * (3 * forward - conv1)


def child(name: str, reps: int) -> dict:
    """One alternative, in this process: its step's median milliseconds and 5 losses from fixed weights."""
    spec = VARIANTS[name]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    if keras.backend.backend() == "tensorflow" and spec.get("threads"):
        import tensorflow as tf

        intra, inter = spec["threads"]
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    keras.utils.set_random_seed(1)
    fmt = spec.get("data_format", "channels_last")
    shape = (1, 28, 28) if fmt == "channels_first" else (28, 28, 1)
    model = keras.Sequential([
        keras.Input(shape=shape),
        keras.layers.Conv2D(32, (3, 3), activation="relu", data_format=fmt),
        keras.layers.MaxPooling2D((2, 2), data_format=fmt),
        keras.layers.Conv2D(64, (3, 3), activation="relu", data_format=fmt),
        keras.layers.MaxPooling2D((2, 2), data_format=fmt),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    x = rng.random((128, 28, 28, 1), dtype=np.float32)
    if fmt == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    # the same starting weights for every alternative (channels_first keeps the same kernels: HWIO either way)
    init = np.random.default_rng(5)
    model.set_weights([(init.standard_normal(w.shape) * 0.05).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer="adam", loss="categorical_crossentropy", jit_compile=bool(spec.get("jit", False)))
    keras.utils.set_random_seed(2)  # the same dropout draws, where the backend's generator allows
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    for _ in range(5):
        model.train_on_batch(x, y)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"step_ms": statistics.median(times), "losses": [repr(v) for v in losses],
            "backend": keras.backend.backend()}


def matmul_peak(n: int = 2048, reps: int = 7) -> float:
    """Best float32 GFLOP/s of an n x n matrix product (TensorFlow, all cores), in a child process."""
    from bench_lab import matmul_peak_gflops

    return matmul_peak_gflops(n, reps)


def spawn(args: list[str], env: dict | None = None, timeout: float = 900) -> dict:
    e = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], env=e, capture_output=True,
                          text=True, timeout=timeout)
    last = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not last:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:300]}
    return json.loads(last[-1])


def table(record: dict) -> str:
    from machine import kind, label

    k = kind(record["hardware"])
    peak = record["matmul_peak_gflops"]
    flop = record["train_flops"]
    base = record["results"]["tf"].get("median_ms")
    lines = ["| alternative | CPU | step ms (median, min-max of rounds) | vs `tf` | GFLOP/s | of matmul peak | "
             "same numbers as `tf` |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in record["results"].items():
        if "median_ms" not in r:
            lines.append(f"| {name} | {k} | failed: {r.get('error', '?')} | | | | |")
            continue
        g = flop / (r["median_ms"] / 1e3) / 1e9
        vs = f"{r['median_ms'] / base:.2f}x" if base else "—"
        lines.append(f"| {name} | {k} | {r['median_ms']:.1f} ({min(r['ms']):.1f}-{max(r['ms']):.1f}) | {vs} | "
                     f"{g:.0f} | {g / peak:.0%} | {'yes' if r.get('same_numbers') else 'no'} |")
    lines.append("")
    lines.append(f"{record['rounds']} alternating rounds of {record['reps']} steps each; {flop / 1e9:.2f} GFLOP per "
                 f"step (batch 128); float32 matmul peak {peak:.0f} GFLOP/s (2048 x 2048, best of 7, each round: "
                 f"{', '.join(f'{p:.0f}' for p in record['peaks'])}). CPU {label(record['hardware'])}, "
                 f"{record['hardware'].get('logical_cores')} logical cores; load average at the end "
                 f"{record['load_average'][0]:.1f}; {record['date'][:10]}.")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=30, help="timed steps per process (default 30)")
    p.add_argument("--only", nargs="*", help="these alternatives only (default: all)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--peak", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--from-record", metavar="JSON", help="print the table of an existing record and stop")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.reps)))
        return 0
    if args.peak:
        print(json.dumps({"gflops": matmul_peak()}))
        return 0
    if args.from_record:
        print(table(json.loads(Path(args.from_record).read_text(encoding="utf-8"))))
        return 0
    names = args.only or list(VARIANTS)
    ms: dict[str, list[float]] = {n: [] for n in names}
    losses: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    peaks = []
    for i in range(args.rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        peaks.append(spawn(["--peak"]).get("gflops", 0.0))
        for name in order:
            if name in errors:
                continue
            r = spawn(["--child", name, "--reps", str(args.reps)], VARIANTS[name].get("env"))
            if "error" in r:
                errors[name] = r["error"]
                print(f"round {i + 1}: {name}: failed: {r['error']}", flush=True)
                continue
            ms[name].append(r["step_ms"])
            losses.setdefault(name, r["losses"])
            print(f"round {i + 1}: {name}: {r['step_ms']:.1f} ms", flush=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mnistlab.backend import hardware, versions

    results = {}
    for name in names:
        if ms[name]:
            results[name] = {"median_ms": statistics.median(ms[name]), "ms": ms[name], "losses": losses[name],
                             "same_numbers": losses[name] == losses.get("tf")}
        else:
            results[name] = {"error": errors.get(name, "not run")}
    record = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "rounds": args.rounds, "reps": args.reps,
              "hardware": hardware(), "versions": versions(), "matmul_peak_gflops": max(peaks), "peaks": peaks,
              "train_flops": train_flops(), "load_average": os.getloadavg(), "results": results}
    from machine import record_path

    path = record_path("conv_kernels", record["date"], record["hardware"])
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(table(record))
    print(f"\nrecord: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
