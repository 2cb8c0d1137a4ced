"""A text as Markdown by its project's rule: Backlog notation read (`backlog_reader`), Markdown with embedded
HTML normalised; memoised, and cut to one line for snippets.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict

from backlog_mcp.render.backlog_inline import LinkContext
from backlog_mcp.render.backlog_reader import (
    AUTOLINK,
    FENCE,
    HTML_TAG,
    INLINE_CODE,
    PLACEHOLDER_RE,
    TICKS,
    backlog_to_markdown,
    html_to_markdown,
)

__all__ = ["LinkContext", "backlog_to_markdown", "first_line", "normalise_markdown", "to_markdown"]

log = logging.getLogger(__name__)


def normalise_markdown(text: str) -> str:
    """Markdown passes through; embedded HTML outside code and tables is normalised by markdownify."""
    lines = text.translate({0xE000: None, 0xE001: None}).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    fence = ""  # the open fence's characters, e.g. "```" or "~~~~"
    previous_blank = True
    for line in lines:
        opener = FENCE.match(line)
        if fence:
            if opener and opener[1][0] == fence[0] and len(opener[1]) >= len(fence) and not line.strip(" `~>"):
                fence = ""
            out.append(line)
        elif opener:
            fence = opener[1]
            out.append(line)
        elif (
            line.startswith(("    ", "\t")) and (previous_blank or (out and out[-1].startswith(("    ", "\t"))))
        ) or line.lstrip().startswith("|"):
            out.append(line)  # indented code, or a table row (where <br> is how cells break lines)
        elif HTML_TAG.search(_without_code_spans(line)):
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + part for part in _html_line_to_markdown(line.strip()).split("\n"))
        else:
            out.append(line)
        previous_blank = not line.strip()
    return "\n".join(out).strip()


def code_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each code span: a backtick run closed by the next run of the same length.

    One pass over the runs (CommonMark's rule), so a line of many backticks stays cheap.
    """
    runs = [(m.start(), m.end() - m.start()) for m in TICKS.finditer(line)]
    next_same: dict[int, list[int]] = {}
    for index, (_start, length) in enumerate(runs):
        next_same.setdefault(length, []).append(index)
    spans: list[tuple[int, int]] = []
    cursor = dict.fromkeys(next_same, 0)
    i = 0
    while i < len(runs):
        start, length = runs[i]
        same = next_same[length]
        while cursor[length] < len(same) and same[cursor[length]] <= i:
            cursor[length] += 1
        if cursor[length] < len(same):
            j = same[cursor[length]]
            spans.append((start, runs[j][0] + length))
            i = j + 1
        else:
            i += 1
    return spans


def _without_code_spans(line: str) -> str:
    spans = code_spans(line)
    if not spans:
        return line
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(line[last:start])
        last = end
    pieces.append(line[last:])
    return "".join(pieces)


def _html_line_to_markdown(line: str) -> str:
    # Code spans must stay as written and autolinks look like tags to an HTML parser: hold both out
    # (code first, so an autolink inside code is held as part of the code).
    held: list[str] = []
    pieces, last = [], 0
    for start, end in code_spans(line):
        pieces.append(line[last:start])
        held.append(line[start:end])
        pieces.append(INLINE_CODE.format(len(held) - 1))
        last = end
    pieces.append(line[last:])

    def hold(match: re.Match[str]) -> str:
        held.append(match[0])
        return INLINE_CODE.format(len(held) - 1)

    hidden = AUTOLINK.sub(hold, "".join(pieces))
    # Only the tags we know reach the HTML parser; any other "<" is text. Python's parser is
    # quadratic on runs of unclosed "<" ("<http:a<http:a…": seconds for 100 KB).
    parts = HTML_TAG.split(hidden)
    tags = HTML_TAG.findall(hidden)
    safe = "".join(part.replace("<", "&lt;") + (tags[n] if n < len(tags) else "") for n, part in enumerate(parts))
    return PLACEHOLDER_RE.sub(lambda m: held[int(m[2])], html_to_markdown(safe))


