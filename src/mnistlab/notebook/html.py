"""The executed notebook as one self-contained HTML page (nbconvert): figures embedded, nothing fetched from
the network, A4 when printed."""

from __future__ import annotations

import re

# nbconvert's templates link MathJax, require.js and mermaid from CDNs; the lab needs none of them.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_EXTERNAL = re.compile(r"<link\b[^>]*href=[\"']https?://[^>]*>", re.I)
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { font-size: 10pt; }
  .jp-Cell, .jp-OutputArea-output, img { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  .jp-OutputArea-output pre { white-space: pre-wrap; word-break: break-word; }
}
img { max-width: 100%; height: auto; }
"""


def export(nb, title: str) -> str:
    """``nb`` as HTML (nbconvert's lab template), without scripts or external links, with A4 print CSS."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _SCRIPT.sub("", body)
    body = _EXTERNAL.sub("", body)
    head = (f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>{PRINT_CSS}</style>\n')
    return body.replace("<head>", "<head>\n" + head, 1) if "<head>" in body else head + body
