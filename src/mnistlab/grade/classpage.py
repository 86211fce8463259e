"""``class.html``: statuses, every flag with its students, the distribution of totals, mean points per item
with the question's text, the class's results against the reference band (figures), the similarity pairs
with their evidence, the review queue (each answer beside the reference answer).

Its data for each student is kept in ``class.json`` (this module owns it both ways), so that a re-grade of a
few students (``--only``) rebuilds the whole page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter
from pathlib import Path

from mnistlab.fileio import write_text
from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab
from mnistlab.grade.feedback import band_method, document
from mnistlab.grade.words import num, say

DATA = "class.json"
FORMAT = 1


def save(out: Path, rows: list[dict], pairs: list[dict]) -> None:
    """``class.json``: per submission (by file) what the page shows beyond grades.csv; the similarity pairs."""
    students = {}
    for r in rows:
        answers = r.get("answers") or {}
        students[r["file"]] = {
            "student": r["student"], "ident": r.get("ident") or "", "reason": r.get("reason") or "",
            "values": dict(r.get("values") or {}), "comment": r.get("comment") or "",
            "band_method": r.get("band_method") or "",
            "flags_evidence": [list(f) for f in r.get("flags_evidence") or []],
            "answers": {k: (a if isinstance(a, str) else a.text) for k, a in answers.items()
                        if (a if isinstance(a, str) else a.text)}}
    write_text(out / DATA, json.dumps({"format": FORMAT, "students": students, "pairs": pairs},
                                      ensure_ascii=False) + "\n")


def load(out: Path) -> dict:
    """What :func:`save` wrote; empty when absent or not readable (the page then lacks those students' plots
    and answers, and says so)."""
    try:
        data = json.loads((out / DATA).read_text(encoding="utf-8"))
        students, pairs = data["students"], data["pairs"]
        if data.get("format") != FORMAT or not isinstance(students, dict) or not isinstance(pairs, list):
            raise ValueError
        students = {str(k): v for k, v in students.items() if isinstance(v, dict)}
        pairs = [p for p in pairs if isinstance(p, dict) and {"a", "b", "measure", "value"} <= set(p)]
    except (OSError, ValueError, KeyError, TypeError):
        return {"students": {}, "pairs": []}
    for v in students.values():  # untrusted: keep only well-typed fields
        values, answers, evidence = v.get("values"), v.get("answers"), v.get("flags_evidence")
        v["values"] = {str(k): x for k, x in (values.items() if isinstance(values, dict) else ())
                       if isinstance(x, (int, float)) and not isinstance(x, bool)}
        v["answers"] = {str(k): x for k, x in (answers.items() if isinstance(answers, dict) else ())
                        if isinstance(x, str)}
        v["flags_evidence"] = [tuple(map(str, f)) for f in (evidence if isinstance(evidence, list) else [])
                               if isinstance(f, list) and len(f) == 2]
    for p in pairs:
        p["evidence"] = [x for x in (p.get("evidence") if isinstance(p.get("evidence"), list) else [])
                         if isinstance(x, list) and len(x) == 3]
        for key in ("student", "ident", "reason", "comment", "band_method"):
            v[key] = str(v.get(key) or "")
    return {"students": students, "pairs": pairs}


def pair_rows(pairs: list) -> list[dict]:
    """The similarity pairs as plain data (for ``class.json``)."""
    return [{"a": p.a, "b": p.b, "measure": p.measure, "value": float(p.value),
             "evidence": [list(map(str, ev)) for ev in p.evidence]} for p in pairs]


def item_means(rows: list[dict], rub) -> list[tuple[str, float, float, int, int]]:
    """(item, mean points, item's points, graded submissions with full points, graded submissions)."""
    out = []
    for item in rub.items:
        got = [r["items"][item.id] for r in rows if r.get("status") == "OK"
               and isinstance((r.get("items") or {}).get(item.id), (int, float))]
        mean = sum(got) / len(got) if got else 0.0
        out.append((item.id, mean, item.points, sum(g >= item.points for g in got), len(got)))
    return out


def histogram(rows: list[dict], top: float, bins: int = 13) -> list[tuple[float, float, int]]:
    """(from, to, how many totals) over 0..``top`` in ``bins`` equal bins (the last includes ``top``)."""
    totals = [r["total"] for r in rows if isinstance(r.get("total"), (int, float))]
    width = top / bins if top > 0 else 1.0
    counts = Counter(min(int(t / width), bins - 1) for t in totals)
    return [(i * width, (i + 1) * width, counts.get(i, 0)) for i in range(bins)]


def flag_label(flag: str, lang: str) -> str:
    """A flag's name in words (``flag.<id>`` in the words file), or the flag's own id when it has none."""
    base, _, _ = flag.partition(":")
    try:
        return say("flag." + base, lang)
    except KeyError:
        return base


def figure(rows: list[dict], bands: dict, lang: str) -> str:
    """A PNG (base64) per results item: the class's values as dots over the band (interval shaded, mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = {s: i for i, s in enumerate(lab.steps())}
    keys = sorted({k for r in rows for k in r.get("values") or {}}, key=lambda k: (order.get(_split(k)[0], 99), k))
    if not keys:
        return ""
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 1.3 * len(keys) + .6), squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        step, metric = _split(key)
        vals = [r["values"][key] for r in rows if key in (r.get("values") or {})]
        b = bandmod.band(bands, step, metric)
        if b:
            ax.axvspan(b["lo"], b["hi"], color="#9ecae1", alpha=.6)
            ax.axvline(b["mean"] if isinstance(b.get("mean"), (int, float)) else b.get("p50", b["lo"]),
                       color="#08519c", lw=1)
        jitter = [((i * 0.618) % 1 - .5) * .6 for i in range(len(vals))]  # spread equal values apart
        ax.plot(vals, jitter, "o", color="#d94801", alpha=.6, ms=5)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.set_title(f"{key} ({len(vals)})", fontsize=9, loc="left")
    return _png(fig, plt)


def totals_figure(hist: list[tuple[float, float, int]], top: float, lang: str) -> str:
    """A PNG (base64): the histogram of totals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.bar([a for a, _, _ in hist], [n for _, _, n in hist], width=[b - a for a, b, _ in hist], align="edge",
           color="#6baed6", edgecolor="#08519c")
    ax.set_xlim(0, top)
    ax.set_xlabel(say("total", lang))
    ax.set_ylabel(say("students", lang))
    return _png(fig, plt)


def _png(fig, plt) -> str:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _split(key: str) -> tuple[str, str]:
    for step in sorted(lab.steps(), key=len, reverse=True):
        if key.startswith(step + "."):
            return step, key[len(step) + 1:]
    return key, ""


def _what(item: str, lang: str) -> str:
    texts = {q.key: q.text for q in lab.questions()}
    if item in texts:
        return texts[item]
    step = _split(item)[0]
    return lab.step_title(step, lang) if step in lab.steps() else say("analysis_item", lang)


def page(rows: list[dict], rub, pairs: list[dict], bands: dict, lang: str, isolation: str = "",
         regraded: int | None = None) -> str:
    """The class page over every row of grades.csv (``regraded``: how many of them ``--only`` graded now)."""
    e, sep = html.escape, say("colon", lang)
    body = [f"<h1>{e(say('class_title', lang))}</h1>"]
    statuses = Counter(r["status"] for r in rows)
    body.append(f"<p>{len(rows)} {e(say('students', lang))}. {e(say('statuses', lang))}{sep}"
                + ", ".join(f"{e(k)} {v}" for k, v in sorted(statuses.items())) + "</p>")
    if regraded is not None:
        body.append(f"<p>{e(say('regraded_note', lang, n=regraded))}</p>")
    body.append(f"<p>{e(band_method(bands, rub.thresholds, lang))}</p>")
    per_step = ", ".join(f"{s} n = {max(m['n'] for m in b.values())}" for s, b in (bands.get("bands") or {}).items()
                         if b and all(isinstance(m, dict) and isinstance(m.get("n"), int) for m in b.values()))
    if per_step:
        body.append(f"<p>{e(say('band_runs', lang, steps=per_step))}</p>")
    if isolation:
        body.append(f"<p>--execute{sep}{e(isolation)}</p>")
    body += _totals(rows, rub, lang) + _flags(rows, lang) + _items(rows, rub, lang)
    png = figure(rows, bands, lang)
    if png:
        body.append(f"<h2>{e(say('distribution', lang))}</h2><img alt='' src='data:image/png;base64,{png}'>")
    body += _pairs(pairs, lang) + _review(rows, lang)
    return document(say("class_title", lang), "\n".join(body), lang)


def _totals(rows: list[dict], rub, lang: str) -> list[str]:
    e = html.escape
    totals = [r["total"] for r in rows if isinstance(r.get("total"), (int, float))]
    out = [f"<h2>{e(say('totals_title', lang))}</h2>"]
    if not totals:
        return out + [f"<p>{e(say('no_flags', lang))}</p>"]
    top = rub.max_points
    mean = sum(totals) / len(totals)
    sd = math.sqrt(sum((t - mean) ** 2 for t in totals) / (len(totals) - 1)) if len(totals) > 1 else 0.0
    ordered = sorted(totals)
    median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
    summary = say("totals_summary", lang, n=len(totals), mean=num(mean, lang, 2), sd=num(sd, lang, 2),
                  median=num(median, lang, 2), low=num(ordered[0], lang, 2), high=num(ordered[-1], lang, 2),
                  max=num(top, lang, 2))
    out.append(f"<p>{e(summary)}</p>")
    hist = histogram(rows, top)
    out.append(f"<img alt='' src='data:image/png;base64,{totals_figure(hist, top, lang)}'>")
    out.append("<table><tr>" + "".join(f"<th>{e(num(a, lang, 1))}–{e(num(b, lang, 1))}</th>" for a, b, _ in hist)
               + "</tr><tr>" + "".join(f"<td>{n}</td>" for _, _, n in hist) + "</tr></table>")
    return out


def _flags(rows: list[dict], lang: str) -> list[str]:
    e, sep = html.escape, say("colon", lang)
    out = [f"<h2>{e(say('flags', lang))}</h2>"]
    by_flag: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        evidence = dict(r.get("flags_evidence") or [])
        for f in r.get("flags") or []:
            by_flag.setdefault(f.partition(":")[0], []).append((r["student"], f, evidence.get(f, "")))
    if not by_flag:
        return out + [f"<p>{e(say('no_flags', lang))}</p>"]
    out.append("<table>")
    for base, hits in sorted(by_flag.items()):
        students = "".join(f"<li>{e(s)}{sep}<code>{e(f)}</code>{(' — ' + e(ev)) if ev else ''}</li>"
                           for s, f, ev in hits)
        out.append(f"<tr><td><code>{e(base)}</code></td><td>{e(flag_label(base, lang))}</td><td>{len(hits)}</td>"
                   f"<td><details><ul>{students}</ul></details></td></tr>")
    return out + ["</table>"]


def _items(rows: list[dict], rub, lang: str) -> list[str]:
    e = html.escape
    out = [f"<h2>{e(say('pass_rates', lang))}</h2><table><tr><th>{e(say('item', lang))}</th>"
           f"<th>{e(say('question', lang))}</th><th>{e(say('mean_points', lang))}</th>"
           f"<th>{e(say('full_points', lang))}</th><th></th></tr>"]
    for item, mean, top, full, n in item_means(rows, rub):
        pct = 100 * mean / top if top else 0
        out.append(f"<tr><td>{e(item)}</td><td>{e(_what(item, lang))}</td><td>{e(num(mean, lang, 2))} / "
                   f"{e(num(top, lang, 2))}</td><td>{full}/{n}</td><td><div style='background:#6baed6;"
                   f"height:.8em;width:{pct * 2:.0f}px'></div></td></tr>")
    return out + ["</table>"]


def _pairs(pairs: list[dict], lang: str) -> list[str]:
    e = html.escape
    out = [f"<h2>{e(say('similar_pairs', lang))}</h2>"]
    if not pairs:
        return out + [f"<p>{e(say('no_flags', lang))}</p>"]
    out.append("<table>")
    for p in pairs:
        ev = "".join(f"<tr><td>{e(str(w))}</td><td><pre>{e(str(a))}</pre></td><td><pre>{e(str(b))}</pre></td></tr>"
                     for w, a, b in p.get("evidence") or [])
        value = p["value"] if isinstance(p["value"], (int, float)) else 0.0
        out.append(f"<tr><td>{e(str(p['a']))}</td><td>{e(str(p['b']))}</td><td>{e(str(p['measure']))} "
                   f"{e(num(float(value), lang, 2))}</td><td><details><table>{ev}</table></details></td></tr>")
    return out + ["</table>"]


def _review(rows: list[dict], lang: str) -> list[str]:
    e, sep = html.escape, say("colon", lang)
    out = [f"<h2>{e(say('review', lang))}</h2>"]
    refs = lab.reference_answers(lang)
    for q in lab.questions():
        answered = []
        for r in rows:
            a = (r.get("answers") or {}).get(q.key)
            text = a if isinstance(a, str) else getattr(a, "text", "")
            if text:
                answered.append((r["student"], text))
        if not answered:
            continue
        out.append(f"<details><summary>{e(q.key)}{sep}{e(q.text)} ({len(answered)})</summary>")
        if q.key in refs:
            out.append(f"<p><b>{e(say('reference_answer', lang))}</b>{sep}{e(refs[q.key])}</p>")
        out.append("<table>" + "".join(f"<tr><td>{e(s)}</td><td>{e(t[:2000])}</td></tr>" for s, t in answered)
                   + "</table></details>")
    return out
