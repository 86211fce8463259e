"""A notebook read as the lab: its steps (which cells, which settings, which outputs), read with ``ast``.

Tolerant of the ways students write the lab's code: aliases (``from ... import Dense as D``),
``keras.layers.Dense`` or ``tf.keras.layers.Dense``, keyword or positional arguments, ``Sequential([...])`` or
``.add()``. Code that does not parse (a syntax error, a magic) is skipped line by line, never run.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from mnistlab.grade import cellruns, lab, markup, outputs, printed, pyast

LAYERS = ("Input", "InputLayer", "Flatten", "Dense", "Dropout", "Conv2D", "MaxPooling2D", "MaxPool2D",
          "LeakyReLU", "BatchNormalization", "Reshape")
_POS = {"Dense": ("units", "activation"), "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format",
        "dilation_rate", "groups", "activation"), "Dropout": ("rate",), "MaxPooling2D": ("pool_size",),
        "MaxPool2D": ("pool_size",), "LeakyReLU": ("negative_slope",), "Input": ("shape",), "InputLayer": ("shape",)}
_FIT_POS = ("x", "y", "batch_size", "epochs")
EXTRA = "extra:"  # the prefix of a step holding a student's own further experiment (never graded)
_COMPILE_POS = ("optimizer", "loss")


@dataclass
class Layer:
    """One layer as written: its kind and the settings the lab fixes (None where not given)."""

    kind: str
    units: int | None = None
    activation: str | None = None
    rate: float | None = None
    kernel: int | None = None
    pool: int | None = None
    shape: tuple | None = None

    def key(self) -> tuple:
        return (self.kind, self.units, self.activation, self.rate, self.kernel, self.pool)

    def describe(self) -> str:
        args = [str(v) for v in (self.units, self.kernel, self.pool, self.rate) if v is not None]
        if self.activation:
            args.append(f"activation={self.activation!r}")
        return f"{self.kind}({', '.join(args)})"


@dataclass
class Step:
    """What a notebook holds of one lab step."""

    name: str
    cells: list[int] = field(default_factory=list)  # indices of its code cells in the notebook
    layers: list[Layer] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)  # optimizer, loss, epochs, batch_size, validation
    lines: dict[str, str] = field(default_factory=dict)  # setting -> "cell N: the line of code"
    fit_log: list[dict[str, float]] = field(default_factory=list)
    evaluate: dict[str, float] = field(default_factory=dict)
    printed_accuracy: float | None = None  # its test accuracy as printed
    printed: dict[str, float] = field(default_factory=dict)  # kind (test, val_split, val_test) -> value,
    # from a print of a variable whose origin the code shows (:mod:`~mnistlab.grade.printed`)
    rounding: dict[str, float] = field(default_factory=dict)  # kind -> half the last digit printed
    errors: list[str] = field(default_factory=list)  # "cell N: ename: evalue" of its cells
    summary_params: int | None = None
    figures: int = 0
    activations: dict[str, float] | None = None
    matrix_sum: int | None = None
    dataset: str | None = None


@dataclass
class Notebook:
    """A notebook read as the lab."""

    steps: dict[str, Step]
    code: list[str]  # every code cell's source, in order
    code_ids: list[str | None]  # their cell ids
    exec_counts: list[int | None]  # per code cell
    errors: list[str]  # "cell N: ename: evalue"
    tf_version: str | None
    n_train: int | None  # the training images' count printed (``x_train shape: (60000, 28, 28)``)
    datasets: dict[str, str]  # exercise ("ex1", "ex2") -> data set its load cell reads
    markdown: list[tuple[int, str, dict]]  # (cell index, source with its HTML read as Markdown, metadata)
    metadata: dict
    cell_ids: list[str | None]
    code_cells: list[int] = field(default_factory=list)  # the notebook index of each code cell
    names: dict[int, frozenset[str]] = field(default_factory=dict)  # cell index -> names and attributes used


def source(cell: dict) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def read(nb: dict) -> Notebook:
    """Read notebook JSON (already checked by :mod:`~mnistlab.grade.submissions`) as the lab's steps."""
    cells = nb.get("cells", [])
    state = _State()
    code, code_ids, counts, errs, md, ids, where = [], [], [], [], [], [], []
    tf_version = n_train = None
    failed: dict[str, list[tuple[list[str], set[str]]]] = {}  # step -> its failed cells (errors, code lines)
    for i, cell in enumerate(cells):
        ids.append(cell.get("id") if isinstance(cell.get("id"), str) else None)
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        if cell.get("cell_type") == "markdown":
            md.append((i, markup.markdown(source(cell)), meta))
            continue
        if cell.get("cell_type") != "code":
            continue
        src = source(cell)
        code.append(src)
        where.append(i)
        code_ids.append(ids[-1])
        count = cell.get("execution_count")
        counts.append(count if isinstance(count, int) else None)
        outs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        errs += [f"cell {len(code)}: {e}" for e in outputs.errors(outs)]
        txt = outputs.text(outs)
        tf_version = tf_version or outputs.tf_version(txt) or (outputs.bare_version(txt) if "__version__" in src
                                                               else None)
        n_train = n_train or outputs.n_train(txt)
        step, own = state.cell(i, len(code), src)
        firm = printed.match(state.specs, txt)
        if state.result is not None:
            firm += printed.match([state.result], outputs.result_text(outs))
        for name, kind, value, half in firm:
            st = state.steps.setdefault(name, Step(name))
            st.printed[kind] = value
            st.rounding[kind] = half
            if kind == "test":
                st.printed_accuracy = value
        if step is not None:
            st = state.steps.setdefault(step, Step(step))
            cell_errors = [f"cell {len(code)}: {e}" for e in outputs.errors(outs)]
            st.errors += cell_errors
            keys = {k for k in map(line_key, src.split("\n")) if k}
            if cellruns.supersede(st, failed.setdefault(step, []), keys, cell_errors, own and count is not None) and (
                    step in state.defined):
                st.layers, st.lines["layers"] = state.defined[step]  # the corrected model, not the failed one
            for part, chunk, logged in cellruns.per_fit(state.fits, outs) or [(step, outs, True)]:
                pst = state.steps.setdefault(part, Step(part))
                ptxt = outputs.text(chunk) if chunk is not outs else txt
                _outputs(pst, i, chunk, ptxt if logged else cellruns.without_logs(ptxt),
                         fill_only=not own or not logged, printed_too=logged and not firm and "test" not in pst.printed)
    for name, st in state.steps.items():
        st.dataset = state.datasets.get(lab.exercise_of(name))
    return Notebook(state.steps, code, code_ids, counts, errs, tf_version, n_train, state.datasets, md,
                    nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}, ids, where, state.called)


