"""The lab plan (src/mnistlab/lab/plan.toml): one home for the lab's steps, checked, and enough to add a step."""

import json
import shutil
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from mnistlab import config, lab
from mnistlab.lab import plan
from mnistlab.report import layout, questionnaire
from mnistlab.report.artifacts import read_run
from mnistlab.report.exercises import BLOCKS

HERE = Path(__file__).resolve().parent


def test_the_plan_and_the_labs_text_list_the_same_sections_in_the_same_order():
    assert list(lab.section_titles()) == list(plan.load().sections)


def test_every_block_the_plan_names_exists_in_the_report():
    named = {b.name for s in plan.load().sections.values() for b in s.blocks}
    assert named <= set(BLOCKS), named - set(BLOCKS)


def test_every_step_is_an_experiment_whose_model_comes_from_a_step_it_needs():
    for name, step in plan.load().steps.items():
        exp = config.load(name)
        if exp.from_step:
            assert exp.from_step in step.needs, name
    assert set(plan.load().studies) == {n for n in config.names(extended=True) if n.startswith("ext.")}


def test_what_the_code_derives_from_the_plan():
    raw = tomllib.loads(plan.resource("plan.toml"))["step"]
    assert plan.step_names() == tuple(s["name"] for s in raw) and plan.step_names()[0] == "ex1"
    assert plan.seed_study() == tuple(s["name"] for s in raw if s["seed_study"])
    assert {"ex2.ann", "ex2.activations", "ex2.cnn"} <= set(plan.seed_study())
    assert plan.fit_cells()["ex2.cnn.fit"] == "ex2.cnn"
    assert plan.base("ext.ex1_sgd") == "ex1" and plan.base("ex2.cnn") == "ex2.cnn" and plan.base("x") is None
    assert plan.label("ex2.cnn", "fr") == "le CNN de l'étape 5"
    assert plan.label("improved.mnist", "fr") == "notre réseau amélioré pour MNIST"
    assert plan.label("no.such", "fr") is None
    assert plan.other_base("improved.fashion_mnist") == "ex2.cnn" and plan.other_base("ex1") is None
    assert plan.role("conv") == "ex2.cnn" and plan.role("augmented") == "ex2.augment" and plan.role("x") is None
    assert lab.steps_for(["ex2.augment"]) == ["ex2.ann", "ex2.cnn", "ex2.augment"]


STEP = '[[step]]\nname = "{name}"\nneeds = {needs}\nseed_study = false\nlabel = {{ fr = "a", en = "b" }}\n' \
       'title_en = "t"\nvariable = "model"\n'


@pytest.mark.parametrize("text, message", [
    ("[[step", "not valid TOML"),
    (STEP.format(name="a", needs='["b"]') + STEP.format(name="b", needs="[]") + "[section]\n",
     "needs 'b', which is not an earlier step"),
    (STEP.format(name="a", needs="[]") + '[[study]]\nname = "s"\nbase = "z"\nlabel = { fr = "a", en = "b" }\n'
     'title_en = "t"\n[section]\n', "'z' is not a step"),
    (STEP.format(name="a", needs="[]") + '[section.x]\nen = "x"\nstep = "q"\nblocks = []\n', "'q', which is not"),
    (STEP.format(name="a", needs="[]") + '[section.x]\nen = "x"\nstep = "a"\nblocks = [{ a = 1, b = 2 }]\n',
     "one-entry table"),
    ('[[step]]\nname = "a"\n[section]\n', "malformed entry"),
    (STEP.format(name="a", needs="[]") + '[analysis]\nconv = "b"\n[section]\n', "'b' \\(an analysis role"),
    (STEP.format(name="a", needs="[]") + '[[other]]\nname = "o"\nlabel = { fr = "a", en = "b" }\nbase = "c"\n'
     '[section]\n', "'c' \\(an analysis role or an experiment's base\\) is not a step"),
])
def test_a_malformed_plan_is_refused_when_it_loads(text, message):
    with pytest.raises(plan.PlanError, match=message):
        plan.parse(text)


# --- a toy step, added with data only ---------------------------------------------------------------------------

# the toy step's section: the number after the package's last step of exercise 2 (a step added to the lab
# later takes the number the toy had, so the toy moves on)
N = 1 + max(int(s.split(".")[1]) for s in plan.load().sections if s.startswith("ex2."))

