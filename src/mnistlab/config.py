"""Experiments as data: typed defaults in one place, experiment files, command-line overrides.

Every hyperparameter of the lab lives in an experiment file
(``src/mnistlab/experiments/<name>.toml``) that overrides only what differs from the
defaults below; ``--set key=value`` overrides it again. An unknown key or a value of the
wrong type is a :class:`ConfigError`, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mnistlab.errors import ConfigError

# What `step = ...` runs (mnistlab.steps holds each one's function): kind -> (it trains a model, it starts
# from the model of its `from_step`).
KINDS = {"train": (True, False), "activations": (True, False), "confusion": (False, True), "augment": (True, True)}
# The builders of mnistlab.models, one module each -> the Keras layers that mark a model of the family (the
# grader tells which step a student's model is by them: the most specific family whose marks it has).
MODELS = {"dense": (), "cnn": ("Conv2D",), "cnn_bn": ("Conv2D", "BatchNormalization")}
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}  # name -> its class in keras.optimizers
# Training steps per compiled call when an experiment says 0, per model family (measured, docs/SPEED.md): the
# dense nets spend most of a batch-32 step in per-call overhead (ex1 epoch 4.7 s -> 1.7 s with 32 or more);
# the CNNs' steps are compute-bound and gain nothing.
STEPS_PER_EXECUTION = {"dense": 64}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
SIDE = 28  # the data sets' image side, pixels
MAX_SET_CHARS = 10_000  # a longer --set is refused before parsing
MAX_INT = 2**31 - 1  # integers beyond this overflow TensorFlow's int32 arguments and NumPy's seeds
MAX_LIST = 64  # entries of a list setting (layers, filters, activations)
MAX_WIDTH = 65_536  # units of a Dense layer, filters of a Conv2D


@dataclass
class Experiment:
    """One step of the lab with every setting it uses. Defaults are the lab's Exercise 1."""

    name: str = ""  # set from the file name, e.g. "ex2.cnn"; not settable from a file
    title: str = ""  # one line shown by `mnistlab list` and in the report
    order: int = 0  # position among the experiments the lab plan does not list (the improved models)
    extended: bool = False  # a "what if" study (ext.*): runs only with `mnistlab run --extended` or by name
    on_demand: bool = False  # runs only when named (`mnistlab run improved`), never with the lab
    expect_divergence: bool = False  # a study whose point is divergence: a NaN/exploded loss is its result
    step: str = "train"  # what runs: train | activations | confusion | augment
    from_step: str = ""  # confusion, augment: the step whose trained model this one uses
    dataset: str = "mnist"  # Keras' data set name: mnist | fashion_mnist
    # --- model -------------------------------------------------------------------------
    model: str = "dense"  # builder in mnistlab.models: dense | cnn | cnn_bn
    hidden_units: list[int] = field(default_factory=lambda: [128])  # width of each hidden Dense layer
    dropout: list[float] = field(default_factory=lambda: [0.0])  # dropout rate after each hidden Dense, 0-1
    activation: str = "relu"  # hidden activation: sigmoid | tanh | relu | leaky_relu
    leaky_relu_slope: float = 0.1  # LeakyReLU negative slope (the lab's LeakyReLU(0.1))
    conv_filters: list[int] = field(default_factory=lambda: [32, 64])  # cnn: filters of each Conv2D
    kernel_size: int = 3  # cnn: square kernel side, pixels
    pool_size: int = 2  # cnn: square max-pooling window after each Conv2D, pixels
    # cnn_bn: Conv2D + BatchNorm layers before each pooling: one count for every block, or one per conv_filters
    # entry ([1, 2, 2]: a single conv at full resolution, where a conv costs 4x what it costs one block down)
    convs_per_block: list[int] = field(default_factory=lambda: [2])
    block_dropout: float = 0.0  # cnn_bn: dropout rate after each pooling, 0-1
    activations: list[str] = field(default_factory=list)  # activations step: the activations compared
    # --- training ----------------------------------------------------------------------
    optimizer: str = "adam"  # keras optimizer name: adam | sgd | rmsprop
    learning_rate: float = 0.001  # optimizer step size (Keras' Adam default)
    loss: str = "sparse_categorical_crossentropy"  # any other loss => one-hot labels
    epochs: int = 5  # full passes over the training set, >= 1
    batch_size: int = 32  # images per gradient step, >= 1
    validation: str = "test"  # test: validate on the test set (the lab's Ex. 1) | split: last part of train
    validation_split: float = 0.2  # validation=split: fraction taken from the end of train, unshuffled
    seed: int = 42  # fixes weights, shuffling, dropout and augmentation
    # --- how it runs (same maths either way; see benchmarks/results/MEASUREMENTS.md for the measurements) ----
    faithful: bool = False  # true: the lab's own code path (fit on NumPy arrays, ImageDataGenerator)
    steps_per_execution: int = 0  # training steps per compiled call; 0 = measured default per model
    # float32 (the lab) | bf16 (mixed bfloat16) | auto: bf16 where the hardware computes it natively (x86
    # avx512_bf16 / amx_bf16, ARM bf16, a GPU of compute capability >= 8.0), else float32 (mnistlab.devices)
    precision: str = "float32"
    # constant | cosine (decays learning_rate to 0 over all training steps) | one_cycle (rises linearly from
    # learning_rate / 10 to learning_rate over the first warmup_fraction of the steps, then cosine to 0)
    lr_schedule: str = "constant"
    warmup_fraction: float = 0.2  # one_cycle: fraction of the training steps spent warming up, in (0, 1)
    # categorical_crossentropy: train on (1 - s) * one-hot + s / 10 (0 = the lab's hard labels); the training
    # and validation losses are then the smoothed ones, the test loss the plain cross-entropy
    label_smoothing: float = 0.0
    # --- augmentation (augment step, or augment = true), the lab's ImageDataGenerator ranges
    augment: bool = False  # train step: augment every training batch (the augment step always does)
    rotation_degrees: float = 10.0  # random rotation in [-r, r] degrees
    zoom: float = 0.1  # random zoom factor in [1 - z, 1 + z], each axis
    horizontal_flip: bool = True  # flip left-right with probability 1/2
    translation: float = 0.0  # random shift in [-t, t] of the image size, each axis (0.1 = 2.8 px)
    cutout: int = 0  # side in pixels of a square set to 0 at a random place in each image (0 = none)
    # test set: also predict each image's left-right mirror and average the two probability vectors (for a
    # model trained on mirrors); metrics.json keeps the single-view accuracy beside it
    test_time_flip: bool = False
    # --- figures -----------------------------------------------------------------------
    samples_grid: list[int] = field(default_factory=lambda: [2, 5])  # rows, columns of the samples figure
    predictions_shown: int = 5  # test images drawn with true and predicted label
    # --- size of the run (smoke tests, quick looks) ------------------------------------
    train_limit: int = 0  # use only the first N training images; 0 = all
    test_limit: int = 0  # use only the first N test images; 0 = all

    def __post_init__(self) -> None:
        if isinstance(self.convs_per_block, int):  # a single count (files and manifests before lists)
            self.convs_per_block = [self.convs_per_block]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def block_convs(self) -> list[int]:
        """cnn_bn: how many Conv2D layers each block of ``conv_filters`` has."""
        if len(self.convs_per_block) == 1:
            return self.convs_per_block * len(self.conv_filters)
        return list(self.convs_per_block)

    @property
    def trains(self) -> bool:
        """Its step trains a model (every kind but the confusion matrix)."""
        return KINDS[self.step][0]

    @property
    def uses_model(self) -> bool:
        """Its step starts from the model of its ``from_step`` (confusion, augmentation)."""
        return KINDS[self.step][1]

    @property
    def default_steps_per_execution(self) -> int:
        """Training steps per compiled call: the experiment's, else its model family's default."""
        return self.steps_per_execution or STEPS_PER_EXECUTION.get(self.model, 1)

    @property
    def one_hot(self) -> bool:
        """The lab's Exercise 2 one-hot encodes labels for categorical_crossentropy (and so does MSE)."""
        return self.loss != "sparse_categorical_crossentropy"


