"""Measurements of exercise 2 (Fashion-MNIST): data, ANN, activations, CNN, confusion, augmentation.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``.
"""

from __future__ import annotations

import math

from mnistlab import judge
from mnistlab.i18n import class_names
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import epochs, integer, listing, num, points, seconds, shape, tr
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
def q_fashion_nature(run: Run, lang: str) -> Answer:
    f = data_facts(run, "fashion_mnist")
    p = []
    if "x_train" not in f:
        return Answer(p + [missing(run, lang, "ex2.ann")])
    x, xt = f["x_train"], f["x_test"]
    p.append(tr(lang,
                "Nous mesurons : "
                f"train `{shape(x['shape'], lang)}`, test `{shape(xt['shape'], lang)}`, type `{x['dtype']}` "
                "de "
                f"{x['min']} à {x['max']} : des images de {x['shape'][1]} × {x['shape'][2]} pixels, comme MNIST.",
                f"Measured: train `{shape(x['shape'], lang)}`, test `{shape(xt['shape'], lang)}`, type `{x['dtype']}` "
                f"from {x['min']} to {x['max']}: images of {x['shape'][1]} × {x['shape'][2]} pixels, like MNIST."))
    src = [where("manifest.json", "data.fashion_mnist")]
    counts = quantities.class_counts(run, "ex2.ann")
    if counts and len(set(counts)) == 1:
        p.append(tr(lang, f"Les classes sont équilibrées : {integer(counts[0], lang)} images d'entraînement chacune.",
                    f"The classes are balanced: {integer(counts[0], lang)} training images each."))
        src.append("fashion_mnist y_train")
    check = run.data_facts("fashion_mnist").get("verified")
    if check is True:
        p.append(tr(lang, "Leurs empreintes SHA-256 sont celles du jeu publié : ce sont les données d'origine.",
                    "Their SHA-256 digests are the published data set's: these are the original data."))
    elif check is False:
        p.append(tr(lang, "Attention : leurs empreintes SHA-256 diffèrent de celles du jeu publié : ce ne sont pas "
                          "les données d'origine.",
                    "Warning: their SHA-256 digests differ from the published data set's: these are not the "
                    "original data."))
    # no accuracy here: the ANN has not run yet at this point of the lab (no forward reference)
    return Answer(p, src)


@measure
def q_one_hot(run: Run, lang: str) -> Answer:
    p = []
    f = data_facts(run, "fashion_mnist")
    m = maybe(run, "ex2.ann")
    if "y_train" in f and m and m.get("layers"):
        n_out = m["layers"][-1]["output_shape"][-1]
        p.append(tr(lang, f"Ici `y_train` `{shape(f['y_train']['shape'], lang)}` devient `y_train_cat` "
                          f"`{shape([f['y_train']['shape'][0], n_out], lang)}`, autant de colonnes que de sorties du "
                          "modèle.",
                    f"Here `y_train` `{shape(f['y_train']['shape'], lang)}` becomes `y_train_cat` "
                    f"`{shape([f['y_train']['shape'][0], n_out], lang)}`, one column per model output."))
        return Answer(p, [where("manifest.json", "data.fashion_mnist"), where("ex2.ann/metrics.json", "layers")])
    return Answer(p)


@measure
def q_why_relu(run: Run, lang: str) -> Answer:
    m = maybe(run, "ex2.activations")
    if not m or "relu" not in m["val_accuracy"]:
        return Answer([])
    va = m["val_accuracy"]
    ranked = quantities.ranking(va)
    place = [a for a, _ in ranked].index("relu") + 1
    best, best_v = ranked[0]
    p = [tr(lang, f"À l'étape 4 (un entraînement par activation), ReLU est {_nth(place, lang)} sur "
                  f"{len(ranked)} en validation ({acc(va['relu'], lang)} ; "
                  + ", ".join(f"{a} {acc(v, lang)}" for a, v in ranked if a != "relu") + ").",
            f"Measured at step 4 (one run per activation): ReLU is {_nth(place, lang)} of {len(ranked)} in "
            f"validation ({acc(va['relu'], lang)}; "
            + ", ".join(f"{a} {acc(v, lang)}" for a, v in ranked if a != "relu") + ").")]
    r = judge.ranking(va, m.get("n_validation") or 0)
    if best == "relu":
        others = [a for a in r.leaders if a != "relu"]
        p.append(tr(lang, "ReLU est en tête au-delà du bruit." if r.finding else
                    f"Mais elle est à égalité dans le bruit avec {listing(others, lang)} ({r.first_vs_second.fr}) : "
                    "ce réseau peu profond ne la montre pas meilleure.",
                    "ReLU leads beyond the noise." if r.finding else
                    f"But it is tied within the noise with {listing(others, lang)} ({r.first_vs_second.en}): this "
                    "shallow network does not show it ahead."))
    else:
        d = quantities.accuracy_diff(best_v, va["relu"], m.get("n_validation") or 0)
        p.append(tr(lang, f"Écart avec {best} : {diff_text(d, lang)}. Ce réseau peu profond ne montre donc pas "
                          "ReLU meilleure : ses atouts (pas de saturation, calcul simple) comptent surtout pour les "
                          "réseaux profonds, pas sur deux couches cachées et cinq époques.",
                    f"Gap to {best}: {diff_text(d, lang)}. This shallow network thus does not show ReLU ahead: its "
                    "strengths (no saturation, cheap to compute) matter mostly in deep networks, not with two hidden "
                    "layers and five epochs."))
    return Answer(p, [where("ex2.activations/metrics.json", "val_accuracy", "n_validation")])


