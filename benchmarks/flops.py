"""Floating-point operations of the lab's experiments, counted from the models' layers.

Forward FLOPs per image: 2 * inputs * outputs for a Dense layer, 2 * k * k * c_in * c_out * H_out * W_out
for a Conv2D (pooling, activations and the optimizer are not counted). A training step costs about three
forward passes (forward, gradient with respect to activations, gradient with respect to weights).
"""

from __future__ import annotations

import json
from pathlib import Path


def forward_flops(model) -> int:
    """Multiply-adds times two of one image through ``model`` (Dense and Conv2D layers)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
    return int(total)


def experiment_flops(run_dir: Path, name: str) -> float | None:
    """FLOPs of experiment ``name`` as it ran in ``run_dir`` (from its config and metrics), or None."""
    import dataclasses

    from mnistlab import models
    from mnistlab.config import Experiment

    metrics_path = run_dir / name / "metrics.json"
    if not metrics_path.is_file():
        return None
    m = json.loads(metrics_path.read_text(encoding="utf-8"))
    saved = json.loads((run_dir / name / "config.json").read_text(encoding="utf-8"))
    exp = Experiment(**{f.name: saved[f.name] for f in dataclasses.fields(Experiment) if f.name in saved})
    if exp.step == "confusion":
        return float(forward_flops(models.build(exp)) * m["n_test"])
    if exp.step == "activations":
        f = forward_flops(models.build(exp, activation=exp.activations[0]))  # activations add no FLOPs counted
        per_model = exp.epochs * (m["n_train"] * 3 * f + m["n_validation"] * f) + 10_000 * f
        return float(per_model * len(exp.activations))
    f = forward_flops(models.build(exp))
    return float(exp.epochs * (m["n_train"] * 3 * f + m["n_validation"] * f) + m["n_test"] * f)
