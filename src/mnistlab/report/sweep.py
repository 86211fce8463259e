"""The report's section on a sweep (``mnistlab sweep``): one row per setting, mean ± SD over seeds, which
differences exceed the noise, the setting chosen on validation and its test accuracy, read once.

:func:`summarise` turns a sweep folder into plain data;
:func:`section` lays it out as a :class:`SweepSection` (title, paragraphs, tables) that renders to Markdown
on its own or as blocks of the report. The choice uses only validation accuracy; the test set is shown for
the chosen setting alone, so it never takes part in choosing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab import judge
from mnistlab.i18n import say
from mnistlab.report.fmt import num, points
from mnistlab.report.quantities import Spread, welch
from mnistlab.runfolder import RunFolderError, read_json
from mnistlab.sweepfile import read_plan


def _metrics(path: Path) -> dict[str, Any] | None:
    """A seed's metrics.json when it holds the numbers the comparison reads, else None (as if missing)."""
    try:
        m = read_json(path)
    except RunFolderError:
        return None

    def number(key: str, kind=(int, float)) -> bool:
        return isinstance(m.get(key), kind) and not isinstance(m.get(key), bool)

    ok = m is not None and number("final_val_accuracy") and all(
        key not in m or number(key, int) for key in ("n_validation", "n_test")) and (
        "test_accuracy" not in m or number("test_accuracy"))
    return m if ok else None


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Is setting ``a``'s mean validation accuracy different from ``b``'s beyond the noise?

    The judge decides (:mod:`mnistlab.judge`): two seeds or more on both sides, Welch's t-test (beyond
    ``judge.Z`` SE and p below ``judge.ALPHA``); otherwise the binomial standard error of each accuracy on its
    validation images, a difference beyond ``judge.Z`` of them. Without validation images nothing exceeds the noise.
    """
    d = a["val_mean"] - b["val_mean"]
    if len(a["val"]) > 1 and len(b["val"]) > 1:
        w = welch(Spread(_keyed(a["val"])), Spread(_keyed(b["val"])))
        p = None if w.p is None or math.isnan(w.p) else w.p
        return {"difference": d, "test": "welch", "p": p, "exceeds_noise": w.finding}
    v = judge.accuracies(a["val_mean"], b["val_mean"], a["n_validation"], b["n_validation"])
    z = abs(d) / v.se if v.se > 0 else (math.inf if d else 0.0)
    return {"difference": d, "test": "binomial", "z": z, "exceeds_noise": v.finding}


def _keyed(values: dict[str, float]) -> dict[int, float]:
    return {int(k): float(v) for k, v in values.items()}


def summarise(folder: str | os.PathLike, plan: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Per setting: validation and test accuracy per seed, mean and SD; the setting chosen on validation
    (highest mean) and how every other compares with it. None when the folder is not a sweep."""
    folder = Path(folder)
    plan = plan or read_plan(folder)
    if plan is None:
        return None
    rows = []
    for s in plan["settings"]:
        val, test, n_val, n_test = {}, {}, 0, 0
        for seed in plan.get("seeds", []):
            m = _metrics(folder / s["id"] / str(seed) / "metrics.json")
            if m is None:
                continue
            val[str(seed)] = float(m["final_val_accuracy"])
            test[str(seed)] = float(m.get("test_accuracy", math.nan))
            n_val, n_test = int(m.get("n_validation", 0)), int(m.get("n_test", 0))
        row = {"id": s["id"], "overrides": s["overrides"], "val": val, "test": test, "n_validation": n_val,
               "n_test": n_test}
        if val:
            row["val_mean"] = float(sum(val.values()) / len(val))
            row["val_sd"] = Spread(_keyed(val)).std
        rows.append(row)
    done = [r for r in rows if r["val"]]
    out: dict[str, Any] = {"experiment": plan.get("experiment"), "grid": plan.get("grid"),
                           "seeds": plan.get("seeds"), "settings": rows, "chosen": None}
    if not done:
        return out
    best = max(done, key=lambda r: r["val_mean"])
    for r in done:
        if r is not best:
            r["versus_chosen"] = compare(r, best)
    test = Spread(_keyed(best["test"]))
    test_se = judge.binomial_se(test.mean, best["n_test"]) if best["n_test"] else math.nan
    out["chosen"] = {"id": best["id"], "overrides": best["overrides"], "val_mean": best["val_mean"],
                     "val_sd": best["val_sd"], "test_mean": test.mean, "test_sd": test.std, "test_seeds": test.n,
                     "test_se": test_se, "n_test": best["n_test"],
                     "tied": [r["id"] for r in done if r is not best and not r["versus_chosen"]["exceeds_noise"]]}
    return out