@measure
def q_acc_vs_val(run: Run, lang: str) -> Answer:
    p = []
    m = maybe(run, "ex2.ann")
    c = quantities.step_curve(run.step("ex2.ann"))
    if m and c:
        p.append(tr(lang,
                    "Ici la validation est la dernière part du jeu d'entraînement : "
                    f"{integer(m['n_validation'], lang)} "
                    f"images, contre {integer(m['n_train'], lang)} pour l'entraînement. À la dernière époque : "
                    f"`accuracy` {acc(c.last_acc, lang)}, `val_accuracy` {acc(c.last_val_acc, lang)} (écart "
                    f"{points(c.last_gap, lang)}).",
                    f"Here validation is the last part of the training set: {integer(m['n_validation'], lang)} "
                    f"images, against {integer(m['n_train'], lang)} for training. At the last epoch: `accuracy` "
                    f"{acc(c.last_acc, lang)}, `val_accuracy` {acc(c.last_val_acc, lang)} (gap "
                    f"{points(c.last_gap, lang)})."))
        return Answer(p, [where("ex2.ann/metrics.json", "n_train", "n_validation"), "ex2.ann/history.csv"])
    return Answer(p)


@measure
def q_best_activation(run: Run, lang: str) -> Answer:
    m = need(run, "ex2.activations")
    va = m["val_accuracy"]
    ranked = quantities.ranking(va)
    if len(ranked) < 2:
        return Answer([tr(lang, f"Une seule activation mesurée : {m['best']} ({acc(va[m['best']], lang)}).",
                          f"One activation measured: {m['best']} ({acc(va[m['best']], lang)}).")])
    n = m.get("n_validation") or 0
    r = judge.ranking(va, n)
    (first, _), (second, _) = ranked[0], ranked[1]
    spread = r.first_vs_last
    p = [tr(lang, "Classement en validation à la dernière époque : "
                  + ", ".join(f"{a} {acc(v, lang)}" for a, v in ranked) + ".",
            "Ranking in validation at the last epoch: " + ", ".join(f"{a} {acc(v, lang)}" for a, v in ranked) + "."),
         tr(lang, f"**{first}** devance {second} de {r.first_vs_second.fr} : c'est la meilleure de nos mesures."
                  if r.finding else
                  f"À égalité en tête dans le bruit : {r.tied(lang)} ({first} devant {second} : "
                  f"{r.first_vs_second.fr}) ; nous ne pouvons pas désigner une seule meilleure activation. De la "
                  f"première à la dernière : {spread.fr}.",
            f"**{first}** leads {second} by {r.first_vs_second.en}: the best of our measurements." if r.finding else
            f"Tied at the top within the noise: {r.tied(lang)} ({first} ahead of {second}: "
            f"{r.first_vs_second.en}); we cannot name one best activation. From first to last: {spread.en}.")]
    sources = [where("ex2.activations/metrics.json", "val_accuracy", "n_validation")]
    ta = m.get("test_accuracy") or {}
    if set(ta) == set(va):
        test_ranked = quantities.ranking(ta)
        if [a for a, _ in test_ranked] != [a for a, _ in ranked]:
            p.append(tr(lang, "Sur le jeu de test, le classement n'est pas le même : "
                              + ", ".join(f"{a} {acc(v, lang)}" for a, v in test_ranked)
                              + " ; un écart qui change de sens d'un jeu à l'autre n'est pas un résultat.",
                        "On the test set the ranking is not the same: "
                        + ", ".join(f"{a} {acc(v, lang)}" for a, v in test_ranked)
                        + "; a gap that changes sign from one set to the other is not a finding."))
        else:
            p.append(tr(lang, "Le jeu de test donne le même classement.", "The test set gives the same ranking."))
        sources.append(where("ex2.activations/metrics.json", "test_accuracy"))
    step = run.step("ex2.activations")
    spreads = {a: quantities.seed_spread(step, lambda mm, a=a: mm["val_accuracy"][a]) for a in va}
    if all(spreads.values()):
        k = next(iter(spreads.values())).n
        by_mean = sorted(spreads, key=lambda a: spreads[a].mean, reverse=True)
        best, runner_up = by_mean[0], by_mean[1]
        p.append(tr(lang, f"Sur {k} graines (moyenne ± écart-type) : ", f"Over {k} seeds (mean ± SD): ")
                 + ", ".join(f"{a} {acc(spreads[a].mean, lang)} ± {num(spreads[a].std, lang)}" for a in by_mean) + ".")
        w = judge.seeds(list(spreads[best].values.values()), list(spreads[runner_up].values.values()))
        pv, sig = w.p, w.finding
        gap = points(spreads[best].mean - spreads[runner_up].mean, lang)
        p.append(tr(lang, f"L'écart entre {best} et {runner_up} ({gap}) "
                          + ("dépasse le bruit des graines" if sig else "reste dans le bruit des graines : pas de "
                             "différence mesurable") + f" (test de Welch, p = {num(pv, lang, 3)}).",
                    f"The gap between {best} and {runner_up} ({gap}) "
                    + ("is larger than the seed noise" if sig else "is within the seed noise: no measurable "
                       "difference") + f" (Welch's test, p = {num(pv, lang, 3)})."))
        sources.append("ex2.activations/seeds/*/metrics.json")
    else:
        p.append(tr(lang, "Avec une seule exécution par activation, une autre graine (initialisation, mélange) peut "
                          "inverser un classement aussi serré.",
                    "With a single run per activation, another seed (initialisation, shuffling) may swap so tight a "
                    "ranking."))
    return Answer(p, sources)


