"""Backlog notation -> Markdown: headings, lists, tables, macros, links and code, as Backlog renders them.

Backlog notation is rendered to HTML the way Backlog renders it, then `markdownify` writes the
Markdown, so escaping, nesting and tables come from one well-kept library. Code blocks are
pulled out before any other rule and put back verbatim.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from backlog_mcp.render.backlog_inline import CLOSE as _CLOSE
from backlog_mcp.render.backlog_inline import OPEN as _OPEN
from backlog_mcp.render.backlog_inline import LinkContext, inline_html

log = logging.getLogger(__name__)

_CODE_OPEN = re.compile(r"\{code(?::([\w+#.-]{1,40}))?\}")
_HEADING = re.compile(r"^(\*{1,6})\s*(.*)$")
_LIST = re.compile(r"^([-+]+)\s+(.*)$")
_CHECK = re.compile(r"^\[([ xX])\]\s*(.*)$")
_TABLE = re.compile(r"^\|(.*)\|(h?)\s*$")
_MACRO = re.compile(r"^#(image|thumbnail|attach|rev|cacoo)\((.*)\)\s*$")
# Code is held out of the HTML step as private-use placeholders (stripped from input first) and
# written back after markdownify, so not one character of it is reflowed or escaped.
INLINE_CODE = _OPEN + "C{}" + _CLOSE  # inline code
_IN_CELL = _OPEN + "T{}" + _CLOSE  # inline code inside a table cell: its bars need escaping
_BLOCK = _OPEN + "B{}" + _CLOSE  # a code block, alone on its line
PLACEHOLDER_RE = re.compile(f"{_OPEN}([CTB])(\\d+){_CLOSE}")
_BLOCK_LINE = re.compile(f"^(.*?){_OPEN}B(\\d+){_CLOSE}[ \\t]*$", re.M)
MAX_DEPTH = 8  # deeper quote/list nesting is kept as text: nothing real needs more
HTML_TAG = re.compile(
    r"</?(?:br|p|div|span|b|strong|i|em|u|s|del|strike|code|pre|a|img|ul|ol|li|table|thead|tbody|tr|td|th|"
    r"details|summary|blockquote|h[1-6]|sub|sup|font|hr)\b[^<>]*>",  # [^<>]: linear on "<b <b <b …"
    re.I,
)
FENCE = re.compile(r"^(?: {0,3}> ?)* {0,3}(`{3,}|~{3,})")  # quoted fences count too
AUTOLINK = re.compile(r"<(?:https?|mailto):[^<>\s]+>")
TICKS = re.compile(r"`+")


@lru_cache(maxsize=1)
def _converter() -> Any:
    """One markdownify converter, built on first use: markdownify and BeautifulSoup cost ~130 ms to import."""
    from markdownify import MarkdownConverter

    class Converter(MarkdownConverter):
        def convert_summary(self, el: Any, text: str, parent_tags: Any) -> str:
            return f"\n\n**{text.strip()}**\n\n"

    return Converter(
        heading_style="ATX",
        bullets="-",
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
        table_infer_header=True,
        newline_style="backslash",
    )


def html_to_markdown(fragment: str) -> str:
    text: str = _converter().convert(fragment)
    # A hard break's backslash costs a token per line and tells a model nothing a newline doesn't.
    text = re.sub(r"\\\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- Backlog notation ---------------------------------------------------------------------------


def backlog_to_markdown(text: str, links: LinkContext | None = None) -> str:
    """Convert Backlog notation to Markdown."""
    text = text.translate({0: None, 1: None, 2: None, 0xE000: None, 0xE001: None})  # our placeholders' marks
    if not text.strip():
        return ""
    links = links or LinkContext()
    codes: list[tuple[str, str]] = []  # (language, body)

    def stash(lang: str, body: str) -> str:
        if "\n" not in body and not lang:
            codes.append(("", body))
            return INLINE_CODE.format(len(codes) - 1)
        codes.append((lang, body.removeprefix("\n").rstrip("\n")))
        return "\n" + _BLOCK.format(len(codes) - 1) + "\n"

    source = _hold_code(text.replace("\r\n", "\n").replace("\r", "\n"), stash)
    return restore_code(html_to_markdown(_blocks(source.split("\n"), links)), codes)


def _hold_code(text: str, stash: Callable[[str, str], str]) -> str:
    """`{code}…{/code}` blocks replaced by `stash(lang, body)`, in one pass.

    A scan, not a lazy regex: with no `{/code}` after an opening, none can close a later one either,
    so thousands of unclosed `{code}` cost one pass instead of one pass each.
    """
    out: list[str] = []
    position = 0
    while (opening := _CODE_OPEN.search(text, position)) is not None:
        close = text.find("{/code}", opening.end())
        if close < 0:
            break
        out += [text[position : opening.start()], stash(opening[1] or "", text[opening.end() : close])]
        position = close + len("{/code}")
    out.append(text[position:])
    return "".join(out)


def code_span(body: str, in_cell: bool = False) -> str:
    longest = max((len(run) for run in TICKS.findall(body)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    if in_cell:
        body = body.replace("|", "\\|")
    return f"{ticks}{pad}{body}{pad}{ticks}"


def restore_code(markdown: str, codes: list[tuple[str, str]]) -> str:
    def block(match: re.Match[str]) -> str:
        prefix, (lang, body) = match[1], codes[int(match[2])]
        fence = "`" * max(3, 1 + max((len(run) for run in TICKS.findall(body)), default=0))
        lines = [f"{fence}{lang}", *body.split("\n"), fence]
        # A block inside a quote or list item keeps that prefix on every line.
        lead = prefix if prefix.strip() else ""
        first = prefix
        return "\n".join((first if n == 0 else lead) + ln for n, ln in enumerate(lines))

    markdown = _BLOCK_LINE.sub(block, markdown)

    def inline(match: re.Match[str]) -> str:
        kind, (_lang, body) = match[1], codes[int(match[2])]
        return code_span(body, in_cell=kind == "T")

    return PLACEHOLDER_RE.sub(inline, markdown)


def _blocks(lines: list[str], links: LinkContext, depth: int = 0) -> str:
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            lines_html = (_literal(inline_html(line, links), n == 0) for n, line in enumerate(paragraph))
            out.append("<p>" + "<br>".join(lines_html) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        if stripped.startswith(_OPEN + "B") and PLACEHOLDER_RE.fullmatch(stripped):
            flush()
            out.append(f"<p>{stripped}</p>")
            i += 1
            continue
        if stripped == "{quote}":
            flush()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "{/quote}"), len(lines))
            out.append("<blockquote>" + _blocks(lines[i + 1 : end], links, depth + 1) + "</blockquote>")
            i = end + 1
            continue
        if stripped.startswith(">") and depth < MAX_DEPTH:
            flush()
            j = i
            quoted = []
            while j < len(lines) and lines[j].strip().startswith(">"):
                quoted.append(lines[j].strip()[1:].lstrip())
                j += 1
            out.append("<blockquote>" + _blocks(quoted, links, depth + 1) + "</blockquote>")
            i = j
            continue
        heading = _HEADING.match(stripped)
        if heading and heading[2].strip():  # a line starting with stars is a heading, never a bullet
            flush()
            level = len(heading[1])
            out.append(f"<h{level}>{inline_html(heading[2], links)}</h{level}>")
            i += 1
            continue
        if _LIST.match(stripped) or _TABLE.match(stripped):  # a run of list items or table rows
            flush()
            pattern, render = (_LIST, _list) if _LIST.match(stripped) else (_TABLE, _table)
            run = _run_of(pattern, lines, i)
            out.append(render(run, links))
            i += len(run)
            continue
        macro = _MACRO.match(stripped)
        if macro:
            flush()
            out.append(_macro(macro[1], macro[2], links))
            i += 1
            continue
        if stripped == "#contents":
            flush()
            i += 1
            continue
        paragraph.append(stripped)
        i += 1
    flush()
    return "".join(out)


# What starts a Markdown block but is plain text in Backlog notation (its headings are `*`, lists `-`/`+`);
# a line of dashes stays a rule, as the writer sends one.
# A `- `, `+ ` or `* ` left in a paragraph was escaped in Backlog (its lists were taken out before).
_MARKDOWN_START = re.compile(r"^(#|\d{1,9}(?=[.)](?:\s|$))|=+$|_{3,}$|[-+*](?=\s))")
_UNDERLINE = re.compile(r"^-+\s*$")  # under a paragraph line, dashes would make it a heading


def _literal(line: str, first: bool = True) -> str:
    """A paragraph line whose start would read as a Markdown heading, list item or rule, escaped to stay text
    (`first`: the paragraph's first line, where dashes are a rule, as the writer sends one)."""
    if not first and _UNDERLINE.match(line):
        return "\\" + line
    return _MARKDOWN_START.sub(lambda m: m[0] + "\\" if m[0][0].isdigit() else "\\" + m[0], line, count=1)


def _run_of(pattern: re.Pattern[str], lines: list[str], start: int) -> list[str]:
    """The stripped lines from `start` on that match `pattern`."""
    run = []
    for line in lines[start:]:
        if not pattern.match(line.strip()):
            break
        run.append(line.strip())
    return run


def _list(items: list[str], links: LinkContext) -> str:
    """Nested lists from `-`/`+` depth markers (one marker character per level)."""
    html_parts: list[str] = []
    stack: list[str] = []  # open list tags
    for item in items:
        match = _LIST.match(item)
        assert match is not None
        markers, text = match[1], match[2]
        depth = min(len(markers), MAX_DEPTH)
        tag = "ol" if markers[-1] == "+" else "ul"
        while len(stack) > depth:
            html_parts.append(f"</li></{stack.pop()}>")
        if len(stack) == depth and stack and stack[-1] != tag:
            html_parts.append(f"</li></{stack.pop()}>")
        if len(stack) == depth:
            html_parts.append("</li>")
        while len(stack) < depth:
            stack.append(tag)
            html_parts.append(f"<{tag}>")
        check = _CHECK.match(text)
        if check:
            text = f"[{'x' if check[1].lower() == 'x' else ' '}] {check[2]}"
            html_parts.append("<li>" + html.escape(text[:4]) + inline_html(text[4:], links))
        else:
            html_parts.append("<li>" + inline_html(text, links))
    while stack:
        html_parts.append(f"</li></{stack.pop()}>")
    return "".join(html_parts)


def _split_cells(row: str) -> list[str]:
    cells, current, escaped = [], "", False
    for ch in row:
        if escaped:
            current += "|" if ch == "|" else "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            cells.append(current)
            current = ""
        else:
            current += ch
    cells.append(current + ("\\" if escaped else ""))
    return cells


def _table(rows: list[str], links: LinkContext) -> str:
    parsed = []
    for row in rows:
        match = _TABLE.match(row)
        assert match is not None
        parsed.append((_split_cells(match[1]), bool(match[2])))
    width = max(len(cells) for cells, _ in parsed)
    out = ["<table>"]
    if not parsed[0][1]:
        out.append("<tr>" + "<th></th>" * width + "</tr>")  # GFM needs a header row
    for cells, header in parsed:
        cells = cells + [""] * (width - len(cells))
        tag = "th" if header else "td"
        rendered = []
        for cell in cells:
            content = cell.strip()
            if content.startswith("~"):
                rendered.append(f"<{tag}><b>{_cell(content[1:], links)}</b></{tag}>")
            else:
                rendered.append(f"<{tag}>{_cell(content, links)}</{tag}>")
        out.append("<tr>" + "".join(rendered) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cell(text: str, links: LinkContext) -> str:
    # A literal bar must stay escaped in the GFM cell, inside code too.
    converted = inline_html(text, links).replace("|", "\\|")
    return converted.replace(_OPEN + "C", _OPEN + "T")


def _attachment(ref: str, links: LinkContext, label: str = "") -> str:
    """Attachments are referenced by name; the issue lists them with their sizes."""
    name = links.file_name(ref)
    prefix = f"{html.escape(label)} " if label and label != name else ""
    return f"<p>{prefix}[attachment: {html.escape(name)}]</p>"


def _macro(kind: str, arg: str, links: LinkContext) -> str:
    arg = arg.strip()
    if kind in ("image", "thumbnail"):
        if arg.startswith(("http://", "https://")):
            return f'<p><img src="{html.escape(arg)}" alt="image"></p>'
        return _attachment(arg, links)
    if kind == "attach":
        label, _, ref = arg.rpartition(":")
        return _attachment(ref or arg, links, label)
    if kind == "rev":
        return f"<p>revision {html.escape(arg)}</p>"
    return f"<p>Cacoo diagram {html.escape(arg.split(',')[0])}</p>"
