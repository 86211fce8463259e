"""mnistlab report: the hand-in written from a run's artifacts, in French and English, for whole and partial runs.

One module-scoped run of the whole lab (one epoch on slices), with the extended studies and two seeds, feeds
every test here; partial runs are made by copying it and removing files.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from mnistlab import cli, config, i18n
from mnistlab.errors import MnistlabError
from mnistlab.lab import plan
from mnistlab.report import artifacts, code, fmt, layout, questionnaire, tables
from mnistlab.report import build as build_report

QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]
LAB_TEXT = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_4276dbda81d1d721.txt"
QUESTIONS = questionnaire.load().questions


@pytest.fixture
def lab(lab_run):
    """The whole lab plus the extended studies, one epoch on slices, two seeds (conftest's ``lab_run``)."""
    return lab_run


def _copy(run: Path, dest: Path) -> Path:
    """A copy of a run folder without its models (the report never needs them)."""
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("*.keras"))
    return dest


def _text(html: str) -> str:
    """The visible text of a report page, tags dropped, entities of the few kinds we write undone."""
    s = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    s = re.sub(r"<[^>]+>", "", s)
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"')


# --- the whole run --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_writes_the_report_with_every_step_and_question(lab):
    html = (lab / "report.html").read_text(encoding="utf-8")
    md = (lab / "report.md").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html
    text = _text(html)
    for q in QUESTIONS:
        quote = _text(document_inline(q.fr))
        assert quote in text, q.key
    # Every step of the lab in order, each with settings, results and its code.
    positions = [html.index(f'id="{lab_anchor}"') for lab_anchor in
                 ["step-ex1", "sec-ex2-3", "sec-ex2-4", "sec-ex2-5", "sec-ex2-6", "sec-ex2-7"]]
    assert positions == sorted(positions)
    assert html.count('href="#code-complete"') >= 6 and html.count('id="code-complete"') == 1
    assert "Travail demandé" in text and "Analyse" in text and "Notes de méthode" in text
    assert "Les erreurs les plus confiantes du CNN" in text
    # The Markdown holds the same report, its figures beside it.
    for figure in re.findall(r"\]\((report_figures/[^)]+\.png)\)", md):
        assert (lab / figure).is_file(), figure
    assert md.count("**Q") == sum(not q.todo for q in QUESTIONS)


def document_inline(s: str) -> str:
    from mnistlab.report.render import inline_html

    return inline_html(s)


@pytest.mark.slow
def test_questions_quote_the_lab_word_for_word():
    assert len([q for q in QUESTIONS if not q.todo]) == 47
    if not LAB_TEXT.is_file():
        pytest.skip(f"the lab's text is not at {LAB_TEXT}")
    lab = LAB_TEXT.read_text(encoding="utf-8")
    for q in QUESTIONS:
        if q.todo:
            for piece in re.split(r"(?<=\?) ", q.fr):
                assert piece.rstrip(" ?") in lab, q.key
        else:
            assert q.fr in lab, q.key


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_question_has_a_measured_answer_when_the_run_has_everything(lab, lang):
    run = artifacts.read_run(lab)
    for q in QUESTIONS:
        a = questionnaire.answer(q, run, lang)
        body = " ".join(a.paragraphs)
        assert body.strip(), q.key
        assert "Non mesuré" not in body and "Not measured" not in body, (q.key, body)
        assert "indisponible" not in body and "unavailable" not in body, (q.key, body)
    measured = [q.key for q in QUESTIONS if questionnaire.answer(q, run, lang).sources]
    # The measurable questions cite where their numbers come from.
    for key in ["ex1.1.3", "ex1.2.2", "ex1.2.3", "ex1.4.1", "ex1.6.a", "ex1.7.1", "ex1.8.1", "ex1.6.3",
                "ex2.3.3", "ex1.5.3", "ex1.5.4", "ex2.4.1", "ex2.6.1", "ex2.7.1", "ex2.7.2"]:
        assert key in measured, key


