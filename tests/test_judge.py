"""The judge: every verdict below, at and above its two-standard-error threshold, on hand-made numbers;
paired wherever pairs exist (McNemar, per-example losses), rankings said as the pairwise verdicts say."""

import math

import numpy as np
import pytest

from mnistlab import judge


def test_accuracies_below_at_and_above_the_threshold():
    n = 10_000
    se = math.hypot(judge.binomial_se(0.9, n), judge.binomial_se(0.9, n))
    assert judge.accuracies(0.9, 0.9, n).verdict == "same"
    # exactly at 2 SE is not a finding (strictly beyond)
    at = judge.accuracies(0.9 + 1e-12, 0.9, n)
    assert not at.finding
    v = judge.accuracies(0.92, 0.90, n)
    assert v.verdict == "higher" and v.finding and v.value == pytest.approx(0.02)
    assert v.se == pytest.approx(math.hypot(judge.binomial_se(0.92, n), judge.binomial_se(0.90, n)))
    assert judge.accuracies(0.90, 0.92, n).verdict == "lower"
    inside = judge.accuracies(0.9 + 1.9 * se, 0.9, n)
    assert inside.verdict == "same" and "pas de différence mesurable" in inside.text("fr")
    assert "au-delà" in v.text("fr") and "beyond" in v.text("en")


def test_losses_paired_and_unpaired():
    assert judge.loss_se([1.0, 3.0]) == pytest.approx(1.0)  # SD sqrt(2) / sqrt(2)
    v = judge.losses(0.30, 0.25, se_epoch=0.01)
    assert v.se == pytest.approx(math.sqrt(2) * 0.01) and v.verdict == "higher"  # 0.05 > 2 x 0.0141
    assert judge.losses(0.27, 0.25, se_epoch=0.01).verdict == "same"  # 0.02 < 0.0283
    paired = judge.losses(0.27, 0.25, paired=[0.02, 0.021, 0.019, 0.02])  # same examples: tiny SE
    assert paired.verdict == "higher"
    unknown = judge.losses(0.5, 0.1)
    assert unknown.verdict == "same" and not unknown.finding and "inconnue" in unknown.text("fr")


def test_overfitting_augmented_cnn_of_the_faulty_report_is_noise():
    # validation loss 0.2550 -> 0.2695 (one epoch's SE 0.0088), accuracy 0.9101 -> 0.9078 on 10,000 images
    o = judge.overfitting([0.30, 0.27, 0.2600, 0.2580, 0.2560, 0.2550, 0.2600, 0.2650, 0.2695],
                          [0.89, 0.90, 0.9050, 0.9101, 0.9080, 0.9090, 0.9085, 0.9080, 0.9078], 10_000, 0.0088)
    assert o.verdict == "none" and not o.finding
    assert "pas de surapprentissage mesurable sur ces 9 époques" in o.text("fr")
    assert o.rise.value == pytest.approx(0.0145) and not o.rise.finding


def test_overfitting_ex1_of_the_faulty_notebook_is_noise():
    o = judge.overfitting([0.25, 0.14, 0.10, 0.0817, 0.0827], [0.9625, 0.9700, 0.9744, 0.9742, 0.9772],
                          10_000, 0.0044)
    assert o.verdict == "none" and o.best_loss_epoch == 4 and o.rise.value == pytest.approx(0.0010)


def test_overfitting_at_and_above_the_threshold():
    se = 0.01
    bound = 2 * math.sqrt(2) * se
    at = judge.overfitting([0.30, 0.20, 0.20 + 0.999 * bound], None, 0, se)
    assert at.verdict == "none"  # at 2 SE (just under): not a finding
    above = judge.overfitting([0.30, 0.20, 0.20 + 1.01 * bound], None, 0, se)
    assert above.verdict == "overfits" and above.by_loss and above.best_loss_epoch == 2
    assert "à partir de l'époque 2" in above.text("fr")
    # no loss SE: the loss is not judged
    assert judge.overfitting([0.3, 0.2, 0.9], None, 0, None).verdict == "none"


def test_overfitting_by_accuracy_alone():
    o = judge.overfitting([0.3, 0.25, 0.24], [0.90, 0.95, 0.92], 10_000, 0.01)
    assert o.verdict == "overfits" and o.by_acc and not o.by_loss and o.best_acc_epoch == 2


def test_overfitting_last_epoch_best():
    o = judge.overfitting([0.3, 0.2, 0.1], [0.8, 0.9, 0.95], 1000, 0.01)
    assert o.verdict == "none" and "dernière époque" in o.text("fr")


