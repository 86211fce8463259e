"""The values of the lab's code templates (the fenced code of ``tp2.fr.md``), from validated experiments.

Every value that reaches the code is ``repr()`` of a value :mod:`mnistlab.config` has checked (an int, a
float, a bool, a string from a closed set) or lines built from such values: a setting can never become a
line of Python of its own. Settings the lab's code cannot express are refused here, with their name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mnistlab import config
from mnistlab.config import Experiment
from mnistlab.errors import ConfigError

SPE_COMMENT = "# ajout : {n} pas d'entraînement par appel compilé (mêmes calculs, moins d'allers-retours Python)"

# Settings the lab's code writes only at the lab's value.
_LAB_ONLY = {"lr_schedule": "constant", "augment": False, "translation": 0.0, "test_time_flip": False,
             "precision": "float32", "label_smoothing": 0.0, "cutout": 0}


def check(exp: Experiment) -> None:
    """Refuse settings the lab's code for ``exp.name`` cannot express.

    Raises:
        ConfigError: naming the setting and the step.
    """
    def refuse(what: str) -> ConfigError:
        return ConfigError(f"{exp.name}: {what} is not part of the lab's code (the notebook writes the lab's "
                           "models and settings only)")

    for key, lab in _LAB_ONLY.items():
        if getattr(exp, key) != lab:
            raise refuse(f"{key} = {getattr(exp, key)!r}")
    if exp.model != config.load(exp.name).model:  # the lab's code writes each step's own model
        raise refuse(f"model = {exp.model!r}")
    if exp.dataset != config.load(exp.name).dataset:  # the lab's code loads each step's own data set
        raise refuse(f"dataset = {exp.dataset!r}")
    if exp.step == "train" and exp.activation == "leaky_relu":
        raise refuse("activation = 'leaky_relu' outside the activation study")
    if exp.uses_model and exp.from_step != config.load(exp.name).from_step:  # the lab continues its own model
        raise refuse(f"from_step = {exp.from_step!r}")
    if exp.step == "augment" and exp.validation != "test":
        raise refuse("validation = 'split' with ImageDataGenerator batches")


def check_study(exp: Experiment) -> None:
    """Refuse a "what if" study the notebook's "what if" cell cannot express: it changes only the loss, the
    optimizer, its rate and the epochs of the dense network of exercise 1.

    Raises:
        ConfigError: naming the setting and the study.
    """
    for key, lab in {**_LAB_ONLY, "model": "dense", "dataset": "mnist"}.items():
        if getattr(exp, key) != lab:
            raise ConfigError(f"{exp.name}: {key} = {getattr(exp, key)!r} is not part of the notebook's "
                              "\"what if\" cell")


def one_hot(exp: Experiment) -> str:
    """Exercise 1 with a loss that wants one-hot labels: the lab's Exercise 2 encoding, or nothing."""
    if not exp.one_hot:
        return ""
    return ("\n# ajout : labels one-hot pour " + repr(exp.loss) + " (comme à l'exercice 2)\n"
            "from tensorflow.keras.utils import to_categorical\n"
            "y_train_cat = to_categorical(y_train, 10)\ny_test_cat = to_categorical(y_test, 10)")


def limits(exp: Experiment, x: str) -> str:
    """Slicing lines for ``train_limit`` / ``test_limit`` (the quick settings), or nothing."""
    lines = []
    if exp.train_limit:
        lines.append(f"{x}_train, y_train = {x}_train[:{exp.train_limit!r}], y_train[:{exp.train_limit!r}]"
                     f"  # ajout : train_limit = {exp.train_limit!r}")
    if exp.test_limit:
        lines.append(f"{x}_test, y_test = {x}_test[:{exp.test_limit!r}], y_test[:{exp.test_limit!r}]"
                     f"  # ajout : test_limit = {exp.test_limit!r}")
    return "\n".join(lines)


def data_check(exp: Experiment, x: str, dataset: str) -> dict[str, str]:
    """The data check cell's values: the array names, the published SHA-256 of each array (from
    :mod:`mnistlab.data.sources`, literal in the cell so that the notebook runs anywhere), then the slicing
    lines of the quick settings, after the check (the digests are those of the whole arrays)."""
    from mnistlab.data import sources

    published = {(x + k[1:] if k.startswith("x") else k): v for k, v in sources.published(dataset).items()}
    body = ",\n    ".join(f"{k!r}: {v!r}" for k, v in published.items())
    return {"x_train": f"{x}_train", "x_test": f"{x}_test", "digests": "{\n    " + body + ",\n}",
            "limits": limits(exp, x)}


def hidden(exp: Experiment, indent: str, activation: str | None = None, act_expr: str | None = None) -> str:
    """The hidden Dense (and Dropout) layers as list items; LeakyReLU as its own layer, as in the lab."""
    out = []
    for units, rate in zip(exp.hidden_units, exp.dropout, strict=True):
        if activation == "leaky_relu":
            out += [f"{indent}Dense({units!r}),", f"{indent}LeakyReLU({exp.leaky_relu_slope!r}),"]
        else:
            out.append(f"{indent}Dense({units!r}, activation={act_expr or repr(activation or exp.activation)}),")
        if rate > 0:
            out.append(f"{indent}Dropout({rate!r}),")
    return "\n".join(out)


def conv(exp: Experiment) -> str:
    """The lab CNN's convolution blocks: Conv2D (its activation inside) and MaxPooling2D per filter count."""
    k, p = exp.kernel_size, exp.pool_size
    return "\n".join(f"    Conv2D({f!r}, ({k!r},{k!r}), activation={exp.activation!r}),\n"
                     f"    MaxPooling2D(({p!r},{p!r})),"
                     for f in exp.conv_filters)


