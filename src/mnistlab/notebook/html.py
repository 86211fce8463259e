"""The executed notebook as one self-contained HTML page (nbconvert): figures embedded, nothing fetched from
the network, A4 when printed."""

from __future__ import annotations

import re

# nbconvert's templates link MathJax, require.js and mermaid from CDNs; the lab needs none of them.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_EXTERNAL = re.compile(r"<link\b[^>]*href=[\"']https?://[^>]*>", re.I)
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
PRINT_CSS = """
@page { size: A4; margin: 10mm 11mm; }
/* code and outputs wrap instead of being cut at the margin or hidden behind a scroll bar */
pre, .jp-InputArea pre, .jp-OutputArea-output pre, .highlight pre {
  white-space: pre-wrap !important; word-break: break-word; overflow: visible !important;
}
.jp-OutputArea-output, .jp-InputArea-editor, .jp-Cell-inputWrapper, .jp-Cell-outputWrapper {
  overflow: visible !important; max-height: none !important;
}
@media print {
  :root { --jp-content-font-size1: 9pt; --jp-code-font-size: 7.5pt; --jp-ui-font-size1: 9pt;
          --jp-content-line-height: 1.35; --jp-code-line-height: 1.25; --jp-cell-padding: 1px;
          --jp-notebook-padding: 0px; --jp-cell-prompt-width: 0px; }
  body, .jp-Notebook, main { margin: 0 !important; padding: 0 !important; max-width: none !important; }
  .jp-InputPrompt, .jp-OutputPrompt, .jp-InputArea-prompt, .jp-OutputArea-prompt, .jp-Collapser {
    display: none !important; }
  .jp-RenderedHTMLCommon { font-size: 9pt !important; line-height: 1.3; padding-right: 0 !important; }
  .jp-RenderedHTMLCommon p, .jp-RenderedHTMLCommon ul { margin: .25em 0 !important; }
  .jp-RenderedHTMLCommon h1 { font-size: 15pt !important; margin: .4em 0 !important; }
  .jp-RenderedHTMLCommon h2 { font-size: 13pt !important; margin: .6em 0 .3em !important; }
  .jp-RenderedHTMLCommon h3 { font-size: 11pt !important; margin: .5em 0 .2em !important; }
  pre, .jp-InputArea pre, .jp-OutputArea-output pre, .jp-OutputArea-output { font-size: 7.5pt !important;
    line-height: 1.25 !important; }
  /* a Keras epoch line (about 120 characters) fits the A4 width whole at 7 pt */
  .jp-OutputArea-output pre { font-size: 7pt !important; }
  .jp-Cell { padding: 0 !important; margin: 0 0 1.5mm 0 !important; }
  .jp-InputArea-editor { padding: 1mm !important; }
  /* figures print at least at two thirds of their size: their 10 pt text stays above 7 pt */
  .jp-OutputArea-output img { break-inside: avoid; max-height: 150mm; width: auto; }
  h1, h2, h3 { break-after: avoid; }
}
img { max-width: 100%; height: auto; }
"""


def export(nb, title: str, lang: str = "fr") -> str:
    """``nb`` as HTML (nbconvert's lab template), without scripts or external links, with A4 print CSS that
    wraps code and outputs, in ``lang`` (``<html lang="fr">``)."""
    from nbconvert import HTMLExporter

    nb = _trimmed(nb)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _SCRIPT.sub("", body)
    body = _EXTERNAL.sub("", body)
    csp, style = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n', f"<style>{PRINT_CSS}</style>\n"
    body = re.sub(r"<html\b[^>]*>", f'<html lang="{lang}">', body, count=1)
    if "<head>" in body and "</head>" in body:  # the policy first; the print rules last, over the template's
        return body.replace("<head>", "<head>\n" + csp, 1).replace("</head>", style + "</head>", 1)
    return csp + style + body


def _trimmed(nb):
    """A copy of ``nb`` whose text outputs show what a terminal would: of a line rewritten with carriage
    returns (Keras' progress bar in a cell cut short), its last state; and none of the spaces Keras pads its
    progress lines with (up to the terminal's width), which printed wrap onto blank lines."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and isinstance(o.get("text"), str):
                o["text"] = "\n".join(_last_state(line).rstrip() for line in o["text"].split("\n"))
    return nb


def _last_state(line: str) -> str:
    """What a terminal shows of ``line``: the text after its last carriage return that is not empty."""
    states = [s for s in line.replace("\b", "").split("\r") if s.strip()]
    return states[-1] if states else ""