def _nth(k: int, lang: str) -> str:
    return tr(lang, "première" if k == 1 else f"{k}e", {1: "first", 2: "second", 3: "third"}.get(k, f"{k}th"))


@measure
def q_sigmoid_tanh(run: Run, lang: str) -> Answer:
    m = maybe(run, "ex2.activations")
    s = run.step("ex2.activations")
    if not m or not {"sigmoid", "tanh", "relu"} <= set(m["val_accuracy"]):
        return Answer([])
    va, n = m["val_accuracy"], m.get("n_validation") or 0
    p = []
    hs, hr = s.subs.get("sigmoid"), s.subs.get("relu")
    if hs and hr and hs.history and hr.history and hs.history.get("val_accuracy") and hr.history.get("val_accuracy"):
        s1, r1 = hs.history["val_accuracy"][0], hr.history["val_accuracy"][0]
        start = judge.accuracies(r1, s1, n)
        slower_fr = ("la sigmoïde démarre plus lentement" if start.verdict == "higher" else
                     "la sigmoïde démarre plus vite" if start.verdict == "lower" else
                     "pas de différence mesurable dès le départ")
        slower_en = ("sigmoid starts more slowly" if start.verdict == "higher" else
                     "sigmoid starts faster" if start.verdict == "lower" else "no measurable difference at the start")
        p.append(tr(lang, f"Sur notre réseau peu profond (2 couches cachées), après la 1re époque, précision de "
                          f"validation {acc(s1, lang)} avec sigmoid contre {acc(r1, lang)} avec ReLU : {slower_fr}.",
                    f"On our shallow network (2 hidden layers), after epoch 1, validation accuracy "
                    f"{acc(s1, lang)} with sigmoid against {acc(r1, lang)} with ReLU: {slower_en}."))
    d_sig = judge.accuracies(va["relu"], va["sigmoid"], n)
    d_tanh = judge.accuracies(va["tanh"], va["relu"], n)
    sig_fr = {"higher": "ReLU devance sigmoid", "lower": "sigmoid devance ReLU",
              "same": "ReLU et sigmoid sont au même niveau"}[d_sig.verdict]
    sig_en = {"higher": "ReLU leads sigmoid", "lower": "sigmoid leads ReLU",
              "same": "ReLU and sigmoid are level"}[d_sig.verdict]
    tanh_fr = {"same": "au niveau de", "higher": "au-dessus de", "lower": "sous"}[d_tanh.verdict]
    tanh_en = {"same": "level with", "higher": "above", "lower": "below"}[d_tanh.verdict]
    p.append(tr(lang, f"À la dernière époque, {sig_fr} ({d_sig.fr}) ; tanh, elle, est {tanh_fr} ReLU "
                      f"({d_tanh.fr}) : sur deux couches cachées, la saturation ne coûte pas encore grand-chose ; "
                      "elle pèse dans les réseaux profonds.",
                f"At the last epoch {sig_en} ({d_sig.en}); tanh is {tanh_en} ReLU ({d_tanh.en}): over two hidden "
                "layers saturation costs little yet; it weighs in deep networks."))
    return Answer(p, [where("ex2.activations/metrics.json", "val_accuracy", "n_validation"),
                      "ex2.activations/sigmoid/history.csv", "ex2.activations/relu/history.csv"])