def _outputs(st: Step, index: int, outs: list, txt: str, fill_only: bool = False, printed_too: bool = True) -> None:
    """Add a cell's outputs to its step; a cell only placed after the step (``fill_only``) overrides nothing;
    an accuracy printed by code the grader could not follow counts only with ``printed_too``."""
    if not st.cells or st.cells[-1] != index:  # cells come in order: the last one is enough (linear)
        st.cells.append(index)
    st.figures += outputs.figures(outs)
    log = outputs.fit_log(txt)
    found = {"fit_log": log, "evaluate": outputs.evaluate(cellruns.after_fit(txt) if log else txt),
             "printed_accuracy": outputs.printed_accuracy(txt) if printed_too else None,
             "summary_params": outputs.summary_params(txt),
             "activations": outputs.printed_dict(txt) or outputs.activation_lines(txt),
             "matrix_sum": outputs.matrix_sum(txt)}
    for key, value in found.items():
        if value is not None and value != {} and value != [] and not (fill_only and getattr(st, key) not in
                                                                      (None, {}, [])):
            setattr(st, key, value)


def line_key(line: str) -> str:
    """A code line with comments and all whitespace removed."""
    try:
        toks = [t.string for t in tokenize.generate_tokens(io.StringIO(line).readline)
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT, tokenize.ENDMARKER)]
        return "".join(toks)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.sub(r"\s+", "", line.split("#", 1)[0])


