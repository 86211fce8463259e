"""Start-up speed settings of the notebook's kernel: the lab's code runs unchanged, and every number it
prints is the same as in a plain Jupyter kernel at the same seed (tests/test_notebook_speed.py).

:func:`install` runs in the kernel once the notebook has imported Keras (:func:`install_when_keras`, from the
start-up file of :func:`mnistlab.notebook.loader.startup_source`). It
changes two things, each measured (docs/SPEED.md) and each leaving the maths alone:

- ``tf.data``'s autotuner is switched off in the pipelines Keras builds from NumPy arrays and from a
  ``PyDataset`` (``fit(x_train, y_train)``, ``validation_data``, ``evaluate``, ``predict``,
  ``fit(datagen.flow(...))``). The batches, their order and the shuffles are the same; with the autotuner
  on, a training step on two cores often ran on one (docs/DEVELOPING.md, "tf.data's autotuner"), which is
  why ``mnistlab run``'s own pipelines have it off (:func:`mnistlab.data.pipeline.without_autotune`).
- ``ImageDataGenerator(...).flow(...)`` batches (``NumpyArrayIterator``) are computed a whole batch at a
  time: the generator's own random draws, in the same order, in one NumPy call (:func:`draws`), the same
  matrices (:func:`transformed_batch`), and SciPy's order-1 interpolation replayed in float64 NumPy, operation
  by operation (:func:`interpolate`), instead of Python work and one SciPy call per image. The images are
  identical to the generator's own: before the first fast batch, :func:`checked` compares them on random
  images, and the generator's own code runs when they differ or a setting is one it does not cover
  (:func:`covered`: shifts, shear, channel or brightness shifts, normalisation, rescaling, a preprocessing
  function, saved images, another interpolation order or fill mode).

What was installed is kept in :data:`INSTALLED`.
"""

from __future__ import annotations

import functools

import numpy as np

INSTALLED: list[str] = []  # names of the settings in effect: "tf_data_autotune_off", "image_generator"
AUTOTUNE, IMAGES = "tf_data_autotune_off", "image_generator"


def install_when_keras(check_images: int = 64) -> None:
    """:func:`install` as soon as the notebook's own code has imported Keras (checked before and after each
    cell), so that the kernel's start-up never loads TensorFlow itself: a notebook that does not use it starts
    in a second, and within a small memory limit (``mnistlab grade --execute``). Outside IPython: at once."""
    import sys

    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        install(check_images)
        return

    def check(*_):
        if "keras" in sys.modules and not _CHECK.get("done"):
            _CHECK["done"] = True
            install(check_images)

    shell.events.register("pre_run_cell", check)
    shell.events.register("post_run_cell", check)


def install(check_images: int = 64) -> list[str]:
    """Switch the settings on (once per process); ``check_images``: random images compared bit for bit with
    the generator's own before the first fast batch (:func:`checked`; 0: no check). Returns :data:`INSTALLED`."""
    _CHECK["images"] = check_images
    if AUTOTUNE not in INSTALLED and _autotune_off():
        INSTALLED.append(AUTOTUNE)
    if IMAGES not in INSTALLED and _image_batches():
        INSTALLED.append(IMAGES)
    return INSTALLED


# --- tf.data's autotuner --------------------------------------------------------------------------------------


def _without_autotune(get_tf_dataset):
    @functools.wraps(get_tf_dataset)
    def wrapped(self, *args, **kwargs):
        import tensorflow as tf

        data = get_tf_dataset(self, *args, **kwargs)
        options = tf.data.Options()
        options.autotune.enabled = False
        return data.with_options(options)

    wrapped.__mnistlab__ = True
    return wrapped


def _autotune_off() -> bool:
    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            return False
        from keras.src.trainers.data_adapters import array_data_adapter, py_dataset_adapter
    except ImportError:  # another Keras layout: leave it as it is
        return False
    for cls in (array_data_adapter.ArrayDataAdapter, py_dataset_adapter.PyDatasetAdapter):
        if not getattr(cls.get_tf_dataset, "__mnistlab__", False):
            cls.get_tf_dataset = _without_autotune(cls.get_tf_dataset)
    return True