@measure
def q_leaky(run: Run, lang: str) -> Answer:
    exp = run.step("ex2.activations").exp
    p, sources = [], []
    if exp is not None:
        p.append(tr(lang, f"Ici la pente négative est {num(exp.leaky_relu_slope, lang, 2)} (`LeakyReLU(0.1)` du TP).",
                    f"Here the negative slope is {num(exp.leaky_relu_slope, lang, 2)} (the lab's `LeakyReLU(0.1)`)."))
        sources.append(where("ex2.activations/config.json", "leaky_relu_slope"))
    m = maybe(run, "ex2.activations")
    if m and "leaky_relu" in m["val_accuracy"] and "relu" in m["val_accuracy"]:
        va = m["val_accuracy"]
        d = quantities.accuracy_diff(va["leaky_relu"], va["relu"], m.get("n_validation") or 0)
        p.append(tr(lang, "Nous mesurons : "
                          f"LeakyReLU {acc(va['leaky_relu'], lang)} contre ReLU {acc(va['relu'], lang)} "
                          f"({diff_text(d, lang)}) ; sur un réseau aussi court, les neurones morts que LeakyReLU "
                          "évite sont rares.",
                    f"Measured: LeakyReLU {acc(va['leaky_relu'], lang)} against ReLU {acc(va['relu'], lang)} "
                    f"({diff_text(d, lang)}); in so short a network, the dead neurons LeakyReLU avoids are rare."))
        sources.append(where("ex2.activations/metrics.json", "val_accuracy", "n_validation"))
    return Answer(p, sources)


@measure
def q_ann_vs_cnn(run: Run, lang: str) -> Answer:
    p = []
    a, c = maybe(run, "ex2.ann"), maybe(run, "ex2.cnn")
    if a and c:
        convs = [(l_, f) for l_, f in quantities.layer_formula(c["layers"]) if l_["type"] == "Conv2D"]
        dense = [l_ for l_ in c["layers"] if l_["type"] == "Dense"]
        p.append(tr(lang,
                    "Nous mesurons : "
                    f"ANN {integer(a['params'], lang)} paramètres, CNN {integer(c['params'], lang)}. Les "
                    "convolutions en ont peu (" + ", ".join(f"{integer(l_['params'], lang)}" for l_, _ in convs)
                    + ") ; l'essentiel est dans la première couche dense après `Flatten` "
                      f"({integer(dense[0]['params'], lang)})."
                    if convs and dense else f"Nous mesurons : ANN {integer(a['params'], lang)} paramètres, CNN "
                                            f"{integer(c['params'], lang)}.",
                    f"Measured: ANN {integer(a['params'], lang)} parameters, CNN {integer(c['params'], lang)}. The "
                    "convolutions hold few (" + ", ".join(f"{integer(l_['params'], lang)}" for l_, _ in convs)
                    + f"); most are in the first dense layer after `Flatten` ({integer(dense[0]['params'], lang)})."
                    if convs and dense else f"Measured: ANN {integer(a['params'], lang)} parameters, CNN "
                                            f"{integer(c['params'], lang)}."))
        return Answer(p, [where("ex2.ann/metrics.json", "params"), where("ex2.cnn/metrics.json", "params", "layers")])
    return Answer(p)


