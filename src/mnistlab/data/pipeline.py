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


def augmenter(exp: Experiment):
    """Keras preprocessing layers with the lab's ``ImageDataGenerator`` ranges.

    ``RandomRotation`` takes a fraction of a full turn: 10 degrees is 10/360. ``zoom_range=0.1`` zooms
    each axis independently in [0.9, 1.1]; ``ImageDataGenerator`` fills with the nearest pixel, so do we.
    """
    import keras

    layers = []
    if exp.rotation_degrees:
        layers.append(keras.layers.RandomRotation(exp.rotation_degrees / 360.0, fill_mode="nearest",
                                                  seed=exp.seed))
    if exp.zoom:
        layers.append(keras.layers.RandomZoom((-exp.zoom, exp.zoom), (-exp.zoom, exp.zoom),
                                              fill_mode="nearest", seed=exp.seed + 1))
    if exp.horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=exp.seed + 2))
    if exp.translation:
        layers.append(keras.layers.RandomTranslation(exp.translation, exp.translation, fill_mode="nearest",
                                                     seed=exp.seed + 3))
    return keras.Sequential(layers, name="augmentation")


def epoch_counter(initial: int = 0):
    """A variable holding the current epoch, read by :func:`batches` to key each epoch's permutation."""
    import tensorflow as tf

    return tf.Variable(initial, dtype=tf.int64, trainable=False)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None, augment=None, epoch=None):
    """An in-memory ``tf.data`` pipeline of ``(x, y)`` batches, reshuffled each epoch when ``seed`` is given.

    The arrays become one constant tensor each, once; each epoch draws a fresh permutation of indices and
    gathers whole batches, as Keras does for NumPy input (a shuffle of ``len(x)`` single elements costs
    more). With ``epoch`` (an :func:`epoch_counter` the training loop advances), the permutation is a
    function of ``(seed, epoch)`` alone, so epoch 7 sees the same order whether or not the run was
    interrupted and resumed before it. ``augment``, a Keras layer, is applied to each batch in the graph.
    """
    import tensorflow as tf

    n = len(x)
    xs, ys = tf.constant(x), tf.constant(y)
    if seed is not None and epoch is not None:
        def permutation(_):
            key = tf.stack([tf.constant(seed, tf.int64), epoch.read_value()])
            return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)

        index = tf.data.Dataset.from_tensors(0).map(permutation).unbatch()
        index = index.apply(tf.data.experimental.assert_cardinality(n))
    else:
        index = tf.data.Dataset.range(n)
        if seed is not None:
            index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    data = index.batch(batch_size).map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)))
    if augment is not None:
        data = data.map(lambda xb, yb: (augment(xb, training=True), yb))
    return data.prefetch(2)




def legacy_augmented_flow(x: np.ndarray, y: np.ndarray, exp: Experiment):
    """The lab's own ``ImageDataGenerator(...).flow(...)`` (``--faithful``), from TensorFlow's Keras namespace.

    Keras 3 dropped ``ImageDataGenerator`` from its own namespace; TensorFlow still exports it.
    """
    import tensorflow as tf

    datagen = tf.keras.preprocessing.image.ImageDataGenerator(
        rotation_range=exp.rotation_degrees, zoom_range=exp.zoom, horizontal_flip=exp.horizontal_flip)
    datagen.fit(x)
    return datagen.flow(x, y, batch_size=exp.batch_size, seed=exp.seed)