# --- ImageDataGenerator's batches -------------------------------------------------------------------------


def covered(gen, iterator) -> bool:
    """Whether :func:`transformed_batch` computes what ``gen`` (an ``ImageDataGenerator``) would for ``iterator``."""
    return (gen.width_shift_range == 0 and gen.height_shift_range == 0 and gen.shear_range == 0
            and gen.channel_shift_range == 0 and gen.brightness_range is None and gen.preprocessing_function is None
            and not (gen.featurewise_center or gen.featurewise_std_normalization or gen.samplewise_center
                     or gen.samplewise_std_normalization or gen.zca_whitening)
            and not gen.rescale and gen.interpolation_order == 1
            and gen.fill_mode in ("nearest", "constant") and not iterator.save_to_dir
            and np.ndim(iterator.x) == 4 and np.issubdtype(np.dtype(iterator.dtype), np.floating))


def draws(gen, n: int) -> dict[str, np.ndarray]:
    """``n`` images' :meth:`get_random_transform` parameters from the global NumPy random state, in one call:
    the same doubles in the same order (rotation, the two zooms, the two flips per image), each turned into
    its parameter by the same ``low + (high - low) * u`` as ``np.random.uniform`` (``np.random.random()``
    is that with low 0 and high 1)."""
    low, high, names = [], [], []
    if gen.rotation_range:
        low.append(-gen.rotation_range), high.append(gen.rotation_range), names.append("theta")
    if not (gen.zoom_range[0] == 1 and gen.zoom_range[1] == 1):
        low += [gen.zoom_range[0]] * 2
        high += [gen.zoom_range[1]] * 2
        names += ["zx", "zy"]
    low += [0.0, 0.0]
    high += [1.0, 1.0]
    names += ["flip_h", "flip_v"]
    u = np.random.uniform(np.array(low, dtype=np.float64), np.array(high, dtype=np.float64), (n, len(low)))
    out = {k: u[:, i] for i, k in enumerate(names)}
    out.setdefault("theta", np.zeros(n))
    out.setdefault("zx", np.ones(n))
    out.setdefault("zy", np.ones(n))
    out["flip_h"] = (out["flip_h"] < 0.5) & bool(gen.horizontal_flip)
    out["flip_v"] = (out["flip_v"] < 0.5) & bool(gen.vertical_flip)
    return out


