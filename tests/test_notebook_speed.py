"""The notebook kernel's speed settings (mnistlab.notebook.speed) change no number the lab's code prints.

- ``ImageDataGenerator(...).flow(...)`` batches: the fast batches are the generator's own images, bit for
  bit, with the same random draws left consumed, for the lab's settings and others a student may write.
- The whole lab's notebook on slices at 1 epoch, executed in a plain kernel and in the kernel with the
  start-up: every number every cell shows (fit logs, evaluate, the activation study's dictionary: the
  final state of each progress line, whose intermediate states follow a timer) and the digests of the
  predictions and of every trained model's weights are the same.
"""

import re

import nbformat
import numpy as np
import pytest

from mnistlab.notebook import kernel, speed
from mnistlab.notebook import make as make_notebook

QUICK = {"epochs": 1, "train_limit": 300, "test_limit": 100}


def _generator_batches(kwargs, x, y, batch_size, epochs, fast, seed=7):
    """Every batch of ``epochs`` epochs of ``ImageDataGenerator(**kwargs).flow(x, y)``, drawn from ``seed``."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator, NumpyArrayIterator

    own = NumpyArrayIterator._get_batches_of_transformed_samples
    own = getattr(own, "__wrapped__", own)
    np.random.seed(seed)
    gen = ImageDataGenerator(**kwargs)
    gen.fit(x)
    it = gen.flow(x, y, batch_size=batch_size)
    out = []
    for _ in range(epochs):
        for i in range(len(it)):
            index = it.index_array[i * batch_size:(i + 1) * batch_size] if it.index_array is not None else None
            if index is None:
                it._set_index_array()
                index = it.index_array[i * batch_size:(i + 1) * batch_size]
            out.append((speed.transformed_batch if fast else own)(it, index))
        it.on_epoch_end()
    return out, np.random.get_state()[1].copy()


@pytest.mark.parametrize("kwargs,channels", [
    ({"rotation_range": 10, "zoom_range": 0.1, "horizontal_flip": True}, 1),  # the lab's
    ({"rotation_range": 30}, 1),
    ({"zoom_range": [0.6, 1.4], "vertical_flip": True, "fill_mode": "constant", "cval": 0.25}, 1),
    ({"rotation_range": 180, "zoom_range": 0.3, "horizontal_flip": True, "vertical_flip": True}, 3),
    ({"rotation_range": 20, "zoom_range": 0.2, "data_format": "channels_first"}, 1),
])
def test_the_fast_batches_are_the_generators_own_images(kwargs, channels):
    rng = np.random.default_rng(3)
    shape = (700, channels, 28, 28) if kwargs.get("data_format") == "channels_first" else (700, 28, 28, channels)
    x = (rng.integers(0, 256, shape) / 255.0).astype("float32")  # pixel values like the lab's x / 255.0
    y = rng.integers(0, 10, 700)
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    assert speed.covered(ImageDataGenerator(**kwargs), ImageDataGenerator(**kwargs).flow(x, y))
    theirs, state_theirs = _generator_batches(kwargs, x, y, 128, 2, fast=False)
    ours, state_ours = _generator_batches(kwargs, x, y, 128, 2, fast=True)
    assert len(theirs) == len(ours) == 2 * 6
    for (a, ya), (b, yb) in zip(theirs, ours, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))  # bit for bit, signed zeros included
        assert np.array_equal(ya, yb)
    assert np.array_equal(state_theirs, state_ours)  # the same draws consumed: what follows is unchanged


def test_settings_it_does_not_compute_keep_the_generators_code():
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    x = np.zeros((8, 28, 28, 1), dtype="float32")
    for kwargs in ({"width_shift_range": 0.1}, {"shear_range": 5}, {"rescale": 0.5}, {"fill_mode": "reflect"},
                   {"brightness_range": (0.5, 1.5)}, {"featurewise_center": True}, {"channel_shift_range": 2.0}):
        gen = ImageDataGenerator(**kwargs)
        assert not speed.covered(gen, gen.flow(x, np.zeros(8)))
    assert speed.same_images(32)  # the start-up's own check agrees on this machine


def _shown(text: str) -> str:
    """What a terminal shows of ``text``: each line as its last carriage return left it. Keras' progress bar
    rewrites its line on a timer (every 0.05 s), so which intermediate states reach the output depends on
    the speed, not on the numbers; its final state (the epoch's or evaluation's line) is what stays."""
    return "\n".join(line.split("\r")[-1] for line in text.split("\n"))


def _numbers(nb) -> list[list[str]]:
    """Every number each code cell shows, less durations (per step, per epoch) and object addresses."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = _shown("".join(o.get("text", "") if o.get("output_type") == "stream"
                              else o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", [])))
        text = re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?\s?(us|ms|s)(/step)?\b", "", text)
        out.append(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text))
    return out


DIGESTS = """
import hashlib as _h
def _d(a):
    return _h.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
print("predictions", _d(predictions), "y_pred", _d(y_pred))
for _name in ("model", "cnn", "model_act", "model_leaky"):
    if _name in globals():
        print(_name, [_d(w) for w in globals()[_name].get_weights()])
from mnistlab.notebook import speed as _speed
print("speed", sorted(_speed.INSTALLED))
"""


def _execute(path, data_dir, fast: bool):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(DIGESTS))
    with kernel.manager(str(data_dir), speed=fast) as km:
        try:
            NotebookClient(nb, km=km, timeout=900, allow_errors=False,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        finally:  # nbclient leaves a kernel it did not create running
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    return nb


@pytest.mark.slow
def test_the_notebook_prints_the_same_numbers_with_and_without_the_start_up(tmp_path, shared_datasets):
    w = make_notebook(None, QUICK, data_dir=str(shared_datasets), out=tmp_path / "nb", execute=False)
    plain = _execute(w.notebook, shared_datasets, fast=False)
    fast = _execute(w.notebook, shared_datasets, fast=True)
    last = "".join(o.get("text", "") for o in fast.cells[-1].outputs)
    assert "'image_generator'" in last and "'tf_data_autotune_off'" in last  # the start-up did act
    assert "speed []" in "".join(o.get("text", "") for o in plain.cells[-1].outputs)  # and the plain did not
    a, b = _numbers(plain), _numbers(fast)
    assert sum(len(n) for n in a) > 100  # fit logs, evaluations, the activations' dictionary, digests
    assert a[:-1] == b[:-1]
    digests = [re.sub(r"speed .*", "", "".join(o.get("text", "") for o in nb.cells[-1].outputs))
               for nb in (plain, fast)]
    assert digests[0] == digests[1] and "predictions" in digests[0] and "cnn [" in digests[0]


@pytest.mark.parametrize("source,said", [("notebook", True), ("mnistlab", False)])
def test_the_appendix_names_what_the_kernel_changed_for_a_notebook_only(tmp_path, source, said):
    import json

    from mnistlab.i18n import say
    from mnistlab.report.artifacts import read_run
    from mnistlab.report.frame import appendix_items

    (tmp_path / "manifest.json").write_text(json.dumps({"data": {"mnist": {"source": source}}, "experiments": {}}),
                                            encoding="utf-8")
    for lang in ("fr", "en"):
        text = repr(appendix_items(read_run(tmp_path), lang, []))
        assert (say("frame.notebook_kernel", lang)[:60] in text) is said