@pytest.mark.slow
def test_seeds_are_run_recorded_and_reported(lab):
    manifest = json.loads((lab / "manifest.json").read_text())
    assert manifest["seeds"] == 2
    for name in plan.seed_study():
        seeds = manifest["experiments"][name]["seeds"]
        assert list(seeds) == ["43"] and seeds["43"]["status"] == "complete"
        assert (lab / name / "seeds" / "43" / "metrics.json").is_file()
        assert (lab / name / "metrics.json").is_file()  # the first seed stays where it always was
        assert json.loads((lab / name / "config.json").read_text())["seed"] == 42
    text = _text((lab / "report.html").read_text(encoding="utf-8"))
    assert "Sur 2 graines" in text and "moyenne ± écart-type" in text and "p (Welch)" in text
    assert "au-delà du bruit ?" in text
    run = artifacts.read_run(lab)
    doc = layout.build(run, "fr")
    assert any(f.key == "ex2.activations_bars_seeds" for f in doc.figures)


@pytest.mark.slow
def test_extended_studies_are_reported(lab):
    text = _text((lab / "report.html").read_text(encoding="utf-8"))
    for name in config.names(extended=True):
        if name.startswith("ext."):
            assert (lab / name / "metrics.json").is_file(), name
            assert f"Code : {config.load(name).title}" in text, name
    assert "Réglages changés (référence : le réseau dense de l'exercice 1) : learning_rate 0.001 → 1.0" in text


def test_extended_studies_run_only_when_asked():
    lab = config.names()
    assert not [n for n in lab if n.startswith("ext.")]
    assert config.select(["ex2.ann"]) == ["ex2.ann"]
    assert config.select(["ex2"]) == [n for n in lab if n.startswith("ex2.")]
    every = config.select(None, extended=True)
    assert every[: len(lab)] == lab and {"ext.ann_50_epochs", "ext.ex1_50_epochs"} <= set(every)
    assert config.select(["ext.ann_50_epochs"]) == ["ext.ann_50_epochs"]
    assert config.load("ext.ann_50_epochs").epochs == 50


# --- the code in the report runs ------------------------------------------------------------------------------


@pytest.mark.slow
def test_generated_code_runs_and_builds_the_same_model(lab, monkeypatch):
    """Exec each step's code on tiny data: it runs, and its model has the run's parameter count."""
    import keras

    rng = np.random.default_rng(0)

    def tiny():
        return ((rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40).astype(np.uint8)),
                (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), rng.integers(0, 10, 20).astype(np.uint8)))

    from tensorflow.keras import datasets as tf_datasets

    for module in (keras.datasets, tf_datasets):  # the lab imports them from tensorflow.keras
        monkeypatch.setattr(module.mnist, "load_data", tiny)
        monkeypatch.setattr(module.fashion_mnist, "load_data", tiny)
    import matplotlib

    matplotlib.use("Agg")
    run = artifacts.read_run(lab)
    for name in [*plan.step_names(), "ext.ex1_mse_loss"]:
        step = run.step(name)
        source = code.generate(step.exp, "fr")
        compile(source, name, "exec")
        ns: dict = {"__name__": "report_code"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(source, f"<{name}>", "exec"), ns)
        model = ns[code.model_variable(step.exp)]
        m = step.metrics
        expected = m["params"][step.exp.activations[-1]] if step.exp.step == "activations" else (
            run.step("ex2.cnn").metrics["params"] if step.exp.step == "confusion" else m["params"])
        assert model.count_params() == expected, name
        if step.exp.step == "activations":
            assert [{"LeakyReLU": "leaky_relu"}.get(k, k) for k in ns["results"]] == step.exp.activations
        if step.exp.step in ("train", "augment"):
            assert 0.0 <= ns["test_acc"] <= 1.0


def test_generated_code_holds_the_runs_values():
    exp = config.load("ex2.cnn", config.parse_overrides(["epochs=7", "batch_size=64", "learning_rate=3e-4"]))
    src = code.generate(exp, "en")
    assert "epochs=7," in src and "batch_size=64," in src and "learning_rate=0.0003" in src
    assert "Conv2D(32, (3,3), activation='relu')" in src and "Dropout(0.3)" in src
    assert "validation_split=0.2" in src and "fashion_mnist.load_data()" in src
    ex1 = code.generate(config.load("ex1"), "fr")
    assert "validation_data=(x_test, y_test)" in ex1 and "sparse_categorical_crossentropy" in ex1


# --- numbers come from the artifacts --------------------------------------------------------------------------