TOY_STEP = '''
[[step]]
name = "ex2.wide"
needs = ["ex2.ann"]
seed_study = false
label = { fr = "le CNN large de l'étape 8", en = "the step 8 wide CNN" }
title_en = "Exercise 2 — a wider CNN"
variable = "wide"
fit_cell = "ex2.wide.fit"
cost = 16.0
'''
TOY_SECTION = f'''
[section."ex2.{N}"]
en = "Step {N} – A wider CNN"
step = "ex2.wide"
blocks = ["missing", "settings", "results", {{ compare = "ex2.cnn" }}, "code"]
'''
TOY_TEXT = f'''@section ex2.{N} | Étape {N} – Un CNN plus large
On double le nombre de filtres de chaque convolution.
@code ex2.wide.fit
```python
wide = cnn  # the toy step's code
```
@question ex2.{N}.1 | Le CNN large fait-il mieux ?
'''
TOY_QUESTION = f'''
[[question]]
key = "ex2.{N}.1"
label = "1"
en = "Does the wide CNN do better?"
explain_fr = "Deux fois plus de filtres."
explain_en = "Twice the filters."
measure = "none"
'''
TOY_EXPERIMENT = '''title = "Exercice 2 — CNN large"
order = 7
dataset = "fashion_mnist"
model = "cnn"
conv_filters = [64, 128]
hidden_units = [128]
dropout = [0.3]
loss = "categorical_crossentropy"
epochs = 10
batch_size = 128
validation = "split"
'''


@pytest.fixture
def toy_lab(tmp_path, monkeypatch):
    """The package's lab plus a step "ex2.wide", written as data files only, in use for the test."""
    folder = tmp_path / "lab"
    folder.mkdir()
    text = plan.resource("plan.toml")
    at = text.index('\n[[study]]\n')
    (folder / "plan.toml").write_text(text[:at] + TOY_STEP + "\n" + text[at:].replace(
        "[section.travail]", TOY_SECTION + "\n[section.travail]"), encoding="utf-8")
    tp2 = plan.resource("tp2.fr.md")
    (folder / "tp2.fr.md").write_text(tp2.replace("@section travail", TOY_TEXT + "@section travail"),
                                      encoding="utf-8")
    (folder / "questions.toml").write_text(plan.resource("questions.toml", "mnistlab.report") + TOY_QUESTION,
                                           encoding="utf-8")
    experiments = tmp_path / "experiments"
    shutil.copytree(config.experiments_dir(), experiments)
    (experiments / "ex2.wide.toml").write_text(TOY_EXPERIMENT, encoding="utf-8")
    monkeypatch.setattr(config, "experiments_dir", lambda: experiments)
    with plan.use(folder):
        yield folder


def test_a_step_added_as_data_is_in_the_notebook(toy_lab):
    assert "ex2.wide" in plan.step_names() and plan.fit_cells()["ex2.wide.fit"] == "ex2.wide"
    cells = lab.cells(None)
    code = [c for c in cells if c.section == f"ex2.{N}" and c.kind == "code"]
    assert [c.name for c in code] == ["ex2.wide.fit"] and "wide = cnn" in code[0].source
    assert any(c.question and c.name == f"ex2.{N}.1" for c in cells)
    assert f"ex2.{N}" not in [c.section for c in lab.cells(None, steps=["ex1"])]