_FIELDS = {f.name: f for f in dataclasses.fields(Experiment)}
_DEFAULTS = Experiment()
# Keys with a closed set of values.
_CHOICES = {
    "step": tuple(KINDS),
    "dataset": ("mnist", "fashion_mnist"),
    "model": tuple(MODELS),
    "activation": ACTIVATIONS,
    "optimizer": tuple(OPTIMIZERS),
    "loss": ("sparse_categorical_crossentropy", "categorical_crossentropy", "mean_squared_error"),
    "validation": ("test", "split"),
    "precision": ("auto", "float32", "bf16"),
    "lr_schedule": ("constant", "cosine", "one_cycle"),
}


def experiments_dir() -> Path:
    """The folder of the lab's experiment files, shipped inside the package."""
    return Path(str(resources.files("mnistlab") / "experiments"))


def names(extended: bool = False, on_demand: bool = False) -> list[str]:
    """Every experiment of the lab, in the lab's order; with ``extended``, the "what if" studies too; with
    ``on_demand``, also those that run only when named (the ``improved`` models)."""
    from mnistlab.lab import plan  # the lab's order lives in its plan (a function import: plan's package imports us)

    steps, studies = plan.step_names(), list(plan.load().studies)

    def position(e: Experiment) -> tuple[int, int]:  # the plan's steps, then its studies, then the others
        if e.name in steps:
            return 0, steps.index(e.name)
        return (1, studies.index(e.name)) if e.name in studies else (2, e.order)

    exps = sorted((load(p.stem) for p in experiments_dir().glob("*.toml")), key=position)
    return [e.name for e in exps if (extended or not e.extended) and (on_demand or not e.on_demand)]


