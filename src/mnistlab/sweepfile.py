"""``sweep.json``, the plan of a sweep's run folder: written by ``mnistlab sweep``, read by the sweep on
``--resume`` and by the report. This module owns the file both ways.

Its keys: ``experiment`` (a training step's name), ``grid`` (key -> list of values, as ``--grid`` gave them),
``overrides`` (``--set``, plus ``validation = "split"`` where the sweep moved ex1 off the test set),
``settings`` (``[{"id": "s01", "overrides": {...}, "config": {...}}, ...]``), ``seeds`` (whole numbers, one
after the other) and ``notes`` (sentences shown in the log). Everything in it is untrusted on reading: a
setting's id names a folder of the run, so it must be ``s`` and digits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mnistlab.fileio import write_json
from mnistlab.runfolder import RunFolderError, read_json

SWEEP = "sweep.json"
MAX_SETTINGS = 100  # combinations of a grid: more is not a sweep one can run or read (and would fill the disk)
MAX_TASKS = 1_000  # settings x seeds
MAX_SEED = 2**31 - 1  # NumPy's and TensorFlow's seeds are 32-bit
_ID = re.compile(r"s\d{2,3}")


def setting_id(i: int) -> str:
    """The id (and folder name) of the ``i``-th setting, from 1: ``s01``."""
    return f"s{i:02d}"


def write(run_dir: str | os.PathLike, sweep: dict[str, Any]) -> None:
    """Write ``sweep.json`` into ``run_dir`` atomically."""
    write_json(Path(run_dir) / SWEEP, sweep)


def read(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The plan in ``run_dir/sweep.json``, every field of the right type and every setting id a plain name.

    Raises:
        RunFolderError: missing, unreadable, too large, or any field of the wrong type or shape (one line
            naming the file and the field).
    """
    path = Path(run_dir) / SWEEP
    sweep = read_json(path)
    if sweep is None:
        raise RunFolderError("not a sweep folder (no sweep.json)", path)

    def bad(what: str) -> RunFolderError:
        return RunFolderError(f"not a sweep plan: {what}", path)

    if not isinstance(sweep.get("experiment"), str) or not sweep["experiment"]:
        raise bad("experiment must be an experiment's name")
    for key in ("grid", "overrides"):
        if not isinstance(sweep.setdefault(key, {}), dict):
            raise bad(f"{key} must be an object")
    grid = sweep["grid"]
    if not all(isinstance(v, list) and v for v in grid.values()):
        raise bad("grid must map each key to a non-empty list of values")
    settings = sweep.get("settings")
    if not isinstance(settings, list) or not 1 <= len(settings) <= MAX_SETTINGS:
        raise bad(f"settings must be a list of 1 to {MAX_SETTINGS} settings")
    ids = []
    for i, s in enumerate(settings, 1):
        if not isinstance(s, dict) or not isinstance(s.get("overrides"), dict) or not isinstance(
                s.get("config", {}), dict):
            raise bad(f"setting {i} must be an object with its overrides (and config) as objects")
        if not isinstance(s.get("id"), str) or not _ID.fullmatch(s["id"]):
            raise bad(f"setting {i}'s id must be s and two or three digits")
        ids.append(s["id"])
    if len(set(ids)) != len(ids):
        raise bad("two settings have the same id")
    seeds = sweep.get("seeds")
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_SEED for x in seeds)):
        raise bad(f"seeds must be a list of whole numbers from 0 to {MAX_SEED:,}")
    if seeds != list(range(seeds[0], seeds[0] + len(seeds))) or len(seeds) * len(settings) > MAX_TASKS:
        raise bad(f"seeds must follow one another, with at most {MAX_TASKS:,} tasks in all")
    notes = sweep.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise bad("notes must be a list of sentences")
    return {"experiment": sweep["experiment"], "grid": grid, "overrides": sweep["overrides"],
            "settings": settings, "seeds": seeds, "notes": notes}


def read_plan(folder: str | os.PathLike) -> dict[str, Any] | None:
    """:func:`read`, or None when the folder is not a sweep or its plan is not one (for readers that skip it)."""
    try:
        return read(folder)
    except RunFolderError:
        return None