MAX_CONVERTED = 50_000  # characters converted per text: more than any output budget can show
MEMO_CHARACTERS = 8_000_000  # converted texts kept for warm calls, counted in characters, not entries


class _Memo(OrderedDict[tuple[str, str, LinkContext], str]):
    """Least recently used conversions, bounded by the characters they hold."""

    size = 0

    def remember(self, key: tuple[str, str, LinkContext], value: str) -> None:
        self[key] = value
        self.size += len(key[0]) + len(value)
        while self.size > MEMO_CHARACTERS and self:
            (old_text, _rule, _links), old_value = self.popitem(last=False)
            self.size -= len(old_text) + len(old_value)


_MEMO = _Memo()


def to_markdown(text: str | None, rule: str, links: LinkContext | None = None) -> str:
    """Render a description or comment by its project's text formatting rule.

    Pure and deterministic, so repeated renders of the same thread (warm calls) reuse the work.
    """
    if not text:
        return ""
    key = (text, rule, links or LinkContext())
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    converted = _converted(*key)
    _MEMO.remember(key, converted)
    return converted


_BLOCK_MARKS = re.compile(r"^(?:\s+|>\s*|#{1,6}(?:\s+|$)|[*+\-]\s+)+")  # indent, quote, heading and bullet marks
_FENCE_OR_RULE = re.compile(r"^\s*(?:`{3,}|~{3,}|\|?[\s:|-]*-[\s:|-]*\|?$)")  # a fence, a table's rule row
_FLAT = (
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # [label](url) → label
    (re.compile(r"(\*\*|~~)(.+?)\1"), r"\2"),  # bold and strike marks (`__` is left: `__init__`)
    (re.compile(r"`+([^`\n]*)`+"), r"\1"),  # code marks
)


def plain_lines(text: str | None, rule: str) -> list[str]:
    """The lines of prose of a text as plain text: notation converted, block and inline marks dropped,
    fences and table rules left out, a table row's cells joined by ` / `. For snippets; the caller escapes."""
    lines = [
        _BLOCK_MARKS.sub("", line)
        for line in to_markdown(text, rule).split("\n")
        if line.strip() and not _FENCE_OR_RULE.match(line)
    ]
    out = []
    for line in (line.strip() for line in lines if line.strip(" |")):
        if line.startswith("|"):  # a table row: its cells, on one line
            line = " / ".join(cell.strip() for cell in line.strip("|").split("|"))
        for pattern, replacement in _FLAT:
            line = pattern.sub(replacement, line)
        out.append(line)
    return out


def first_line(text: str | None, rule: str, limit: int = 100) -> str:
    """A comment's first line of prose as plain text (notation converted, marks dropped), `…` if there is more.

    For one-line snippets: the caller escapes it for its context.
    """
    lines = plain_lines(text, rule)
    if not lines:
        return ""
    flat = lines[0]
    return flat[:limit] + ("…" if len(flat) > limit or len(lines) > 1 else "")


def _converted(text: str, rule: str, links: LinkContext) -> str:
    rest = ""
    if len(text) > MAX_CONVERTED:
        cut = text.rfind("\n", 0, MAX_CONVERTED)
        cut = cut if cut > 0 else MAX_CONVERTED
        rest = f"\n\n… ({len(text) - cut} more characters not shown; the whole text is in Backlog)"
        text = text[:cut]
    return _convert(text, rule, links) + rest


def _convert(text: str, rule: str, links: LinkContext) -> str:
    try:
        if rule == "backlog":
            return backlog_to_markdown(text, links)
        return normalise_markdown(text)
    except (RecursionError, ValueError, IndexError, KeyError) as exc:
        # Text we cannot convert is still the user's text: show it as written, never lose it.
        log.warning("could not convert %s text (%s); showing it as written", rule, type(exc).__name__)
        return text
