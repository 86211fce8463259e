"""User images -> the same preprocessing as training -> classes and probabilities.

``mnistlab predict IMAGE...`` and the web page (:mod:`mnistlab.web`) both go through :class:`Predictor`:
an image file becomes the 28x28 picture the model expects (:mod:`mnistlab.data.user_images`), is scaled by
the training pipeline (:func:`mnistlab.data.pipeline.model_input`) and goes through a model loaded in
Keras' safe mode (:func:`mnistlab.fileio.load_model`).

A model is chosen by name (``mnist`` or ``digits``, ``fashion`` or ``fashion_mnist``: the models shipped in
:mod:`mnistlab.pretrained`), by a run folder or one of its experiment folders (``runs/<stamp>/ex1``), or by
a ``.keras`` file.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab import pretrained
from mnistlab.data import user_images
from mnistlab.data.user_images import ImageError
from mnistlab.errors import MnistlabError, printable
from mnistlab.i18n import class_names

ALIASES = {"mnist": "mnist", "digits": "mnist", "fashion": "fashion_mnist", "fashion_mnist": "fashion_mnist"}


@dataclass
class Model:
    """A loaded classifier and what its inputs are."""

    keras_model: Any
    dataset: str  # mnist | fashion_mnist: the preprocessing recipe and the class names
    source: str  # the .keras file loaded
    description: str  # one line for people, e.g. "shipped digits model (test accuracy 0.9921)"
    test_accuracy: float | None = None
    family: str = "dense"  # dense: (28, 28) input; cnn: (28, 28, 1)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    forward: Any = field(default=None, repr=False)  # backend.CompiledInference, built on first use

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 in the data set's format -> (N, 10) float probabilities."""
        from mnistlab.data.pipeline import model_input

        x = model_input(np.asarray(images, dtype=np.uint8), self.family)
        # The model's forward pass compiled once (XLA) and called directly: one image in 0.55-0.86 ms (p50) on
        # an AVX2 CPU against 0.89-1.49 ms through predict_on_batch (benchmarks/bench_inference.py). One call
        # at a time: two cores gain nothing from more.
        with self.lock:
            out = self.compiled()(x)
        return np.asarray(out, dtype=np.float64)

    def compiled(self):
        """The model's compiled inference call (:class:`mnistlab.backend.CompiledInference`), built once."""
        if self.forward is None:
            from mnistlab.backend import CompiledInference

            self.forward = CompiledInference(self.keras_model)
        return self.forward


def _dataset_of(folder: Path) -> str | None:
    """The data set named by ``config.json`` in ``folder`` or its parent (an activation sub-folder)."""
    for cfg in (folder / "config.json", folder.parent / "config.json"):
        if cfg.is_file():
            try:
                value = json.loads(cfg.read_text(encoding="utf-8")).get("dataset")
            except (OSError, json.JSONDecodeError, AttributeError):
                return None
            return value if value in pretrained.DATASETS else None
    return None


def resolve(spec: str, dataset: str | None = None) -> tuple[Path, str, str]:
    """Where the model named by ``spec`` is, which data set it was trained on, and a description.

    Args:
        spec: ``mnist``/``digits``, ``fashion``/``fashion_mnist``, a run or experiment folder, a .keras file.
        dataset: the data set of a .keras file that has no ``config.json`` beside it.

    Raises:
        MnistlabError: nothing there, a run folder with several models, an unknown data set.
    """
    if dataset is not None:
        dataset = ALIASES.get(dataset, dataset)
        if dataset not in pretrained.DATASETS:
            raise MnistlabError(f"unknown data set {dataset!r}; choose mnist or fashion_mnist")
    if spec in ALIASES:  # a folder of that name is ./mnist
        name = ALIASES[spec]
        path = pretrained.model_path(name)
        if not path.is_file():
            raise MnistlabError("the shipped model is missing from the installed package; reinstall mnistlab "
                                "or run: python benchmarks/train_pretrained.py", path)
        acc = pretrained.info().get(name, {}).get("test_accuracy")
        what = "digits" if name == "mnist" else "clothes"
        desc = f"shipped {what} model" + (f" (test accuracy {acc:.4f})" if acc else "")
        return path, name, desc
    path = Path(spec)
    if path.is_dir():
        if not (path / "model.keras").is_file():
            found = sorted(p.parent for p in path.glob("*/model.keras"))
            if len(found) != 1:
                names = ", ".join(p.name for p in found) or "none"
                raise MnistlabError(f"choose one experiment folder: this folder holds models in {names}"
                                    if found else "no model.keras here or in its experiment folders", path)
            path = found[0]
        path = path / "model.keras"
    elif not path.is_file():
        raise MnistlabError("no such model: give mnist, fashion, a run folder or a .keras file", spec)
    if path.suffix != ".keras":
        raise MnistlabError("a model file must be a Keras 3 .keras file", path)
    found_ds = _dataset_of(path.parent)
    if dataset and found_ds and dataset != found_ds:
        raise MnistlabError(f"this model was trained on {found_ds}, not {dataset}", path)
    dataset = dataset or found_ds
    if dataset is None:
        raise MnistlabError("cannot tell which data set this model was trained on (no config.json beside it):"
                            " add --dataset mnist or --dataset fashion_mnist", path)
    acc = None
    metrics = path.parent / "metrics.json"
    if metrics.is_file():
        try:
            acc = json.loads(metrics.read_text(encoding="utf-8")).get("test_accuracy")
        except (OSError, json.JSONDecodeError, AttributeError):
            acc = None
    desc = f"{path} ({dataset}" + (f", test accuracy {acc:.4f})" if isinstance(acc, float) else ")")
    return path, dataset, desc


