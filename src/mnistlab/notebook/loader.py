"""Runs inside the notebook's kernel, installed at its start-up (never a cell of the notebook).

:func:`install` wraps Keras' ``mnist.load_data`` and ``fashion_mnist.load_data`` so that the lab's own calls
(``(x_train, y_train), (x_test, y_test) = mnist.load_data()``) work unchanged:

- offline (``mnistlab notebook --data DIR``), they return the arrays of ``DIR``, read by
  :func:`mnistlab.data.sources.load` (every layout it knows), instead of downloading;
- always, the SHA-256 of each array they return is kept in :data:`LOADED`, so that the capture can compare
  what the kernel really loaded with the published digests (:func:`mnistlab.data.sources.differing`);
- in the grader's sandbox (``grader``), any failure to load is :class:`DataUnavailable`, the grader's error and
  not the student's, and nothing is downloaded (the sandbox has no network);
- with ``quick`` (``mnistlab grade --execute --quick``), they return the first :data:`QUICK_TRAIN` training and
  :data:`QUICK_TEST` test examples, and every Keras ``fit`` runs 1 epoch: a check that the code runs, not of
  its results.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

LOADED: dict[str, dict[str, str]] = {}  # data set -> {"x_train": sha256, ...} of the arrays load_data returned
_FIELDS = ("x_train", "y_train", "x_test", "y_test")
QUICK_TRAIN, QUICK_TEST = 2048, 512  # examples kept by --quick


class DataUnavailable(RuntimeError):  # noqa: N818 - the name the grader looks for in the cells' errors
    """The grader's data folder could not serve ``load_data()``: the grader's error, not the student's."""


def _load(name: str, original, data_dir: str | None, grader: bool, args, kwargs):
    if data_dir is None:
        if grader and not os.environ.get("KERAS_HOME"):
            raise DataUnavailable(f"{name}: the grader gave no data folder (mnistlab grade --execute --data DIR)")
        return original(*args, **kwargs)
    from mnistlab.data import sources

    with warnings.catch_warnings():  # content that differs is reported by the capture, not refused here
        warnings.simplefilter("ignore")
        ds = sources.load(name, data_dir, trust=True)
    return (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)


def _wrap(name: str, original, data_dir: str | None, grader: bool, quick: bool):
    @functools.wraps(original)
    def load_data(*args, **kwargs):
        try:
            out = _load(name, original, data_dir, grader, args, kwargs)
        except DataUnavailable:
            raise
        except Exception as e:
            if not grader:
                raise
            raise DataUnavailable(f"{name}: {type(e).__name__}: {str(e)[:300]}") from None
        from mnistlab.data.idx import digest

        (xtr, ytr), (xte, yte) = out
        LOADED[name] = {f: digest(a) for f, a in zip(_FIELDS, (xtr, ytr, xte, yte), strict=True)}
        if quick:
            return (xtr[:QUICK_TRAIN], ytr[:QUICK_TRAIN]), (xte[:QUICK_TEST], yte[:QUICK_TEST])
        return out

    load_data.__mnistlab__ = True
    return load_data


def _one_epoch(fit):
    @functools.wraps(fit)
    def one_epoch_fit(self, *args, **kwargs):
        if len(args) >= 4:  # fit(x, y, batch_size, epochs, ...)
            args = (*args[:3], 1, *args[4:])
        else:
            kwargs["epochs"] = 1
        kwargs.pop("initial_epoch", None)
        return fit(self, *args, **kwargs)

    one_epoch_fit.__mnistlab__ = True
    return one_epoch_fit


def install(data_dir: str | None = None, *, grader: bool = False, quick: bool = False) -> None:
    """Wrap ``load_data`` of Keras' ``mnist`` and ``fashion_mnist`` (``keras.src.datasets.*``, which
    ``keras.datasets`` and ``tensorflow.keras.datasets`` take theirs from) as soon as Keras defines them, without
    importing Keras now (a notebook that does not use it starts in a second); ``data_dir``: the folder to serve,
    None to load as Keras does; ``grader``: a failure is :class:`DataUnavailable`; ``quick``: slices, and
    ``keras.Model.fit`` at 1 epoch."""
    patches = {f"keras.src.datasets.{name}": functools.partial(_patch_dataset, name, data_dir, grader, quick)
               for name in ("mnist", "fashion_mnist")}
    if quick:
        patches["keras.src.models.model"] = _patch_fit
    for module, patch in patches.items():
        if module in sys.modules:
            patch(sys.modules[module])
    todo = {m: p for m, p in patches.items() if m not in sys.modules}
    if todo:
        sys.meta_path.insert(0, _AfterImport(todo))


def _patch_dataset(name: str, data_dir: str | None, grader: bool, quick: bool, module) -> None:
    original = getattr(module, "load_data", None)
    if original is not None and not getattr(original, "__mnistlab__", False):
        module.load_data = _wrap(name, original, data_dir, grader, quick)


def _patch_fit(module) -> None:
    model = getattr(module, "Model", None)
    if model is not None and not getattr(model.fit, "__mnistlab__", False):
        model.fit = _one_epoch(model.fit)


class _AfterImport:
    """A ``sys.meta_path`` finder that runs ``patches[name](module)`` right after module ``name`` is executed."""

    def __init__(self, patches: dict) -> None:
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.get(name)
        if patch is None:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


def startup_source(data_dir: str | None, *, grader: bool = False, quick: bool = False, speed: bool = True) -> str:
    """The start-up file's text: installs the loader and, with ``speed``, the kernel's speed settings
    (:mod:`mnistlab.notebook.speed`: the printed numbers stay those of a plain kernel); it leaves no name in
    the notebook's namespace."""
    lines = ["def _mnistlab_start():\n",
             "    from mnistlab.notebook import loader\n",
             f"    loader.install({data_dir!r}, grader={grader!r}, quick={quick!r})\n"]
    if speed:
        lines += ["    try:  # a kernel whose mnistlab has no speed settings runs the cells as they are\n",
                  "        from mnistlab.notebook import speed\n",
                  "    except ImportError:\n",
                  "        return\n",
                  "    speed.install_when_keras()\n"]
    return "".join(lines) + "\n\n_mnistlab_start()\ndel _mnistlab_start\n"
