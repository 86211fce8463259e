"""``class.html``: per-item pass rates, the class's results against the reference band (figures), the
similarity pairs with their evidence, the review queue (each answer beside the reference answer)."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter

from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab
from mnistlab.grade.feedback import document
from mnistlab.grade.words import num, say


def pass_rates(entries: list[dict], items: list[str]) -> dict[str, tuple[int, int]]:
    """{item: (graded submissions with full points, graded submissions)}."""
    out = {}
    for item in items:
        marks = [m for e in entries for m in e.get("marks", []) if m.item == item and m.max > 0]
        out[item] = (sum(m.points >= m.max for m in marks), len(marks))
    return out


def figure(entries: list[dict], bands: dict, lang: str) -> str:
    """A PNG (base64) per results item: the class's values as dots over the band (P5-P95 shaded, median)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = {s: i for i, s in enumerate(lab.steps())}
    keys = sorted({k for e in entries for k in e.get("values", {})}, key=lambda k: (order.get(_split(k)[0], 99), k))
    if not keys:
        return ""
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 1.3 * len(keys) + .6), squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        step, metric = _split(key)
        vals = [e["values"][key] for e in entries if key in e.get("values", {})]
        b = bandmod.band(bands, step, metric)
        if b:
            ax.axvspan(b["p5"], b["p95"], color="#9ecae1", alpha=.6, label="P5–P95")
            ax.axvline(b["p50"], color="#08519c", lw=1)
        jitter = [((i * 0.618) % 1 - .5) * .6 for i in range(len(vals))]  # spread equal values apart
        ax.plot(vals, jitter, "o", color="#d94801", alpha=.6, ms=5)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.set_title(f"{key} ({len(vals)})", fontsize=9, loc="left")
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


def page(entries: list[dict], items: list[str], pairs: list, bands: dict, lang: str, isolation: str = "") -> str:
    e, sep = html.escape, say("colon", lang)
    body = [f"<h1>{e(say('class_title', lang))}</h1>"]
    statuses = Counter(x["status"] for x in entries)
    body.append(f"<p>{len(entries)} {e(say('students', lang))}. {e(say('statuses', lang))}{sep}"
                + ", ".join(f"{e(k)} {v}" for k, v in sorted(statuses.items())) + "</p>")
    seeds = bands.get("seeds") or []
    body.append("<p>" + e(say("band_note", lang, n=int(bands.get("n_runs") or 0),
                              seeds=", ".join(map(str, seeds)) or "?",
                              tf=(bands.get("versions") or {}).get("tensorflow", "?"),
                              cpu=(bands.get("hardware") or {}).get("cpu_kind", "?"))) + "</p>")
    if bands.get("note"):
        body.append(f"<p>{e(bands['note'])}</p>")
    if isolation:
        body.append(f"<p>--execute{sep}{e(isolation)}</p>")
    png = figure(entries, bands, lang)
    if png:
        body.append(f"<h2>{e(say('distribution', lang))}</h2><img alt='' src='data:image/png;base64,{png}'>")
    body.append(f"<h2>{e(say('similar_pairs', lang))}</h2>")
    if pairs:
        body.append("<table>")
        for p in pairs:
            ev = "".join(f"<tr><td>{e(w)}</td><td><pre>{e(a)}</pre></td><td><pre>{e(b)}</pre></td></tr>"
                         for w, a, b in p.evidence)
            body.append(f"<tr><td>{e(p.a)}</td><td>{e(p.b)}</td><td>{e(p.measure)} {e(num(p.value, lang, 2))}"
                        f"</td><td><details><table>{ev}</table></details></td></tr>")
        body.append("</table>")
    else:
        body.append(f"<p>{e(say('no_flags', lang))}</p>")
    body.append(f"<h2>{e(say('pass_rates', lang))}</h2><table>")
    for item, (ok, n) in pass_rates(entries, items).items():
        pct = 100 * ok / n if n else 0
        body.append(f"<tr><td>{e(item)}</td><td>{ok}/{n}</td><td><div style='background:#6baed6;height:.8em;"
                    f"width:{pct * 2:.0f}px'></div></td></tr>")
    body.append("</table>")
    body.append(f"<h2>{e(say('review', lang))}</h2>")
    refs = lab.reference_answers(lang)
    for q in lab.questions():
        answered = [(x["student"], x["answers"][q.key]) for x in entries
                    if q.key in x.get("answers", {}) and x["answers"][q.key].text]
        if not answered:
            continue
        body.append(f"<details><summary>{e(q.key)}{sep}{e(q.text)} ({len(answered)})</summary>")
        if q.key in refs:
            body.append(f"<p><b>{e(say('reference_answer', lang))}</b>{sep}{e(refs[q.key])}</p>")
        body.append("<table>" + "".join(f"<tr><td>{e(s)}</td><td>{e(a.text[:2000])}</td></tr>"
                                        for s, a in answered) + "</table></details>")
    return document(say("class_title", lang), "\n".join(body), lang)
