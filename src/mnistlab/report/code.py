"""The lab's code in the report, from :mod:`mnistlab.lab`: the same source as the notebook's code cells.

:func:`listing` is the whole lab as one program with a run's settings; :func:`generate` is the code of one
step, standalone (it holds the steps it needs: the confusion matrix and the augmentation train the CNN
first). Settings outside the lab's code (the improved models, a schedule, bf16) get a comment saying so
instead of code that did not run. Every value is validated by :mod:`mnistlab.config` before it is written.
"""

from __future__ import annotations

from typing import Any

from mnistlab import config, lab
from mnistlab.config import Experiment
from mnistlab.errors import ConfigError
from mnistlab.i18n import say
from mnistlab.lab import plan

# Settings every step shares in a quick run (``--set train_limit=600``): a step's needs take them too.
_SHARED = ("train_limit", "test_limit", "seed")


def base_step(exp: Experiment) -> str | None:
    """The lab step whose code ``exp`` runs (``ext.ex1_sgd`` -> ``ex1``), or None when there is none."""
    if exp.name in plan.step_names():
        return exp.name
    for name in plan.step_names():  # the first lab step of the same kind, model family and data set
        ref = config.load(name)
        if (ref.step, ref.model, ref.dataset) == (exp.step, exp.model, exp.dataset):
            return name
    return None


def model_variable(exp: Experiment) -> str:
    """The name the lab's code gives the step's model: ``model``, ``model_act`` or ``cnn``."""
    step = plan.load().steps.get(base_step(exp) or "")
    return step.variable if step else "model"


def listing(configs: dict[str, dict[str, Any]], lang: str = "fr") -> str:
    """The whole lab as one runnable program with the settings of ``configs`` ({step: config.json}).

    Only the lab's steps present in ``configs`` (and the steps they need) are written.

    Raises:
        ConfigError: a setting is invalid or outside the lab's code.
    """
    steps = [n for n in plan.step_names() if n in configs]
    return lab.program({n: configs[n] for n in steps}, "fr", steps=steps)


def generate(exp: Experiment, lang: str = "fr", configs: dict[str, dict[str, Any]] | None = None) -> str:
    """The lab's code of one step with its settings, runnable on its own in a fresh Python.

    Args:
        exp: the step's settings as it ran (``config.json``).
        lang: the report's language (the code itself is the lab's, in French).
        configs: the run's other steps' settings, used for the steps this one needs; otherwise those steps
            take the lab's values with this step's ``train_limit``, ``test_limit`` and ``seed``.

    Returns:
        Python source, or a comment when the settings are outside the lab's code.
    """
    base = base_step(exp)
    if base is None:
        return say("report.code_beyond_lab", lang, name=exp.name, why=f"model = {exp.model!r}") + "\n"
    own = {k: v for k, v in exp.to_dict().items() if k not in ("name", "title", "order", "extended", "on_demand",
                                                                  "expect_divergence")}
    shared = {k: own[k] for k in _SHARED}
    needed = {n: dict((configs or {}).get(n) or shared) for n in lab.steps_for([base]) if n != base}
    try:
        return lab.program({**needed, base: own}, "fr", steps=[base])
    except ConfigError as e:
        return say("report.code_beyond_lab", lang, name=exp.name, why=e.message.split(": ", 1)[-1]) + "\n"


def complete(configs: dict[str, dict[str, Any]], lang: str = "fr") -> str:
    """The whole lab as one program (:func:`listing`) with the run's settings; its heading says whether it ran.

    Settings outside the lab's code give a comment saying which, instead of code that did not run.
    """
    try:
        body = listing(configs, lang)
    except ConfigError as e:
        return say("report.code_beyond_lab", lang, name="TP", why=e.message.split(": ", 1)[-1]).replace(
            "src/mnistlab/experiments/TP.toml", "config.json") + "\n"
    return body
