"""A :class:`~mnistlab.report.blocks.Document` as one self-contained HTML file, or as Markdown.

The HTML embeds every figure as a ``data:`` URI, holds its CSS inline, has no script, and forbids any
fetch with a Content-Security-Policy; it reflows on a phone (every table scrolls inside itself) and prints
on A4. Every string is escaped: a run folder's names and values are text, never markup; links go only to
``#anchors`` of the page. Provenance (``origin``, answer sources) is a small note in HTML and only in the
appendix in Markdown.
"""

from __future__ import annotations

import base64
import html
import re
import struct

from mnistlab.i18n import say
from mnistlab.report.blocks import QA, Bullets, Code, Document, Fig, Heading, Para, Table, TitleBlock

FIGURES_DIR = "report_figures"

_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((#[a-z0-9-]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])")
_SLOT = "\x00{}\x00"  # a code span, set aside while bold and italic are matched around it


def inline_html(text: str) -> str:
    """Inline markup (`code`, **bold**, *italic*, [text](#anchor)) to HTML; everything else is escaped text.

    Code spans are set aside first, so bold may hold code (``**`x` is 1**``) and code never holds markup.
    """
    text = text.replace("\x00", "")
    codes: list[str] = []

    def keep(m: re.Match) -> str:
        codes.append(f"<code>{html.escape(m.group(1), quote=False)}</code>")
        return _SLOT.format(len(codes) - 1)

    text = _CODE.sub(keep, text)
    out, at = [], 0
    for m in _LINK.finditer(text):
        out.append(_marks(text[at:m.start()]))
        out.append(f'<a href="{m.group(2)}">{_marks(m.group(1))}</a>')
        at = m.end()
    out.append(_marks(text[at:]))
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], "".join(out))


def _marks(text: str) -> str:
    text = html.escape(text, quote=False)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _ITALIC.sub(r"<em>\1</em>", text)


