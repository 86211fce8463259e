"""Measurements of exercise 2 (Fashion-MNIST): data, ANN, activations, CNN, confusion, augmentation.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``.
"""

from __future__ import annotations

import math

from mnistlab import judge
from mnistlab.i18n import class_names, say
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import epochs, integer, listing, num, points, seconds, shape
from mnistlab.report.measures import (
    Answer,
    acc,
    compare,
    data_facts,
    diff_text,
    lower,
    maybe,
    measure,
    missing,
    need,
    overfit_sentence,
    study_missing,
    where,
)


@measure
def q_fashion_nature(run: Run, lang: str, step: str) -> Answer:
    f = data_facts(run, "fashion_mnist")
    p = []
    if "x_train" not in f:
        return Answer(p + [missing(run, lang, step)])
    x, xt = f["x_train"], f["x_test"]
    p.append(say("measures_fashion.data_shapes", lang, train_shape=shape(x["shape"], lang),
                 test_shape=shape(xt["shape"], lang), dtype=x["dtype"], min=x["min"], max=x["max"],
                 height=x["shape"][1], width=x["shape"][2]))
    src = [where("manifest.json", "data.fashion_mnist")]
    counts = quantities.class_counts(run, step)
    if counts and len(set(counts)) == 1:
        p.append(say("measures_fashion.balanced", lang, count=integer(counts[0], lang)))
        src.append("fashion_mnist y_train")
    check = run.data_facts("fashion_mnist").get("verified")
    if check is True:
        p.append(say("measures_fashion.digests_match", lang))
    elif check is False:
        p.append(say("measures_fashion.digests_differ", lang))
    # no accuracy here: the ANN has not run yet at this point of the lab (no forward reference)
    return Answer(p, src)


@measure
def q_one_hot(run: Run, lang: str, step: str) -> Answer:
    p = []
    f = data_facts(run, "fashion_mnist")
    m = maybe(run, step)
    if "y_train" in f and m and m.get("layers"):
        n_out = m["layers"][-1]["output_shape"][-1]
        p.append(say("measures_fashion.one_hot", lang, labels_shape=shape(f["y_train"]["shape"], lang),
                     one_hot_shape=shape([f["y_train"]["shape"][0], n_out], lang)))
        return Answer(p, [where("manifest.json", "data.fashion_mnist"), where(f"{step}/metrics.json", "layers")])
    return Answer(p)


@measure
def q_why_relu(run: Run, lang: str, step: str) -> Answer:
    m = maybe(run, step)
    if not m or "relu" not in m["val_accuracy"]:
        return Answer([])
    va = m["val_accuracy"]
    ranked = quantities.ranking(va)
    best = ranked[0][0]
    r = judge.ranking(va, m.get("n_validation") or 0, quantities.sub_right(run.step(step), va))
    others = ", ".join(f"{a} {acc(v, lang)}" for a, v in ranked if a != "relu")
    place = r.place("relu")  # a place only when the judge tells ReLU apart from every other activation
    p = [say("measures_fashion.relu_place", lang, place=_nth(place, lang), count=len(ranked),
             relu=acc(va["relu"], lang), others=others) if place is not None else
         say("measures_fashion.relu_ranked", lang, relu=acc(va["relu"], lang), others=others,
             ranking=r.sentence(lang))]
    if best == "relu":
        others = [a for a in r.leaders if a != "relu"]
        p.append(say("measures_fashion.relu_leads", lang) if r.finding else
                 say("measures_fashion.relu_tied", lang, others=listing(others, lang),
                     difference=r.first_vs_second.text(lang)))
    else:
        p.append(say("measures_fashion.relu_behind", lang, best=best, difference=r.pairs[best, "relu"].text(lang)))
    return Answer(p, [where(f"{step}/metrics.json", "val_accuracy", "n_validation")])


@measure
def q_acc_vs_val(run: Run, lang: str, step: str) -> Answer:
    p = []
    m = maybe(run, step)
    c = quantities.step_curve(run.step(step))
    if m and c:
        p.append(say("measures_fashion.validation_split", lang, validation_images=integer(m["n_validation"], lang),
                     training_images=integer(m["n_train"], lang), accuracy=acc(c.last_acc, lang),
                     val_accuracy=acc(c.last_val_acc, lang), gap=points(c.last_gap, lang)))
        return Answer(p, [where(f"{step}/metrics.json", "n_train", "n_validation"), f"{step}/history.csv"])
    return Answer(p)