def parse_code(src: str) -> ast.Module | None:
    """``src`` as an AST, with IPython magics and shell lines blanked; None when it still does not parse."""
    lines = ["" if re.match(r"\s*[%!]", ln) else ln for ln in src.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


class _State:
    """Walks the code cells in order, following which exercise, model and history each name belongs to."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}
        self.datasets: dict[str, str] = {}
        self.aliases: dict[str, str] = {}  # local name -> the Keras name it stands for
        self.models: dict[str, str] = {}  # variable -> step
        self.histories: dict[str, str] = {}
        self.owners: dict[str, str] = {}  # step -> the variable of its first model
        self.called: dict[int, frozenset[str]] = {}  # cell index -> the names and attributes its code uses
        self.constants: dict[str, ast.Constant] = {}  # NAME = number assignments seen so far
        self.validations: dict[str, tuple[str, str]] = {}  # history variable -> (step, val_split / val_test)
        self.tracker = printed.Tracker()
        self.specs: list = []  # this cell's prints, as patterns over its output
        self.result = None  # this cell's last expression, as a pattern over its execute_result
        self.exercise = lab.exercises()[0][0]
        self.last: str | None = None
        self.fits: list[tuple[str, int, bool]] = []  # this cell's fit() calls outside loops: (step, line, logs?)
        self.defined: dict[str, tuple] = {}  # step -> (layers, line) of the model this cell defines
        self.builders: dict[str, tuple[list[Layer], frozenset[str]]] = {}  # def returning a Sequential -> (layers,
        # the kinds of every layer its body makes)

    def cell(self, index: int, number: int, src: str) -> tuple[str | None, bool]:
        """(the step the cell's outputs go to, whether the cell's code names that step)."""
        tree = parse_code(src)
        self.specs, self.result, self.fits, self.defined = [], None, [], {}
        if tree is None:
            return self.last, False
        lines = src.split("\n")
        found: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name.rsplit(".", 1)[-1]
        for node in ast.walk(tree):  # a function of the student's that builds the model: def build(act): ...
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
                built = [c for c in calls if self._name(c.func) == "Sequential"]
                if built:
                    self.builders[node.name] = (self._sequential_layers(built[0]),
                                                frozenset(self._name(c.func) for c in calls))
        loaded = {ds for node in ast.walk(tree) if isinstance(node, ast.Call) for ds in [self._dataset(node)] if ds}
        if loaded:  # the first load starts the exercise of its data set (the first one's if none); a later, the next
            exercises = dict(lab.exercises())  # exercise -> its data set, in the lab's order
            order = list(exercises)
            if not self.datasets:
                self.exercise = next((ex for ex, ds in exercises.items() if ds in loaded), order[0])
            else:
                self.exercise = order[min(order.index(self.exercise) + 1, len(order) - 1)]
            wanted = exercises[self.exercise]
            self.datasets.setdefault(self.exercise, wanted if wanted in loaded else sorted(loaded)[0])
            found.append(lab.first_step(self.exercise))
        in_loop = {id(n) for loop in ast.walk(tree) if isinstance(loop, (ast.For, ast.While))
                   for n in ast.walk(loop)}
        for node in pyast.statements(tree):
            step = self._statement(node, id(node) in in_loop, number, lines)
            if step:
                found.append(step)
            self.tracker.assign(node, self.models, self.validations)
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, (int, float))):
                self.constants[node.targets[0].id] = node.value  # EPOCHS = 5, read where fit(epochs=EPOCHS)
            if isinstance(node, ast.Expr) and id(node) not in in_loop:
                spec = self.tracker.pattern(node.value, self.models, self.validations)
                if spec:
                    self.specs.append(spec)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr) and not (isinstance(last.value, ast.Call) and isinstance(
                last.value.func, ast.Name) and last.value.func.id == "print"):
            origin = self.tracker.origin(last.value, self.models, self.validations)
            if origin:
                self.result = (re.compile(r"^\s*(.+?)\s*$"), [origin])
        names, attrs = set(), set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif isinstance(n, ast.Attribute):
                attrs.add(n.attr)
        self.called[index] = frozenset(names | attrs)
        if names & {"confusion_matrix", "ConfusionMatrixDisplay"} or {"confusion_matrix",
                                                                       "ConfusionMatrixDisplay"} & set(
                                                                           self.aliases.values()) & names:
            confusion = lab.continued_step(lab.CONFUSION, self._trained_model())
            if confusion:
                found.append(confusion)
                if self.fits:  # a cell that also trains: the matrix's outputs lie after the fit above it
                    at = pyast.first_use(tree, ("confusion_matrix", "ConfusionMatrixDisplay"))
                    self.fits.append((confusion, at, False))
        for var, step in self.histories.items():
            if var in names and not found:
                found.append(step)
        if found:
            self.last = found[-1]
            for step in found:
                self.steps.setdefault(step, Step(step))
                if not self.steps[step].cells or self.steps[step].cells[-1] != index:
                    self.steps[step].cells.append(index)
        return self.last, bool(found)

    def _name(self, func: ast.expr) -> str:
        tail = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return self.aliases.get(tail, tail)

    def _dataset(self, call: ast.Call) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "load_data":
            return {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}.get(self._name(func.value))
        if self._name(func) == "load_idx":
            for arg in call.args:
                if isinstance(arg, ast.Constant) and arg.value in ("mnist", "fashion_mnist"):
                    return arg.value
        if self._name(func) == "read_csv" and call.args and isinstance(call.args[0], ast.Constant) and isinstance(
                call.args[0].value, str):  # the lab's Kaggle copies: mnist_train.csv, fashion-mnist_test.csv
            path = call.args[0].value.lower().rsplit("/", 1)[-1]
            return "fashion_mnist" if "fashion" in path else "mnist" if "mnist" in path else None
        return None

    def _statement(self, node: ast.stmt, in_loop: bool, number: int, lines: list[str]) -> str | None:
        value = node.value if isinstance(node, (ast.Assign, ast.Expr, ast.AnnAssign)) else None
        target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else
                  node.target if isinstance(node, ast.AnnAssign) else None)
        if not isinstance(value, ast.Call):
            return None
        kind = self._name(value.func)
        where = f"cell {number}: {lines[value.lineno - 1].strip()[:120]}" if value.lineno <= len(lines) else ""
        if (kind == "Sequential" or kind in self.builders) and isinstance(target, ast.Name):
            if kind == "Sequential":
                layers = self._sequential_layers(value)
                kinds = frozenset(ly.kind for ly in layers)
            else:  # model = build(...): the layers its def lists, if it lists them
                layers, kinds = self.builders[kind]
            step = lab.model_step(self.exercise, kinds, in_loop, target.id)
            owner = self.owners.setdefault(step, target.id)
            if (owner != target.id and "epochs" in self.steps.get(step, Step(step)).settings and not in_loop
                    and not lab.is_study(step)):
                step = EXTRA + step  # a model of the student's own, once the step's is trained: not the lab's
            self.models[target.id] = step
            st = self.steps.setdefault(step, Step(step))
            if not st.layers:
                st.layers, st.lines["layers"] = layers, where
            self.defined[step] = (layers, where)
            return step
        if not isinstance(value.func, ast.Attribute) or not isinstance(value.func.value, ast.Name):
            return None
        var, method = value.func.value.id, value.func.attr
        step = self.models.get(var)
        if method == "add" and step is None and value.args:  # model = Sequential() then model.add(...)
            return None
        if step is None:
            return None
        st = self.steps.setdefault(step, Step(step))
        if method == "add" and value.args:
            layer = self._layer(value.args[0])
            if layer:
                st.layers.append(layer)
        elif method == "compile":
            args = pyast.args(value, _COMPILE_POS)
            for key in ("optimizer", "loss"):
                if key in args and key not in st.settings:
                    st.settings[key] = pyast.optimizer(args[key]) if key == "optimizer" else pyast.loss(args[key])
                    st.lines[key] = pyast.line(args[key], number, lines)
        elif method == "fit":
            args = pyast.args(value, _FIT_POS)
            x = args.get("x")
            is_flow = isinstance(x, ast.Call) and isinstance(x.func, ast.Attribute) and x.func.attr == "flow"
            augment = lab.continued_step(lab.AUGMENT, step) if is_flow else None
            if augment:
                step = self.models[var] = augment  # from here on the model is the augmented one
                st = self.steps.setdefault(step, Step(step))
                flow = pyast.args(x, ("x", "y", "batch_size"))
                if "batch_size" in flow:
                    args["batch_size"] = flow["batch_size"]
            for key in ("epochs", "batch_size"):
                if key in args:
                    st.settings[key] = pyast.value(self.constants.get(args[key].id, args[key]) if isinstance(
                        args[key], ast.Name) else args[key])
                    st.lines[key] = pyast.line(args[key], number, lines)
            val = ("split " + str(pyast.value(args["validation_split"])) if "validation_split" in args else
                   "data " + pyast.compact(args["validation_data"]) if "validation_data" in args else "none")
            node = args.get("validation_split", args.get("validation_data", value))
            st.settings["validation"], st.lines["validation"] = val, pyast.line(node, number, lines)
            if not in_loop:
                verbose = args.get("verbose")
                silent = isinstance(verbose, ast.Constant) and verbose.value == 0
                self.fits.append((step, value.lineno, not silent))
            if isinstance(target, ast.Name):
                self.histories[target.id] = step
                self.validations[target.id] = (step, "val_split" if val.startswith("split") else
                                               "val_test" if "test" in val.lower() else "val_data")
        elif method != "evaluate" and method not in ("summary", "predict"):
            return None
        return step

    def _trained_model(self) -> str | None:
        """The lab step of the model trained last (the model a confusion matrix is made of)."""
        trained = [step for step in self.models.values() if not step.startswith(EXTRA) and "epochs" in
                   self.steps.get(step, Step(step)).settings]
        return trained[-1] if trained else None

    def _sequential_layers(self, call: ast.Call) -> list[Layer]:
        """The layers a ``Sequential([...])`` call lists (none when its argument is not a literal list)."""
        first = call.args[0] if call.args else None
        return [ly for e in (first.elts if isinstance(first, (ast.List, ast.Tuple)) else [])
                for ly in [self._layer(e)] if ly is not None]

    def _layer(self, node: ast.expr) -> Layer | None:
        if not isinstance(node, ast.Call):
            return None
        kind = self._name(node.func)
        kind = {"MaxPool2D": "MaxPooling2D", "InputLayer": "Input"}.get(kind, kind)
        if kind not in LAYERS:
            return Layer(kind or "?")
        a = pyast.args(node, _POS.get(kind, ()))
        layer = Layer(kind)
        if kind == "Dense":
            layer.units, layer.activation = pyast.value(a.get("units")), pyast.activation(a.get("activation"))
        elif kind == "Conv2D":
            layer.units, layer.activation = pyast.value(a.get("filters")), pyast.activation(a.get("activation"))
            layer.kernel = pyast.first(pyast.value(a.get("kernel_size")))
        elif kind == "MaxPooling2D":
            layer.pool = pyast.first(pyast.value(a.get("pool_size"))) or 2
        elif kind == "Dropout":
            layer.rate = pyast.value(a.get("rate"))
        elif kind == "LeakyReLU":
            layer.rate = pyast.value(a.get("negative_slope", a.get("alpha")))
        elif kind == "Input":
            shape = pyast.value(a.get("shape", a.get("input_shape")))
            layer.shape = tuple(shape) if isinstance(shape, (tuple, list)) else None
        if kind in ("Dense", "Conv2D") and "input_shape" in a:
            shape = pyast.value(a["input_shape"])
            layer.shape = tuple(shape) if isinstance(shape, (tuple, list)) else None
        return layer


def count_params(layers: list[Layer], default_shape: tuple = (28, 28)) -> int | None:
    """Trainable + non-trainable parameters of a Sequential stack, None when a layer is not understood."""
    shape: tuple = default_shape
    total = 0
    for i, ly in enumerate(layers):
        if ly.shape and (ly.kind == "Input" or i <= 1):
            shape = ly.shape
        if ly.kind in ("Input", "Dropout", "LeakyReLU"):
            continue
        if ly.kind == "Flatten":
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        elif ly.kind == "Dense" and isinstance(ly.units, int):
            total += (shape[-1] + 1) * ly.units
            shape = (*shape[:-1], ly.units)
        elif ly.kind == "Conv2D" and isinstance(ly.units, int) and isinstance(ly.kernel, int) and len(shape) >= 2:
            h, w = shape[0], shape[1]
            c = shape[2] if len(shape) > 2 else 1
            total += (ly.kernel * ly.kernel * c + 1) * ly.units
            shape = (h - ly.kernel + 1, w - ly.kernel + 1, ly.units)
        elif ly.kind == "MaxPooling2D" and isinstance(ly.pool, int) and len(shape) == 3:
            shape = (shape[0] // ly.pool, shape[1] // ly.pool, shape[2])
        elif ly.kind == "BatchNormalization":
            total += 4 * shape[-1]
        else:
            return None
    return total
