"""A deeper convolutional network with batch normalisation: the `improved` experiments (the lab's own
improvement proposals: more layers, other architectures, augmentation, hyperparameters)."""

from __future__ import annotations

import keras

from mnistlab.config import Experiment


def build(exp: Experiment, activation: str | None = None) -> keras.Model:
    """Input(28, 28, 1) -> per entry f of ``conv_filters``: n x [Conv2D(f, k, same, no bias) -> BatchNorm
    -> act] (n from ``convs_per_block``), MaxPooling2D(p), Dropout(``block_dropout``) -> Flatten -> dense head as in the
    lab's CNN (Dense(units, act) -> Dropout(rate)) -> Dense(10, softmax).
    """
    from mnistlab.models import dense_head

    act = activation or exp.activation
    k, p = exp.kernel_size, exp.pool_size
    layers: list[keras.layers.Layer] = [keras.Input(shape=(28, 28, 1))]
    for filters, convs in zip(exp.conv_filters, exp.block_convs, strict=True):
        for _ in range(convs):
            layers += [keras.layers.Conv2D(filters, (k, k), padding="same", use_bias=False),
                       keras.layers.BatchNormalization(), keras.layers.Activation(act)]
        layers.append(keras.layers.MaxPooling2D((p, p)))
        if exp.block_dropout > 0:
            layers.append(keras.layers.Dropout(exp.block_dropout))
    layers += [keras.layers.Flatten(), *dense_head(exp, act)]
    return keras.Sequential(layers, name=f"cnn_bn_{act}")
