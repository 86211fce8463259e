"""Write the README results table from a finished run folder: what was measured, on which machine.

    python benchmarks/results_table.py runs/<stamp>            # print the table
    python benchmarks/results_table.py runs/<stamp> --readme   # replace the table in README.md
    python benchmarks/results_table.py --expected              # the expected column from the reference bands

Every number comes from the run's manifest.json and metrics.json files; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))



ROOT = Path(__file__).resolve().parents[1]
# The page that holds each family of tables: the README keeps the results, the docs the rest.
DOC_OF = {"results": ROOT / "README.md", "bench": ROOT / "docs" / "SPEED.md", "improved": ROOT / "docs" / "IMPROVED.md"}


def markers(section: str, kind: str) -> tuple[str, str]:
    """The README markers of one section (results, bench, improved) for one CPU kind: a row set per kind."""
    return f"<!-- {section}:{kind}:begin -->", f"<!-- {section}:{kind}:end -->"


def _edges(b: dict) -> tuple[float, float]:
    """A band's edges: the prediction interval of a rebuilt band file, else (older files) its P5 and P95."""
    return (b["lo"], b["hi"]) if "lo" in b and "hi" in b else (b["p5"], b["p95"])


def expected(step: str, reference: dict | None = None) -> str:
    """The "expected" cell of ``step``: the band the grader holds a run of it to (:mod:`mnistlab.grade.bands`,
    its test accuracy; the activation study: each activation's validation accuracy), with its number of runs."""
    from mnistlab.grade import bands

    reference = reference if reference is not None else bands.load()
    b = bands.band(reference, step, "test_accuracy")
    if b is not None:
        lo, hi = _edges(b)
        return f"{lo:.4f}-{hi:.4f} (n={b.get('n', '?')})"
    acts = [bands.band(reference, step, f"val_accuracy.{a}") for a in ("sigmoid", "tanh", "relu", "leaky_relu")]
    acts = [a for a in acts if a is not None]
    if acts:
        los, his = zip(*(_edges(a) for a in acts), strict=True)
        return f"{min(los):.4f}-{max(his):.4f} each (val, n={min(a.get('n', 0) for a in acts)})"
    return "no reference band"


def expected_note(reference: dict | None = None) -> str:
    """Where the "expected" column comes from: the band file's method, runs and CPU kinds."""
    from mnistlab.grade import bands

    reference = reference if reference is not None else bands.load()
    method = reference.get("method") if isinstance(reference.get("method"), dict) else {}
    kinds = reference.get("runs_by_cpu_kind") if isinstance(reference.get("runs_by_cpu_kind"), dict) else {}
    if not kinds:
        hw = reference.get("hardware") if isinstance(reference.get("hardware"), dict) else {}
        kinds = {hw.get("cpu_kind") or "an unnamed CPU kind": {"n_runs": reference.get("n_runs", "?")}}
    where = ", ".join(f"{k.replace('/lab-code', ', the lab' + chr(39) + 's own code')} ({v.get('n_runs', '?')} runs)"
                      for k, v in sorted(kinds.items()))
    what = (f"{100 * (1 - float(method['rate'])):.0f} % prediction interval for one run, widened to the runs' range"
            if method.get("rate") else "5th-95th percentiles")
    return (f"Expected: the reference bands' {what} (`src/mnistlab/grade/{bands.DEFAULT}`, runs of the lab at "
            f"its settings on {where}; n per step in the cell).")