@pytest.mark.slow
def test_every_number_is_read_from_the_artifacts(lab, tmp_path):
    """Doctor a copy of the run's files; the report shows the doctored numbers, not the real ones."""
    run = _copy(lab, tmp_path / "doctored")

    def doctor(path, change):
        p = run / path
        data = json.loads(p.read_text())
        change(data)
        p.write_text(json.dumps(data))

    def ex1(m):
        m.update(test_accuracy=0.123456, test_loss=7.654321, test_errors=4321, n_test=10000, params=123457)
        m["layers"][1]["params"] = 98765

    doctor("ex1/metrics.json", ex1)
    doctor("ex2.activations/metrics.json", lambda m: m["val_accuracy"].update(tanh=0.314159))
    doctor("ex2.confusion/metrics.json", lambda m: m["most_confused"][0].update(count=987))
    doctor("manifest.json", lambda m: (m["versions"].update(tensorflow="9.8.7"),
                                       m["data"]["mnist"]["x_train"].update(shape=[54321, 28, 28])))
    hist = (run / "ex2.ann" / "history.csv").read_text().splitlines()
    cols = hist[0].split(",")
    row = hist[1].split(",")
    row[cols.index("val_accuracy")] = "0.271828"
    (run / "ex2.ann" / "history.csv").write_text("\n".join([hist[0], ",".join(row), *hist[2:]]) + "\n")
    csv_lines = (run / "ex2.confusion" / "confusion_matrix.csv").read_text().splitlines()
    cells = csv_lines[1].split(",")
    cells[1] = "8642"
    (run / "ex2.confusion" / "confusion_matrix.csv").write_text("\n".join([csv_lines[0], ",".join(cells),
                                                                          *csv_lines[2:]]) + "\n")
    for lang in ("fr",):  # the English formats are checked on the answers below, without redrawing figures
        build_report(run, lang)
        text = _text((run / "report.html").read_text(encoding="utf-8"))
        for value in [fmt.num(0.123456, lang), fmt.num(7.654321, lang), fmt.integer(4321, lang),
                      fmt.integer(123457, lang), fmt.integer(98765, lang), fmt.num(0.314159, lang),
                      fmt.integer(987, lang), fmt.num(0.271828, lang), "9.8.7", "(54321, 28, 28)",
                      fmt.integer(54321, lang)]:
            assert value in text, (lang, value)
        assert f"Test accuracy: {fmt.num(0.123456, lang)}" in text or \
            f"Précision de test : {fmt.num(0.123456, lang)}" in text
        real = json.loads((lab / "ex1" / "metrics.json").read_text())
        row = i18n.say("tables.test_errors", lang)
        sec7, sec8 = questionnaire.sections()["ex1.7"], questionnaire.sections()["ex1.8"]
        section = text[text.rindex(sec7.title(lang)):text.rindex(sec8.title(lang))]
        assert f"{row}{fmt.integer(4321, lang)} / " in section
        assert f"{row}{fmt.integer(real['test_errors'], lang)} / " not in section
    doctored = artifacts.read_run(run)
    answers = " ".join(" ".join(questionnaire.answer(q, doctored, "en").paragraphs) for q in QUESTIONS)
    for value in ["0.1235", "7.6543", "4,321", "123,457", "98,765", "0.3142", "987", "9.8.7", "54,321"]:
        assert value in answers, value


# --- partial runs ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_exercise_only_reports_what_is_missing(tmp_path, shared_datasets):
    out = tmp_path / "ex1only"
    assert cli.main(["run", "ex1", "--out", str(out), "--data", str(shared_datasets), *QUICK]) == 0
    text = _text((out / "report.html").read_text(encoding="utf-8"))
    assert "Ce qui manque" in text
    for name in ["ex2.ann", "ex2.activations", "ex2.cnn", "ex2.confusion", "ex2.augment"]:
        assert f"{config.load(name).title} (pas lancée)" in text
    assert "Non mesuré dans cette exécution : pas de résultats pour la matrice de confusion (étape 6) (pas " \
           "lancée)." in text
    assert "Précision de test : " in text  # exercise 1 is there