@dataclass
class SweepSection:
    """The sweep's part of the report, independent of the report's block types."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]], str]] = field(default_factory=list)  # header, rows, caption
    data: dict[str, Any] = field(default_factory=dict)  # what summarise() returned

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        for p in self.paragraphs:
            out += [p, ""]
        for header, rows, caption in self.tables:
            if caption:
                out += [f"*{caption}*", ""]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            out += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("")
        return "\n".join(out)


def _setting(overrides: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={json.dumps(v)}`" for k, v in overrides.items()) or "—"


def section(folder: str | os.PathLike, lang: str = "fr") -> SweepSection | None:
    """The sweep section for ``folder`` in ``lang``; None when the folder is not a sweep."""
    data = summarise(folder)
    if data is None:
        return None
    sec = SweepSection(say("sweep.title", lang, experiment=data["experiment"]), data=data)
    seeds = data.get("seeds") or []
    sec.paragraphs.append(say("sweep.intro", lang, n_settings=len(data["settings"]), n_seeds=len(seeds),
                              seeds=", ".join(map(str, seeds))))
    chosen = data.get("chosen")
    rows = []
    for r in data["settings"]:
        if not r["val"]:
            rows.append([r["id"], _setting(r["overrides"]), "0", say("sweep.no_result", lang), "", ""])
            continue
        vs = r.get("versus_chosen")
        if vs is None:
            verdict, diff = say("sweep.chosen_mark", lang), "—"
        else:
            diff = points(vs["difference"], lang)
            stat = f"p = {num(vs['p'], lang, 3)}" if vs["test"] == "welch" else f"z = {num(vs['z'], lang, 2)}"
            verdict = say("sweep.yes" if vs["exceeds_noise"] else "sweep.no", lang) + f" ({stat})"
        rows.append([r["id"], _setting(r["overrides"]), str(len(r["val"])),
                     f"{num(r['val_mean'], lang)} ± {num(r['val_sd'], lang)}", diff, verdict])
    one_seed = len(seeds) < 2
    sec.tables.append(([say("columns.setting", lang), say("sweep.values", lang), say("sweep.seeds", lang),
                        say("sweep.validation_mean_sd", lang), say("sweep.difference", lang),
                        say("columns.beyond_noise", lang)], rows,
                       say("sweep.against_chosen_one_seed" if one_seed else "sweep.against_chosen_seeds", lang)))
    if chosen is None:
        sec.paragraphs.append(say("sweep.no_setting_result", lang))
        return sec
    tied = chosen["tied"]
    sec.paragraphs.append(
        say("sweep.chosen", lang, setting=chosen["id"], values=_setting(chosen["overrides"]),
            val_mean=num(chosen["val_mean"], lang), val_sd=num(chosen["val_sd"], lang))
        + (say("sweep.tied", lang, tied=", ".join(tied)) if tied else say("sweep.beyond_all", lang))
        + say("sweep.chosen_test", lang, test_mean=num(chosen["test_mean"], lang), test_sd=num(chosen["test_sd"], lang),
              test_seeds=chosen["test_seeds"], test_se=num(chosen["test_se"], lang), n_test=chosen["n_test"]))
    per_seed = [[r["id"], *[num(r["val"].get(str(s)), lang) if str(s) in r["val"] else "—" for s in seeds]]
                for r in data["settings"]]
    sec.tables.append(([say("columns.setting", lang), *[say("sweep.seed", lang, seed=s) for s in seeds]],
                       per_seed, say("sweep.per_seed", lang)))
    return sec
