"""Measurements of exercise 1, sections 1-5: libraries, data, samples, model, compilation.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``; their words
are in ``words/measures_building.toml``.
"""

from __future__ import annotations

import numpy as np

from mnistlab import judge
from mnistlab.i18n import class_names, say
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import general, integer, listing, num, shape
from mnistlab.report.measures import (
    Answer,
    acc,
    compare,
    data_facts,
    label,
    lower,
    maybe,
    measure,
    missing,
    need,
    study_missing,
    where,
)
from mnistlab.runfolder import M_VERSIONS


@measure
def q_tf_keras(run: Run, lang: str) -> Answer:
    v = run.manifest.get(M_VERSIONS) or {}
    p = []
    src = []
    if v.get("keras"):
        p.append(say("measures_building.keras_backend_tensorflow" if v.get("tensorflow")
                     else "measures_building.keras_backend", lang,
                     keras=v["keras"], backend=v.get("backend", "?"), tensorflow=v.get("tensorflow")))
        src.append(where("manifest.json", "versions"))
    return Answer(p, src)


@measure
def q_flatten(run: Run, lang: str, step: str) -> Answer:
    p = []
    m = maybe(run, step)
    layer = next((l_ for l_ in (m or {}).get("layers", []) if l_.get("type") == "Flatten"), None)
    if layer is None:
        return Answer(p + [missing(run, lang, step)])
    p.append(say("measures_building.flatten_layer", lang, layer=layer["name"],
                 values=integer(layer["output_shape"][-1], lang), params=integer(layer["params"], lang)))
    return Answer(p, [where(f"{step}/metrics.json", "layers")])


@measure
def q_tf_version(run: Run, lang: str) -> Answer:
    v = run.manifest.get(M_VERSIONS) or {}
    if not v.get("tensorflow"):
        backend = v.get("backend", say("measures_building.unknown_backend", lang))
        return Answer([say("measures_building.no_tensorflow_version", lang, backend=backend)],
                      [where("manifest.json", "versions")])
    return Answer([say("measures_building.tensorflow_version", lang, tensorflow=v["tensorflow"],
                       keras=v.get("keras", "?"), python=v.get("python", "?"), numpy=v.get("numpy", "?"))],
                  [where("manifest.json", "versions")])


@measure
def q_sequential_dense(run: Run, lang: str, step: str) -> Answer:
    p = []
    m = maybe(run, step)
    if m and m.get("layers"):
        dense = [(l_, f) for l_, f in quantities.layer_formula(m["layers"]) if l_.get("type") == "Dense" and f]
        if dense:
            items = [say("measures_building.dense_layer", lang, layer=l_["name"],
                         params=integer(l_["params"], lang), formula=f) for l_, f in dense]
            p.append(say("measures_building.dense_count", lang, layers="; ".join(items)))
            return Answer(p, [where(f"{step}/metrics.json", "layers")])
    return Answer(p)


@measure
def q_normalize(run: Run, lang: str, dataset: str = "mnist") -> Answer:
    p = []
    f = data_facts(run, dataset)
    if "x_train" in f:
        x = f["x_train"]
        p.append(say("measures_building.pixel_range", lang, dtype=x["dtype"], min=x["min"], max=x["max"],
                     name="X_train" if dataset == "fashion_mnist" else "x_train"))
        return Answer(p, [where("manifest.json", f"data.{dataset}")])
    return Answer(p)


@measure
def q_image_size(run: Run, lang: str, step: str) -> Answer:
    f = data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([say("measures_building.image_size_expected", lang), missing(run, lang, step)])
    x = f["x_train"]
    h, w = x["shape"][1:3]
    return Answer([say("measures_building.image_size", lang, shape=shape(x["shape"], lang), height=h, width=w,
                       values=integer(h * w, lang), dtype=x["dtype"], min=x["min"], max=x["max"])],
                  [where("manifest.json", "data.mnist")])


