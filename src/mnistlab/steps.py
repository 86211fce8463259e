"""The lab's kinds of step, by name: what ``step = "..."`` in an experiment runs.

One registry used by the runner (in this process) and by the distributed tasks (on workers), so a kind of
step is added in one place. A step that builds on another's model (``from_step``) gets that model's path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnistlab import runfolder
from mnistlab.errors import MnistlabError


def registry() -> dict[str, Callable[..., dict[str, Any]]]:
    """``config.KINDS`` name -> its function: ``run(exp, ctx)``, or ``run(exp, ctx, model_path)`` for a kind
    that starts from another step's model (``config.KINDS`` says which). Imports Keras on first use."""
    from mnistlab import evaluate, train

    return {"train": train.train_step, "activations": train.activations_step,
            "confusion": evaluate.confusion_step, "augment": train.augment_step}


def run_step(exp, ctx, base: Path) -> dict[str, Any]:
    """Run one step of the lab with ``ctx``; ``base`` is the run folder, where a step that uses a model finds
    its parent's ``model.keras``. Returns its metrics.

    Raises:
        MnistlabError: the parent's model is missing.
    """
    run = registry()[exp.step]
    if not exp.uses_model:
        return run(exp, ctx)
    model_path = Path(base) / exp.from_step / runfolder.MODEL
    if not model_path.is_file():
        raise MnistlabError(f"{exp.name} needs the model of {exp.from_step}, which is missing", model_path)
    return run(exp, ctx, model_path)