def transformed_batch(iterator, index_array):
    """``NumpyArrayIterator._get_batches_of_transformed_samples`` for the settings :func:`covered` accepts.

    ``apply_affine_transform`` builds, per image, R(theta) Z(zx, zy) about the image centre with ``np.dot``
    and hands its 2x2 part and offset to SciPy's ``geometric_transform``, which maps each output pixel
    ``(r, c)`` to ``(r m00 + c m01) + o0, (r m10 + c m11) + o1`` (in that order) and interpolates there.
    Here the matrices of the whole batch are built with ``np.matmul`` (the same products), those input
    coordinates are computed in that order for every pixel of the batch, and one call of the same SciPy
    routine interpolates the batch stacked as one (N, H, W) array, each image at an integer first
    coordinate: its neighbour along that axis has weight exactly 0, so each pixel is the same sum of the
    same products as image by image.
    """
    gen = iterator.image_data_generator
    row, col, chan = gen.row_axis - 1, gen.col_axis - 1, gen.channel_axis - 1
    n = len(index_array)
    x = np.asarray(iterator.x[index_array], dtype=iterator.dtype)  # (n, *image)
    p = draws(gen, n)
    h, w = x.shape[1 + row], x.shape[1 + col]
    rot, zoom = p["theta"] != 0, (p["zx"] != 1) | (p["zy"] != 1)
    moved = rot | zoom
    if moved.any():
        theta = np.deg2rad(p["theta"])
        cos = np.array([np.cos(t) for t in theta])  # one value at a time, as apply_affine_transform does
        sin = np.array([np.sin(t) for t in theta])
        r = np.zeros((n, 3, 3))
        r[:, 0, 0], r[:, 0, 1], r[:, 1, 0], r[:, 1, 1], r[:, 2, 2] = cos, -sin, sin, cos, 1.0
        z = np.zeros((n, 3, 3))
        z[:, 0, 0], z[:, 1, 1], z[:, 2, 2] = p["zx"], p["zy"], 1.0
        m = np.where(rot[:, None, None], r, z)
        both = rot & zoom
        if both.any():
            m[both] = np.matmul(r[both], z[both])
        ox, oy = float(h) / 2 - 0.5, float(w) / 2 - 0.5  # transform_matrix_offset_center
        offset = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], dtype=np.float64)
        reset = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], dtype=np.float64)
        m = np.matmul(np.matmul(offset, m), reset)
        if col > row:
            m = m[:, [1, 0, 2]][:, :, [1, 0, 2]]
        planes = np.moveaxis(x[moved], 1 + chan, 1)  # (k, channels, H, W) in the image's row/col order
        out = np.empty(planes.shape, dtype=planes.dtype)
        for c in range(planes.shape[1]):
            out[:, c] = interpolate(planes[:, c], m[moved], gen.fill_mode, float(gen.cval))
        x[moved] = np.moveaxis(out, 1, 1 + chan)
    if p["flip_h"].any():
        x[p["flip_h"]] = np.flip(x[p["flip_h"]], 1 + col)
    if p["flip_v"].any():
        x[p["flip_v"]] = np.flip(x[p["flip_v"]], 1 + row)
    batch_x = x
    batch_x_miscs = [xx[index_array] for xx in iterator.x_misc]
    output = (batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs,)
    if iterator.y is None:
        return output[0]
    output += (iterator.y[index_array],)
    if iterator.sample_weight is not None:
        output += (iterator.sample_weight[index_array],)
    return output


def interpolate(images: np.ndarray, m: np.ndarray, mode: str, cval: float) -> np.ndarray:
    """``scipy.ndimage.affine_transform(image, m[:2, :2], m[:2, 2], order=1, mode=mode, cval=cval)`` for each
    of ``images`` (k, H, W) with its own ``m`` (k, 3, 3), for ``mode`` "nearest" or "constant", computed as
    SciPy's ``NI_GeometricTransform`` does, in the same double-precision operations in the same order:

    - input coordinate of output pixel (r, c): ``((r m00) + c m01) + o0`` and ``((r m10) + c m11) + o1``;
    - outside [0, len - 1]: the nearest edge ("nearest"), or ``cval`` for the pixel ("constant");
    - weights along an axis: ``w0 = 1 - (x - floor(x))``, ``w1 = 1 - w0``, at ``floor(x)`` and the next
      index (the mirrored one past the last, where ``w1`` is 0);
    - the value: ``t = 0``, then ``t += (v w_row) w_col`` over the 2x2 neighbours, last axis fastest, then
      rounded to the images' type.
    """
    k, h, w = images.shape
    r = np.arange(h, dtype=np.float64)[None, :, None]
    c = np.arange(w, dtype=np.float64)[None, None, :]
    rows = (r * m[:, 0, 0, None, None] + c * m[:, 0, 1, None, None]) + m[:, 0, 2, None, None]
    cols = (r * m[:, 1, 0, None, None] + c * m[:, 1, 1, None, None]) + m[:, 1, 2, None, None]
    outside = np.zeros(rows.shape, dtype=bool)
    axes = []
    for x, n in ((rows, h), (cols, w)):
        if mode == "constant":
            outside |= (x < 0) | (x > n - 1)
        x = np.where(x < 0, 0.0, np.where(x > n - 1, float(n - 1), x))
        start = np.floor(x)
        w0 = 1.0 - (x - start)
        i0 = start.astype(np.intp)
        i1 = i0 + 1
        i1 = np.where(i1 >= n, max(n - 2, 0), i1)
        axes.append((i0, i1, w0, 1.0 - w0))
    (r0, r1, wr0, wr1), (c0, c1, wc0, wc1) = axes
    base = np.arange(k, dtype=np.intp)[:, None, None] * h
    top, bottom = (base + r0) * w, (base + r1) * w
    v = np.ascontiguousarray(images).ravel()
    t = np.zeros(rows.shape)
    t += (v.take(top + c0).astype(np.float64) * wr0) * wc0
    t += (v.take(top + c1).astype(np.float64) * wr0) * wc1
    t += (v.take(bottom + c0).astype(np.float64) * wr1) * wc0
    t += (v.take(bottom + c1).astype(np.float64) * wr1) * wc1
    if mode == "constant":
        t[outside] = cval
    return t.astype(images.dtype)


