"""HTML inside a student's Markdown cell, read as the Markdown it stands for: a ``<details>`` block's
``<summary>`` is a bold line (the question) and its body the text under it (the answer); ``<h1>``..``<h6>`` are
headings, ``<br>`` a line break, ``<b>``/``<strong>`` bold; other formatting tags are dropped, their text kept."""

from __future__ import annotations

import re

_SUMMARY = re.compile(r"(?is)<summary[^>]*>(.*?)</summary>")
_HEADING = re.compile(r"(?is)<h([1-6])[^>]*>(.*?)</h\1>")
_BREAK = re.compile(r"(?i)<br\s*/?>")
_BLOCK = re.compile(r"(?i)</?(?:details|p|div)\b[^>]*>")
_BOLD = re.compile(r"(?i)</?(?:b|strong)\s*>")
# the formatting tags students write in Markdown; any other tag (a script, an image) is kept as written, for the
# pages to show escaped
_TAG = re.compile(r"(?i)</?(?:details|summary|h[1-6]|p|div|span|br|b|strong|i|em|u|font|center|sup|sub|ul|ol|li"
                  r"|hr|blockquote)\b[^<>]*>")


def _inline(text: str) -> str:
    return " ".join(_TAG.sub("", _BOLD.sub("", text)).split())


def markdown(text: str) -> str:
    """``text`` with its HTML tags replaced by the Markdown they stand for; text without a tag unchanged."""
    if "<" not in text or not _TAG.search(text):
        return text
    text = _SUMMARY.sub(lambda m: f"\n\n**{_inline(m.group(1))}**\n\n", text)
    text = _HEADING.sub(lambda m: f"\n\n{'#' * int(m.group(1))} {_inline(m.group(2))}\n\n", text)
    text = _BLOCK.sub("\n\n", _BREAK.sub("\n", text))
    text = _BOLD.sub("**", text)
    text = _TAG.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).replace("&nbsp;", " ").strip("\n")
