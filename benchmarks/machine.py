"""The machine a benchmark record was measured on: its CPU kind, a label for tables, the record's file name.

Every figure the benchmarks print or write names the CPU kind (``avx2``, ``avx512-bf16``, ...:
:func:`mnistlab.devices.cpu`), and ``benchmarks/results/`` keeps one record per kind: ``<bench>_<date>_<kind>.json``.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def kind(hardware: dict) -> str:
    """The CPU kind of a record's ``hardware`` entry, or ``unknown`` for records that did not note it."""
    return str(hardware.get("cpu_kind") or "unknown")


def label(hardware: dict) -> str:
    """``AMD EPYC (avx2: avx2, fma)``: model, kind and the flags that decide speed, for tables and lines."""
    flags, inferred = hardware.get("cpu_flags"), hardware.get("cpu_flags_inferred")
    if flags is not None:
        shown = ", ".join(flags) or "none of avx2, avx512f, avx512_bf16, amx_bf16"
    elif inferred:  # records made before flags were recorded: see their cpu_kind_note
        shown = ", ".join(inferred) + ", inferred (flags not recorded then)"
    else:
        shown = "flags not recorded"
    if cap := hardware.get("onednn_max_cpu_isa"):  # an AVX-512 machine standing in for a smaller one
        shown += f"; oneDNN capped at {cap} on a CPU with {', '.join(hardware.get('cpu_flags_present') or [])}"
    return f"{hardware.get('cpu', '?')} ({kind(hardware)}: {shown})"


def record_path(bench: str, date: str, hardware: dict) -> Path:
    """``benchmarks/results/<bench>_<YYYY-MM-DD>_<kind>.json``: a later run on the same kind replaces it."""
    return RESULTS / f"{bench}_{date[:10]}_{kind(hardware)}.json"