@measure
def q_best_activation(run: Run, lang: str, step: str) -> Answer:
    m = need(run, step)
    va = m["val_accuracy"]
    ranked = quantities.ranking(va)
    if len(ranked) < 2:
        return Answer([say("measures_fashion.one_activation", lang, activation=m["best"],
                           accuracy=acc(va[m["best"]], lang))])
    n = m.get("n_validation") or 0
    r = judge.ranking(va, n, quantities.sub_right(run.step(step), va))
    (first, _), (second, _) = ranked[0], ranked[1]
    spread = r.first_vs_last
    p = [say("measures_fashion.validation_ranking", lang, ranking=", ".join(f"{a} {acc(v, lang)}" for a, v in ranked)),
         say("measures_fashion.best_leads", lang, first=first, second=second, difference=r.first_vs_second.text(lang))
         if r.finding else
         say("measures_fashion.best_tied", lang, tied=r.tied(lang), first=first, second=second,
             difference=r.first_vs_second.text(lang), spread=spread.text(lang))]
    if len(ranked) > 2:
        p.append(say("measures_fashion.pairwise_ranking", lang, ranking=r.sentence(lang)))
    sources = [where(f"{step}/metrics.json", "val_accuracy", "n_validation")]
    ta = m.get("test_accuracy") or {}
    if set(ta) == set(va):
        test_ranked = quantities.ranking(ta)
        if [a for a, _ in test_ranked] != [a for a, _ in ranked]:
            p.append(say("measures_fashion.test_ranking_differs", lang,
                         ranking=", ".join(f"{a} {acc(v, lang)}" for a, v in test_ranked)))
        else:
            p.append(say("measures_fashion.test_ranking_same", lang))
        sources.append(where(f"{step}/metrics.json", "test_accuracy"))
    st = run.step(step)
    spreads = {a: quantities.seed_spread(st, lambda mm, a=a: mm["val_accuracy"][a]) for a in va}
    if all(spreads.values()):
        k = next(iter(spreads.values())).n
        by_mean = sorted(spreads, key=lambda a: spreads[a].mean, reverse=True)
        best, runner_up = by_mean[0], by_mean[1]
        p.append(say("measures_fashion.seed_means", lang, seeds=k, means=", ".join(
            f"{a} {acc(spreads[a].mean, lang)} ± {num(spreads[a].std, lang)}" for a in by_mean)))
        w = judge.seeds(list(spreads[best].values.values()), list(spreads[runner_up].values.values()))
        pv, sig = w.p, w.finding
        gap = points(spreads[best].mean - spreads[runner_up].mean, lang)
        p.append(say("measures_fashion.seed_gap", lang, best=best, runner_up=runner_up, gap=gap,
                     verdict=say("measures_fashion.seed_gap_beyond" if sig else "measures_fashion.seed_gap_within",
                                 lang), p=num(pv, lang, 3)))
        sources.append(f"{step}/seeds/*/metrics.json")
    else:
        p.append(say("measures_fashion.single_run", lang))
    return Answer(p, sources)


PLACES = {1: "measures_fashion.place_1", 2: "measures_fashion.place_2", 3: "measures_fashion.place_3"}


def _nth(k: int, lang: str) -> str:
    """``première``, ``2e`` / ``first``, ``second``, ``4th``."""
    return say(PLACES.get(k, "measures_fashion.place_n"), lang, place=k)


@measure
def q_sigmoid_tanh(run: Run, lang: str, step: str) -> Answer:
    m = maybe(run, step)
    s = run.step(step)
    if not m or not {"sigmoid", "tanh", "relu"} <= set(m["val_accuracy"]):
        return Answer([])
    va, n = m["val_accuracy"], m.get("n_validation") or 0
    p = []
    hs, hr = s.subs.get("sigmoid"), s.subs.get("relu")
    if hs and hr and hs.history and hr.history and hs.history.get("val_accuracy") and hr.history.get("val_accuracy"):
        s1, r1 = hs.history["val_accuracy"][0], hr.history["val_accuracy"][0]
        start = judge.accuracies(r1, s1, n)
        slower = say("measures_fashion.sigmoid_starts_slower" if start.verdict == "higher" else
                     "measures_fashion.sigmoid_starts_faster" if start.verdict == "lower" else
                     "measures_fashion.sigmoid_starts_level", lang)
        p.append(say("measures_fashion.sigmoid_first_epoch", lang, sigmoid=acc(s1, lang), relu=acc(r1, lang),
                     start=slower))
    three = {a: va[a] for a in ("relu", "sigmoid", "tanh")}
    r = judge.ranking(three, n, quantities.sub_right(s, three))  # every pair judged: no order the judge denies
    p.append(say("measures_fashion.saturation_ranked", lang, ranking=r.sentence(lang, evidence=True)))
    return Answer(p, [where(f"{step}/metrics.json", "val_accuracy", "n_validation"),
                      f"{step}/sigmoid/history.csv", f"{step}/relu/history.csv"])


