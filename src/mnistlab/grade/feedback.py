"""``feedback/<student>.md`` and ``.html``: per rubric item the points, the reason and the evidence.

Everything a student wrote (name, answers, code lines quoted as evidence) is escaped: HTML with
``html.escape``, Markdown with every markup character backslashed. No reference solution code is shown, and
no other student is named (similarity goes to the class page only).
"""

from __future__ import annotations

import html
import re

from mnistlab.grade.words import num, say

_MD = re.compile(r"([\\`*_{}\[\]#|~])")


def md_escape(text: str) -> str:
    """Plain text safe inside Markdown: no markup, no HTML, one line."""
    return _MD.sub(r"\\\1", html.escape(" ".join(str(text).split()), quote=False))


def lines(mark, lang: str) -> str:
    """The sentences explaining one mark."""
    parts = [say(mark.say, lang, **mark.args)] + [say(k, lang, **a) for k, a in mark.extra]
    return " ".join(parts)


def rows(entry: dict, lang: str) -> list[tuple[str, str, str]]:
    """(item, "points / max", reason) for each mark of a graded entry."""
    return [(m.item, f"{num(m.points, lang, 2)} / {num(m.max, lang, 2)}", lines(m, lang)) for m in entry["marks"]]


def _status_line(entry: dict, lang: str) -> str:
    return say(f"status.{entry['status']}", lang, reason=entry["reason"]) if entry["status"] != "OK" else ""


def markdown(entry: dict, lang: str) -> str:
    sep = say("colon", lang)
    out = [f"# {say('title', lang)}{sep}{md_escape(entry['student'])}", ""]
    status = _status_line(entry, lang)
    if status:
        out += [md_escape(status), ""]
    if entry.get("marks"):
        out += [f"**{say('total', lang)}**{sep}{num(entry['total'], lang, 2)} / {num(entry['max'], lang, 2)}", "",
                f"| {say('item', lang)} | {say('points', lang)} | {say('reason', lang)} |", "|---|---|---|"]
        out += [f"| {md_escape(i)} | {md_escape(p)} | {md_escape(r)} |" for i, p, r in rows(entry, lang)]
        if entry.get("band_method"):
            out += ["", md_escape(entry["band_method"])]
    flags = [(f, e) for f, e in entry.get("flags_evidence", []) if not f.startswith("similar:")]
    out += ["", f"## {say('flags', lang)}", ""]
    out += [f"- {md_escape(f)}{sep}{md_escape(e)}" for f, e in flags] or [say("no_flags", lang)]
    return "\n".join(out) + "\n"


def page(entry: dict, lang: str) -> str:
    e, sep = html.escape, say("colon", lang)
    body = [f"<h1>{e(say('title', lang))}{sep}{e(entry['student'])}</h1>"]
    status = _status_line(entry, lang)
    if status:
        body.append(f"<p class='status'>{e(status)}</p>")
    if entry.get("marks"):
        body.append(f"<p><b>{e(say('total', lang))}</b>{sep}{e(num(entry['total'], lang, 2))} / "
                    f"{e(num(entry['max'], lang, 2))}</p>")
        body.append(f"<table><tr><th>{e(say('item', lang))}</th><th>{e(say('points', lang))}</th>"
                    f"<th>{e(say('reason', lang))}</th></tr>")
        for i, p, r in rows(entry, lang):
            body.append(f"<tr><td>{e(i)}</td><td>{e(p)}</td><td>{e(r)}</td></tr>")
        body.append("</table>")
        if entry.get("band_method"):
            body.append(f"<p>{e(entry['band_method'])}</p>")
    flags = [(f, ev) for f, ev in entry.get("flags_evidence", []) if not f.startswith("similar:")]
    body.append(f"<h2>{e(say('flags', lang))}</h2>")
    body.append("<ul>" + "".join(f"<li><code>{e(f)}</code>{sep}{e(ev)}</li>" for f, ev in flags) + "</ul>"
                if flags else f"<p>{e(say('no_flags', lang))}</p>")
    return document(f"{say('title', lang)}{sep}{entry['student']}", "\n".join(body), lang)


def document(title: str, body: str, lang: str) -> str:
    """A standalone HTML page (no script, no external resource)."""
    return (f"<!DOCTYPE html>\n<html lang='{lang}'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}"
            ".status{color:#a00}</style></head><body>\n" + body + "\n</body></html>\n")


def band_method(bands: dict, thresholds: dict, lang: str) -> str:
    """One sentence naming how the reference band was made: the prediction interval and its rate, or the
    percentiles the rubric uses; the runs and their CPU kinds."""
    from mnistlab.grade import bands as bandmod

    ns = [b["n"] for metrics in (bands.get("bands") or {}).values() for b in metrics.values()
          if isinstance(b, dict) and isinstance(b.get("n"), int)]
    kinds = ", ".join((bands.get("hardware") or {}).get("cpu_kinds") or []) or "?"
    runs = f"{min(ns)}" if ns and min(ns) == max(ns) else f"{min(ns)}–{max(ns)}" if ns else "0"
    if thresholds.get("band_low") == "lo" and thresholds.get("band_high") == "hi":
        rate = bandmod.rate(bands)
        return say("band_method", lang, conf=num(100 * (1 - rate), lang, 0), rate=num(100 * rate, lang, 0),
                   runs=runs, cpus=kinds)
    return say("band_percentiles", lang, low=str(thresholds.get("band_low")).upper(),
               high=str(thresholds.get("band_high")).upper(), runs=runs, cpus=kinds)
