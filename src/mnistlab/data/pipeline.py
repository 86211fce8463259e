"""From raw uint8 arrays to what a model eats: scaling, channel axis, labels, splits, augmentation.

One module shared by training and prediction, so both see images prepared the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnistlab.config import Experiment

if TYPE_CHECKING:
    from mnistlab.data.sources import Dataset


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels in 0-255 -> float32 in [0, 1], the lab's ``x / 255.0``."""
    return np.asarray(x, dtype=np.float32) / np.float32(255.0)


def model_input(x: np.ndarray, model: str) -> np.ndarray:
    """Scale ``x`` (N, 28, 28) and add the channel axis a convolutional model expects."""
    x = scale(x)
    return x if model == "dense" else x[..., np.newaxis]


def encode_labels(y: np.ndarray, one_hot: bool) -> np.ndarray:
    """Integer labels as they are (sparse loss), or one-hot float32 rows (``to_categorical``)."""
    if not one_hot:
        return np.asarray(y, dtype=np.int64)
    return np.eye(10, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


@dataclass
class Prepared:
    """Arrays ready for ``fit``/``evaluate`` plus the raw images and integer labels for figures."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_all: np.ndarray  # the whole (sliced) training set before the validation split, for fit(validation_split)
    y_all: np.ndarray
    raw_train: np.ndarray  # uint8 (N, 28, 28), before any split
    labels_train: np.ndarray  # int labels of raw_train
    raw_test: np.ndarray
    labels_test: np.ndarray
    validation_is_test: bool


def prepare(ds: Dataset, exp: Experiment) -> Prepared:
    """Slice, scale and split ``ds`` as ``exp`` says.

    ``validation="split"`` takes the last ``validation_split`` of the training set, unshuffled, exactly
    as Keras' ``fit(validation_split=...)`` does (``floor(n * (1 - split))`` images stay for training).
    ``validation="test"`` validates on the test set, as the lab's Exercise 1 and augmentation step do.
    """
    raw_train, labels_train = ds.x_train, ds.y_train
    raw_test, labels_test = ds.x_test, ds.y_test
    if exp.train_limit:
        raw_train, labels_train = raw_train[: exp.train_limit], labels_train[: exp.train_limit]
    if exp.test_limit:
        raw_test, labels_test = raw_test[: exp.test_limit], labels_test[: exp.test_limit]
    x_all = model_input(raw_train, exp.model)
    y_all = encode_labels(labels_train, exp.one_hot)
    x_test = model_input(raw_test, exp.model)
    y_test = encode_labels(labels_test, exp.one_hot)
    if exp.validation == "split":
        split_at = int(np.floor(len(x_all) * (1.0 - exp.validation_split)))
        x_train, y_train = x_all[:split_at], y_all[:split_at]
        x_val, y_val = x_all[split_at:], y_all[split_at:]
    else:
        x_train, y_train, x_val, y_val = x_all, y_all, x_test, y_test
    return Prepared(x_train, y_train, x_val, y_val, x_test, y_test, x_all, y_all,
                    raw_train, labels_train, raw_test, labels_test, exp.validation == "test")


def augments(exp: Experiment) -> bool:
    """Whether ``exp`` asks for any random transformation of its training images."""
    return bool(exp.rotation_degrees or exp.zoom or exp.horizontal_flip or exp.translation or exp.cutout)


def augment_images(x, exp: Experiment, key):
    """Every random transformation ``exp`` asks for, on ``x`` (N, H, W, C): :func:`random_affine` when it has
    affine ranges, then :func:`cutout`, both drawn from ``key``."""
    if exp.rotation_degrees or exp.zoom or exp.horizontal_flip or exp.translation:
        x = random_affine(x, exp, key)
    if exp.cutout:
        x = cutout(x, exp.cutout, key)
    return x


def cutout(x, side: int, key):
    """Set one ``side`` x ``side`` square of each image to 0 (the background), its centre uniform over the
    image, so it may hang over the edge (DeVries and Taylor, 2017): the net must use more than one part of a
    garment. Drawn from ``key`` with a stream of its own (the affine map's draws are unchanged)."""
    import tensorflow as tf

    n, h, w = tf.shape(x)[0], int(x.shape[1]), int(x.shape[2])
    u = tf.random.stateless_uniform(tf.stack([n, 2]), seed=key + tf.constant([0, 1 << 32], tf.int64))
    centre = tf.cast(tf.floor(u * tf.constant([h, w], tf.float32)), tf.int64)
    low, high = centre - side // 2, centre - side // 2 + side
    rows = tf.range(h, dtype=tf.int64)[None, :]
    cols = tf.range(w, dtype=tf.int64)[None, :]
    inside_r = (rows >= low[:, :1]) & (rows < high[:, :1])  # (n, h)
    inside_c = (cols >= low[:, 1:]) & (cols < high[:, 1:])  # (n, w)
    keep = tf.logical_not(inside_r[:, :, None] & inside_c[:, None, :])
    return x * tf.cast(keep, x.dtype)[..., None]


def random_affine(x, exp: Experiment, key):
    """The lab's ``ImageDataGenerator`` transformation of each image in ``x`` (N, H, W, C), drawn from ``key``.

    Per image: an angle uniform in [-rotation_degrees, rotation_degrees], zoom factors uniform in
    [1 - zoom, 1 + zoom] for each axis independently, a mirror with probability 1/2 and a shift uniform in
    [-translation, translation] of the image size, composed into one affine map about the image centre and
    applied once with bilinear interpolation and the nearest pixel as fill, as ``ImageDataGenerator`` does
    (``apply_affine_transform``, then the flip). One call transforms a whole epoch: per-batch Keras layers
    (``RandomRotation``, ``RandomZoom``, ``RandomFlip``) resampled each image two to three times and cost
    more than the training step they fed.

    ``key`` is two integers (``tf.random`` stateless seed): the same key gives the same images, whatever ran
    before, so an interrupted run resumes with the augmentations it would have drawn.
    """
    import tensorflow as tf

    h, w = int(x.shape[1]), int(x.shape[2])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=affine_transforms(tf.shape(x)[0], h, w, exp, key), output_shape=tf.constant([h, w]),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="NEAREST")


def affine_transforms(n, h: int, w: int, exp: Experiment, key):
    """``n`` random maps from output pixel to input pixel, as the (n, 8) rows ``ImageProjectiveTransformV3``
    takes: ``(x, y) -> (a0 x + a1 y + a2, b0 x + b1 y + b2)``, here R(angle) Z(zx, zy) M(mirror) (p - c) + c + t
    with c the image centre (see :func:`random_affine`)."""
    import tensorflow as tf

    u = tf.random.stateless_uniform(tf.stack([n, 6]), seed=key, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * (exp.rotation_degrees * np.pi / 180.0)
    zx, zy = 1.0 + exp.zoom * u[:, 1], 1.0 + exp.zoom * u[:, 2]
    mirror = tf.where((u[:, 3] < 0.0) & exp.horizontal_flip, -1.0, 1.0)
    tx, ty = exp.translation * w * u[:, 4], exp.translation * h * u[:, 5]
    cos, sin = tf.cos(angle), tf.sin(angle)
    a0, a1 = cos * zx * mirror, -sin * zy
    b0, b1 = sin * zx * mirror, cos * zy
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    a2 = cx + tx - a0 * cx - a1 * cy
    b2 = cy + ty - b0 * cx - b1 * cy
    zero = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)


def augmented_grid(x: np.ndarray, exp: Experiment, variants: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (N, H, W, 1) and ``variants`` random transformations of each, (N, variants, H, W, 1), for a figure.

    Drawn with the keys of the first ``variants`` epochs: what training shows, not a look-alike.
    """
    xs = [np.asarray(augment_images(x, exp, augment_key(exp.seed, k))) for k in range(variants)]
    return x, np.stack(xs, axis=1)


def augment_key(seed: int, epoch):
    """The stateless key of one epoch's augmentations, distinct from the key of its shuffle."""
    import tensorflow as tf

    return tf.stack([tf.constant(seed * 1009 + 7, tf.int64), tf.cast(epoch, tf.int64)])


def epoch_counter(initial: int = 0):
    """A variable holding the current epoch, read by :func:`batches` to key each epoch's permutation."""
    import tensorflow as tf

    return tf.Variable(initial, dtype=tf.int64, trainable=False)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None, epoch=None,
            augment: Experiment | None = None):
    """An in-memory ``tf.data`` pipeline of ``(x, y)`` batches, reshuffled each epoch when ``seed`` is given.

    The arrays become one constant tensor each, once. With ``seed`` and ``epoch`` (an :func:`epoch_counter`
    the training loop advances), each epoch gathers the whole training set in the order of a permutation
    that is a function of ``(seed, epoch)`` alone, so epoch 7 sees the same order whether or not the run was
    interrupted and resumed before it; ``augment`` (an experiment with rotation, zoom, flip or shift ranges)
    then transforms that epoch in one call of :func:`augment_images`, keyed the same way. Batches are slices.
    """
    import tensorflow as tf

    n = len(x)
    steps = -(-n // batch_size)
    xs, ys = tf.constant(x), tf.constant(y)
    if seed is None or epoch is None:
        index = tf.data.Dataset.range(n)
        if seed is not None:
            index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        index = index.batch(batch_size).map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)))
        return without_autotune(index.prefetch(2))

    def whole_epoch(_):
        e = epoch.read_value()
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        xe, ye = tf.gather(xs, order), tf.gather(ys, order)
        if augment is not None and augments(augment):
            xe = augment_images(xe, augment, augment_key(seed, e))
        return xe, ye

    def sliced(xe, ye):
        return tf.data.Dataset.range(steps).map(
            lambda i: (xe[i * batch_size:(i + 1) * batch_size], ye[i * batch_size:(i + 1) * batch_size]))

    data = tf.data.Dataset.from_tensors(0).map(whole_epoch).flat_map(sliced)
    return without_autotune(data.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2))


def without_autotune(data):
    """``data`` with tf.data's autotuner off. These pipelines have nothing to tune (a fixed prefetch, sequential
    maps), yet with the autotuner on, a training step on two cores often ran on one core: 65 ms instead of
    35 ms in most alternating rounds of a probe, and `mnistlab run ex2.cnn` took 0.8x the time with it off
    (docs/DEVELOPING.md, "tf.data's autotuner"). The batches are the same either way."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def legacy_augmented_flow(x: np.ndarray, y: np.ndarray, exp: Experiment):
    """The lab's own ``ImageDataGenerator(...).flow(...)`` (``--faithful``), from TensorFlow's Keras namespace.

    Keras 3 dropped ``ImageDataGenerator`` from its own namespace; TensorFlow still exports it.
    """
    import tensorflow as tf

    datagen = tf.keras.preprocessing.image.ImageDataGenerator(
        rotation_range=exp.rotation_degrees, zoom_range=exp.zoom, horizontal_flip=exp.horizontal_flip)
    datagen.fit(x)
    return datagen.flow(x, y, batch_size=exp.batch_size, seed=exp.seed)
