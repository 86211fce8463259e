"""ImageDataGenerator's batches: the generator's own code against the notebook kernel's whole-batch version
(mnistlab.notebook.speed.transformed_batch), on the lab's settings, alternating, images checked identical.

    nice python benchmarks/bench_image_generator.py --rounds 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--images", type=int, default=2048, help="images per round (batches of 128)")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    from keras.src.legacy.preprocessing.image import ImageDataGenerator, NumpyArrayIterator

    from mnistlab.devices import facts
    from mnistlab.notebook import speed

    own = NumpyArrayIterator._get_batches_of_transformed_samples
    own = getattr(own, "__wrapped__", own)
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 256, (args.images, 28, 28, 1)) / 255.0).astype("float32")
    y = rng.integers(0, 10, args.images)
    gen = ImageDataGenerator(rotation_range=10, zoom_range=0.1, horizontal_flip=True)  # the lab's
    it = gen.flow(x, y, batch_size=128, shuffle=False)
    batches = [np.arange(i, min(i + 128, args.images)) for i in range(0, args.images, 128)]
    us: dict[str, list[float]] = {"generator": [], "whole batch": []}
    for r in range(args.rounds):
        order = [("generator", own), ("whole batch", speed.transformed_batch)]
        if r % 2:
            order.reverse()
        outs = {}
        for name, f in order:
            np.random.seed(r)
            t0 = time.perf_counter()
            outs[name] = [f(it, b)[0] for b in batches]
            us[name].append((time.perf_counter() - t0) / args.images * 1e6)
        assert all(np.array_equal(a, b) for a, b in zip(outs["generator"], outs["whole batch"], strict=True))
    cpu = facts()["cpu"]
    g, w = statistics.median(us["generator"]), statistics.median(us["whole batch"])
    print(f"| ImageDataGenerator batch, per image | {cpu['kind']} | generator {g:.0f} us | whole batch {w:.0f} us | "
          f"{g / w:.1f}x |")
    print(f"medians of {args.rounds} alternating rounds of {args.images} images (lab's settings), images identical "
          f"in every round; generator {', '.join(f'{v:.0f}' for v in us['generator'])} us, whole batch "
          f"{', '.join(f'{v:.0f}' for v in us['whole batch'])} us; load average {os.getloadavg()[0]:.1f}; "
          f"CPU {cpu['model']} ({cpu['kind']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
