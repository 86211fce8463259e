"""The lab's kinds of step, by name: what ``step = "..."`` in an experiment runs.

One registry used by the runner (in this process) and by the distributed tasks (on workers), so a kind of
step is added in one place. A step that builds on another's model (``from_step``) gets that model's path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistlab import runfolder
from mnistlab.errors import MnistlabError


@dataclass(frozen=True)
class StepKind:
    """How one kind of step runs: ``run(exp, ctx)``, or ``run(exp, ctx, model_path)`` when it uses a model."""

    run: Callable[..., dict[str, Any]]
    uses_model: bool = False  # True: it evaluates or fine-tunes ``from_step``'s model.keras


def registry() -> dict[str, StepKind]:
    """``config.KINDS`` name -> :class:`StepKind` (imports Keras on first use)."""
    from mnistlab import evaluate, train

    return {"train": StepKind(train.train_step),
            "activations": StepKind(train.activations_step),
            "confusion": StepKind(evaluate.confusion_step, uses_model=True),
            "augment": StepKind(train.augment_step, uses_model=True)}


def run_step(exp, ctx, base: Path) -> dict[str, Any]:
    """Run one step of the lab with ``ctx``; ``base`` is the run folder, where a step that uses a model finds
    its parent's ``model.keras``. Returns its metrics.

    Raises:
        MnistlabError: the parent's model is missing.
    """
    kind = registry()[exp.step]
    if not kind.uses_model:
        return kind.run(exp, ctx)
    model_path = Path(base) / exp.from_step / runfolder.MODEL
    if not model_path.is_file():
        raise MnistlabError(f"{exp.name} needs the model of {exp.from_step}, which is missing", model_path)
    return kind.run(exp, ctx, model_path)