def load_model(spec: str = "mnist", dataset: str | None = None) -> Model:
    """Resolve ``spec`` (see :func:`resolve`) and load the model in Keras' safe mode.

    Raises:
        MnistlabError: the model cannot be found or loaded, or is not a 28x28 -> 10 classes model.
    """
    path, dataset, desc = resolve(spec, dataset)
    pretrained.check_model_file(path)  # member sizes, before Keras reads config.json whole
    from mnistlab.backend import quiet

    quiet()
    from mnistlab.fileio import load_model as keras_load

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optimizer-state notices from training checkpoints
            model = keras_load(path)
    except MnistlabError:
        raise
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a damaged or unsafe file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MnistlabError(f"cannot load this model ({reason[:200]})", path) from None
    shape_in, shape_out = tuple(model.input_shape), tuple(model.output_shape)
    if shape_in not in ((None, 28, 28), (None, 28, 28, 1)) or shape_out != (None, 10):
        raise MnistlabError(f"not a 28x28-image, 10-class model (input {shape_in}, output {shape_out})", path)
    acc = pretrained.info().get(dataset, {}).get("test_accuracy") if path.parent == pretrained.folder() else None
    return Model(model, dataset, str(path), desc, acc, "cnn" if len(shape_in) == 4 else "dense")


@dataclass
class Result:
    """What happened to one image: its 28x28 input and probabilities, or why it could not be used."""

    source: str
    image: np.ndarray | None = None  # uint8 (28, 28), what the model saw
    probabilities: np.ndarray | None = None  # (10,)
    error: str | None = None

    def top(self, k: int, names: list[str]) -> list[dict[str, Any]]:
        """The ``k`` most probable classes: index, name, probability, best first."""
        if self.probabilities is None:
            return []
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [{"class": int(i), "label": names[i], "probability": round(float(self.probabilities[i]), 6)}
                for i in order]


def prepare(source: bytes | str | os.PathLike, dataset: str, max_pixels: int = user_images.MAX_PIXELS) -> np.ndarray:
    """A file (path or bytes) -> the 28x28 uint8 image the model sees. Raises :class:`ImageError`."""
    return user_images.load(source, dataset, max_pixels)


def predict_files(model: Model, paths: list[str]) -> list[Result]:
    """Prepare every file, then run the model once on all usable ones; unusable files get an error."""
    results = []
    for p in paths:
        try:
            results.append(Result(p, image=prepare(p, model.dataset)))
        except ImageError as e:
            results.append(Result(p, error=e.message))
    ok = [r for r in results if r.image is not None]
    if ok:
        probs = model.probabilities(np.stack([r.image for r in ok]))
        for r, pr in zip(ok, probs, strict=True):
            r.probabilities = pr
    return results


def save_inputs(results: list[Result], folder: str | os.PathLike) -> dict[str, str]:
    """Write each 28x28 input as ``<folder>/<file stem>.png`` (``-2``, ``-3``... on clashes).

    Returns:
        source -> written path.
    """
    from PIL import Image

    from mnistlab.fileio import atomic_path

    out = Path(folder)
    written: dict[str, str] = {}
    taken: set[str] = set()
    for r in results:
        if r.image is None:
            continue
        stem = Path(r.source).stem or "image"
        name, n = f"{stem}.png", 1
        while name in taken or (out / name).exists():
            n += 1
            name = f"{stem}-{n}.png"
        taken.add(name)
        with atomic_path(out / name) as tmp:
            Image.fromarray(r.image, mode="L").save(tmp, format="PNG")
        written[r.source] = str(out / name)
    return written


def run(paths: list[str], model_spec: str = "mnist", top: int = 3, as_json: bool = False,
        save_input: str | None = None, dataset: str | None = None, lang: str = "fr") -> int:
    """The ``mnistlab predict`` command: one line (or one JSON record) per file.

    Returns:
        0 when every file was predicted, 1 when some could not be used.
    """
    import sys

    if not 1 <= top <= 10:
        raise MnistlabError(f"--top must be between 1 and 10, got {top}")
    model = load_model(model_spec, dataset)
    names = class_names(model.dataset, lang)
    results = predict_files(model, paths)
    saved = save_inputs(results, save_input) if save_input else {}
    if as_json:
        doc = {"model": {"source": model.source, "dataset": model.dataset, "description": model.description},
               "results": [{"file": r.source, "top": r.top(top, names), "input_saved": saved.get(r.source)}
                           if r.error is None else {"file": r.source, "error": r.error} for r in results]}
        print(json.dumps(doc, indent=2, ensure_ascii=True))  # \u escapes: no control character reaches the terminal
    else:
        for r in results:
            if r.error is not None:
                print(printable(f"mnistlab: error: {r.source}: {r.error}"), file=sys.stderr)
                continue
            shown = ", ".join(f"{t['label']} {t['probability']:.1%}" for t in r.top(top, names))
            print(printable(f"{r.source}: {shown}"))
    return 1 if any(r.error for r in results) else 0
