"""Runs inside the notebook's kernel, installed at its start-up (never a cell of the notebook).

:func:`install` wraps Keras' ``mnist.load_data`` and ``fashion_mnist.load_data`` so that the lab's own calls
(``(x_train, y_train), (x_test, y_test) = mnist.load_data()``) work unchanged:

- offline (``mnistlab notebook --data DIR``), they return the arrays of ``DIR``, read by
  :func:`mnistlab.data.sources.load` (every layout it knows), instead of downloading;
- always, the SHA-256 of each array they return is kept in :data:`LOADED`, so that the capture can compare
  what the kernel really loaded with the published digests (:func:`mnistlab.data.sources.differing`).
"""

from __future__ import annotations

import functools
import sys
import warnings

LOADED: dict[str, dict[str, str]] = {}  # data set -> {"x_train": sha256, ...} of the arrays load_data returned
_FIELDS = ("x_train", "y_train", "x_test", "y_test")


def _wrap(name: str, original, data_dir: str | None):
    @functools.wraps(original)
    def load_data(*args, **kwargs):
        if data_dir is None:
            out = original(*args, **kwargs)
        else:
            from mnistlab.data import sources

            with warnings.catch_warnings():  # content that differs is reported by the capture, not refused here
                warnings.simplefilter("ignore")
                ds = sources.load(name, data_dir, trust=True)
            out = (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
        from mnistlab.data.idx import digest

        (xtr, ytr), (xte, yte) = out
        LOADED[name] = {f: digest(a) for f, a in zip(_FIELDS, (xtr, ytr, xte, yte), strict=True)}
        return out

    load_data.__mnistlab__ = True
    return load_data


def install(data_dir: str | None = None) -> None:
    """Wrap ``load_data`` of ``keras.datasets.mnist`` and ``keras.datasets.fashion_mnist`` (which
    ``tensorflow.keras.datasets`` resolves to); ``data_dir``: the folder to serve, None to load as Keras does."""
    import keras.datasets.fashion_mnist  # noqa: F401
    import keras.datasets.mnist  # noqa: F401

    for name in ("mnist", "fashion_mnist"):
        mods = [sys.modules[m] for m in (f"keras.datasets.{name}", f"keras.src.datasets.{name}") if m in sys.modules]
        original = next((m.load_data for m in mods if hasattr(m, "load_data")), None)
        if original is None or getattr(original, "__mnistlab__", False):
            continue
        wrapped = _wrap(name, original, data_dir)
        for m in mods:
            m.load_data = wrapped


def startup_source(data_dir: str | None, speed: bool = True) -> str:
    """The start-up file's text: installs the loader and, with ``speed``, the kernel's speed settings
    (:mod:`mnistlab.notebook.speed`: the printed numbers stay those of a plain kernel); it leaves no name in
    the notebook's namespace."""
    lines = ["def _mnistlab_start():\n",
             "    from mnistlab.notebook import loader\n",
             f"    loader.install({data_dir!r})\n"]
    if speed:
        lines += ["    try:  # a kernel whose mnistlab has no speed settings runs the cells as they are\n",
                  "        from mnistlab.notebook import speed\n",
                  "    except ImportError:\n",
                  "        return\n",
                  "    speed.install()\n"]
    return "".join(lines) + "\n\n_mnistlab_start()\ndel _mnistlab_start\n"