def test_trend_and_dips():
    assert judge.trend([0.9625, 0.9744, 0.9742, 0.9772], n=10_000).verdict == "rises"
    assert judge.trend([0.9744, 0.9742], n=10_000).verdict == "flat"
    assert judge.trend([0.9, 0.85], n=10_000).verdict == "falls"
    assert judge.trend([0.30, 0.29], se_epoch=0.01).verdict == "flat"
    assert judge.trend([0.30, 0.20], se_epoch=0.01).verdict == "falls"
    # 0.9744 -> 0.9742 is 2 images out of 10,000: no measurable dip; 0.97 -> 0.95 is one
    assert judge.dips([0.9625, 0.9744, 0.9742, 0.9772], 10_000) == []
    assert judge.dips([0.96, 0.97, 0.95, 0.97], 10_000) == [3]


def test_ranking_keeps_ties_inside_the_noise():
    r = judge.ranking({"sigmoid": 0.8700, "tanh": 0.8790, "relu": 0.8775, "leaky_relu": 0.8760}, 12_000)
    assert r.order[0][0] == "tanh" and r.verdict == "tie"
    assert set(r.leaders) == {"tanh", "relu", "leaky_relu"}
    assert r.first_vs_last.finding  # tanh vs sigmoid: 0.9 point on 12,000 images is beyond 2 SE (0.86)
    clear = judge.ranking({"a": 0.95, "b": 0.90}, 10_000)
    assert clear.verdict == "first" and clear.leaders == ("a",) and clear.finding
    assert clear.tied("fr") == "a"


def test_seeds_welch_matches_scipy():
    from scipy import stats

    a, b = [0.910, 0.912, 0.915, 0.909], [0.900, 0.903, 0.899, 0.905]
    s = judge.seeds(a, b)
    assert s.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-6)
    assert s.finding and s.verdict == "higher" and s.n_a == 4
    same = judge.seeds([0.90, 0.91, 0.89], [0.905, 0.895, 0.90])
    assert same.verdict == "same" and not same.finding
    assert judge.seeds([0.9], [0.8]).p is None and not judge.seeds([0.9], [0.8]).finding
    assert "test de Welch : p = " in s.diff.text("fr") and "Welch's test" in s.diff.text("en")


def test_augmentation_helps_hurts_or_not():
    assert judge.augmentation(0.9078, 0.9101, 10_000).verdict == "same"
    assert judge.augmentation(0.93, 0.90, 10_000).verdict == "helps"
    assert judge.augmentation(0.87, 0.90, 10_000).verdict == "hurts"
    # accuracy inside the noise, loss clearly lower: helps
    assert judge.augmentation(0.901, 0.900, 10_000, 0.20, 0.30, 0.01).verdict == "helps"


def test_hardest_class_names_ties():
    recall = {"Shirt": 0.70, "Pullover": 0.72, "Coat": 0.85, "Trouser": 0.98}
    support = dict.fromkeys(recall, 1000)
    h = judge.hardest_class(recall, support)
    assert h.order[0][0] == "Shirt" and set(h.leaders) == {"Shirt", "Pullover"} and h.verdict == "tie"
    h2 = judge.hardest_class({"Shirt": 0.60, "Coat": 0.85}, {"Shirt": 1000, "Coat": 1000})
    assert h2.leaders == ("Shirt",) and h2.finding


