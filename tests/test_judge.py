"""The judge: every verdict below, at and above its two-standard-error threshold, on hand-made numbers."""

import math

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
    assert inside.verdict == "same" and "pas de différence mesurable" in inside.fr
    assert "au-delà" in v.fr and "beyond" in v.en


def test_losses_paired_and_unpaired():
    assert judge.loss_se([1.0, 3.0]) == pytest.approx(1.0)  # SD sqrt(2) / sqrt(2)
    v = judge.losses(0.30, 0.25, se_epoch=0.01)
    assert v.se == pytest.approx(math.sqrt(2) * 0.01) and v.verdict == "higher"  # 0.05 > 2 x 0.0141
    assert judge.losses(0.27, 0.25, se_epoch=0.01).verdict == "same"  # 0.02 < 0.0283
    paired = judge.losses(0.27, 0.25, paired=[0.02, 0.021, 0.019, 0.02])  # same examples: tiny SE
    assert paired.verdict == "higher"
    unknown = judge.losses(0.5, 0.1)
    assert unknown.verdict == "same" and not unknown.finding and "inconnue" in unknown.fr


def test_overfitting_augmented_cnn_of_the_faulty_report_is_noise():
    # validation loss 0.2550 -> 0.2695 (one epoch's SE 0.0088), accuracy 0.9101 -> 0.9078 on 10,000 images
    o = judge.overfitting([0.30, 0.27, 0.2600, 0.2580, 0.2560, 0.2550, 0.2600, 0.2650, 0.2695],
                          [0.89, 0.90, 0.9050, 0.9101, 0.9080, 0.9090, 0.9085, 0.9080, 0.9078], 10_000, 0.0088)
    assert o.verdict == "none" and not o.finding
    assert "pas de surapprentissage mesurable sur ces 9 époques" in o.fr
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
    assert "à partir de l'époque 2" in above.fr
    # no loss SE: the loss is not judged
    assert judge.overfitting([0.3, 0.2, 0.9], None, 0, None).verdict == "none"


def test_overfitting_by_accuracy_alone():
    o = judge.overfitting([0.3, 0.25, 0.24], [0.90, 0.95, 0.92], 10_000, 0.01)
    assert o.verdict == "overfits" and o.by_acc and not o.by_loss and o.best_acc_epoch == 2


def test_overfitting_last_epoch_best():
    o = judge.overfitting([0.3, 0.2, 0.1], [0.8, 0.9, 0.95], 1000, 0.01)
    assert o.verdict == "none" and "dernière époque" in o.fr


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
    for t, df in ((0.5, 3.0), (2.1, 7.5), (10.0, 2.0)):
        assert judge.t_two_sided_p(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-6)


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