@pytest.mark.slow
def test_interrupted_run_with_a_missing_metrics_file(lab, tmp_path):
    run = _copy(lab, tmp_path / "interrupted")
    (run / "ex2.cnn" / "metrics.json").unlink()
    shutil.rmtree(run / "ex2.augment")
    (run / "ex2.ann" / "metrics.json").write_text("{not json")  # unreadable: reported, not fatal
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    manifest["experiments"]["ex2.cnn"]["status"] = "running"  # killed mid-step
    del manifest["experiments"]["ex2.augment"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    written = build_report(run, "fr")
    assert written.missing == ["ex2.ann", "ex2.cnn", "ex2.augment"]
    text = _text(written.html.read_text(encoding="utf-8"))
    assert "Cette exécution n'est pas terminée (interrompue)" in text
    assert "le CNN de l'étape 5 n'a pas de résultats (statut : interrompue)" in text
    assert "Les époques terminées (1) sont montrées ci-dessous." in text
    assert "Non mesuré dans cette exécution : pas de résultats pour le CNN de l'étape 5 (interrompue) et le CNN " \
           "augmenté (étape 7) (pas lancée)." in text
    assert "l'ANN de l'étape 3 n'a pas de résultats (statut : inachevée). ex2.ann/metrics.json: unreadable" in text
    assert str(run) not in text
    assert "Précision de test : " in text  # what exists is still there


def test_run_writes_a_report_when_interrupted_or_failed(tmp_path, shared_datasets, monkeypatch):
    """Ctrl-C or an error mid-run still leaves a report of what exists, saying the run did not finish."""
    from mnistlab import train

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train_step", stop)
    out = tmp_path / "stopped"
    assert cli.main(["run", "ex1", "--out", str(out), "--data", str(shared_datasets), *QUICK]) == 130
    text = _text((out / "report.html").read_text(encoding="utf-8"))
    assert "Cette exécution n'est pas terminée (interrompue)" in text
    assert f"{config.load('ex1').title} (interrompue)" in text

    def fail(*args, **kwargs):
        raise MnistlabError("the disk is full", tmp_path / "disk")

    monkeypatch.setattr(train, "train_step", fail)
    out = tmp_path / "failed"
    assert cli.main(["run", "ex1", "--out", str(out), "--data", str(shared_datasets), *QUICK, "--lang", "en"]) == 1
    text = _text((out / "report.en.html").read_text(encoding="utf-8"))  # English beside any French report
    assert "This run did not finish (failed: " in text and "disk: the disk is full" in text
    assert "Exercise 1 — MNIST, dense network 784-128-10 (failed) — " in text and str(tmp_path) not in text


# --- language -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_english_report_has_english_text_and_figure_labels(lab, tmp_path, monkeypatch):
    from mnistlab import plots

    run = _copy(lab, tmp_path / "en")
    langs = []
    for fn in ["curves", "overlay", "confusion", "samples", "predictions", "mistakes", "augmented"]:
        original = getattr(plots, fn)

        def spy(*args, _original=original, **kwargs):
            langs.append(kwargs.get("lang", args[-1] if isinstance(args[-1], str) else None))
            return _original(*args, **kwargs)

        monkeypatch.setattr(plots, fn, spy)
    written = build_report(run, "en")
    html = written.html.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    text = _text(html)
    assert "Exercise 1: handwritten digit recognition (MNIST)" in text and "Hand-in checklist" in text
    for french in ["Précision de test", "Réglages", "Exercice 1 :", "Sommaire", "Ce qui manque"]:
        assert french not in text, french
    assert "What is the difference between TensorFlow and Keras?" in text
    assert "« Quelle est la différence entre TensorFlow et Keras ? »" in text  # the lab's words, quoted
    # Every figure with labels was drawn in English: curves, bars, confusion from the artifacts, and the
    # image figures (samples, predictions, mistakes, augmented) redrawn from the data set.
    assert langs and set(langs) == {"en"}, langs
    doc = layout.build(artifacts.read_run(run), "en")
    assert not [f.key for f in doc.figures if f.note], "a figure kept the run's French labels"
    assert len(doc.figures) == written.figures


# --- bad input ------------------------------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mnistlab.cli", *args], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "nowhere", "no such folder"),
    (lambda p: p, "not a mnistlab run folder"),
    (lambda p: (p / "manifest.json").write_text("{oops") and p, "unreadable run manifest"),
])
def test_report_of_a_non_run_folder_is_a_one_line_error(tmp_path, make, message):
    target = make(tmp_path)
    r = _cli("report", str(target))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistlab: error: ") and message in lines[0]
    assert str(target) in lines[0]


# --- the page in a real browser -------------------------------------------------------------------------------


