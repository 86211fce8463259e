"""Which step, and which data, each printed accuracy belongs to: read from the code that printed it.

``test_loss, test_acc = cnn.evaluate(...)`` makes ``test_acc`` the CNN's *test* accuracy;
``acc = history.history['val_accuracy'][-1]`` the ANN's *validation* accuracy (on its validation split, or
on the test set when its ``fit`` was given ``validation_data=(x_test, ...)``). A ``print`` (or a cell's last
expression) of such names is matched with the line it printed, its text pieces fixed and its values free, so
``print(f"ANN : {a:.4f} | CNN : {c:.4f}")`` gives each number to its own step. Kinds: ``test``, ``val_split``,
``val_test`` (a validation on the test set: the same data as ``test``), ``train``.
"""

from __future__ import annotations

import ast
import re

Origin = tuple[str, str]  # (step, kind)
_PROGRESS = re.compile(r"\d+/\d+ .*(?:step|ETA)|^Epoch \d+/\d+")
_NUM = re.compile(r"-?\d+(?:[.,]\d+)?(?:e-?\d+)?")


class Tracker:
    """The origin of each variable that holds an accuracy, followed cell after cell."""

    def __init__(self) -> None:
        self.values: dict[str, Origin] = {}

    def origin(self, node: ast.AST, models: dict[str, str], histories: dict[str, tuple[str, str]]
               ) -> Origin | None:
        """Where the value of ``node`` comes from, None when it is not a step's accuracy."""
        if isinstance(node, ast.Name):
            return self.values.get(node.id)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "evaluate" and isinstance(f.value, ast.Name) \
                    and f.value.id in models:
                return models[f.value.id], "evaluate"
            if isinstance(f, ast.Name) and f.id in ("round", "float", "max", "min") and node.args:
                return self.origin(node.args[0], models, histories)
            return None
        if isinstance(node, ast.BinOp):
            return self.origin(node.left, models, histories) or self.origin(node.right, models, histories)
        if isinstance(node, ast.Subscript):
            inner = self.origin(node.value, models, histories)
            if inner and inner[1] == "evaluate":
                idx = node.slice
                if isinstance(idx, ast.Constant) and idx.value in (1, -1, "accuracy"):
                    return inner[0], "test"
                return None
            if inner:
                return inner
            hist = _history(node, histories)
            return hist
        return None

    def assign(self, node: ast.stmt, models: dict[str, str], histories: dict[str, tuple[str, str]]) -> None:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            return
        target, value = node.targets[0], node.value
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            for t, v in zip(target.elts, value.elts, strict=False):
                if isinstance(t, ast.Name):
                    self._set(t.id, self.origin(v, models, histories))
            return
        got = self.origin(value, models, histories)
        if isinstance(target, (ast.Tuple, ast.List)):
            names = [t.id if isinstance(t, ast.Name) else None for t in target.elts]
            for i, name in enumerate(names):
                if name:
                    self._set(name, (got[0], "test") if got and got[1] == "evaluate" and i == 1 else None)
        elif isinstance(target, ast.Name):
            self._set(target.id, got)

    def _set(self, name: str, origin: Origin | None) -> None:
        if origin:
            self.values[name] = origin
        else:
            self.values.pop(name, None)

    def pattern(self, node: ast.AST, models, histories) -> tuple[re.Pattern, list[Origin | None]] | None:
        """A ``print(...)`` call as a regex over the line it printed, with the origin of each value."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"):
            return None
        pieces: list[str | Origin | None] = []
        for k, arg in enumerate(node.args):
            if k:
                pieces.append(" ")
            if isinstance(arg, ast.Constant):
                pieces.append(str(arg.value))
            elif isinstance(arg, ast.JoinedStr):
                for part in arg.values:
                    if isinstance(part, ast.Constant):
                        pieces.append(str(part.value))
                    elif isinstance(part, ast.FormattedValue):
                        pieces.append(("", "") if (o := self.origin(part.value, models, histories)) is None else o)
            else:
                pieces.append(("", "") if (o := self.origin(arg, models, histories)) is None else o)
        origins = [p for p in pieces if isinstance(p, tuple)]
        if not any(o[0] for o in origins):
            return None
        rx = "".join(r"\s*".join(re.escape(w) for w in p.split()) + (r"\s*" if p != p.rstrip() else "")
                     if isinstance(p, str) else "(.+?)" for p in pieces)
        return re.compile(r"^\s*" + rx + r"\s*$"), [o if o[0] else None for o in origins]


def _history(node: ast.Subscript, histories: dict[str, tuple[str, str]]) -> Origin | None:
    """``h.history['val_accuracy'][-1]`` (and the like) -> (the step of ``h``, its validation's kind)."""
    metric = None
    var = None
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and sub.value in ("val_accuracy", "accuracy"):
            metric = sub.value
        if isinstance(sub, ast.Attribute) and sub.attr == "history" and isinstance(sub.value, ast.Name):
            var = sub.value.id
    if metric is None or var not in histories:
        return None
    step, val = histories[var]
    return step, (val if metric == "val_accuracy" else "train")


def number(text: str, kind: str) -> float | None:
    """The accuracy in a printed value: ``0.9771``, ``97.71`` (%), ``[0.0786, 0.9771]`` (an evaluate list)."""
    nums = _NUM.findall(text)
    if not nums:
        return None
    raw = nums[-1] if kind == "evaluate" else nums[0]
    try:
        x = float(raw.replace(",", "."))
    except ValueError:
        return None
    return round(x / 100, 6) if 1 < x <= 100 else x if 0 <= x <= 1 else None


def rounding(text: str) -> float:
    """Half the last printed digit of the number in ``text``, as an accuracy (``0.98`` -> 0.005, ``97.7 %`` ->
    0.0005): how far the printed value may be from the exact one."""
    nums = _NUM.findall(text)
    if not nums:
        return 0.0
    raw = nums[-1].replace(",", ".")
    digits = len(raw.split(".", 1)[1]) if "." in raw else 0
    half = 0.5 * 10 ** -digits
    return half / 100 if float(raw) > 1 else half


def match(specs: list[tuple[re.Pattern, list[Origin | None]]], txt: str) -> list[tuple[str, str, float, float]]:
    """(step, kind, value, its rounding) of each printed value, the prints matched in order with the output's
    lines."""
    found = []
    out_lines = txt.split("\n")
    at = 0
    for rx, origins in specs:
        for i in range(at, len(out_lines)):
            if _PROGRESS.search(out_lines[i]):  # Keras' own progress lines are not what the print wrote
                continue
            m = rx.match(out_lines[i])
            if not m:
                continue
            at = i + 1
            for group, origin in zip(m.groups(), origins, strict=False):
                if origin is None:
                    continue
                v = number(group, origin[1])
                if v is not None:
                    found.append((origin[0], "test" if origin[1] == "evaluate" else origin[1], v, rounding(group)))
            break
    return found


def value(st, metric: str) -> float | None:
    """The student's value of ``metric`` for a step (from their outputs), None when not shown."""
    if st is None:
        return None
    if metric == "test_accuracy":
        val = st.settings.get("validation")
        on_test = isinstance(val, str) and val.startswith("data") and "test" in val.lower()
        log = st.fit_log[-1].get("val_accuracy") if st.fit_log and on_test else None
        for v in (st.printed.get("test"), st.printed_accuracy, st.printed.get("val_test") if on_test else None, log,
                  st.evaluate.get("accuracy")):
            if v is not None:
                return v
        return None
    if metric == "test_loss":
        return st.evaluate.get("loss")
    if metric.startswith("final_") and st.fit_log:
        return st.fit_log[-1].get(metric[len("final_"):])
    if metric.startswith(("val_accuracy.", "test_accuracy.")) and st.activations:
        want = metric.split(".", 1)[1].replace("_", "")
        return next((v for k, v in st.activations.items() if k.lower().replace("_", "") == want), None)
    return None
