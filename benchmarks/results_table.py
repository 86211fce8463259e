"""Write the README results table from a finished run folder: what was measured, on which machine.

    python benchmarks/results_table.py runs/<stamp>            # print the table
    python benchmarks/results_table.py runs/<stamp> --readme   # replace the table in README.md

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


EXPECTED = {  # what the lab's maths gives, shown beside what we measured
    "ex1": "0.975-0.98",
    "ex2.ann": "0.865-0.88",
    "ex2.activations": "0.86-0.88 each",
    "ex2.cnn": "0.89-0.91",
    "ex2.confusion": "= ex2.cnn",
    "ex2.augment": "0.90-0.91",
}


def table(run_dir: Path) -> str:
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
                    f"{EXPECTED.get(name, '')} | {entry['seconds']:.0f} s |")
    hw, v = manifest["hardware"], manifest["versions"]
    rows.append("")
    from machine import label

    rows.append(f"Measured by `mnistlab run` (seed {manifest.get('seed')}) on {label(hw)}, "
                f"{hw['logical_cores']} logical cores, {hw['memory_gib']} GiB; Python {v['python']}, "
                f"TensorFlow {v.get('tensorflow')}, Keras {v['keras']}; whole run {manifest.get('seconds', 0):.0f} s, "
                f"finished {manifest.get('finished')}.")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--readme", action="store_true", help="replace the table between the markers in README.md")
    args = p.parse_args()
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