@pytest.mark.slow
def test_report_renders_offline_in_chromium_on_desktop_phone_and_paper(lab, browser):
    html = (lab / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    for width in (1200, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        requests = []
        page.on("request", lambda r, requests=requests: requests.append(r.url))
        page.goto((lab / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        assert len(images) >= 25 and all(ok and w > 0 for ok, w in images), images
        assert all(u.startswith(("data:", "file:")) for u in requests), [u[:80] for u in requests]
        # Readable on a phone: nothing wider than the screen (wide tables and code scroll in their box).
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if width == 1200:
            assert page.pdf(format="A4")[:4] == b"%PDF"  # printable
        page.close()


# --- formatting -----------------------------------------------------------------------------------------------


def test_number_formats_follow_the_language():
    assert fmt.num(0.975, "fr") == "0,9750" and fmt.num(0.975, "en") == "0.9750"
    assert fmt.integer(101770, "fr") == "101\u202f770" and fmt.integer(101770, "en") == "101,770"
    assert fmt.points(0.009, "fr") == "+0,90 point" and fmt.points(-0.025, "en") == "−2.50 points"
    assert fmt.seconds(167.4, "fr") == "2\u202fmin\u202f47\u202fs" and fmt.seconds(2.5, "en") == "2.5\u202fs"
    assert fmt.pct(0.975, "fr") == "97,50\u202f%" and fmt.general(0.001, "fr") == "0,001"


@pytest.mark.parametrize("name,shown,hidden", [
    ("improved.fashion_mnist", ["conv_filters", "convs_per_block", "block_dropout", "precision", "lr_schedule",
                                "augment", "rotation_degrees", "horizontal_flip"], []),
    ("ex2.cnn", ["conv_filters", "kernel_size"], ["convs_per_block", "precision", "lr_schedule", "augment",
                                                  "label_smoothing", "warmup_fraction", "cutout"]),
    ("ex2.ann", ["hidden_units", "dropout"], ["conv_filters", "convs_per_block", "precision", "augment"]),
])
def test_settings_table_shows_what_the_step_changed(tmp_path, name, shown, hidden):
    step = artifacts.Step(name, tmp_path, config=config.load(name).to_dict())
    rows = tables.settings_table(step, "en").rows
    words = [row[0] for row in rows]
    assert {tables._setting_word(k, "en") for k in shown} <= set(words)
    assert not {tables._setting_word(k, "en") for k in hidden} & set(words)
    assert not any("`" in w or "_" in w for w in words)  # plain words, never a settings key


def test_a_label_smoothed_step_says_what_its_loss_curves_measure(tmp_path):
    from mnistlab.report import studies
    from mnistlab.report.blocks import Items

    for lang, words in (("fr", "lissage des étiquettes de 0,1"), ("en", "label smoothing 0.1")):
        items = Items(lang)
        cfg = config.load("improved.fashion_mnist", {"label_smoothing": 0.1}).to_dict()
        studies._other(items, None, artifacts.Step("improved.fashion_mnist", tmp_path, config=cfg))
        (para,) = items.blocks
        assert words in para.text
        items = Items(lang)
        studies._other(items, None, artifacts.Step("improved.fashion_mnist", tmp_path,
                                                config=config.load("improved.fashion_mnist",
                                                                   {"label_smoothing": 0.0}).to_dict()))
        assert items.blocks == []


def test_a_run_report_speaks_as_the_student_and_names_the_other_execution_in_its_appendix(tmp_path, capsys):
    """`mnistlab run`'s numbers come from the fast path: only the appendix says so, the code listing is
    plainly labelled, and the command ends with one line when the name or group is blank."""
    run = _copy(Path(__file__).parent / "report_run", tmp_path / "run")
    assert cli.main(["report", str(run)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mnistlab: no --author and --group given"), err
    md = (run / "report.md").read_text(encoding="utf-8")
    body, appendix = md.split('id="appendix"', 1)
    assert "chemin d'exécution rapide" not in body and "chemin rapide" not in body
    assert "chemin d'exécution rapide" in appendix and "run/report.html" in appendix
    assert "autre exécution" in body  # the code listing's heading says it is not what produced the numbers
    assert not re.search(r"^#.*mnistlab a entraîné", md, flags=re.M)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<td[^>]*>\s*(—|\?)\s*</td>", page)  # a value that does not apply is said in words
    assert cli.main(["report", str(run), "--author", "Dupont Marie", "--group", "G2"]) == 0
    assert "no --" not in capsys.readouterr().err
