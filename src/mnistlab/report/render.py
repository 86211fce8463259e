"""A :class:`~mnistlab.report.document.Document` as one self-contained HTML file, or as Markdown.

The HTML embeds every figure as a ``data:`` URI, holds its CSS inline, has no script, and forbids any
fetch with a Content-Security-Policy; it reflows on a phone and prints cleanly. The Markdown refers to the
figures as PNG files written beside it (``report_figures/``).
"""

from __future__ import annotations

import base64
import html
import re
import struct

from mnistlab import __version__
from mnistlab.report.document import QA, Bullets, Code, Document, Fig, Heading, Para, Table
from mnistlab.report.fmt import tr

FIGURES_DIR = "report_figures"

_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\((#[\w-]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])")


def inline_html(text: str) -> str:
    """Inline markup (`code`, **bold**, *italic*, [text](#anchor)) to HTML, everything else escaped."""
    out, at = [], 0
    for m in _LINK.finditer(text):
        out.append(_spans(text[at:m.start()]))
        out.append(f'<a href="{html.escape(m.group(2))}">{_spans(m.group(1))}</a>')
        at = m.end()
    out.append(_spans(text[at:]))
    return "".join(out)


def _spans(text: str) -> str:
    out = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            out.append(f"<code>{html.escape(part, quote=False)}</code>")
            continue
        part = html.escape(part, quote=False)
        part = _BOLD.sub(r"<strong>\1</strong>", part)
        part = _ITALIC.sub(r"<em>\1</em>", part)
        out.append(part)
    return "".join(out)


def figure_file(key: str) -> str:
    """The file name of a figure under ``report_figures/``."""
    return re.sub(r"[^\w.-]", "_", key) + ".png"


def _png_size(png: bytes) -> tuple[int, int] | None:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return None
    return struct.unpack(">II", png[16:24])


CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --accent: #1f5fa8; --warn: #8a5a00; --warnbg: #fff6e0;
        --miss: #9b1c1c; --missbg: #fdecec; --codebg: #f5f6f8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 1rem 0 .5rem; }
h2 { font-size: 1.4rem; margin: 2.5rem 0 .75rem; padding-top: .5rem; border-top: 2px solid var(--line); }
h3 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
h4 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
code { font: .88em/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
       background: var(--codebg); padding: .05em .3em; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: var(--codebg); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow-x: auto;
      font-size: .85rem; line-height: 1.45; }
pre code { background: none; padding: 0; overflow-wrap: normal; }
.scroll { overflow-x: auto; margin: .75rem 0; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; }
.small { color: var(--muted); font-size: .9rem; }
.warn { background: var(--warnbg); color: var(--warn); border-left: 4px solid var(--warn); padding: .5rem .75rem; }
.missing { background: var(--missbg); color: var(--miss); border-left: 4px solid var(--miss); padding: .5rem .75rem;
           margin: .5rem 0; }
ul.missing { padding-left: 2rem; }
.qa { border-left: 3px solid var(--accent); padding: .1rem 0 .1rem .9rem; margin: 1.1rem 0; }
.qa .q { font-weight: 600; margin: .2rem 0; }
.qa .q .n { color: var(--accent); margin-right: .35rem; }
.qa .orig { color: var(--muted); font-style: italic; margin: 0 0 .3rem; font-size: .9rem; }
.qa .a p { margin: .35rem 0; }
.qa .src { color: var(--muted); font-size: .8rem; margin: .3rem 0 0; }
nav.toc { background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; }
nav.toc ol { margin: .25rem 0; padding-left: 1.3rem; }
ul.analysis li { margin: .25rem 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; border-top: 1px solid var(--line);
         padding-top: .5rem; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: .6rem .6rem 2rem; } h1 { font-size: 1.4rem; }
  table { font-size: .82rem; } th, td { padding: .25rem .4rem; } }
@media print {
  @page { margin: 1.6cm 1.4cm; }
  body { font-size: 10.5pt; } main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; } nav.toc { display: none; }
  h2 { break-before: page; border-top: none; } h2, h3, h4 { break-after: avoid; }
  figure, table, .qa { break-inside: avoid; }
  pre { white-space: pre-wrap; overflow: visible; break-inside: auto; }
  .scroll { overflow: visible; }
}
"""


def to_html(doc: Document) -> str:
    """The document as one self-contained HTML page."""
    lang = doc.lang
    out = ["<!DOCTYPE html>", f'<html lang="{lang}">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           # Nothing may be fetched: images are data: URIs, the style is inline, there is no script.
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
           "style-src 'unsafe-inline'\">",
           f"<title>{html.escape(doc.title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", "<main>",
           f"<h1>{html.escape(doc.title)}</h1>"]
    toc_at = len(out)
    for block in doc.blocks:
        out.append(_block_html(block, lang))
    toc = ['<nav class="toc" aria-label="toc"><strong>' + tr(lang, "Sommaire", "Contents") + "</strong><ol>"]
    toc += [f'<li><a href="#{a}">{inline_html(t)}</a></li>' for a, t in doc.toc]
    toc.append("</ol></nav>")
    # The table of contents goes after the overview (its first table).
    first_h2 = next((i for i in range(toc_at, len(out)) if out[i].startswith("<h2")), len(out))
    out[first_h2:first_h2] = ["".join(toc)]
    out += [f"<footer>{html.escape(tr(lang, 'Rapport écrit par', 'Report written by'))} mnistlab {__version__} "
            + html.escape(tr(lang, "à partir des fichiers du run ; aucun réentraînement.",
                             "from the run's files; nothing was retrained.")) + "</footer>",
            "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _block_html(b, lang: str) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{b.anchor}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{inline_html(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        cls = f' class="{b.kind}"' if b.kind else ""
        return f"<p{cls}>{inline_html(b.text)}</p>"
    if isinstance(b, Bullets):
        cls = f' class="{b.kind}"' if b.kind else ""
        return f"<ul{cls}>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        head = "".join(f'<th{" class=n" if i in b.numeric else ""}>{inline_html(h)}</th>'
                       for i, h in enumerate(b.header))
        rows = "".join("<tr>" + "".join(f'<td{" class=n" if i in b.numeric else ""}>{inline_html(c)}</td>'
                                        for i, c in enumerate(r)) + "</tr>" for r in b.rows)
        cap = f"<caption>{inline_html(b.caption)}</caption>" if b.caption else ""
        return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
    if isinstance(b, Code):
        anchor = f' id="{b.anchor}"' if b.anchor else ""
        title = f'<p class="small"{anchor}>{inline_html(b.title)}</p>' if b.title else ""
        return f"{title}<pre><code>{html.escape(b.text, quote=False)}</code></pre>"
    if isinstance(b, Fig):
        data = base64.b64encode(b.figure.png).decode("ascii")
        size = _png_size(b.figure.png)
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.figure.alt)}"{dims}>'
                f"<figcaption>{inline_html(b.caption)}</figcaption></figure>")
    if isinstance(b, QA):
        label = (tr(lang, "À faire", "To do") + f" {b.label}") if b.todo else f"Q{b.label}"
        orig = f'<p class="orig">« {inline_html(b.original)} »</p>' if b.original else ""
        paras = "".join(f"<p>{inline_html(p)}</p>" for p in b.answer.paragraphs if p)
        src = ""
        if b.answer.sources:
            src = (f'<p class="src">{tr(lang, "Source", "Source")}{" :" if lang == "fr" else ":"} '
                   + ", ".join(f"<code>{html.escape(s, quote=False)}</code>" for s in b.answer.sources) + "</p>")
        return (f'<div class="qa"><p class="q"><span class="n">{html.escape(label)}</span>'
                f"{inline_html(b.quote)}</p>{orig}<div class=\"a\">{paras}</div>{src}</div>")
    raise TypeError(f"unknown block {type(b).__name__}")


# --- Markdown -----------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document, figures_dir: str = FIGURES_DIR) -> str:
    """The document as Markdown; figures are ``<figures_dir>/<key>.png`` beside it."""
    lang = doc.lang
    out = [f"# {doc.title}", ""]
    toc = [tr(lang, "**Sommaire** : ", "**Contents**: ") + " · ".join(f"[{t}](#{a})" for a, t in doc.toc), ""]
    toc_done = False
    for b in doc.blocks:
        if isinstance(b, Heading) and b.level == 2 and not toc_done:
            out += toc
            toc_done = True
        out += _block_md(b, lang, figures_dir)
    out.append(tr(lang, f"*Rapport écrit par mnistlab {__version__} à partir des fichiers du run ; aucun "
                        "réentraînement.*",
                  f"*Report written by mnistlab {__version__} from the run's files; nothing was retrained.*"))
    return "\n".join(out) + "\n"


def _block_md(b, lang: str, figures_dir: str = FIGURES_DIR) -> list[str]:
    if isinstance(b, Heading):
        anchor = f'<a id="{b.anchor}"></a>' if b.anchor else ""
        return [f"{'#' * b.level} {anchor}{b.text}", ""]
    if isinstance(b, Para):
        text = b.text
        if b.kind in ("warn", "missing"):
            text = "> " + text
        elif b.kind == "small":
            text = f"*{text}*" if "*" not in text else text
        return [text, ""]
    if isinstance(b, Bullets):
        return [f"- {i}" for i in b.items] + [""]
    if isinstance(b, Table):
        lines = [f"*{b.caption}*", ""] if b.caption else []
        lines.append("| " + " | ".join(_cell(h) for h in b.header) + " |")
        lines.append("|" + "|".join(" ---: " if i in b.numeric else " --- " for i in range(len(b.header))) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in b.rows]
        return lines + [""]
    if isinstance(b, Code):
        anchor = f'<a id="{b.anchor}"></a>' if b.anchor else ""
        return ([f"{anchor}{b.title}", ""] if b.title else []) + ["```python", b.text.rstrip("\n"), "```", ""]
    if isinstance(b, Fig):
        return [f"![{b.figure.alt}]({figures_dir}/{figure_file(b.figure.key)})", "", f"*{b.caption}*"
                if "*" not in b.caption else b.caption, ""]
    if isinstance(b, QA):
        label = (tr(lang, "À faire", "To do") + f" {b.label}") if b.todo else f"Q{b.label}"
        lines = [f"**{label}.** {b.quote}", ""]
        if b.original:
            lines += [f"> « {b.original} »", ""]
        for p in b.answer.paragraphs:
            if p:
                lines += [p, ""]
        if b.answer.sources:
            lines += [tr(lang, "Source : ", "Source: ") + ", ".join(f"`{s}`" for s in b.answer.sources), ""]
        return lines
    raise TypeError(f"unknown block {type(b).__name__}")