@measure
def q_why_cnn_better(run: Run, lang: str) -> Answer:
    a, c = need(run, "ex2.ann", "ex2.cnn")
    text, sources = compare(run, lang, "ex2.cnn", "ex2.ann")
    p = [tr(lang, "Nous obtenons en précision de test : ", "Measured, test accuracy: ") + lower(text)
         + tr(lang, f", pour un entraînement de {seconds(c.get('fit_seconds'), lang)} contre "
                    f"{seconds(a.get('fit_seconds'), lang)}.",
              f", for {seconds(c.get('fit_seconds'), lang)} of training against "
              f"{seconds(a.get('fit_seconds'), lang)}.")]
    sa = quantities.seed_spread(run.step("ex2.ann"), lambda mm: mm["test_accuracy"])
    sc = quantities.seed_spread(run.step("ex2.cnn"), lambda mm: mm["test_accuracy"])
    if sa and sc:
        w = judge.seeds(list(sc.values.values()), list(sa.values.values()))
        pv, sig = w.p, w.finding
        p.append(tr(lang,
                    f"Sur plusieurs graines : CNN {acc(sc.mean, lang)} ± {num(sc.std, lang)} ({sc.n} graines), ANN "
                    f"{acc(sa.mean, lang)} ± {num(sa.std, lang)} ({sa.n}) ; l'écart "
                    + ("dépasse" if sig else "ne dépasse pas") + f" le bruit (test de Welch, p = {num(pv, lang, 3)}).",
                    f"Over several seeds: CNN {acc(sc.mean, lang)} ± {num(sc.std, lang)} ({sc.n} seeds), ANN "
                    f"{acc(sa.mean, lang)} ± {num(sa.std, lang)} ({sa.n}); the gap "
                    + ("exceeds" if sig else "does not exceed")
                    + f" the noise (Welch's test, p = {num(pv, lang, 3)})."))
        sources += ["ex2.ann/seeds/*/metrics.json", "ex2.cnn/seeds/*/metrics.json"]
    return Answer(p, sources + [where("ex2.ann/metrics.json", "fit_seconds"), where("ex2.cnn/metrics.json",
                                                                                     "fit_seconds")])


@measure
def q_pooling(run: Run, lang: str) -> Answer:
    p = []
    c = maybe(run, "ex2.cnn")
    if c and c.get("layers"):
        steps = []
        prev = None
        for l_ in c["layers"]:
            if l_["type"] == "MaxPooling2D" and prev:
                steps.append(f"{shape(prev, lang)} → {shape(l_['output_shape'], lang)}")
            prev = l_.get("output_shape")
        if steps:
            p.append(tr(lang, "Dans notre CNN : "
                              "", "Measured on this run's CNN: "
                                                                "") + "; ".join(steps) + ".")
            return Answer(p, [where("ex2.cnn/metrics.json", "layers")])
    return Answer(p)


@measure
def q_most_confused(run: Run, lang: str) -> Answer:
    m = maybe(run, "ex2.confusion")
    if not m:
        return Answer([missing(run, lang, "ex2.confusion")])
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    pairs = m.get("most_confused", [])
    p = [tr(lang, "Les confusions les plus fréquentes du CNN sur le test (vrai → prédit) : ",
            "The CNN's most frequent confusions on the test set (true → predicted): ")
         + ", ".join(f"{name(x['true'])} → {name(x['predicted'])} ({integer(x['count'], lang)})" for x in pairs) + "."]
    h = quantities.hardest(m)
    if h and h.leaders:
        pcs = m["per_class"]
        tops = {"T-shirt/top", "Pullover", "Coat", "Shirt"}
        why_fr = (" : ces vêtements du haut partagent la même silhouette à 28 × 28 pixels"
                  if set(h.leaders) <= tops else "")
        why_en = (": these tops share the same silhouette at 28 × 28 pixels" if set(h.leaders) <= tops else "")
        each = [f"{name(k)} (rappel {num(pcs[k]['recall'], lang, 3)})" if lang == "fr"
                else f"{name(k)} (recall {num(pcs[k]['recall'], lang, 3)})" for k in h.leaders]
        if h.finding:
            p.append(tr(lang, f"La classe la moins bien reconnue est **{each[0]}**, au-delà du bruit devant la "
                              f"suivante{why_fr}.",
                        f"The least well recognised class is **{each[0]}**, beyond the noise ahead of the "
                        f"next{why_en}."))
        else:
            p.append(tr(lang, f"Les classes les moins bien reconnues, à égalité dans le bruit, sont "
                              f"{listing(each, lang)}{why_fr}.",
                        f"The least well recognised classes, tied within the noise, are "
                        f"{listing(each, lang)}{why_en}."))
    return Answer(p, [where("ex2.confusion/metrics.json", "most_confused", "worst_recall_class", "per_class"),
                      "ex2.confusion/confusion_matrix.csv"])


