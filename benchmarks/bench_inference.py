"""One image through the lab's CNN in the path `mnistlab predict` and `mnistlab serve` use, against the old one.

    python benchmarks/bench_inference.py [--model mnist] [--rounds 7] [--calls 300]

The new path is `predict.Model.probabilities` (the model's forward pass compiled once by XLA, its concrete
function called directly: `backend.CompiledInference`; `--graph` also times the same call without XLA);
the old one is the same preprocessing with Keras' `predict_on_batch`, which
that method called before. Both get the same 28x28 image, warm. Rounds alternate between the two; each
round's p50 and p95 are taken over its calls, and the medians over rounds are printed, with the CPU kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mnist", help="mnist (the shipped lab CNN), fashion, or a model path")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds per path (default 7)")
    p.add_argument("--calls", type=int, default=300, help="one-image calls per round (default 300)")
    p.add_argument("--graph", action="store_true", help="also time the same call without XLA")
    args = p.parse_args(argv)

    from mnistlab import predict
    from mnistlab.backend import hardware
    from mnistlab.data.pipeline import model_input

    model = predict.load_model(args.model)
    image = np.random.default_rng(0).integers(0, 256, (1, 28, 28), dtype=np.uint8)

    def old(images=image):
        x = model_input(images, model.family)
        return np.asarray(model.keras_model.predict_on_batch(x), dtype=np.float64)

    paths = {"compiled (predict, serve)": lambda: model.probabilities(image), "predict_on_batch (before)": old}
    if args.graph:
        from mnistlab.backend import CompiledInference

        graph = CompiledInference(model.keras_model, jit=False)
        paths["compiled, no XLA"] = lambda: np.asarray(graph(model_input(image, model.family)), dtype=np.float64)
    np.testing.assert_allclose(paths["compiled (predict, serve)"](), old(), rtol=1e-5, atol=1e-6)
    for f in paths.values():  # warm: traced, compiled, caches filled
        for _ in range(50):
            f()
    rounds: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    for _ in range(args.rounds):
        for name, f in paths.items():
            times = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                f()
                times.append((time.perf_counter() - t0) * 1e3)
            times.sort()
            rounds[name].append((times[len(times) // 2], times[int(len(times) * 0.95)]))
    hw = hardware()
    from machine import label

    print(f"one image through {model.description}, {args.rounds} alternating rounds of {args.calls} calls; "
          f"CPU {label(hw)}, {hw['logical_cores']} logical cores, GPUs: {len(hw['gpus'])}")
    for name, rs in rounds.items():
        p50s, p95s = [r[0] for r in rs], [r[1] for r in rs]
        print(f"  {name:<27} p50 {statistics.median(p50s):.3f} ms  p95 {statistics.median(p95s):.3f} ms  "
              f"(round p50s {', '.join(f'{v:.3f}' for v in p50s)})  [{hw['cpu_kind']}]")
    print(f"  predict/serve path compiled with XLA: {model.compiled().jit}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    sys.exit(main())