def figure_file(key: str) -> str:
    """The file name of a figure under ``report_figures/``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key).lstrip(".") + ".png"


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
      font-size: .85rem; line-height: 1.45; max-width: 100%; }
pre code { background: none; padding: 0; overflow-wrap: normal; }
.scroll { overflow-x: auto; margin: .75rem 0; max-width: 100%; }
table { border-collapse: collapse; font-size: .9rem; min-width: 50%; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; margin-top: .3rem; }
.small { color: var(--muted); font-size: .9rem; }
.prov { color: var(--muted); font-size: .72rem; margin: .15rem 0 0; }
.warn { background: var(--warnbg); color: var(--warn); border-left: 4px solid var(--warn); padding: .5rem .75rem; }
.missing { background: var(--missbg); color: var(--miss); border-left: 4px solid var(--miss); padding: .5rem .75rem;
           margin: .5rem 0; }
ul.missing { padding-left: 2rem; }
.qa { border-left: 3px solid var(--accent); padding: .1rem 0 .1rem .9rem; margin: 1.1rem 0; }
.qa .q { font-weight: 600; margin: .2rem 0; }
.qa .q .n { color: var(--accent); margin-right: .35rem; }
.qa .orig { color: var(--muted); font-style: italic; margin: 0 0 .3rem; font-size: .9rem; }
.qa .a p { margin: .35rem 0; }
table.who { min-width: 0; width: 100%; font-size: 1rem; }
table.who th { width: 9rem; background: none; }
table.who td { border-bottom: 1px solid var(--fg); min-height: 1.6rem; }
nav.toc { background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; }
nav.toc ol { margin: .25rem 0; padding-left: 1.3rem; }
nav.toc ol ol { padding-left: 1rem; font-size: .92rem; list-style: none; }  /* lab titles carry their number */
p.analysis { text-align: justify; }
@media (min-width: 50rem) { figure.half { display: inline-block; width: 49%; margin-right: 1%; vertical-align: top; } }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: .6rem .6rem 2rem; } h1 { font-size: 1.4rem; }
  table { font-size: .82rem; min-width: 0; } th, td { padding: .25rem .4rem; } }
@media print {
  @page { size: A4; margin: 1.2cm 1.2cm; }
  body { font-size: 9.5pt; line-height: 1.4; } main { max-width: none; padding: 0; }
  h1 { font-size: 15pt; } h2 { font-size: 13pt; } h3 { font-size: 11pt; margin: 1rem 0 .3rem; }
  .qa { margin: .5rem 0; } .qa .a p { margin: .2rem 0; } p { margin: .4rem 0; }
  .scroll { margin: .4rem 0; } figure { margin: .4rem 0; }
  a { color: inherit; text-decoration: none; }
  h2 { border-top: none; margin-top: 1.6rem; }
  h2, h3, h4, caption, .qa .q { break-after: avoid; page-break-after: avoid; }
  figure, tr, .qa .q, .qa .orig { break-inside: avoid; }
  nav.toc { break-inside: auto; background: none; }
  pre { white-space: pre-wrap; overflow: visible; break-inside: auto; font-size: 7.5pt; line-height: 1.3; }
  table { font-size: 8pt; } th, td { padding: .12rem .4rem; }
  p.small { font-size: 7.5pt; }
  .scroll { overflow: visible; }
  figure img { max-height: 6.5cm; width: auto; }
  figure.half { display: inline-block; width: 49%; margin: .3rem 1% .3rem 0; vertical-align: top; }
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
    for block in doc.blocks:
        out.append(_block_html(block, lang))
        if isinstance(block, TitleBlock):
            out.append(_toc_html(doc))
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _toc_html(doc: Document) -> str:
    parts, open_sub = ['<nav class="toc" aria-label="toc"><strong>' + say("report.contents", doc.lang)
                       + "</strong><ol>"], False
    for level, anchor, text in doc.toc:
        if level == 3 and not open_sub:
            parts.append("<ol>")
            open_sub = True
        elif level == 2 and open_sub:
            parts.append("</ol>")
            open_sub = False
        parts.append(f'<li><a href="#{anchor}">{inline_html(text)}</a></li>')
    parts.append(("</ol>" if open_sub else "") + "</ol></nav>")
    return "".join(parts)


def _prov(origin: str, lang: str) -> str:
    """Nothing in the body: where each table, figure and answer comes from is listed in the appendix."""
    return ""


def _block_html(b, lang: str) -> str:
    if isinstance(b, TitleBlock):
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in b.fields)
        return f'<table class="who">{rows}</table>'
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
        return (f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
                + _prov(b.origin, lang))
    if isinstance(b, Code):
        anchor = f' id="{b.anchor}"' if b.anchor else ""
        title = f'<p class="small"{anchor}>{inline_html(b.title)}</p>' if b.title else ""
        return f"{title}<pre><code>{html.escape(b.text, quote=False)}</code></pre>"
    if isinstance(b, Fig):
        data = base64.b64encode(b.figure.png).decode("ascii")
        size = _png_size(b.figure.png)
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        half = ' class="half"' if b.figure.key.endswith(("_accuracy", "_loss")) else ""  # curves go in pairs
        return (f'<figure{half}><img src="data:image/png;base64,{data}" alt="{html.escape(b.figure.alt)}"{dims}>'
                f"<figcaption>{inline_html(b.caption)}</figcaption>{_prov(b.figure.origin, lang)}</figure>")
    if isinstance(b, QA):
        label = say("report.todo_label", lang, label=b.label) if b.todo else f"Q{b.label}"
        quote = say("report.quoted_original", lang, quote=inline_html(b.original)) if b.original else ""
        orig = f'<p class="orig">{quote}</p>' if b.original else ""
        paras = "".join(f"<p>{inline_html(p)}</p>" for p in b.answer.paragraphs if p)
        return (f'<div class="qa"><p class="q"><span class="n">{html.escape(label)}</span>'
                f"{inline_html(b.quote)}</p>{orig}<div class=\"a\">{paras}</div>"
                f"{_prov(', '.join(b.answer.sources), lang)}</div>")
    raise TypeError(f"unknown block {type(b).__name__}")


# --- Markdown -----------------------------------------------------------------------------------------------


def inline_md(text: str) -> str:
    """Text for Markdown: no raw HTML (``<`` ``>`` ``&`` escaped), no link but to ``#anchors``, one line."""
    parts = _CODE.split(text.replace("\n", " ").replace("\r", " "))
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append("`" + part + "`")
            continue
        part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\x00", "")
        links = _LINK.findall(part)
        pieces = _LINK.split(part)  # text, label, anchor, text, ...
        safe = [pieces[k].replace("[", "\\[").replace("](", "]\\(") for k in range(0, len(pieces), 3)]
        out.append(safe[0] + "".join(f"[{lbl}]({a}){safe[j + 1]}" for j, (lbl, a) in enumerate(links)))
    return "".join(out)


