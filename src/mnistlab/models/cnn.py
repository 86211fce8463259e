"""The lab's convolutional network for Fashion-MNIST (Exercise 2, step 5)."""

from __future__ import annotations

import keras

from mnistlab.config import Experiment


def build(exp: Experiment, activation: str | None = None) -> keras.Model:
    """Input(28, 28, 1) -> [Conv2D(f, k, act) -> MaxPooling2D(p)]* -> Flatten
    -> [Dense(units, act) -> Dropout(rate)?]* -> Dense(10, softmax).

    The lab's settings (filters 32, 64; 3x3; pool 2; Dense 128; Dropout 0.3) give 225,034 parameters.
    """
    from mnistlab.models import dense_head, with_activation

    act = activation or exp.activation
    k, p = exp.kernel_size, exp.pool_size
    layers: list[keras.layers.Layer] = [keras.Input(shape=(28, 28, 1))]
    for filters in exp.conv_filters:
        layers += with_activation(keras.layers.Conv2D, filters, (k, k), activation=act, slope=exp.leaky_relu_slope)
        layers.append(keras.layers.MaxPooling2D((p, p)))
    layers += [keras.layers.Flatten(), *dense_head(exp, act)]
    return keras.Sequential(layers, name=f"cnn_{act}")