@measure
def q_leaky(run: Run, lang: str, step: str) -> Answer:
    exp = run.step(step).exp
    p, sources = [], []
    if exp is not None:
        p.append(say("measures_fashion.leaky_slope", lang, slope=num(exp.leaky_relu_slope, lang, 2)))
        sources.append(where(f"{step}/config.json", "leaky_relu_slope"))
    m = maybe(run, step)
    if m and "leaky_relu" in m["val_accuracy"] and "relu" in m["val_accuracy"]:
        va = m["val_accuracy"]
        right = quantities.sub_right(run.step(step), ("leaky_relu", "relu")) or {}
        d = quantities.accuracy_diff(va["leaky_relu"], va["relu"], m.get("n_validation") or 0,
                                     right=(right.get("leaky_relu"), right.get("relu")))
        p.append(say("measures_fashion.leaky_vs_relu", lang, leaky=acc(va["leaky_relu"], lang),
                     relu=acc(va["relu"], lang), difference=diff_text(d, lang)))
        sources.append(where(f"{step}/metrics.json", "val_accuracy", "n_validation"))
    return Answer(p, sources)


@measure
def q_ann_vs_cnn(run: Run, lang: str, step: str, other: str) -> Answer:
    p = []
    a, c = maybe(run, other), maybe(run, step)
    if a and c:
        convs = [(l_, f) for l_, f in quantities.layer_formula(c["layers"]) if l_["type"] == "Conv2D"]
        dense = [l_ for l_ in c["layers"] if l_["type"] == "Dense"]
        ann, cnn = integer(a["params"], lang), integer(c["params"], lang)
        p.append(say("measures_fashion.parameters_where", lang, ann=ann, cnn=cnn,
                     convolutions=", ".join(f"{integer(l_['params'], lang)}" for l_, _ in convs),
                     dense=integer(dense[0]["params"], lang))
                 if convs and dense else say("measures_fashion.parameters", lang, ann=ann, cnn=cnn))
        return Answer(p, [where(f"{other}/metrics.json", "params"), where(f"{step}/metrics.json", "params", "layers")])
    return Answer(p)


@measure
def q_why_cnn_better(run: Run, lang: str, step: str, other: str) -> Answer:
    a, c = need(run, other, step)
    text, sources = compare(run, lang, step, other)
    p = [say("measures_fashion.test_accuracy_and_time", lang, comparison=lower(text),
             cnn_time=seconds(c.get("fit_seconds"), lang), ann_time=seconds(a.get("fit_seconds"), lang))]
    sa = quantities.seed_spread(run.step(other), lambda mm: mm["test_accuracy"])
    sc = quantities.seed_spread(run.step(step), lambda mm: mm["test_accuracy"])
    if sa and sc:
        w = judge.seeds(list(sc.values.values()), list(sa.values.values()))
        pv, sig = w.p, w.finding
        p.append(say("measures_fashion.cnn_seeds", lang, cnn=acc(sc.mean, lang), cnn_sd=num(sc.std, lang),
                     cnn_seeds=sc.n, ann=acc(sa.mean, lang), ann_sd=num(sa.std, lang), ann_seeds=sa.n,
                     verdict=say("measures_fashion.gap_exceeds" if sig else "measures_fashion.gap_does_not_exceed",
                                 lang), p=num(pv, lang, 3)))
        sources += [f"{other}/seeds/*/metrics.json", f"{step}/seeds/*/metrics.json"]
    return Answer(p, sources + [where(f"{other}/metrics.json", "fit_seconds"), where(f"{step}/metrics.json",
                                                                                     "fit_seconds")])


