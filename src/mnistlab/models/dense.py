"""Fully connected networks: the lab's Exercise 1 net, the Fashion ANN and the activation study."""

from __future__ import annotations

import keras

from mnistlab.config import Experiment


def build(exp: Experiment, activation: str | None = None) -> keras.Model:
    """Input(28, 28) -> Flatten -> [Dense(units, act) -> Dropout(rate)?]* -> Dense(10, softmax).

    With ``hidden_units=[128]`` this is the lab's Exercise 1 model (101,770 parameters); with
    ``[128, 64]`` and ``dropout=[0.2, 0.0]`` the Exercise 2 ANN (109,386 parameters).
    """
    from mnistlab.models import dense_head

    act = activation or exp.activation
    layers = [keras.Input(shape=(28, 28)), keras.layers.Flatten(), *dense_head(exp, act)]
    return keras.Sequential(layers, name=f"dense_{act}")