def table(run_dir: Path) -> str:
    from mnistlab.grade import bands

    reference = bands.load()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    rows = ["| experiment | what | test accuracy | test loss | expected | time |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, entry in manifest["experiments"].items():
        metrics_path = run_dir / name / "metrics.json"
        if entry.get("status") != "complete" or not metrics_path.is_file():
            rows.append(f"| {name} | {entry['config']['title']} | ({entry.get('status')}) | | | |")
            continue
        m = json.loads(metrics_path.read_text(encoding="utf-8"))
        acc = m.get("test_accuracy")
        if isinstance(acc, dict):  # the activation study: one model per activation
            shown = ", ".join(f"{a} {v:.4f}" for a, v in m["val_accuracy"].items())
            acc_text, loss_text = f"val: {shown}", ""
        else:
            acc_text = f"{acc:.4f}"
            loss_text = f"{m['test_loss']:.4f}" if "test_loss" in m else ""
        rows.append(f"| {name} | {entry['config']['title']} | {acc_text} | {loss_text} | "
                    f"{expected(name, reference)} | {entry['seconds']:.0f} s |")
    hw, v = manifest["hardware"], manifest["versions"]
    rows.append("")
    from machine import label

    rows.append(f"Measured by `mnistlab run` (seed {manifest.get('seed')}) on {label(hw)}, "
                f"{hw['logical_cores']} logical cores, {hw['memory_gib']} GiB; Python {v['python']}, "
                f"TensorFlow {v.get('tensorflow')}, Keras {v['keras']}; whole run {manifest.get('seconds', 0):.0f} s, "
                f"finished {manifest.get('finished')}. {expected_note(reference)}")
    return "\n".join(rows)


def refresh_expected(readme: Path | None = None) -> None:
    """Rewrite the "expected" column of every results table in README.md from the reference bands, and the
    sentence that names them, leaving the measured columns as their runs wrote them."""
    from mnistlab.grade import bands

    readme = readme or DOC_OF["results"]
    reference = bands.load()
    out = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) == 6 and not line.startswith(("| experiment", "| ---")):
            cells[4] = expected(cells[0].removeprefix("| ").strip(), reference)
            line = " | ".join(cells)
        elif line.startswith("Measured by `mnistlab run`"):
            line = line.split(" Expected: ", 1)[0] + " " + expected_note(reference)
        out.append(line)
    readme.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"updated {readme}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, nargs="?")
    p.add_argument("--readme", action="store_true", help="replace the table between the markers in README.md")
    p.add_argument("--expected", action="store_true",
                   help="only rewrite the README's expected column from the reference bands")
    args = p.parse_args()
    if args.expected:
        refresh_expected()
        return 0
    if args.run_dir is None:
        p.error("give a run folder, or --expected")
    text = table(args.run_dir)
    if not args.readme:
        print(text)
        return 0
    from machine import kind

    manifest = json.loads((args.run_dir / "manifest.json").read_text(encoding="utf-8"))
    write_readme_section(*markers("results", kind(manifest.get("hardware", {}))), text, section="results")
    return 0


def write_readme_section(begin: str, end: str, text: str, section: str | None = None,
                         readme: Path | None = None) -> None:
    """Replace what stands between the ``begin`` and ``end`` markers with ``text``, in the page of their family
    (:data:`DOC_OF`: README.md for the results, docs/SPEED.md for the speed tables, docs/IMPROVED.md for the
    improved models) or in ``readme``.

    Markers not there yet (a CPU kind measured for the first time) are added after the last section of the
    same ``section`` family, so each kind keeps its own rows.
    """
    readme = readme or DOC_OF.get(begin.split(":")[0].removeprefix("<!-- "), ROOT / "README.md")
    body = readme.read_text(encoding="utf-8")
    if (begin not in body or end not in body) and section:
        ends = [i + len(m) for m in {line.strip() for line in body.splitlines()
                                     if line.startswith(f"<!-- {section}:") and line.strip().endswith(":end -->")}
                for i in [body.rfind(m)]]
        if ends:
            at = max(ends)
            body = f"{body[:at]}\n\n{begin}\n{end}{body[at:]}"
    if begin not in body or end not in body:
        raise SystemExit(f"{readme}: no {begin} ... {end} markers")
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")
    print(f"updated {readme}")


if __name__ == "__main__":
    sys.exit(main())