def select(patterns: list[str] | None, extended: bool = False) -> list[str]:
    """Experiment names matching ``patterns`` ("ex2" selects every "ex2.*"), in the lab's order.

    A "what if" study (``ext.*``) is selected by name (``ext`` selects them all) or by ``extended``,
    which adds every one of them to the selection.

    Raises:
        ConfigError: a pattern matches nothing.
    """
    every = names(extended=True, on_demand=True)
    extra = {n for n in names(extended=True) if n not in names()} if extended else set()
    if not patterns or patterns == ["all"]:
        return [n for n in every if n in set(names()) | extra]
    chosen = set(extra)
    for p in patterns:
        hits = [n for n in every if n == p or n.startswith(p + ".")]
        if not hits:
            hint = difflib.get_close_matches(p, every, n=1)
            raise ConfigError(f"no experiment named {p!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + "; `mnistlab list` shows them")
        chosen.update(hits)
    return [n for n in every if n in chosen]


def load(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Experiment:
    """Read an experiment file and apply overrides.

    Args:
        name_or_path: an experiment name ("ex2.cnn") or a path to a .toml file.
        overrides: key -> value, already typed (see :func:`parse_overrides`).

    Returns:
        The resolved, validated experiment.

    Raises:
        ConfigError: missing file, TOML syntax error, unknown key, wrong type or value.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = experiments_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            select([str(name_or_path)])  # raises with a suggestion
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read experiment file ({e.strerror})", path) from None
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as e:
        raise ConfigError(f"not valid TOML: {str(e)[:200] or type(e).__name__}", path) from None
    values = {"name": path.stem}
    for key, value in raw.items():
        if key == "name":
            raise ConfigError("'name' comes from the file name and cannot be set", path)
        values[key] = _check(key, value, source=str(path))
    for key, value in (overrides or {}).items():
        scope, _, field_name = key.rpartition(".")
        if not scope or scope == path.stem:
            values[field_name] = _check(field_name, value, source="--set")
    kind = values.get("step", "train")
    if not values.get("from_step") and kind in KINDS and KINDS[kind][1]:
        values["from_step"] = _continued(path.stem)
    exp = Experiment(**values)
    _validate(exp, source=str(path))
    return exp


def _continued(name: str) -> str:
    """The step whose model lab step ``name`` continues: the last of its ``needs`` in the plan ("" for none)."""
    from mnistlab.lab import plan

    step = plan.load().steps.get(name)
    return step.needs[-1] if step is not None and step.needs else ""


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are TOML literals, bare words are strings.

    ``epochs=50``, ``learning_rate=1e-3``, ``horizontal_flip=false``, ``hidden_units=[256,128]``,
    ``activation=tanh``. ``ex2.cnn.epochs=3`` applies to one experiment only.

    Raises:
        ConfigError: no ``=``, unknown key, or a value of the wrong type.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {_short(item)}: expected key=value")
        if len(item) > MAX_SET_CHARS:
            raise ConfigError(f"--set {_short(item)}: over {MAX_SET_CHARS:,} characters")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        except RecursionError:  # tomllib recurses once per nested bracket
            raise ConfigError(f"--set {_short(item)}: nested too deeply") from None
        except ValueError as e:  # an integer of over 4,300 digits
            raise ConfigError(f"--set {_short(item)}: not a usable value ({str(e)[:80]})") from None
        scope, _, field_name = key.rpartition(".")
        if scope and not any(n == scope for n in names(extended=True, on_demand=True)):
            raise ConfigError(f"--set {_short(item)}: no experiment named {_short(scope)}")
        out[key] = _check(field_name, value, source="--set")
    return out


def _check(key: str, value: Any, source: str) -> Any:
    if key not in _FIELDS or key == "name":
        hint = difflib.get_close_matches(key[:100], [k for k in _FIELDS if k != "name"], n=1)
        raise ConfigError(f"unknown key {_short(key)}" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                          None if source == "--set" else source)
    default = getattr(_DEFAULTS, key)
    where = None if source == "--set" else source

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{key} must be {expected}, got {_short(value)}", where)

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        if not -MAX_INT <= value <= MAX_INT:
            raise wrong(f"an integer of at most {MAX_INT:,}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise wrong("a string")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise wrong("one of " + ", ".join(_CHOICES[key]))
    elif isinstance(default, list):
        if key == "convs_per_block" and isinstance(value, int) and not isinstance(value, bool):
            value = [value]  # one count for every block
        item_type = dataclasses.fields(Experiment)[list(_FIELDS).index(key)].type
        if not isinstance(value, list):
            raise wrong(f"a list ({item_type})")
        if len(value) > MAX_LIST:
            raise wrong(f"a list of at most {MAX_LIST} entries")
        if "int" in item_type:
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise wrong("a list of integers")
            if key in ("hidden_units", "conv_filters") and any(v > MAX_WIDTH for v in value):
                raise wrong(f"a list of widths of at most {MAX_WIDTH:,}")
        elif "float" in item_type:
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise wrong("a list of numbers")
            value = [float(v) for v in value]
        elif not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings")
    return value


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error line never echoes a 120 KB value whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _feature_side(e: Experiment) -> int:
    """The side of the last feature map of a cnn or cnn_bn model on 28x28 images (< 1: impossible)."""
    side = SIDE
    for convs in (e.block_convs if e.model == "cnn_bn" else [1] * len(e.conv_filters)):
        if e.model == "cnn":  # 'valid' convolutions shrink the map; cnn_bn pads ('same')
            side -= convs * (e.kernel_size - 1)
        if side < 1:
            return side
        side //= e.pool_size
    return side


def _validate(e: Experiment, source: str) -> None:
    def bad(msg: str) -> ConfigError:
        return ConfigError(msg, source)

    for key in ("epochs", "batch_size", "kernel_size", "pool_size", "predictions_shown"):
        if getattr(e, key) < 1:
            raise bad(f"{key} must be at least 1, got {getattr(e, key)}")
    for key in ("train_limit", "test_limit", "steps_per_execution", "cutout"):
        if getattr(e, key) < 0:
            raise bad(f"{key} must be 0 or a positive count, got {getattr(e, key)}")
    if not 0.0 < e.validation_split < 1.0:
        raise bad(f"validation_split must be between 0 and 1, got {e.validation_split}")
    if not e.learning_rate > 0:
        raise bad(f"learning_rate must be positive, got {e.learning_rate}")
    if not e.hidden_units or any(u < 1 for u in e.hidden_units):
        raise bad(f"hidden_units must be one or more positive widths, got {e.hidden_units}")
    if len(e.dropout) != len(e.hidden_units):
        raise bad(f"dropout needs one rate per hidden layer ({len(e.hidden_units)}), got {e.dropout}")
    if any(not 0.0 <= d < 1.0 for d in e.dropout):
        raise bad(f"dropout rates must be in [0, 1), got {e.dropout}")
    if not e.conv_filters or any(f < 1 for f in e.conv_filters):
        raise bad(f"conv_filters must be one or more positive counts, got {e.conv_filters}")
    if bad_act := [a for a in e.activations if a not in ACTIVATIONS]:
        raise bad(f"unknown activation {bad_act[0]!r}; choose from {', '.join(ACTIVATIONS)}")
    if e.step == "activations" and not e.activations:
        raise bad("the activations step needs a non-empty 'activations' list")
    if e.uses_model and not e.from_step:
        raise bad(f"the {e.step} step needs 'from_step', the step whose model it uses")
    if len(e.samples_grid) != 2 or min(e.samples_grid) < 1:
        raise bad(f"samples_grid must be [rows, columns], got {e.samples_grid}")
    if not 0.0 <= e.zoom < 1.0 or not 0.0 <= e.rotation_degrees <= 180.0 or not 0.0 <= e.translation < 1.0:
        raise bad("zoom and translation must be in [0, 1) and rotation_degrees in [0, 180]")
    if any(n < 1 for n in e.convs_per_block) or len(e.convs_per_block) not in (1, len(e.conv_filters)):
        raise bad(f"convs_per_block must be one count (at least 1) or one per conv_filters entry "
                  f"({len(e.conv_filters)}), got {e.convs_per_block}")
    if e.cutout > SIDE:
        raise bad(f"cutout is a square's side in pixels, at most {SIDE}, got {e.cutout}")
    if e.cutout and e.faithful:
        raise bad("cutout is not part of the lab's code: it cannot run with faithful = true")
    if e.test_time_flip and e.faithful:
        raise bad("test_time_flip is not part of the lab's code: it cannot run with faithful = true")
    if not 0.0 < e.warmup_fraction < 1.0:
        raise bad(f"warmup_fraction must be between 0 and 1, got {e.warmup_fraction}")
    if not 0.0 <= e.label_smoothing < 1.0:
        raise bad(f"label_smoothing must be in [0, 1), got {e.label_smoothing}")
    if e.label_smoothing and e.loss != "categorical_crossentropy":
        raise bad(f"label_smoothing needs loss = \"categorical_crossentropy\" (one-hot labels), got {e.loss!r}")
    if not 0.0 <= e.block_dropout < 1.0:
        raise bad(f"block_dropout must be in [0, 1), got {e.block_dropout}")
    if not 0 <= e.seed <= MAX_INT:
        raise bad(f"seed must be between 0 and {MAX_INT:,}, got {e.seed}")
    if e.model in ("cnn", "cnn_bn") and len(e.convs_per_block) in (1, len(e.conv_filters)) \
            and min(e.kernel_size, e.pool_size) >= 1 and _feature_side(e) < 1:
        raise bad(f"kernel_size {e.kernel_size} and pool_size {e.pool_size} with {len(e.conv_filters)} "
                  f"convolution blocks leave nothing of a {SIDE}x{SIDE} image; use smaller ones")
    if e.validation == "split" and e.train_limit:
        kept = int(e.train_limit * (1.0 - e.validation_split))
        if not 1 <= kept < e.train_limit:
            raise bad(f"validation = split with train_limit = {e.train_limit} leaves no "
                      f"{'training' if kept < 1 else 'validation'} image; raise train_limit")


def check_seed_count(first: int, seeds: int) -> None:
    """``--seeds N`` from seed ``first`` (seeds first .. first+N-1) must stay within the seeds TensorFlow takes.

    Raises:
        ConfigError: ``seeds`` below 1, or first + seeds - 1 over :data:`MAX_INT`.
    """
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if first + seeds - 1 > MAX_INT:
        raise ConfigError(f"--seeds {seeds} from seed {first} goes past the largest seed, {MAX_INT}: "
                          f"use at most --seeds {MAX_INT - first + 1} or a smaller seed")