@measure
def q_n_train(run: Run, lang: str, step: str) -> Answer:
    f = data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([missing(run, lang, step)])
    p = [say("measures_building.image_counts", lang, train=integer(f["x_train"]["shape"][0], lang),
             labels_shape=shape(f["y_train"]["shape"], lang), test=integer(f["x_test"]["shape"][0], lang))]
    src = [where("manifest.json", "data.mnist")]
    m = maybe(run, step)
    if m and m.get("n_train") != f["x_train"]["shape"][0]:
        p.append(say("measures_building.train_limit_used", lang, used=integer(m["n_train"], lang)))
        src.append(where(f"{step}/metrics.json", "n_train"))
    return Answer(p, src)


@measure
def q_n_images_shown(run: Run, lang: str, step: str) -> Answer:
    exp = run.step(step).exp
    if exp is None:
        return Answer([])
    r, c = exp.samples_grid
    return Answer([say("measures_building.samples_grid", lang, rows=r, columns=c, images=r * c)],
                  [where(f"{step}/config.json", "samples_grid")])


@measure
def todo_identify(run: Run, lang: str, dataset: str = "mnist", *, step: str) -> Answer:
    f = data_facts(run, dataset)
    s = run.step(step)
    grid = (s.config or {}).get("samples_grid") or [2, 5]
    shown = grid[0] * grid[1]
    labels = f.get("first_train_labels")
    if not labels:
        return Answer([missing(run, lang, step)])
    names = class_names(dataset, lang)
    labels = labels[:shown]
    items = [str(v) if names[v] == str(v) else f"{v} ({names[v]})" for v in labels]
    return Answer([say("measures_building.first_labels", lang, count=len(items), labels=listing(items, lang))],
                  [where("manifest.json", f"data.{dataset}") + " (first_train_labels)"])


@measure
def todo_check(run: Run, lang: str) -> Answer:
    f = run.data_facts("mnist")
    p = [say("measures_building.labels_checked", lang)]
    if f.get("verified") is True:
        p.append(say("measures_building.digest_matches", lang))
        return Answer(p, [where("manifest.json", "data.mnist.verified")])
    if f.get("verified") is False:
        diff = [d for d in f.get("differing") or [] if isinstance(d, str)]
        which = (say("measures_building.differing_arrays", lang, arrays=listing([f"`{d}`" for d in diff], lang))
                 if diff else "")
        p.append(say("measures_building.digest_differs", lang, which=which))
        return Answer(p, [where("manifest.json", "data.mnist.verified")])
    return Answer(p)


@measure
def q_params(run: Run, lang: str, step: str) -> Answer:
    m = maybe(run, step)
    if not m or "params" not in m:
        return Answer([missing(run, lang, step)])
    rows = [say("measures_building.layer_params", lang, layer=layer["name"], kind=layer["type"],
                params=integer(layer["params"], lang), formula=f" = {formula}" if formula else "")
            for layer, formula in quantities.layer_formula(m.get("layers", []))]
    return Answer([say("measures_building.trainable_params", lang, params=integer(m["params"], lang),
                       layers="; ".join(rows)),
                   say("measures_building.optimizer_params", lang)],
                  [where(f"{step}/metrics.json", "params", "layers")])


@measure
def q_softmax_output(run: Run, lang: str, step: str) -> Answer:
    p = []
    s = run.step(step)
    probs = quantities.probabilities(s)
    if probs is not None:
        sums = probs.sum(axis=1)
        p.append(say("measures_building.softmax_sums", lang, predictions=integer(len(probs), lang),
                     mean_sum=num(float(sums.mean()), lang),
                     max_deviation=num(float(np.abs(sums - 1).max()), lang, 7),
                     mean_chosen=num(float(probs.max(axis=1).mean()), lang)))
        return Answer(p, [f"{step}/test_probabilities.npy"])
    return Answer(p)


@measure
def q_optimizer(run: Run, lang: str, step: str) -> Answer:
    exp, m = run.step(step).exp, maybe(run, step)
    if exp is None or m is None:
        return Answer([])
    steps = quantities.steps_per_epoch(m["n_train"], exp.batch_size)
    return Answer([say("measures_building.optimizer_updates", lang, optimizer=exp.optimizer,
                       rate=general(exp.learning_rate, lang), updates=integer(steps, lang),
                       images=integer(m["n_train"], lang), batch_size=exp.batch_size)],
                  [where(f"{step}/config.json", "optimizer", "learning_rate", "batch_size"),
                   where(f"{step}/metrics.json", "n_train")])