@measure
def q_pooling(run: Run, lang: str, step: str) -> Answer:
    p = []
    c = maybe(run, step)
    if c and c.get("layers"):
        steps = []
        prev = None
        for l_ in c["layers"]:
            if l_["type"] == "MaxPooling2D" and prev:
                steps.append(f"{shape(prev, lang)} → {shape(l_['output_shape'], lang)}")
            prev = l_.get("output_shape")
        if steps:
            p.append(say("measures_fashion.pooling", lang, shapes="; ".join(steps)))
            return Answer(p, [where(f"{step}/metrics.json", "layers")])
    return Answer(p)


@measure
def q_most_confused(run: Run, lang: str, step: str) -> Answer:
    m = maybe(run, step)
    if not m:
        return Answer([missing(run, lang, step)])
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    pairs = m.get("most_confused", [])
    p = [say("measures_fashion.most_confused", lang, pairs=", ".join(
        f"{name(x['true'])} → {name(x['predicted'])} ({integer(x['count'], lang)})" for x in pairs))]
    h = quantities.hardest(m)
    if h and h.leaders:
        pcs = m["per_class"]
        tops = {"T-shirt/top", "Pullover", "Coat", "Shirt"}
        why = say("measures_fashion.tops_silhouette", lang) if set(h.leaders) <= tops else ""
        each = [say("measures_fashion.class_recall", lang, name=name(k), recall=num(pcs[k]["recall"], lang, 3))
                for k in h.leaders]
        if h.finding:
            p.append(say("measures_fashion.least_recognised", lang, name=each[0], why=why))
        else:
            p.append(say("measures_fashion.least_recognised_tied", lang, names=listing(each, lang), why=why))
    return Answer(p, [where(f"{step}/metrics.json", "most_confused", "worst_recall_class", "per_class"),
                      f"{step}/confusion_matrix.csv"])


@measure
def q_reduce_errors(run: Run, lang: str, step: str, base: str) -> Answer:
    if not (run.done(base) and run.done(step)):
        return Answer([])
    text, sources = compare(run, lang, step, base)
    return Answer([say("measures_fashion.test_accuracy", lang, comparison=lower(text))], sources)


@measure
def q_augment_interest(run: Run, lang: str, step: str, base: str) -> Answer:
    c, aug = need(run, base, step)
    text, sources = compare(run, lang, step, base)
    worse = aug["test_loss"] > c["test_loss"]
    steps = run.step(step), run.step(base)
    both = quantities.paired(*steps)  # the same test images: McNemar and per-image loss differences
    verdict = judge.augmentation(aug["test_accuracy"], c["test_accuracy"], min(aug["n_test"], c["n_test"]),
                                 aug["test_loss"], c["test_loss"], quantities.loss_se(steps[1], on_test=True),
                                 (both[0].right, both[1].right) if both else None,
                                 (both[0].losses, both[1].losses) if both else None).verdict
    loss = quantities.loss_difference(*steps, aug["test_loss"], c["test_loss"])
    more = epochs(aug.get("epochs_run"), lang)
    p = [say("measures_fashion.augmented", lang, epochs=more, comparison=lower(text),
             cnn_loss=num(c["test_loss"], lang), augmented_loss=num(aug["test_loss"], lang),
             loss_word=_loss_word(loss, worse, lang), loss_gap=loss.text(lang))]
    curve = quantities.step_curve(run.step(step))
    if curve and curve.epochs > 1:
        p.append(overfit_sentence(curve, lang))
    p.append(say("measures_fashion.augment_not_shown" if verdict != "helps" else "measures_fashion.augment_helps",
                 lang))
    return Answer(p, sources + [where(f"{base}/metrics.json", "test_loss"),
                                where(f"{step}/metrics.json", "test_loss", "epochs_run"),
                                f"{step}/history.csv"])


def _loss_word(loss: judge.Verdict, worse: bool, lang: str) -> str:
    """"plus mauvaise" / "meilleure" beyond the noise, "dans le bruit" inside it (the raw sign without an SE)."""
    if math.isfinite(loss.se) and not loss.finding:
        return ""  # the judge's fragment says "dans le bruit"
    bad = loss.verdict == "higher" if loss.finding else worse
    return say("measures_fashion.loss_worse" if bad else "measures_fashion.loss_better", lang)


@measure
def q_which_transform(run: Run, lang: str, step: str, study: str) -> Answer:
    if not (run.done(step) and run.done(study)):
        return Answer([study_missing(lang, study)])
    text, sources = compare(run, lang, step, study)
    return Answer([say("measures_fashion.flip_comparison", lang, comparison=lower(text))], sources)
