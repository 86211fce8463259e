"""Checks a run manifest read back by ``mnistlab run --resume`` before anything acts on it.

A manifest is a file on disk that anyone may have edited: every field the resume reads is checked for
its type and values here, so that a damaged one is one line naming the file, never a traceback, and so
that its ``plan`` names only known experiments (a name like ``..`` would make the runner train and write
outside the run folder).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from mnistlab import config, runfolder
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.i18n import LANGS
from mnistlab.runfolder import M_EXPERIMENTS, M_LANG, M_OVERRIDES, M_PLAN, M_SETTINGS

MAX_SEEDS = 1000  # `mnistlab run --seeds N` beyond this is not a run anyone started


def check(manifest: Any, path) -> None:
    """Raise :class:`MnistlabError` naming ``path`` unless ``manifest`` is one ``--resume`` can act on."""

    def bad(what: str) -> MnistlabError:
        return MnistlabError(f"run manifest cannot be resumed: {what}", path)

    if not isinstance(manifest, dict):
        raise bad(f"expected a JSON object, got {type(manifest).__name__}")
    for key, kind in (("settings", dict), ("plan", list)):
        if key not in manifest:
            raise bad(f"no '{key}'")
        if not isinstance(manifest[key], kind):
            raise bad(f"'{key}' must be a {_json(kind)}, got {_json(type(manifest[key]))}")
    for key, kind in (("overrides", dict), ("experiments", dict), ("data", dict), ("lang", str)):
        if manifest.get(key) is not None and not isinstance(manifest[key], kind):
            raise bad(f"'{key}' must be a {_json(kind)}, got {_json(type(manifest[key]))}")
    if manifest.get(M_LANG, "fr") not in LANGS:
        raise bad(f"'lang' must be {' or '.join(LANGS)}")
    _settings(manifest[M_SETTINGS], bad)
    _plan(manifest[M_PLAN], bad)
    for key, value in (manifest.get(M_OVERRIDES) or {}).items():
        scope, _, field = str(key).rpartition(".")
        if scope and scope not in config.names(extended=True, on_demand=True):
            raise bad(f"override {config._short(key)} names no known experiment")
        try:
            config._check(field, value, source="--set")
        except ConfigError as e:
            raise bad(f"override {e.message}") from None
    for name, entry in (manifest.get(M_EXPERIMENTS) or {}).items():
        _entry(name, entry, bad)


def _json(kind: type) -> str:
    return {dict: "object", list: "list", str: "string", int: "integer", bool: "boolean", float: "number",
            type(None): "null"}.get(kind, kind.__name__)


def _settings(settings: dict, bad) -> None:
    data_dir, trust, seeds = settings.get("data_dir"), settings.get("trust_data", False), settings.get("seeds", 1)
    if data_dir is not None and not isinstance(data_dir, str):
        raise bad(f"'settings.data_dir' must be a string or null, got {_json(type(data_dir))}")
    if not isinstance(trust, bool):
        raise bad(f"'settings.trust_data' must be true or false, got {_json(type(trust))}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise bad(f"'settings.seeds' must be a whole number from 1 to {MAX_SEEDS}, got {config._short(seeds)}")
    threads = settings.get(runfolder.S_THREADS)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 4096):
        raise bad(f"'settings.{runfolder.S_THREADS}' must be a whole number from 1 to 4096, "
                  f"got {config._short(threads)}")


def _plan(plan: list, bad) -> None:
    known = config.names(extended=True, on_demand=True)
    for name in plan:
        if not isinstance(name, str) or name not in known:
            raise bad(f"'plan' holds {config._short(name)}, which is not a known experiment "
                      "(`mnistlab list` shows them)")
    if len(set(plan)) != len(plan):
        raise bad("'plan' names an experiment twice")


def _entry(name: Any, entry: Any, bad) -> None:
    if not isinstance(entry, dict):
        raise bad(f"experiment {config._short(name)} must be an object, got {_json(type(entry))}")
    if not isinstance(entry.get("status", ""), str):
        raise bad(f"experiment {config._short(name)}: 'status' must be a string")
    resumed = entry.get("resumed", 0)
    if isinstance(resumed, bool) or not isinstance(resumed, int) or resumed < 0:
        raise bad(f"experiment {config._short(name)}: 'resumed' must be a count")
    for key in ("artifacts", "seeds"):
        if entry.get(key) is not None and not isinstance(entry[key], dict):
            raise bad(f"experiment {config._short(name)}: '{key}' must be an object")
    for rel, digest in (entry.get("artifacts") or {}).items():
        parts = PurePosixPath(rel).parts
        if not isinstance(digest, str) or rel.startswith(("/", "\\")) or ".." in parts or not parts:
            raise bad(f"experiment {config._short(name)}: artifact {config._short(rel)} is not a file "
                      "of its folder with its digest")
    for seed, run in (entry.get("seeds") or {}).items():
        if not isinstance(run, dict) or not isinstance(run.get("status", ""), str):
            raise bad(f"experiment {config._short(name)}: seed {config._short(seed)} must be an object "
                      "with a string 'status'")