def conv_bn(exp: Experiment) -> str:
    """A batch-normalised CNN's blocks (``mnistlab.models.cnn_bn``): per filter count, ``block_convs`` times
    Conv2D ('same' padding, no bias), BatchNormalization and Activation, then MaxPooling2D and, when
    ``block_dropout`` > 0, Dropout."""
    k, p = exp.kernel_size, exp.pool_size
    out = []
    for f, n in zip(exp.conv_filters, exp.block_convs, strict=True):
        out += [f"    Conv2D({f!r}, ({k!r},{k!r}), padding='same', use_bias=False),\n"
                f"    BatchNormalization(),\n    Activation({exp.activation!r}),"] * n
        out.append(f"    MaxPooling2D(({p!r},{p!r})),")
        if exp.block_dropout > 0:
            out.append(f"    Dropout({exp.block_dropout!r}),")
    return "\n".join(out)


# The code of each model family's convolution blocks ($conv_layers), by `model` (config.MODELS).
CONV_LAYERS: dict[str, Callable[[Experiment], str]] = {"dense": lambda exp: "", "cnn": conv, "cnn_bn": conv_bn}


def optimizer(exp: Experiment) -> str:
    if exp.optimizer == "adam" and exp.learning_rate == 0.001:
        return "'adam'"  # the lab's string: Adam at Keras' default rate
    return f"tf.keras.optimizers.{config.OPTIMIZERS[exp.optimizer]}(learning_rate={exp.learning_rate!r})"


def steps_per_execution(exp: Experiment) -> int:
    """Training steps per compiled call (config.STEPS_PER_EXECUTION): the same updates in the same order,
    fewer round trips through Python."""
    return exp.default_steps_per_execution


def validation(exp: Experiment, x_test: str, y_test: str) -> str:
    if exp.validation == "test":
        return f"validation_data=({x_test}, {y_test})"
    return f"validation_split={exp.validation_split!r}"


def common(exp: Experiment, x_test: str = "X_test") -> dict[str, str]:
    """Placeholders every training block shares."""
    n = steps_per_execution(exp)
    y_train, y_test = ("y_train_cat", "y_test_cat") if exp.one_hot else ("y_train", "y_test")
    comment = SPE_COMMENT.format(n=n) if n > 1 else ""
    return {
        "optimizer": optimizer(exp), "loss": repr(exp.loss), "epochs": repr(exp.epochs),
        "batch_size": repr(exp.batch_size), "y_train": y_train, "y_test": y_test,
        "validation": validation(exp, x_test, y_test),
        "spe_multiline": f",\n    steps_per_execution={n!r}  {comment}" if n > 1 else "",
        "spe_inline": f", steps_per_execution={n!r}" if n > 1 else "",
        "spe_comment": comment, "spe_comment_loop": f"    {comment}" if comment else "",
    }


def grid(exp: Experiment) -> dict[str, str]:
    rows, cols = exp.samples_grid
    return {"rows": repr(rows), "cols": repr(cols), "n_samples": repr(rows * cols)}


# --- which values a code block gets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """What a code block's values come from: its step's settings, every step's (for "Travail demandé") and the
    block's own attributes in ``tp2.fr.md`` (``x``: the lab's name of the image arrays, ``x_test``: the test
    images its validation uses)."""

    exp: Experiment
    exps: dict[str, Experiment]
    attrs: dict[str, str] = field(default_factory=dict)


FILLERS: dict[str, Callable[[Block], dict[str, str]]] = {}  # placeholder -> the function that writes it


def writes(*placeholders: str) -> Callable:
    """Register a function as the writer of ``placeholders`` (a block gets the writers of those it uses)."""
    def register(fn: Callable[[Block], dict[str, str]]) -> Callable[[Block], dict[str, str]]:
        for name in placeholders:
            if name in FILLERS:
                raise ValueError(f"two writers of ${name}")
            FILLERS[name] = fn
        return fn
    return register


@writes("seed")
def _seed(b: Block) -> dict[str, str]:
    return {"seed": repr(b.exp.seed)}  # no data folder in the code: the hand-in runs anywhere


@writes("digests", "x_train", "x_test", "limits")
def _data_check(b: Block) -> dict[str, str]:
    return data_check(b.exp, b.attrs.get("x", "X"), b.exp.dataset)


@writes("one_hot")
def _one_hot(b: Block) -> dict[str, str]:
    return {"one_hot": one_hot(b.exp)}


@writes("rows", "cols", "n_samples")
def _grid(b: Block) -> dict[str, str]:
    return grid(b.exp)


@writes("layers")
def _layers(b: Block) -> dict[str, str]:
    return {"layers": hidden(b.exp, "    ")}


@writes("conv_layers")
def _conv_layers(b: Block) -> dict[str, str]:
    return {"conv_layers": CONV_LAYERS[b.exp.model](b.exp)}


@writes("optimizer", "loss", "epochs", "batch_size", "y_train", "y_test", "validation", "spe_multiline",
        "spe_inline", "spe_comment", "spe_comment_loop")
def _common(b: Block) -> dict[str, str]:
    return common(b.exp, b.attrs.get("x_test", "X_test"))


@writes("n_predictions")
def _predictions(b: Block) -> dict[str, str]:
    return {"n_predictions": repr(b.exp.predictions_shown)}


@writes("classes")
def _classes(b: Block) -> dict[str, str]:
    from mnistlab.i18n import class_names

    return {"classes": repr(class_names(b.exp.dataset, "fr"))}


@writes("rotation", "zoom", "flip")
def _augmentation(b: Block) -> dict[str, str]:
    return {"rotation": repr(b.exp.rotation_degrees), "zoom": repr(b.exp.zoom), "flip": repr(b.exp.horizontal_flip)}
