"""Model builders, chosen by name: ``build(exp)`` calls ``mnistlab.models.<exp.model>.build``.

Adding a family is adding one file here with a ``build(exp, activation=None) -> keras.Model``.
"""

from __future__ import annotations

import importlib

import keras

from mnistlab.config import MODELS, Experiment

FAMILIES = MODELS  # config.MODELS: the choices a setting may name


def build(exp: Experiment, activation: str | None = None) -> keras.Model:
    """Build the (uncompiled) model ``exp.model`` with ``exp``'s settings.

    Args:
        exp: the experiment; its ``model`` names the family.
        activation: hidden activation overriding ``exp.activation`` (the activation study).
    """
    if exp.model not in FAMILIES:
        raise ValueError(f"unknown model family {exp.model!r}")
    module = importlib.import_module(f"mnistlab.models.{exp.model}")
    return module.build(exp, activation=activation)


def with_activation(layer_type, *args, activation: str, slope: float) -> list[keras.layers.Layer]:
    """``layer_type(*args, activation=...)``, or the linear layer then ``LeakyReLU(slope)``.

    LeakyReLU is its own layer after a linear one, as in the lab (``Dense(128), LeakyReLU(0.1)``).
    """
    if activation == "leaky_relu":
        return [layer_type(*args), keras.layers.LeakyReLU(negative_slope=slope)]
    return [layer_type(*args, activation=activation)]


def dense_head(exp: Experiment, activation: str) -> list[keras.layers.Layer]:
    """[Dense(units, activation) -> Dropout(rate) if rate > 0]* -> Dense(10, softmax)."""
    layers: list[keras.layers.Layer] = []
    for units, rate in zip(exp.hidden_units, exp.dropout, strict=True):
        layers += with_activation(keras.layers.Dense, units, activation=activation, slope=exp.leaky_relu_slope)
        if rate > 0:
            layers.append(keras.layers.Dropout(rate))
    # Under mixed precision the softmax stays float32, as Keras advises; the lab's float32 model is unchanged.
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    layers.append(keras.layers.Dense(10, activation="softmax", **({"dtype": "float32"} if mixed else {})))
    return layers


def input_shape(exp: Experiment) -> tuple[int, ...]:
    """28x28 for dense models (they flatten), 28x28x1 (channels last) for convolutional ones."""
    return (28, 28) if exp.model == "dense" else (28, 28, 1)
