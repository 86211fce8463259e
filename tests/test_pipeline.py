"""Preparation of arrays: scaling, channel axis, one-hot labels, Keras' validation_split semantics."""

import dataclasses

import numpy as np
import pytest

from mnistlab import config
from mnistlab.data.pipeline import (
    affine_transforms,
    augment_images,
    augments,
    batches,
    encode_labels,
    epoch_counter,
    model_input,
    prepare,
    random_affine,
    scale,
)
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


def _transforms(exp, n=4000, key=(3, 0)):
    import tensorflow as tf

    return np.asarray(affine_transforms(n, 28, 28, exp, tf.constant(key, tf.int64)))


def test_augmentation_draws_the_labs_ranges():
    e = config.load("ex2.augment")  # rotation 10 degrees, zoom 0.1, horizontal flip, as ImageDataGenerator
    t = _transforms(e)
    a0, a1, b0, b1 = t[:, 0], t[:, 1], t[:, 3], t[:, 4]
    mirror = np.sign(a0 * b1 - a1 * b0)  # the determinant's sign: a mirrored image has a negative one
    zx, zy = np.hypot(a0, b0), np.hypot(a1, b1)  # columns of R Z M: m zx (cos, sin) and zy (-sin, cos)
    angle = np.degrees(np.arctan2(-a1, b1))
    assert np.all(np.abs(angle) <= 10.0 + 1e-4) and angle.min() < -9.5 and angle.max() > 9.5
    for z in (zx, zy):
        assert np.all((z >= 0.9 - 1e-5) & (z <= 1.1 + 1e-5)) and z.min() < 0.91 and z.max() > 1.09
    assert abs(np.corrcoef(zx, zy)[0, 1]) < 0.1  # each axis zooms independently
    assert 0.45 < np.mean(mirror < 0) < 0.55
    # The centre maps to itself: rotation and zoom are about the centre, and no shift without translation.
    mapped = np.stack([a0 * 13.5 + a1 * 13.5 + t[:, 2], b0 * 13.5 + b1 * 13.5 + t[:, 5]], axis=1)
    np.testing.assert_allclose(mapped, 13.5, atol=1e-4)
    np.testing.assert_array_equal(t[:, 6:], 0.0)


def test_augmentation_translation_range():
    e = dataclasses.replace(config.load("ex2.augment"), rotation_degrees=0.0, zoom=0.0, horizontal_flip=False,
                            translation=0.1)
    t = _transforms(e)
    np.testing.assert_allclose(t[:, [0, 4]], 1.0)
    assert np.all(np.abs(t[:, [2, 5]]) <= 2.8 + 1e-5) and t[:, 2].max() > 2.7 and t[:, 5].min() < -2.7


def test_augmentation_is_exact_where_it_should_be_and_keyed():
    import tensorflow as tf

    x = model_input(fake().x_train[:64], "cnn")
    e = config.load("ex2.augment")
    none = dataclasses.replace(e, rotation_degrees=0.0, zoom=0.0, horizontal_flip=False)
    key = tf.constant([1, 0], tf.int64)
    np.testing.assert_array_equal(np.asarray(random_affine(x, none, key)), x)
    flip = dataclasses.replace(none, horizontal_flip=True)
    out = np.asarray(random_affine(x, flip, key))
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and 16 < sum(mirrored) < 48
    a = np.asarray(random_affine(x, e, key))
    np.testing.assert_array_equal(a, np.asarray(random_affine(x, e, key)))  # same key, same images
    assert not np.array_equal(a, np.asarray(random_affine(x, e, tf.constant([1, 1], tf.int64))))
    assert a.shape == x.shape and not np.array_equal(a, x) and a.min() >= 0.0 and a.max() <= 1.0


def test_cutout_blanks_one_square_per_image_keyed_and_leaves_the_affine_draws_alone():
    import tensorflow as tf

    x = np.ones((500, 28, 28, 1), np.float32)
    e = dataclasses.replace(config.load("improved.fashion_mnist"), cutout=8)
    plain = dataclasses.replace(e, horizontal_flip=False)
    assert augments(dataclasses.replace(plain, cutout=8)) and not augments(dataclasses.replace(plain, cutout=0))
    key = tf.constant([3, 5], tf.int64)
    out = np.asarray(augment_images(x, plain, key))
    zeros = (out[..., 0] == 0).sum(axis=(1, 2))
    assert set(np.unique(out)) == {0.0, 1.0} and zeros.max() == 64 and zeros.min() >= 16  # over an edge: less
    assert (zeros == 64).mean() > 0.5
    rows, cols = np.nonzero(out[0, ..., 0] == 0)
    assert rows.max() - rows.min() + 1 <= 8 and cols.max() - cols.min() + 1 <= 8  # one square
    np.testing.assert_array_equal(out, np.asarray(augment_images(x, plain, key)))
    assert not np.array_equal(out, np.asarray(augment_images(x, plain, tf.constant([3, 6], tf.int64))))
    # with the mirror too, the images are the mirrored ones with the same squares blanked as without it
    img = model_input(fake().x_train[:64], "cnn")
    mirrored = np.asarray(random_affine(img, e, key))
    both = np.asarray(augment_images(img, e, key))
    square = np.asarray(augment_images(np.ones_like(img), plain, key)) == 0
    np.testing.assert_array_equal(both, np.where(square, 0.0, mirrored))


def test_epoch_batches_are_keyed_to_the_epoch():
    x = model_input(fake(n_train=300).x_train, "cnn")
    y = np.arange(300) % 10
    counter = epoch_counter(0)
    data = batches(x, y, 128, seed=5, epoch=counter, augment=config.load("ex2.augment"))
    assert int(data.cardinality()) == 3

    def epoch(k):
        counter.assign(k)
        got = [(np.asarray(a), np.asarray(b)) for a, b in data]
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got]), [len(g[1]) for g in got]

    x0, y0, sizes = epoch(0)
    assert sizes == [128, 128, 44] and sorted(y0) == sorted(y)
    _, y1, _ = epoch(1)
    assert not np.array_equal(y0, y1)
    x0b, y0b, _ = epoch(0)  # epoch 0 again, as after a resume: same order, same augmentations
    np.testing.assert_array_equal(y0, y0b)
    np.testing.assert_array_equal(x0, x0b)


@pytest.mark.parametrize("seed", [None, 3])
def test_pipelines_run_without_the_autotuner(seed):
    """tf.data's autotuner thread halved training speed on two cores (docs/DEVELOPING.md): every pipeline the
    fast path feeds to fit, evaluate and predict has it off, and still gives every example once."""
    x = model_input(fake(n_train=70).x_train, "cnn")
    y = np.arange(70) % 10
    data = batches(x, y, 32, seed=seed, epoch=epoch_counter(0) if seed else None)
    assert data.options().autotune.enabled is False
    assert sorted(np.concatenate([np.asarray(b) for _, b in data])) == sorted(y)