_CHECK: dict[str, object] = {"images": 64, "same": None}  # the check's size, and its verdict once made


def checked() -> bool:
    """Whether the whole-batch images were found identical to the generator's own on this machine: checked
    once, at the first batch a covered generator asks for (so a kernel that never augments pays nothing)."""
    if _CHECK["same"] is None:
        _CHECK["same"] = not _CHECK["images"] or same_images(int(_CHECK["images"]))
    return bool(_CHECK["same"])


def _fast_batches(original):
    @functools.wraps(original)
    def batches(self, index_array):
        if covered(self.image_data_generator, self) and checked():
            return transformed_batch(self, index_array)
        return original(self, index_array)

    batches.__mnistlab__ = True
    return batches


def same_images(n: int, seed: int = 0) -> bool:
    """Whether :func:`transformed_batch` gives the generator's own images, bit for bit, on ``n`` random images
    (the lab's ranges and wider ones, one and three channels); the global NumPy random state is left as it was."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator, NumpyArrayIterator

    state = np.random.get_state()
    try:
        rng = np.random.default_rng(seed)
        for kwargs, channels in (({"rotation_range": 10, "zoom_range": 0.1, "horizontal_flip": True}, 1),
                                 ({"rotation_range": 45, "zoom_range": [0.5, 1.7], "vertical_flip": True,
                                   "fill_mode": "constant", "cval": 0.3}, 3)):
            x = rng.random((n, 28, 28, channels), dtype=np.float32)
            y = rng.integers(0, 10, n)
            gen = ImageDataGenerator(**kwargs)
            it = gen.flow(x, y, batch_size=n, shuffle=False)
            if not covered(gen, it):
                return False
            np.random.seed(seed)
            theirs = NumpyArrayIterator._get_batches_of_transformed_samples.__wrapped__(it, np.arange(n)) \
                if getattr(NumpyArrayIterator._get_batches_of_transformed_samples, "__mnistlab__", False) \
                else NumpyArrayIterator._get_batches_of_transformed_samples(it, np.arange(n))
            after = np.random.get_state()[1].copy()
            np.random.seed(seed)
            ours = transformed_batch(it, np.arange(n))
            if not (np.array_equal(np.asarray(theirs[0]).view(np.uint32), np.asarray(ours[0]).view(np.uint32))
                    and np.array_equal(theirs[1], ours[1]) and np.array_equal(after, np.random.get_state()[1])):
                return False
        return True
    except Exception:  # noqa: BLE001 - any surprise: the generator keeps its own code
        return False
    finally:
        np.random.set_state(state)


def _image_batches() -> bool:
    try:
        from keras.src.legacy.preprocessing.image import NumpyArrayIterator
    except ImportError:
        return False
    current = NumpyArrayIterator._get_batches_of_transformed_samples
    if not getattr(current, "__mnistlab__", False):
        NumpyArrayIterator._get_batches_of_transformed_samples = _fast_batches(current)
    return True
