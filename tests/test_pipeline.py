"""Preparation of arrays: scaling, channel axis, one-hot labels, Keras' validation_split semantics."""

import numpy as np
import pytest

from mnistlab import config
from mnistlab.data.pipeline import augmenter, encode_labels, model_input, prepare, scale
from mnistlab.data.sources import Dataset


def fake(n_train=50, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset("fashion_mnist", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
                   rng.integers(0, 10, n_train, dtype=np.uint8), rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
                   rng.integers(0, 10, n_test, dtype=np.uint8), "synthetic", "idx", False)


def test_scale_is_the_labs_divide_by_255():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    s = scale(x)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, x / np.float32(255.0))
    assert s.max() == 1.0 and s.min() == 0.0


def test_channel_axis_for_cnn_only():
    x = np.zeros((4, 28, 28), np.uint8)
    assert model_input(x, "cnn").shape == (4, 28, 28, 1)
    assert model_input(x, "dense").shape == (4, 28, 28)


def test_one_hot_like_to_categorical():
    import keras

    y = np.array([0, 3, 9], np.uint8)
    np.testing.assert_array_equal(encode_labels(y, True), keras.utils.to_categorical(y, 10))
    assert encode_labels(y, False).tolist() == [0, 3, 9]


@pytest.mark.parametrize("n", [50, 57, 60_000])
def test_validation_split_matches_keras(n):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    e = config.load("ex2.ann")
    ds = fake(n_train=min(n, 60_000))
    p = prepare(ds, e)
    (xt, _), (xv, _) = train_validation_split((p.raw_train, p.labels_train), validation_split=0.2)
    assert len(p.x_train) == len(xt) and len(p.x_val) == len(xv)
    np.testing.assert_array_equal(p.x_val, scale(xv))  # the *last* 20%, unshuffled


def test_validation_on_test_set_as_the_lab_does():
    p = prepare(fake(), config.load("ex1"))
    assert p.validation_is_test and p.x_val is p.x_test and len(p.x_train) == 50


def test_limits_take_the_first_images():
    ds = fake()
    p = prepare(ds, config.load("ex1", {"train_limit": 10, "test_limit": 5}))
    np.testing.assert_array_equal(p.raw_train, ds.x_train[:10])
    assert len(p.x_test) == 5


def test_augmenter_uses_the_labs_ranges_and_is_seeded():
    e = config.load("ex2.augment")
    aug = augmenter(e)
    names = [type(layer).__name__ for layer in aug.layers]
    assert names == ["RandomRotation", "RandomZoom", "RandomFlip"]
    rot, zoom, flip = aug.layers
    assert rot.factor == pytest.approx((-10 / 360, 10 / 360))  # a fraction of a turn
    assert zoom.height_factor == pytest.approx((-0.1, 0.1)) and zoom.width_factor == pytest.approx((-0.1, 0.1))
    assert rot.fill_mode == zoom.fill_mode == "nearest"  # ImageDataGenerator's default fill
    assert flip.mode == "horizontal"
    x = model_input(fake().x_train[:4], "cnn")
    a = np.asarray(augmenter(e)(x, training=True))
    b = np.asarray(augmenter(e)(x, training=True))
    np.testing.assert_array_equal(a, b)  # same seed, same augmentations
    assert a.shape == x.shape and not np.array_equal(a, x)
