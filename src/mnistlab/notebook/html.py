"""The executed notebook as one self-contained HTML page (nbconvert): figures embedded, nothing fetched from
the network, A4 when printed."""

from __future__ import annotations

import re

# nbconvert's templates link MathJax, require.js and mermaid from CDNs; the lab needs none of them.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_EXTERNAL = re.compile(r"<link\b[^>]*href=[\"']https?://[^>]*>", re.I)
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm; }
/* code and outputs wrap instead of being cut at the margin or hidden behind a scroll bar */
pre, .jp-InputArea pre, .jp-OutputArea-output pre, .highlight pre {
  white-space: pre-wrap !important; word-break: break-word; overflow: visible !important;
}
.jp-OutputArea-output, .jp-InputArea-editor, .jp-Cell-inputWrapper, .jp-Cell-outputWrapper {
  overflow: visible !important; max-height: none !important;
}
@media print {
  body { font-size: 9.5pt; }
  pre, .jp-InputArea pre, .jp-OutputArea-output pre { font-size: 7.5pt; line-height: 1.25; }
  .jp-InputPrompt, .jp-OutputPrompt { display: none; }
  .jp-Cell { padding: 0; margin: 0 0 2mm 0; }
  .jp-OutputArea-output img { break-inside: avoid; max-height: 120mm; width: auto; }
  h1, h2, h3 { break-after: avoid; }
}
img { max-width: 100%; height: auto; }
"""


def export(nb, title: str, lang: str = "fr") -> str:
    """``nb`` as HTML (nbconvert's lab template), without scripts or external links, with A4 print CSS that
    wraps code and outputs, in ``lang`` (``<html lang="fr">``)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _SCRIPT.sub("", body)
    body = _EXTERNAL.sub("", body)
    head = (f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>{PRINT_CSS}</style>\n')
    body = re.sub(r"<html\b[^>]*>", f'<html lang="{lang}">', body, count=1)
    return body.replace("<head>", "<head>\n" + head, 1) if "<head>" in body else head + body