@measure
def q_why_loss(run: Run, lang: str, step: str) -> Answer:
    c = quantities.step_curve(run.step(step))
    if not c:
        return Answer([], [])
    return Answer([say("measures_building.training_loss_drop", lang, first_loss=num(c.first_loss, lang),
                       last_loss=num(c.last_loss, lang), epochs=c.epochs)], [f"{step}/history.csv"])


@measure
def q_change_loss(run: Run, lang: str, step: str) -> Answer:
    p, sources = [], []
    for name in ("ext.ex1_categorical_loss", "ext.ex1_mse_loss"):
        if not run.done(name):
            continue
        if run.done(step):
            text, more = compare(run, lang, name, step)
            p.append(say("measures_building.loss_test_accuracy", lang, comparison=lower(text)))
            sources += more
        else:
            m = need(run, name)
            p.append(say("measures_building.study_accuracy", lang, study=label(name, lang),
                         accuracy=acc(m["test_accuracy"], lang)))
    if not p:
        return Answer([study_missing(lang, "ext.ex1_categorical_loss", "ext.ex1_mse_loss")])
    if run.done("ext.ex1_mse_loss"):
        p.append(say("measures_building.losses_do_not_compare", lang))
    return Answer(p, sources)


@measure
def q_bad_optimizer(run: Run, lang: str, step: str) -> Answer:
    p, sources = [], []
    for name in ("ext.ex1_sgd", "ext.ex1_lr_too_high"):
        s = run.done(name)
        if s is None:
            continue
        exp = s.exp
        how = (say("measures_building.optimizer_at_rate", lang, optimizer=exp.optimizer,
                   rate=general(exp.learning_rate, lang)) if exp else label(name, lang))
        if s.metrics.get("diverged"):
            p.append(say("measures_building.diverged", lang, how=how, reason=s.metrics.get("reason", "")))
            sources.append(where(f"{name}/metrics.json", "diverged", "reason"))
        elif run.done(step):
            text, more = compare(run, lang, name, step)
            p.append(say("measures_building.optimizer_test_accuracy", lang, how=how, comparison=lower(text),
                         final_loss=num(s.metrics.get("final_loss"), lang)))
            sources += more
    if not p:
        return Answer([study_missing(lang, "ext.ex1_sgd", "ext.ex1_lr_too_high")])
    return Answer(p, sources)


@measure
def q_loss_vs_metrics(run: Run, lang: str, step: str) -> Answer:
    p = []
    h = run.step(step).history
    if h and h.get("val_loss") and h.get("val_accuracy"):
        vl, va = h["val_loss"], h["val_accuracy"]
        st = run.step(step)
        n_val, se = quantities.validation_size(st), quantities.loss_se(st)
        out = quantities.epoch_outputs(st)  # each epoch's per-example results: epochs compared paired
        per_example = out.losses if out is not None and out.epochs == len(vl) else None
        right = out.right if out is not None and out.epochs == len(va) and out.right is not None else None
        rises = judge.loss_steps(vl, se, per_example)
        # an epoch where the loss rises AND the accuracy rises, each beyond two standard errors (the judge)
        both = [i + 2 for i in range(min(len(vl), len(va)) - 1)
                if rises[i].verdict == judge.Call.HIGHER
                and judge.accuracies(va[i + 1], va[i], n_val, right_a=right[i + 1] if right is not None else None,
                                     right_b=right[i] if right is not None else None).verdict == judge.Call.HIGHER]
        if both:
            e = both[0]
            p.append(say("measures_building.loss_and_accuracy_rise", lang, epoch=e,
                         loss_before=num(vl[e - 2], lang), loss_after=num(vl[e - 1], lang),
                         accuracy_before=acc(va[e - 2], lang), accuracy_after=acc(va[e - 1], lang)))
        else:
            p.append(say("measures_building.loss_and_accuracy_not_together", lang, loss=num(vl[-1], lang),
                         accuracy=acc(va[-1], lang)))
        return Answer(p, [f"{step}/history.csv"])
    return Answer(p)
