"""What a notebook's cells printed and drew: Keras' summary, fit log and evaluate lines, printed accuracies,
figures, errors. Pure functions over nbformat v4 output dicts (never trusted: any shape is tolerated)."""

from __future__ import annotations

import ast
import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_METRIC = re.compile(r"\b([a-z_]+):\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)")
_EPOCH = re.compile(r"^Epoch (\d+)/(\d+)")
_PARAMS = re.compile(r"Total params:\s*([\d,\u202f\u00a0 ]+)")
_OPTIMIZER_PARAMS = re.compile(r"Optimizer params:\s*([\d,\u202f\u00a0 ]+)")
_PRINTED = re.compile(r"(?i)(?:test[_ ]?acc\w*|accuracy|précision)[^:\n\-]{0,60}:\s*(\d*\.\d+)")
_TF = re.compile(r"(?i)tensorflow[^:\n]{0,20}:\s*(\d+\.\d+(?:\.\d+)?\S*)")
_TRAIN = re.compile(r"(?i)x_train[^\n(]{0,30}\((\d{1,12}),")
_DIGITS = 12  # a count read from printed text has at most this many digits: int() refuses past 4,300
MAX_TEXT = 2_000_000  # characters of one cell's text outputs looked at


def text(outputs: list) -> str:
    """A cell's stream and text/plain outputs, with progress bars reduced to their last state."""
    parts: list[str] = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream":
            parts.append(_str(out.get("text")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data")
            if isinstance(data, dict) and "text/plain" in data and not _is_image(data):
                parts.append(_str(data.get("text/plain")) + "\n")
    raw = "".join(parts)[:MAX_TEXT]
    raw = _ANSI.sub("", raw).replace("\x08", "")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in raw.split("\n"))


def figures(outputs: list) -> int:
    """How many images the cell displayed."""
    return sum(1 for o in outputs if isinstance(o, dict) and _is_image(o.get("data")))


def errors(outputs: list) -> list[str]:
    """``ename: evalue`` of each error output."""
    return [_ANSI.sub("", f"{_str(o.get('ename'))}: {_str(o.get('evalue'))}")[:200] for o in outputs
            if isinstance(o, dict) and o.get("output_type") == "error"]


def metrics(line: str) -> dict[str, float]:
    """``{"accuracy": 0.97, "val_loss": 0.08, ...}`` from a Keras progress line (``... step - accuracy: ...``)."""
    if " - " not in line or ("step" not in line and "\u2501" not in line and "ETA" not in line):
        return {}
    return {k: float(v) for k, v in _METRIC.findall(line)
            if k in ("accuracy", "loss", "val_accuracy", "val_loss")}


def fit_log(txt: str) -> list[dict[str, float]]:
    """The metrics of each epoch of a Keras fit log (the last progress line under each ``Epoch k/n``)."""
    epochs: list[dict[str, float]] = []
    current = None
    for line in txt.split("\n"):
        if _EPOCH.match(line.strip()):
            if current is not None:
                epochs.append(current)
            current = {}
        elif current is not None:
            m = metrics(line)
            if m:
                current = m
    if current:
        epochs.append(current)
    if current is None:  # Keras prints no "Epoch 1/1" for one epoch: its last line with validation metrics
        last = [m for m in map(metrics, txt.split("\n")) if any(k.startswith("val_") for k in m)]
        epochs = last[-1:]
    return [e for e in epochs if e]


def evaluate(txt: str) -> dict[str, float]:
    """The metrics of the last Keras progress line without validation metrics (an ``evaluate``)."""
    found: dict[str, float] = {}
    for line in txt.split("\n"):
        m = metrics(line)
        if m and not any(k.startswith("val_") for k in m) and "accuracy" in m:
            found = m
    return found


def printed_accuracy(txt: str) -> float | None:
    """The last accuracy a ``print`` wrote (``Test accuracy: 0.9739``), not a Keras progress line."""
    value = None
    for line in txt.split("\n"):
        if " - " in line or "step" in line or re.search(r"(?i)\bval", line):
            continue
        m = _PRINTED.search(line)
        if m:
            value = float(m.group(1))
    return value


def result_text(outputs: list) -> str:
    """The text/plain of a cell's ``execute_result`` (the value of its last expression)."""
    for out in outputs if isinstance(outputs, list) else []:
        if isinstance(out, dict) and out.get("output_type") == "execute_result":
            data = out.get("data")
            if isinstance(data, dict):
                return _str(data.get("text/plain"))
    return ""


_ACTIVATION = re.compile(r"(?i)\b(leaky(?:[_ ]?relu)?|sigmoid|sigmoïde|tanh|relu)\b[^\d\n]{0,40}?"
                         r"(\d*\.\d+|\d+,\d+)\s*(%?)")


def activation_lines(txt: str) -> dict[str, float] | None:
    """``relu : 0.8762`` lines (a loop over the activations) or pairs on one line (``relu=0.8671  leaky=0.8688``),
    at least two of them, as {name: accuracy}."""
    found: dict[str, float] = {}
    for line in txt.split("\n"):
        if " - " in line and "step" in line:
            continue
        for m in _ACTIVATION.finditer(line):  # one per line, or all on one line: "sigmoid=0.8599  tanh=0.8702"
            name = m.group(1).lower().replace(" ", "_").replace("ï", "i")
            name = "leaky_relu" if name.startswith("leaky") else name
            x = float(m.group(2).replace(",", "."))
            x = x / 100 if m.group(3) or x > 1 else x
            if 0 < x <= 1:
                found[name] = x
    return found if len(found) >= 2 else None


def summary_params(txt: str) -> int | None:
    """The model's parameters in the last ``summary()`` printed: its ``Total params``, less the ``Optimizer
    params`` that Keras 3 adds to the total once the model has been trained (Adam's two moments per weight)."""
    found = list(_PARAMS.finditer(txt))
    if not found:
        return None
    digits = re.sub(r"\D", "", found[-1].group(1))
    if not 0 < len(digits) <= _DIGITS:
        return None
    optimizer = _OPTIMIZER_PARAMS.search(txt, found[-1].end())
    extra = re.sub(r"\D", "", optimizer.group(1)) if optimizer else ""
    return int(digits) - (int(extra) if 0 < len(extra) <= _DIGITS and int(extra) < int(digits) else 0)


def tf_version(txt: str) -> str | None:
    """The TensorFlow version printed (``TensorFlow version: 2.16.1``)."""
    m = _TF.search(txt)
    return m.group(1) if m else None


def bare_version(txt: str) -> str | None:
    """A version printed alone on its line (``print(tf.__version__)`` writes ``2.16.1``)."""
    m = re.search(r"(?m)^\s*(\d+\.\d+\.\d+\S*)\s*$", txt)
    return m.group(1) if m else None


def n_train(txt: str) -> int | None:
    """The first dimension of a printed training array's shape (``x_train shape: (60000, 28, 28)``)."""
    m = _TRAIN.search(txt)
    return int(m.group(1)) if m else None


def printed_dict(txt: str) -> dict[str, float] | None:
    """The last printed ``{name: number}`` dict (the activation study's results)."""
    value = None
    for line in txt.split("\n"):
        line = line.strip()
        if line.startswith("{") and line.endswith("}") and len(line) < 2000:
            line = re.sub(r"np\.float\d*\(([^)]*)\)", r"\1", line)
            try:
                d = ast.literal_eval(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(d, dict) and d and all(isinstance(v, (int, float)) for v in d.values()):
                value = {str(k): float(v) for k, v in d.items()}
    return value


def matrix_sum(txt: str) -> int | None:
    """The sum of a printed integer matrix (``[[...]]`` or ``array([[...]])``), None when none is printed."""
    start = txt.find("[[")
    if start < 0:
        return None
    end = txt.find("]]", start)
    body = txt[start:end + 2] if end > 0 else ""
    if "." in body or not body:
        return None
    found = re.findall(r"-?\d+", body)
    if any(len(n.lstrip("-")) > _DIGITS for n in found):
        return None  # not a confusion matrix of counts
    nums = [int(n) for n in found]
    return sum(nums) if len(nums) >= 4 else None


def _is_image(data) -> bool:
    return isinstance(data, dict) and any(k in data for k in ("image/png", "image/jpeg", "image/svg+xml"))


def _str(value) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""