def _cell(text: str) -> str:
    return inline_md(text).replace("|", "\\|")


def to_markdown(doc: Document, figures_dir: str = FIGURES_DIR) -> str:
    """The document as Markdown; figures are ``<figures_dir>/<key>.png`` beside it."""
    lang = doc.lang
    out = [f"# {inline_md(doc.title)}", ""]
    for b in doc.blocks:
        out += _block_md(b, lang, figures_dir)
        if isinstance(b, TitleBlock):
            out.append(f"**{say('report.contents', lang)}**")
            out.append("")
            out += [("  " if level == 3 else "") + f"- [{inline_md(t)}](#{a})" for level, a, t in doc.toc]
            out.append("")
    return "\n".join(out) + "\n"


def _block_md(b, lang: str, figures_dir: str = FIGURES_DIR) -> list[str]:
    if isinstance(b, TitleBlock):
        return [f"| {_cell(k)} | {_cell(v) or ' '} |" if i else f"| {_cell(k)} | {_cell(v) or ' '} |\n|---|---|"
                for i, (k, v) in enumerate(b.fields)] + [""]
    if isinstance(b, Heading):
        anchor = f'<a id="{b.anchor}"></a>' if b.anchor else ""
        return [f"{'#' * b.level} {anchor}{inline_md(b.text)}", ""]
    if isinstance(b, Para):
        text = inline_md(b.text)
        if b.kind in ("warn", "missing"):
            text = "> " + text
        elif b.kind == "small":
            text = f"*{text}*" if "*" not in text else text
        return [text, ""]
    if isinstance(b, Bullets):
        return [f"- {inline_md(i)}" for i in b.items] + [""]
    if isinstance(b, Table):
        lines = [f"*{inline_md(b.caption)}*", ""] if b.caption else []
        lines.append("| " + " | ".join(_cell(h) for h in b.header) + " |")
        lines.append("|" + "|".join(" ---: " if i in b.numeric else " --- " for i in range(len(b.header))) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in b.rows]
        return lines + [""]
    if isinstance(b, Code):
        fence = "````" if "```" in b.text else "```"
        return ([inline_md(b.title), ""] if b.title else []) + [f"{fence}python", b.text.rstrip("\n"), fence, ""]
    if isinstance(b, Fig):
        alt = inline_md(b.figure.alt).replace("]", "\\]")
        return [f"![{alt}]({figures_dir}/{figure_file(b.figure.key)})", "", f"*{inline_md(b.caption)}*", ""]
    if isinstance(b, QA):
        label = say("report.todo_label", lang, label=b.label) if b.todo else f"Q{b.label}"
        lines = [f"**{label}.** {inline_md(b.quote)}", ""]
        if b.original:
            lines += ["> " + say("report.quoted_original", lang, quote=inline_md(b.original)), ""]
        for p in b.answer.paragraphs:
            if p:
                lines += [inline_md(p), ""]
        return lines
    raise TypeError(f"unknown block {type(b).__name__}")
