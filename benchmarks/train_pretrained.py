"""Train the models shipped in src/mnistlab/pretrained/ and record their test accuracy beside them.

    python benchmarks/train_pretrained.py [mnist] [fashion_mnist] [--data DIR] [--out DIR]

Each model is trained as its experiment file says (src/mnistlab/pretrained/<dataset>.toml), from seed 42,
with TensorFlow's op determinism on. Takes about 2-3 (digits) and 4 (clothes) minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from mnistlab import config, pretrained
    from mnistlab.backend import quiet
    from mnistlab.errors import MnistlabError

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="*", choices=[[], *pretrained.DATASETS], default=list(pretrained.DATASETS),
                   metavar="DATASET", help="mnist, fashion_mnist (default: both)")
    p.add_argument("--data", metavar="DIR", help="folder holding the data sets (see README)")
    p.add_argument("--out", metavar="DIR", type=Path, help="where the models go (default: the package folder)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change a setting (quick looks: epochs=1, train_limit=2000)")
    args = p.parse_args(argv)
    quiet()
    try:
        overrides = config.parse_overrides(args.overrides)
        for name in args.datasets or pretrained.DATASETS:
            command = " ".join(["python benchmarks/train_pretrained.py", name, *[f"--set {o}" for o in args.overrides]])
            r = pretrained.train(name, data_dir=args.data, out_dir=args.out, overrides=overrides, command=command)
            print(f"{name}: test accuracy {r['test_accuracy']:.4f}, loss {r['test_loss']:.4f}, {r['params']:,} "
                  f"parameters, {r['bytes'] / 1e6:.2f} MB, trained in {r['fit_seconds']:.0f}s -> {r['file']}")
    except MnistlabError as e:
        print(f"train_pretrained: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