def test_a_step_added_as_data_is_in_the_report(toy_lab, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(HERE / "report_run", run_dir)
    shutil.copytree(run_dir / "ex2.cnn", run_dir / "ex2.wide")
    cfg = json.loads((run_dir / "ex2.wide" / "config.json").read_text())
    cfg.update(config.load("ex2.wide").to_dict())
    (run_dir / "ex2.wide" / "config.json").write_text(json.dumps(cfg))
    assert f"ex2.{N}" in questionnaire.sections()
    doc = layout.build(read_run(run_dir), "fr")
    headings = [text for _, _, text in doc.toc] if hasattr(doc, "toc") else []
    body = json.dumps([getattr(b, "__dict__", str(b)) for b in doc.blocks], default=str, ensure_ascii=False)
    assert f"Étape {N} – Un CNN plus large" in body and "Le CNN large fait-il mieux" in body
    assert "Le CNN large de l'étape 8 contre le CNN de l'étape 5" in body  # its compare block
    assert headings == [] or any(f"Étape {N}" in h for h in headings)
    from mnistlab.report import interpretation

    rose, flat = interpretation.overfitting(read_run(run_dir))  # the written analysis reads its curves too
    assert "ex2.wide" in [n for n, _ in rose] + flat


@pytest.mark.slow
def test_a_step_added_as_data_runs(toy_lab, tmp_path, shared_datasets):
    from mnistlab.runner import Runner

    run_dir = tmp_path / "run"
    overrides = {"epochs": 1, "train_limit": 600, "test_limit": 200}
    Runner(run_dir, overrides, data_dir=str(shared_datasets)).run(["ex2.wide"])
    metrics = json.loads((run_dir / "ex2.wide" / "metrics.json").read_text())
    assert metrics["params"] > 225_034  # twice the filters of the lab's CNN
    assert tomllib.loads(resources.files("mnistlab.lab").joinpath("plan.toml").read_text()) is not None


# --- the grader tells a new step from its data: a CNN with batch normalisation -----------------------------------

BN_STEP = TOY_STEP.replace('"ex2.wide"', '"ex2.bn"').replace('"wide"', '"cnn_bn"').replace(
    "ex2.wide.fit", "ex2.bn.fit").replace("wide CNN", "batch-normalised CNN").replace("CNN large", "CNN normalisé")
BN_EXPERIMENT = TOY_EXPERIMENT.replace("CNN large", "CNN avec normalisation par lots").replace(
    'model = "cnn"', 'model = "cnn_bn"').replace("[64, 128]", "[32, 64]").replace("order = 7\n", "")


def _student_notebook(*sources):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s, execution_count=i + 1) for i, s in enumerate(sources)]
    return json.loads(nbformat.writes(nb))


def test_the_grader_tells_a_step_added_as_data_by_its_layers(tmp_path, monkeypatch):
    import contextlib

    from mnistlab.grade import lab as grade_lab
    from mnistlab.grade import parse

    # written as a student writes it: own names, the BN network in a cell of its own, after the lab's CNN
    nb = _student_notebook(
        "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
        "(xtr, ytr), (xte, yte) = keras.datasets.fashion_mnist.load_data()",
        "ann = keras.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(128, activation='relu'),\n"
        "    layers.Dropout(0.2), layers.Dense(64, activation='relu'), layers.Dense(10, activation='softmax')])",
        "conv = keras.Sequential([layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)),\n"
        "    layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(10, activation='softmax')])",
        "bn = keras.Sequential([layers.Conv2D(32, 3, padding='same', use_bias=False, input_shape=(28, 28, 1)),\n"
        "    layers.BatchNormalization(), layers.Activation('relu'), layers.MaxPooling2D(),\n"
        "    layers.Flatten(), layers.Dense(10, activation='softmax')])")
    bn = next((n for n in plan.step_names() if config.load(n).model == "cnn_bn"), None)
    lab_in_use = contextlib.nullcontext()
    if bn is None:  # the package's lab has no batch-normalised step: add one, as data, for the test
        folder = tmp_path / "lab"
        folder.mkdir()
        text = plan.resource("plan.toml")
        at = text.index('\n[[study]]\n')
        (folder / "plan.toml").write_text(text[:at] + BN_STEP + "\n" + text[at:], encoding="utf-8")
        experiments = tmp_path / "experiments"
        shutil.copytree(config.experiments_dir(), experiments)
        (experiments / "ex2.bn.toml").write_text(BN_EXPERIMENT, encoding="utf-8")
        monkeypatch.setattr(config, "experiments_dir", lambda: experiments)
        before = parse.read(nb).steps
        assert "ex2.cnn" in before and "ex2.bn" not in before  # the package's lab has no such step
        assert before["ex2.cnn"].cells == [2, 3]  # both convolutional networks go to its CNN
        bn, lab_in_use = "ex2.bn", plan.use(folder)
    with lab_in_use:
        assert grade_lab.shape(bn).marks == ("Conv2D", "BatchNormalization")
        steps = parse.read(nb).steps
        assert steps[bn].cells == [3] and steps["ex2.cnn"].cells == [2] and steps["ex2.ann"].cells[-1] == 1
