"""The report's questions as data and its measurements, on the hand-made run folder tests/report_run (no training).

tests/report_run holds the lab's six steps with realistic numbers and three traps: step 7's validation loss
is lowest at epoch 7 of 10 and ends 0.0168 higher (overfitting only if that is beyond its noise: see
with_loss_sd), while its test-accuracy gain is 4 images of 10,000 and its test loss got worse; the activation
ranking differs between validation and test; ReLU is 0.01 point behind tanh (no place inside the noise).
It holds no per-image arrays, so its verdicts are unpaired and say so; with_pairs and with_loss_sd add
per-image test results to a copy, and the overfitting test writes each epoch's per-example validation losses,
so the paired verdicts are tested on the same folder. Every test here runs in milliseconds.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mnistlab import judge, report
from mnistlab.report import interpretation, measures, quantities, questionnaire
from mnistlab.report.artifacts import read_run

RUN = Path(__file__).parent / "report_run"


@pytest.fixture
def run_dir(tmp_path):
    return Path(shutil.copytree(RUN, tmp_path / "run"))


@pytest.fixture
def run(run_dir):
    return read_run(run_dir)


def answer(run, key, lang="fr"):
    q = next(q for q in questionnaire.load().questions if q.key == key)
    return " ".join(questionnaire.answer(q, run, lang).paragraphs)


# --- the data file --------------------------------------------------------------------------------------------


def test_questions_file_holds_every_section_and_question_of_the_lab():
    from mnistlab import lab as the_lab
    from mnistlab.lab import plan

    lab = questionnaire.load()
    assert list(lab.sections) == [s for s in plan.load().sections if s.count(".") == 1]
    assert [f"ex1.{i}" for i in range(1, 10)] + [f"ex2.{i}" for i in range(1, 8)] == list(lab.sections)[:16]
    asked = the_lab.question_texts()
    assert [q.key for q in lab.questions] == list(asked) and len(asked) >= 50
    assert all(q.measure in measures.registry() for q in lab.questions)


TOML = '[[question]]\nkey = "ex1.1.1"\nlabel = "1"\n' \
       'en = "q"\nmeasure = "{measure}"\n{args}'


@pytest.mark.parametrize("measure, args, message", [("no_such_measure", "", "unknown measurement"),
                                                    ("fifty", 'args = { stduy = "x" }\n', "no argument 'stduy'")])
def test_an_unknown_measurement_or_argument_fails_when_the_file_loads(measure, args, message):
    with pytest.raises(questionnaire.QuestionsError, match=message):
        questionnaire.parse(TOML.format(measure=measure, args=args))


def test_a_programming_error_in_a_measurement_propagates(run, monkeypatch):
    def broken(run, lang):
        return {}["typo"]

    monkeypatch.setitem(measures.REGISTRY, "final_accuracy", broken)
    q = next(q for q in questionnaire.load().questions if q.measure == "final_accuracy")
    with pytest.raises(KeyError):
        questionnaire.answer(q, run, "fr")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_measurement_answers_on_the_hand_made_run(run, lang):
    for q in questionnaire.load().questions:
        a = questionnaire.answer(q, run, lang)
        assert a.paragraphs and all(isinstance(p, str) and p for p in a.paragraphs), q.key
        assert "Non mesuré dans cette exécution" not in " ".join(a.paragraphs) or q.key in ("ex1.9.1",), q.key


# --- claims checked with their uncertainty --------------------------------------------------------------------


def test_binomial_standard_error_and_the_two_se_rule():
    assert judge.binomial_se(0.9, 10000) == pytest.approx(0.003)
    assert not quantities.accuracy_diff(0.9020, 0.9016, 10000).measurable  # 4 images
    assert quantities.accuracy_diff(0.9016, 0.8810, 10000).measurable  # the CNN against the ANN


def with_loss_sd(run_dir, step, sd, n=10_000):
    """Give ``step`` test probabilities whose per-example cross-entropies have standard deviation ``sd``
    (labels all 0), so that the judge knows the SE of its mean validation loss (sd / sqrt(n))."""
    import numpy as np

    losses = np.where(np.arange(n) % 2 == 0, 1.0 + sd, 1.0 - sd)
    p = np.exp(-losses)
    probs = np.concatenate([p[:, None], np.repeat(((1 - p) / 9)[:, None], 9, axis=1)], axis=1).astype(np.float32)
    np.save(run_dir / step / "test_probabilities.npy", probs)
    (run_dir / step / "arrays").mkdir(exist_ok=True)
    np.save(run_dir / step / "arrays" / "test_labels.npy", np.zeros(n, dtype=np.uint8))
    return read_run(run_dir)


def test_without_a_loss_se_a_loss_rise_is_not_judged(run):
    rose, flat = interpretation.overfitting(run)
    assert rose == [] and "ex2.augment" in flat
    c = quantities.step_curve(run.step("ex2.augment"))
    assert c.best_val_loss_epoch == 7 and not c.overfits and "faute d'erreur-type" in c.judged.text("fr")


def test_a_loss_rise_inside_its_noise_is_not_overfitting(run_dir):
    run = with_loss_sd(run_dir, "ex2.augment", 0.88)  # one epoch's SE 0.0088: 2 SE of a difference 0.0249
    c = quantities.step_curve(run.step("ex2.augment"))
    assert c.se_epoch == pytest.approx(0.0088, rel=1e-3) and not c.overfits
    text = " ".join(interpretation.analysis(run, "fr"))
    assert "Nous mesurons du surapprentissage" not in text  # the analysis claims only what the judge finds
    assert "pas de surapprentissage mesurable sur ces 10 époques" in answer(run, "ex2.7.1").lower()


def test_a_loss_rise_beyond_its_noise_is_overfitting(run_dir):
    run = with_loss_sd(run_dir, "ex2.augment", 0.30)  # SE 0.003: 2 SE of a difference 0.0085 < 0.0168
    rose, _ = interpretation.overfitting(run)
    assert [n for n, _ in rose] == ["ex2.augment"]
    c = dict(rose)["ex2.augment"]
    assert (c.best_val_loss_epoch, c.epochs) == (7, 10) and c.judged.by_loss
    text = " ".join(interpretation.analysis(run, "fr"))
    assert "surapprentissage mesurable à partir de l'époque 7" in text
    assert "(étape 7) (" not in text  # no doubled parentheses after a step's name


def test_a_tiny_augmentation_gain_with_a_worse_test_loss_is_not_a_finding(run):
    a = answer(run, "ex2.7.1")
    assert "+0,04 point" in a and "pas de différence mesurable" in a and "plus mauvaise" in a
    assert "ne montrent donc pas" in a
    assert "no measurable difference" in answer(run, "ex2.7.1", "en")
    assert "nous ne pouvons pas conclure" in " ".join(interpretation.analysis(run, "fr"))


def test_a_better_test_loss_with_a_gain_inside_the_noise(run_dir):
    path = run_dir / "ex2.augment" / "metrics.json"
    metrics = json.loads(path.read_text())
    cnn_loss = json.loads((run_dir / "ex2.cnn" / "metrics.json").read_text())["test_loss"]
    metrics["test_loss"] = round(cnn_loss - 0.0125, 4)
    path.write_text(json.dumps(metrics))
    # the CNN's per-example loss SD 0.88: SE 0.0088, so -0.0125 is inside 2 SE (0.0249): no conclusion
    text = " ".join(interpretation.analysis(with_loss_sd(run_dir, "ex2.cnn", 0.88), "fr"))
    # the accuracy and the loss inside the noise (no per-image results here: the tests are unpaired)
    assert "pas de différence mesurable ; binomial non apparié" in text
    assert "pas de différence mesurable ; non apparié" in text and "nous ne pouvons pas conclure" in text
    # SD 0.2: SE 0.002, -0.0125 is beyond 2 SE (0.0057): the lower loss is a finding, augmentation helps
    text = " ".join(interpretation.analysis(with_loss_sd(run_dir, "ex2.cnn", 0.2), "fr"))
    assert "au-delà du bruit" in text and "elle aide" in text


def test_a_ranking_that_reverses_between_validation_and_test_is_said(run):
    a = answer(run, "ex2.4.1")
    assert "Classement en validation" in a and "tanh 0,8781, relu 0,8780" in a
    assert "le classement n'est pas le même" in a and "pas de différence mesurable" in a


def test_relu_answer_says_where_relu_ranks(run):
    a = answer(run, "ex2.3.1")
    # relu 0.8780 is 0.01 point behind tanh on 12,000 images: no place ("2e sur 4") inside the noise
    assert "2e sur 4" not in a and "ne montre donc pas ReLU meilleure" in a
    assert "tanh, relu et leaky_relu à égalité en tête dans le bruit ; sigmoid derrière tanh et relu, " \
           "mais au niveau de leaky_relu" in a
    assert "second of 4" not in answer(run, "ex2.3.1", "en")


def test_exercise1_improvement_answer_uses_mnist_numbers(run):
    a = answer(run, "ex1.9.3")
    assert "228" in a and "0,9772" in a and "Fashion" in a and "0,9016" not in a


def test_ties_among_the_most_confused_pairs_are_all_named():
    import numpy as np

    m = np.zeros((10, 10), dtype=int)
    m[0, 1], m[1, 2], m[2, 3], m[3, 4], m[4, 5] = 9, 7, 5, 5, 1
    pairs = quantities.top_pairs(m, [str(i) for i in range(10)], top=3)
    assert [n for *_, n in pairs] == [9, 7, 5, 5]


def test_ml_statements_an_instructor_checks():
    text = " ".join(q.explain_fr for q in questionnaire.load().questions)
    assert "dernier axe de n'importe quel tenseur" in text and "Dense` attend un vecteur" not in text
    assert "calcule exactement la même perte" in text and "n'impose aucun ordre" not in text
    notes = " ".join(interpretation.method_notes(read_run(RUN), "fr"))
    assert "fonctionne toujours avec TensorFlow 2.21" in notes and "absent de Keras 3" not in notes


# --- the API the notebook reads -------------------------------------------------------------------------------


def test_questions_api_lists_sections_in_order():
    qs = report.questions("en")
    assert list(qs)[:2] == ["ex1.1", "ex1.2"] and qs["ex1.3"][0] == {
        "key": "ex1.3.a", "label": "a", "quote": "Identify the digits shown", "todo": True}


def test_answers_and_analysis_work_on_a_partial_run_without_provenance(run_dir):
    from mnistlab import lab
    from mnistlab.lab import plan

    for name in plan.step_names()[1:]:  # every step but exercise 1's
        shutil.rmtree(run_dir / name, ignore_errors=True)
    got = report.answers(run_dir, "fr")
    assert len(got) == len(lab.question_texts()) and "Non mesuré dans cette exécution" in got["ex2.5.2"]
    assert not any(re.search(r"metrics\.json|mnistlab run|Source|/tmp/", a) for a in got.values())
    text = report.analysis(run_dir, "fr")
    assert "Sur MNIST, notre réseau dense" in text and text.count(". ") + 1 <= 10


def test_answers_never_import_tensorflow(tmp_path):
    code = ("import sys; from mnistlab import report; report.answers(sys.argv[1], 'en'); report.analysis(sys.argv[1]);"
            "report.build(sys.argv[1], 'en'); assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    shutil.copytree(RUN, tmp_path / "run")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], check=True,
                   env={"PYTHONPATH": str(Path(report.__file__).parents[2]), "PATH": "/usr/bin:/bin"})


def test_a_doctored_metrics_file_gives_unavailable_with_the_reason(run_dir):
    m = json.loads((run_dir / "ex1" / "metrics.json").read_text())
    (run_dir / "ex1" / "metrics.json").write_text(json.dumps({**m, "test_accuracy": 3.0}))
    a = answer(read_run(run_dir), "ex1.7.1")
    assert "Non mesuré" in a and "'test_accuracy' holds a value no run writes" in a and str(run_dir) not in a


def test_the_faulty_notebooks_exercise_1_curve_reads_as_noise():
    """Validation loss 0.0817 -> 0.0827 (SE 0.0044) while accuracy dips 0.9744 -> 0.9742 (2 images of 10,000)."""
    h = {"loss": [0.26, 0.11, 0.08, 0.06], "accuracy": [0.92, 0.966, 0.976, 0.982],
         "val_accuracy": [0.9625, 0.9744, 0.9742, 0.9772], "val_loss": [0.12, 0.09, 0.0817, 0.0827]}
    c = quantities.curve(h, n_val=10_000, se_epoch=0.0044, n_train=60_000)
    text = measures.curve_sentence(c, "fr")
    assert "baisse" not in text.replace("sans baisse mesurable", "") and c.val_acc_drops == []
    assert not c.overfits
    assert "pas de surapprentissage mesurable sur ces 4 époques" in measures.overfit_sentence(c, "fr").lower()
    # the same dip of 300 images is a measurable fall, and said so
    h["val_accuracy"] = [0.9625, 0.9744, 0.9444, 0.9772]
    c = quantities.curve(h, n_val=10_000, se_epoch=0.0044, n_train=60_000)
    assert c.val_acc_drops == [3] and "à l'époque 3" in measures.curve_sentence(c, "fr")
    assert c.overfits is False  # the last epoch recovered: no overfitting at the end


def test_the_same_run_folder_gives_the_same_verdicts_to_the_report_and_the_notebook(run_dir):
    """The notebook's answers and analysis are the report's, read from the same run folder."""
    from mnistlab.notebook import answers as nb_answers

    with_loss_sd(run_dir, "ex2.augment", 0.30)
    got = nb_answers.answers(run_dir, "fr")
    assert got == {k: nb_answers._field(v) for k, v in report.answers(run_dir, "fr").items()}
    analysis = nb_answers.analysis(run_dir, "fr")
    assert analysis == report.analysis(run_dir, "fr")
    assert "surapprentissage mesurable à partir de l'époque 7" in analysis
    report.build(run_dir, "fr")
    md = " ".join((run_dir / "report.md").read_text(encoding="utf-8").split())
    verdict = re.compile(r"(?:pas de )?surapprentissage mesurable[^.;:(]*|pas de différence mesurable|"
                         r"à égalité en tête dans le bruit|au-delà de deux erreurs-types", re.I)
    said = {v.lower() for text in [*got.values(), analysis] for v in verdict.findall(text)}
    assert len(said) >= 4
    for v in said:
        assert v in md.lower(), v


# --- paired wherever pairs exist ----------------------------------------------------------------------------


def with_pairs(run_dir, gain=(343, 265)):
    """Give the CNN and the augmented CNN per-image test results on the same 10,000 images: ``gain`` = images
    only the augmented model gets right, only the CNN gets right (a right image has loss -ln 0.9, a wrong one
    -ln 0.15); metrics.json then states what the arrays say."""
    import numpy as np

    n, (b, c) = 10_000, gain
    y = (np.arange(n) % 10).astype(np.uint8)
    cnn_right = np.arange(n) < 9016
    aug_right = cnn_right.copy()
    aug_right[9016 - c:9016] = False
    aug_right[9016:9016 + b] = True
    for name, right in (("ex2.cnn", cnn_right), ("ex2.augment", aug_right)):
        probs = np.where(right[:, None], 0.1 / 9, 0.05 / 8) * np.ones((n, 10))
        probs[np.arange(n), y] = np.where(right, 0.9, 0.15)
        probs[~right, (y[~right] + 1) % 10] = 0.8
        np.save(run_dir / name / "test_probabilities.npy", probs.astype(np.float32))
        (run_dir / name / "arrays").mkdir(exist_ok=True)
        np.save(run_dir / name / "arrays" / "test_labels.npy", y)
        path = run_dir / name / "metrics.json"
        m = json.loads(path.read_text())
        m.update(test_accuracy=float(right.mean()), test_loss=float(-np.log(probs[np.arange(n), y]).mean()),
                 test_errors=int(n - right.sum()))
        path.write_text(json.dumps(m))
    return read_run(run_dir)


def test_the_augmentation_gain_is_judged_by_mcnemar_when_both_models_scored_the_same_images(run_dir):
    run = with_pairs(run_dir)
    q = next(q for q in questionnaire.load().questions if q.key == "ex2.7.1")
    a = next(p for p in questionnaire.answer(q, run, "fr").paragraphs if "perte de test" in p)
    assert "+0,78 point, au-delà de deux erreurs-types appariées" in a
    assert "McNemar exact : 343 contre 265 images discordantes sur 10\u202f000" in a
    assert "différence appariée des pertes par image sur 10\u202f000 images" in a
    assert "non appariées" not in a and "pas de différence mesurable" not in a
    text = " ".join(interpretation.analysis(run, "fr"))
    assert "+0,78 point, au-delà du bruit ; McNemar apparié" in text and "nous ne pouvons pas conclure" not in text


def test_without_per_image_results_the_comparison_says_it_is_unpaired(run):
    a = answer(run, "ex2.7.1")
    assert "erreurs-types binomiales non appariées" in a and "McNemar" not in a


def test_overfitting_is_judged_paired_from_each_epochs_validation_losses(run_dir):
    """Step 7's validation loss 0.2587 (epoch 7) -> 0.2755 (epoch 10): with each epoch's per-example losses
    saved, the rise is judged on the per-example differences."""
    import numpy as np

    from mnistlab import runfolder

    folder = run_dir / "ex2.augment"
    curve = runfolder.read_history(folder / runfolder.HISTORY)["val_loss"]
    base = np.random.default_rng(1).exponential(1.0, 10_000)
    rows = np.array([base / base.mean() * m for m in curve])  # each image's loss moves with the epoch's mean
    runfolder.write_epoch_outputs(folder, rows, np.zeros(rows.shape, np.uint8))  # no labels: losses only
    run = read_run(run_dir)
    c = quantities.step_curve(run.step("ex2.augment"))
    assert c.overfits and c.judged.by_loss and c.judged.rise.test == judge.Test.LOSS_PAIRED
    a = answer(run, "ex2.7.1")
    assert "surapprentissage mesurable à partir de l'époque 7" in a.lower()
    assert "différence appariée des pertes par image" in a
    # a file that is not a run's (negative losses) is refused in one line and the judge stays unpaired
    runfolder.write_epoch_outputs(folder, -rows, np.zeros(rows.shape, np.uint8))
    run = read_run(run_dir)
    c = quantities.step_curve(run.step("ex2.augment"))
    assert c.judged.rise.test != judge.Test.LOSS_PAIRED and any("val_losses.npy" in p for p in run.problems)
    # rows of another run (not the history's validation losses) are not used either
    runfolder.write_epoch_outputs(folder, rows * 2, np.zeros(rows.shape, np.uint8))
    run = read_run(run_dir)
    c = quantities.step_curve(run.step("ex2.augment"))
    assert c.judged.rise.test != judge.Test.LOSS_PAIRED
    assert any("does not match the validation curves" in p for p in run.problems)


def test_a_measurement_gets_its_sections_step_unless_its_args_name_another():
    from mnistlab.report import questionnaire

    qs = {q.key: q for q in questionnaire.load().questions}
    assert questionnaire.arguments(qs["ex1.4.1"]) == {"step": "ex1"}  # section ex1.4 shows ex1
    assert questionnaire.arguments(qs["ex2.4.1"]) == {"step": "ex2.activations"}
    assert questionnaire.arguments(qs["ex2.6.2"]) == {"step": "ex2.augment", "base": "ex2.cnn"}  # args win
    assert questionnaire.arguments(qs["ex1.1.1"]) == {}  # the Keras version: no step
