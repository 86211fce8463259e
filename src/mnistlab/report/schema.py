"""What a ``metrics.json`` must hold before the report states anything from it.

A run folder may be doctored: a metrics file whose values have the wrong type or an impossible range
(an accuracy of 3, a count of 10^30, NaN seconds, a list for a dict) is refused as a whole with the reason,
so every measurement can read the keys it is promised without guarding each one.
"""

from __future__ import annotations

import math
from typing import Any

MAX_COUNT = 10**9  # no data set of the lab comes near; a larger count is a doctored file


class Invalid(ValueError):
    """A value of a metrics file that no run writes; the message names the key."""


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def prob(v: Any) -> bool:
    return _num(v) and 0.0 <= v <= 1.0


def count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT


def nonneg(v: Any) -> bool:
    return _num(v) and v >= 0


def _layer(v: Any) -> bool:
    return (isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("type"), str)
            and count(v.get("params")) and (v.get("output_shape") is None or (
                isinstance(v["output_shape"], list) and all(x is None or count(x) for x in v["output_shape"]))))


def _dict_of(check):
    return lambda v: isinstance(v, dict) and v != {} and all(isinstance(k, str) and check(x) for k, x in v.items())


def _list_of(check):
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _pair(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("true"), str) and isinstance(v.get("predicted"), str) \
        and count(v.get("count"))


def _mistake(v: Any) -> bool:
    return isinstance(v, dict) and count(v.get("index")) and isinstance(v.get("true"), str) \
        and isinstance(v.get("predicted"), str) and prob(v.get("probability"))


def _class_report(v: Any) -> bool:
    return isinstance(v, dict) and all(prob(v.get(k)) for k in ("precision", "recall", "f1-score")) \
        and count(v.get("support"))


# key -> check, for every key a measurement reads; REQUIRED: the keys a finished step of each kind has.
CHECKS = {
    "test_accuracy": prob, "test_loss": nonneg, "test_errors": count, "n_test": count, "n_train": count,
    "n_validation": count, "params": count, "layers": lambda v: isinstance(v, list) and v != [] and all(map(_layer, v)),
    "final_accuracy": prob, "final_val_accuracy": prob, "final_loss": nonneg, "final_val_loss": nonneg,
    "fit_seconds": nonneg, "eval_seconds": nonneg, "seconds": nonneg, "epochs_run": count,
    "best_val_loss_epoch": count, "best_val_loss": nonneg, "best_val_accuracy_epoch": count, "best_val_accuracy": prob,
    "final_gap_accuracy": lambda v: _num(v) and -1 <= v <= 1, "validation_is_test": lambda v: isinstance(v, bool),
    "test_accuracy_single_view": prob, "test_loss_single_view": nonneg,
    "macro_f1": prob, "worst_recall_class": lambda v: isinstance(v, str),
    "most_confused": _list_of(_pair), "most_confident_mistakes": _list_of(_mistake),
    "per_class": _dict_of(_class_report), "reason": lambda v: isinstance(v, str), "last_good_epoch": count,
    "confusion_matrix": lambda v: isinstance(v, list) and all(isinstance(r, list) and len(r) == len(v)
                                                              and all(map(count, r)) for r in v),
}
ACTIVATION_CHECKS = {  # the activations step holds one value per activation
    "val_accuracy": _dict_of(prob), "test_accuracy": _dict_of(prob), "fit_seconds": _dict_of(nonneg),
    "params": _dict_of(count), "best": lambda v: isinstance(v, str),
    "margin_over_second": lambda v: v is None or (_num(v) and 0 <= v <= 1), "n_train": count, "n_validation": count,
}
REQUIRED = {
    "train": ("test_accuracy", "test_loss", "test_errors", "n_test", "n_train", "params", "layers"),
    "augment": ("test_accuracy", "test_loss", "test_errors", "n_test", "n_train", "params", "layers"),
    "activations": ("val_accuracy", "best"),
    "confusion": ("test_accuracy", "n_test", "per_class", "most_confused", "worst_recall_class"),
}


def check_metrics(metrics: dict[str, Any], step_kind: str) -> None:
    """Raise :class:`Invalid` if ``metrics`` (a step of kind ``step_kind``) holds a value no run writes.

    A diverged study's metrics (``{"diverged": true, "reason": ...}``) need no result keys.
    """
    checks = ACTIVATION_CHECKS if step_kind == "activations" else CHECKS
    diverged = metrics.get("diverged") is True
    for key in () if diverged else REQUIRED.get(step_kind, ()):
        if key not in metrics:
            raise Invalid(f"no {key!r}")
    for key, value in metrics.items():
        check = checks.get(key) or CHECKS.get(key)
        if check is not None and not check(value):
            raise Invalid(f"{key!r} holds a value no run writes ({_short(value)})")
    if step_kind == "activations" and not diverged and metrics["best"] not in metrics["val_accuracy"]:
        raise Invalid("'best' is not one of the activations measured")
    if step_kind == "confusion" and not diverged and metrics["worst_recall_class"] not in metrics["per_class"]:
        raise Invalid("'worst_recall_class' is not one of the classes")
    if "test_errors" in metrics and "n_test" in metrics and metrics["test_errors"] > metrics["n_test"]:
        raise Invalid("more test errors than test images")


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."
