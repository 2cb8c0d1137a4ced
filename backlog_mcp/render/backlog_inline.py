"""Backlog notation's inline pass, one line to HTML: escapes, links, emphasis, strike-through and colour.

Spans are found by a linear scan (`spans`), never a lazy regex, so hostile runs of marks cost one
pass. Code is held out as private-use placeholders (`OPEN`…`CLOSE`) by the block pass before this.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")
OPEN, CLOSE = "\ue000", "\ue001"


@dataclass(frozen=True)
class LinkContext:
    """What `#image(11)`-style attachment references resolve against (hashable, for caching)."""

    attachments: tuple[tuple[str, str], ...] = ()  # (attachment id, file name)

    def file_name(self, ref: str) -> str:
        return next((name for key, name in self.attachments if key == ref), ref)


def spans(text: str, start: str, end: str, render: Callable[[str], str | None]) -> str:
    """Each non-empty `start…end` span replaced by `render(inner)` (left as it is when `render` gives None).

    Linear, unlike a lazy regex: one left-to-right scan; the closing found for one opening serves
    every opening before it, and once `end` no longer occurs no later span can close.
    """
    out: list[str] = []
    position, close = 0, -1
    while (opening := text.find(start, position)) >= 0:
        if close < opening + len(start) + 1:
            close = text.find(end, opening + len(start) + 1)
            if close < 0:
                break
        rendered = render(text[opening + len(start) : close])
        if rendered is None:
            out.append(text[position : opening + len(start)])
            position = opening + len(start)
            continue
        out += [text[position:opening], rendered]
        position = close + len(end)
    out.append(text[position:])
    return "".join(out)


_COLOR_ARGS = re.compile(r"[^)]*\)\s*")


def _color(inner: str) -> str | None:
    """`&color(red){text}` keeps the text: `inner` is what follows `&color(`, up to the `}`."""
    args, brace, rest = inner.partition("{")
    return rest.strip() if brace and _COLOR_ARGS.fullmatch(args) else None


# Inline notation as (start, end, render); spans, not lazy regexes, so "''" * 50,000 costs one pass.
_INLINE_RULES: list[tuple[str, str, Callable[[str], str | None]]] = [
    ("'''", "'''", lambda inner: f"<em>{inner}</em>"),
    ("''", "''", lambda inner: f"<strong>{inner}</strong>"),
    ("%%", "%%", lambda inner: f"<del>{inner}</del>"),
    ("&amp;color(", "}", _color),
]


def inline_html(text: str, links: LinkContext) -> str:
    """Inline notation on one line of text; returns HTML."""
    # Escapes first: `\%\%` and friends are literal characters.
    escapes: list[str] = []

    def keep_escaped(match: re.Match[str]) -> str:
        escapes.append(match[1])
        return f"\x01{len(escapes) - 1}\x01"

    text = re.sub(r"\\([%'|\[\]{}&*\-+#~\\])", keep_escaped, text)
    held_links: list[str] = []

    def hold_link(inner: str) -> str:
        held_links.append(_link(inner, links))
        return f"\x02{len(held_links) - 1}\x02"

    out = []
    for part in re.split(f"({OPEN}C\\d+{CLOSE})", text):
        if part.startswith(OPEN):
            out.append(part)
            continue
        escaped = html.escape(spans(part, "[[", "]]", hold_link), quote=False)
        for start, end, render in _INLINE_RULES:
            escaped = spans(escaped, start, end, render)
        out.append(escaped.replace("&amp;br;", "<br>"))
    result = re.sub("\x02(\\d+)\x02", lambda m: held_links[int(m[1])], "".join(out))
    return re.sub("\x01(\\d+)\x01", lambda m: html.escape(escapes[int(m[1])]), result)


def _link(inner: str, links: LinkContext) -> str:
    label, url = "", inner
    if ">" in inner:
        label, _, url = inner.partition(">")
    else:
        match = re.match(r"^(.*?):(https?://.*)$", inner)
        if match:
            label, url = match[1], match[2]
    url = url.strip()
    if url.startswith(("http://", "https://")):
        text = html.escape(label or url)
        return f'<a href="{html.escape(url)}">{text}</a>' if label else html.escape(url)
    if ISSUE_KEY.match(inner):
        return html.escape(inner)
    # A wiki page by name (the web URL needs a login, so it would only cost tokens).
    return f"{html.escape(inner.strip())} (wiki page)"