@measure
def q_reduce_errors(run: Run, lang: str) -> Answer:
    if not (run.done("ex2.cnn") and run.done("ex2.augment")):
        return Answer([])
    text, sources = compare(run, lang, "ex2.augment", "ex2.cnn")
    return Answer([tr(lang, "Nous obtenons en précision de test : ", "Measured, test accuracy: ") + lower(text) + "."],
                  sources)


@measure
def q_augment_interest(run: Run, lang: str) -> Answer:
    c, aug = need(run, "ex2.cnn", "ex2.augment")
    text, sources = compare(run, lang, "ex2.augment", "ex2.cnn")
    worse = aug["test_loss"] > c["test_loss"]
    se = quantities.loss_se(run.step("ex2.cnn"), on_test=True)
    verdict = judge.augmentation(aug["test_accuracy"], c["test_accuracy"], min(aug["n_test"], c["n_test"]),
                                 aug["test_loss"], c["test_loss"], se).verdict
    loss = judge.losses(aug["test_loss"], c["test_loss"], se)
    more = epochs(aug.get("epochs_run"), lang)
    p = [tr(lang, f"Après {more} de plus sur images augmentées, nous obtenons en précision de test : ",
            f"Measured after {more} more on augmented images, test accuracy: ") + lower(text)
         + tr(lang, f" ; perte de test {num(c['test_loss'], lang)} → {num(aug['test_loss'], lang)}"
                    + _loss_word(loss, worse, "fr") + f" ({loss.fr}).",
              f"; test loss {num(c['test_loss'], lang)} → {num(aug['test_loss'], lang)}"
              + _loss_word(loss, worse, "en") + f" ({loss.en}).")]
    curve = quantities.step_curve(run.step("ex2.augment"))
    if curve and curve.epochs > 1:
        p.append(overfit_sentence(curve, lang))
    p.append(tr(lang,
                "Nos mesures ne montrent donc pas à elles seules que l'augmentation aide : le gain se lit avec son "
                "incertitude, le modèle augmenté a aussi eu plus d'époques, et l'écart entraînement − validation ne "
                "se compare pas d'une étape à l'autre (l'étape 5 valide sur 20 % de l'entraînement, l'étape 7 sur le "
                "test)." if verdict != "helps" else
                "Le gain dépasse le bruit du jeu de test ; il reste mêlé à celui des époques supplémentaires.",
                "This run alone thus does not show that augmentation helps: the gain is read with its uncertainty, "
                "the augmented model also had more epochs, and the train − validation gap does not compare from one "
                "step to the other (step 5 validates on 20% of the training set, step 7 on the test set)."
                if verdict != "helps" else
                "The gain exceeds the test set's noise; it stays mixed with that of the extra epochs (see the method "
                "notes)."))
    return Answer(p, sources + [where("ex2.cnn/metrics.json", "test_loss"),
                                where("ex2.augment/metrics.json", "test_loss", "epochs_run"),
                                "ex2.augment/history.csv"])


def _loss_word(loss: judge.Verdict, worse: bool, lang: str) -> str:
    """"plus mauvaise" / "meilleure" beyond the noise, "dans le bruit" inside it (the raw sign without an SE)."""
    if math.isfinite(loss.se) and not loss.finding:
        return ""  # the judge's fragment says "dans le bruit"
    bad = loss.verdict == "higher" if loss.finding else worse
    return tr(lang, ", plus mauvaise" if bad else ", meilleure", ", worse" if bad else ", better")


@measure
def q_which_transform(run: Run, lang: str) -> Answer:
    if not (run.done("ex2.augment") and run.done("ext.augment_no_flip")):
        return Answer([study_missing(lang, "ext.augment_no_flip")])
    text, sources = compare(run, lang, "ex2.augment", "ext.augment_no_flip")
    return Answer([tr(lang, "Nous obtenons en précision de test, avec miroir contre sans : ",
                      "Measured, test accuracy with the flip against without: ") + lower(text)
                   + tr(lang, " ; une seule exécution chacun.", "; one run each.")], sources)