def _right_pairs(n: int, both: int, only_a: int, only_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image right/wrong of two models on ``n`` images: ``both`` right for both, then the discordant ones."""
    a, b = np.zeros(n, bool), np.zeros(n, bool)
    a[:both] = b[:both] = True
    a[both:both + only_a] = True
    b[both + only_a:both + only_a + only_b] = True
    return a, b


def test_augmentation_gain_with_343_against_265_discordant_images_is_a_finding():
    """+0.78 point on 10,000 test images: inside the unpaired noise (the old verdict), beyond the paired one."""
    from scipy import stats

    aug, cnn = _right_pairs(10_000, 8836, 343, 265)
    assert aug.mean() - cnn.mean() == pytest.approx(0.0078)
    unpaired = judge.accuracies(aug.mean(), cnn.mean(), 10_000)
    assert unpaired.verdict == "same" and unpaired.test == judge.Test.BINOMIAL
    assert "non appariées" in unpaired.text("fr")
    v = judge.accuracies(aug.mean(), cnn.mean(), 10_000, right_a=aug, right_b=cnn)
    assert v.test == judge.Test.MCNEMAR and v.discordant == (343, 265)
    assert v.se == pytest.approx(math.sqrt(608 - 78 ** 2 / 10_000) / 10_000)
    assert v.z == pytest.approx(3.165, abs=0.01) and v.verdict == "higher" and v.finding
    assert v.p == pytest.approx(stats.binomtest(343, 608, 0.5).pvalue) and v.p < 0.01
    fr = v.text("fr")
    assert fr.startswith("+0,78 point, au-delà de deux erreurs-types appariées")
    assert "McNemar exact : 343 contre 265 images discordantes sur 10\u202f000" in fr and "p = 0,00" in fr
    assert "343 against 265 discordant images" in v.text("en")
    assert judge.augmentation(aug.mean(), cnn.mean(), 10_000, right=(aug, cnn)).verdict == "helps"


def test_a_tie_the_paired_test_also_accepts_stays_a_tie():
    a, b = _right_pairs(10_000, 9000, 30, 25)
    v = judge.accuracies(a.mean(), b.mean(), 10_000, right_a=a, right_b=b)
    assert v.verdict == "same" and not v.finding and v.test == judge.Test.MCNEMAR and v.p > 0.05
    assert "pas de différence mesurable" in v.text("fr") and "30 contre 25" in v.text("fr")
    # no discordant image at all: nothing tells the two models apart
    same = judge.mcnemar(a, a)
    assert same.verdict == "same" and same.discordant == (0, 0)


def test_unpaired_only_where_no_pairs_exist():
    a, b = _right_pairs(1000, 800, 40, 10)
    assert judge.accuracies(a.mean(), b.mean(), 1000).test == judge.Test.BINOMIAL
    assert judge.accuracies(a.mean(), b.mean(), 1000, right_a=a).test == judge.Test.BINOMIAL  # one side only
    assert judge.accuracies(a.mean(), b.mean(), 1000, right_a=a, right_b=b[:500]).test == judge.Test.BINOMIAL
    assert judge.accuracies(a.mean(), b.mean(), 1000, right_a=a, right_b=b).test == judge.Test.MCNEMAR
    assert judge.losses(0.30, 0.29, se_epoch=0.01).test == judge.Test.LOSS_UNPAIRED
    assert "non appariées" in judge.losses(0.30, 0.29, se_epoch=0.01).text("fr")
    assert judge.losses(0.30, 0.29).test == judge.Test.UNKNOWN


def _per_example(means: list[float], sd_step: float, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """(epochs, n) per-example losses whose rows have exactly ``means``, each epoch's differences from the
    one before of SD ``sd_step`` (the same examples carried from epoch to epoch)."""
    rng = np.random.default_rng(seed)
    base = rng.exponential(0.25, n)
    rows = [base - base.mean() + means[0]]
    for m in means[1:]:
        step = rng.normal(0, 1, n)
        step = (step - step.mean()) / step.std(ddof=1) * sd_step
        rows.append(rows[-1] + step - (rows[-1] + step).mean() + m)
    return np.array(rows)


def test_a_loss_gain_with_paired_se_0_0047_is_a_finding():
    """+0.0130 in test loss: "dans le bruit, ± 0,0214" unpaired; paired SE 0.0047, z = 2.75."""
    rows = _per_example([0.2600, 0.2730], 0.47)
    v = judge.paired_losses(rows[1], rows[0], 0.2730, 0.2600)
    assert v.value == pytest.approx(0.0130) and v.se == pytest.approx(0.0047, rel=1e-6)
    assert v.z == pytest.approx(2.766, abs=0.01) and v.verdict == "higher" and v.test == judge.Test.LOSS_PAIRED
    assert "différence appariée des pertes par image sur 10\u202f000 images" in v.text("fr")
    assert "au-delà de deux erreurs-types" in v.text("fr")
    unpaired = judge.losses(0.2730, 0.2600, se_epoch=0.0214 / (2 * math.sqrt(2)))
    assert unpaired.verdict == "same" and "± 0,0214" in unpaired.text("fr")
    # the mean of d_i is the effect when the recorded means are not given
    assert judge.paired_losses(rows[1], rows[0]).value == pytest.approx(0.0130)
    aug = judge.augmentation(0.9101, 0.9101, 10_000, 0.2600, 0.2730, per_example=(rows[0], rows[1]))
    assert aug.verdict == "helps"  # accuracy level, loss lower beyond its paired noise


def test_overfitting_judged_paired_from_per_example_validation_losses():
    """Validation loss 0.2587 -> 0.2598 -> 0.2646 -> 0.2755: +0.0168 inside the unpaired noise (± 0.0252),
    beyond the paired one."""
    curve = [0.2587, 0.2598, 0.2646, 0.2755]
    unpaired = judge.overfitting(curve, None, 0, 0.0252 / (2 * math.sqrt(2)))
    assert unpaired.verdict == "none" and "± 0,0252" in unpaired.text("fr")
    assert "non appariées" in unpaired.text("fr")
    rows = _per_example(curve, 0.10)
    o = judge.overfitting(curve, None, 0, None, per_example=rows)
    assert o.verdict == "overfits" and o.by_loss and o.best_loss_epoch == 1
    assert o.rise.test == judge.Test.LOSS_PAIRED and o.rise.value == pytest.approx(0.0168)
    assert o.rise.se == pytest.approx(np.std(rows[-1] - rows[0], ddof=1) / 100)
    assert "surapprentissage mesurable à partir de l'époque 1" in o.text("fr")
    assert "différence appariée des pertes par image" in o.text("fr")
    # arrays of the wrong shape (another number of epochs) are not used: back to the unpaired SE
    assert judge.overfitting(curve, None, 0, 0.0089, per_example=rows[:3]).rise.test == judge.Test.LOSS_UNPAIRED
    assert judge.trend(curve, per_example=rows).verdict == "rises"
    assert [v.verdict for v in judge.loss_steps(curve, per_example=rows)] == ["same", "higher", "higher"]


def test_ranking_sentence_follows_the_pairwise_verdicts():
    # n = 12,000: two SE of a difference near 0.87 are about 0.87 point
    values = {"relu": 0.8780, "leaky_relu": 0.8775, "tanh": 0.8698, "sigmoid": 0.8648}
    r = judge.ranking(values, 12_000)
    assert r.verdict == "tie" and r.leaders == ("relu", "leaky_relu", "tanh")
    assert r.groups == (("relu", "leaky_relu", "tanh"), ("sigmoid",))
    assert r.apart("relu", "sigmoid") and not r.apart("tanh", "sigmoid") and r.place("relu") is None
    assert r.sentence("fr") == ("relu, leaky_relu et tanh à égalité en tête dans le bruit ; "
                                "sigmoid derrière relu et leaky_relu, mais au niveau de tanh")
    # tanh level with relu, tanh level with sigmoid, relu ahead of sigmoid: never "relu devance sigmoid" alone
    three = judge.ranking({"relu": 0.8780, "tanh": 0.8698, "sigmoid": 0.8648}, 12_000)
    assert three.sentence("fr") == "relu et tanh à égalité en tête dans le bruit ; sigmoid derrière relu, " \
                                   "mais au niveau de tanh"
    assert "tied first within the noise" in three.sentence("en")
    ev = three.sentence("fr", evidence=True)
    assert "relu − sigmoid : +1,32 point, au-delà" in ev and "tanh − sigmoid : +0,50 point : pas de différence" in ev
    clear = judge.ranking({"a": 0.95, "b": 0.90, "c": 0.85}, 10_000)
    assert clear.sentence("fr") == "a en tête ; b derrière a ; c derrière a et b" and clear.place("b") == 2
    flat = judge.ranking({"a": 0.900, "b": 0.899, "c": 0.898}, 10_000)
    assert flat.sentence("fr") == "a, b et c : aucune différence mesurable entre elles, deux à deux"


def test_ranking_pairs_by_mcnemar_when_per_image_results_exist():
    a, b = _right_pairs(10_000, 8836, 343, 265)
    r = judge.ranking({"aug": a.mean(), "cnn": b.mean()}, 10_000, right={"aug": a, "cnn": b})
    assert r.verdict == "first" and r.first_vs_second.test == judge.Test.MCNEMAR
    assert judge.ranking({"aug": a.mean(), "cnn": b.mean()}, 10_000).verdict == "tie"


def test_verdict_names_are_an_enum_and_words_come_at_rendering():
    v = judge.accuracies(0.92, 0.90, 10_000)
    assert isinstance(v.verdict, judge.Call) and v.verdict is judge.Call.HIGHER and v.verdict == "higher"
    assert v.text("fr").startswith("+2,00 points,") and v.text("en").startswith("+2.00 points,")
    assert not hasattr(v, "fr") and not hasattr(v, "en")


def test_a_brief_verdict_keeps_the_effect_the_call_the_test_and_its_bound():
    """The analysis's short form: the same verdict, its test named, twice its SE; the full evidence is elsewhere."""
    n = 10_000
    ra, rb = np.ones(n, bool), np.ones(n, bool)
    ra[:264] = False  # right before only
    rb[264:264 + 347] = False  # right after only
    v = judge.accuracies(0.9129, 0.9046, n, right_a=rb, right_b=ra)
    assert v.finding and v.brief("fr").startswith("+0,83 point, au-delà du bruit ; McNemar apparié, ± 0,")
    same = judge.accuracies(0.8788, 0.8777, 12_000, 12_000)
    assert same.brief("fr").startswith("+0,11 point, pas de différence mesurable ; binomial non apparié, ± ")
    assert same.brief("en").startswith("+0.11 points, no measurable difference; binomial, unpaired, ± ")
