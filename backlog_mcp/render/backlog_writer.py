"""Markdown → Backlog notation, for writes to projects whose formatting rule is `backlog`.

The reverse of `notation.backlog_to_markdown`: headings, bold, italics, strike, lists (nested,
numbered, checklists), code blocks and inline code, quotes, tables, links and images. The
Markdown is parsed by markdown-it (CommonMark, with GFM tables and strikethrough) rather than
with patterns, so emphasis, nesting and code are read the way every Markdown renderer reads them;
code comes through byte for byte.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

_SPECIAL = re.compile(
    r"(''|%%|\[\[|\]\]|&br;|&color\(|\{code|\{/code\}|\{quote\}|\{/quote\}"
    r"|(?i:#(?:image|thumbnail|attach|rev|cacoo)[ \t]*\(|&size[ \t]*\())"  # macros: `\#image(` is text
)
_LANG = re.compile(r"[A-Za-z0-9_+.#-]{1,40}")  # what `{code:…}` may name; anything else gives plain {code}
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_QUOTE_MARKS = ("''", "'''")  # bold and italic in notation
_BREAK = re.compile(r"<br\s*/?>", re.I)


def _src(url: str) -> str:
    """A URL as notation carries it: a parenthesis, space or bracket would end a macro or a link early."""
    return url.translate({ord("("): "%28", ord(")"): "%29", ord(" "): "%20", ord("["): "%5B", ord("]"): "%5D"})


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt  # first use only: start-up stays light

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def to_backlog(markdown: str) -> str:
    """Backlog notation with the same meaning as `markdown`."""
    tokens = _parser().parse(markdown.replace("\r\n", "\n"))
    lines = _Writer().blocks(tokens)
    return "\n".join(lines).strip("\n")


class NotationError(ValueError):
    """Markdown that Backlog notation cannot carry (code containing `{/code}`)."""


_LINE_START = re.compile(r"^([*\-+>|#])", re.M)


def _escape(text: str) -> str:
    """Text that would read as Backlog markup keeps its letters: a backslash before each marker
    (before both characters of a doubled one, before the first of a word like `&br;`)."""

    def one(match: re.Match[str]) -> str:
        marker = match.group()
        if marker in ("''", "%%", "[[", "]]"):
            return "".join("\\" + c for c in marker)
        return "\\" + marker

    return _SPECIAL.sub(one, text)


def _code(body: str) -> str:
    if "{/code}" in body:
        raise NotationError(
            "This code contains {/code}, which Backlog notation cannot hold inside a code block; "
            "write it differently (e.g. with a space: { /code})."
        )
    return body


class _Writer:
    def __init__(self) -> None:
        self.lists: list[str] = []  # "-" or "+" per open list, outermost first

    def blocks(self, tokens: list[Any]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind == "heading_open":
                level = int(token.tag[1:])
                out += [f"{'*' * min(level, 4)} {self.inline(tokens[i + 1])}", ""]
                i += 3
                continue
            if kind == "paragraph_open":
                text = self.inline(tokens[i + 1])
                if self.lists:
                    out.append(text)
                else:
                    out += [text, ""]
                i += 3
                continue
            if kind in ("fence", "code_block"):
                words = (token.info or "").split()
                lang = words[0] if words and _LANG.fullmatch(words[0]) else ""
                body = _code(token.content[:-1] if token.content.endswith("\n") else token.content)
                out += [f"{{code:{lang}}}" if lang else "{code}", body, "{/code}"]
                if not self.lists:
                    out.append("")
                i += 1
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                self.lists.append("-" if kind == "bullet_list_open" else "+")
                i += 1
                continue
            if kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
                if not self.lists:
                    out.append("")
                i += 1
                continue
            if kind == "list_item_open":
                end = _closing(tokens, i)
                inner = self.blocks(tokens[i + 1 : end])
                marker = self.lists[-1] * len(self.lists)
                first, *rest = inner or [""]
                out.append(f"{marker} {first}")
                out += rest
                i = end + 1
                continue
            if kind == "blockquote_open":
                end = _closing(tokens, i)
                saved, self.lists = self.lists, []
                inner = self.blocks(tokens[i + 1 : end])
                self.lists = saved
                while inner and not inner[-1]:
                    inner.pop()
                out += ["{quote}", *inner, "{/quote}", ""]
                i = end + 1
                continue
            if kind == "table_open":
                end = _closing(tokens, i)
                out += [*self.table(tokens[i + 1 : end]), ""]
                i = end + 1
                continue
            if kind == "hr":
                out += ["----", ""]
                i += 1
                continue
            if kind == "html_block":
                # Raw HTML means nothing in Backlog notation: comments go, anything else is shown as code.
                html = _HTML_COMMENT.sub("", token.content).strip("\n")
                if html.strip():
                    out += ["{code:html}", _code(html), "{/code}"]
                    if not self.lists:
                        out.append("")
                i += 1
                continue
            i += 1
        return out

    def table(self, tokens: list[Any]) -> list[str]:
        rows: list[str] = []
        cells: list[str] = []
        header = False
        for j, token in enumerate(tokens):
            if token.type == "thead_open":
                header = True
            elif token.type == "tbody_open":
                header = False
            elif token.type == "tr_open":
                cells = []
            elif token.type == "inline" and j > 0 and tokens[j - 1].type in ("th_open", "td_open"):
                cells.append(self.inline(token).replace("|", "\\|"))
            elif token.type in ("th_open", "td_open") and tokens[j + 1].type in ("th_close", "td_close"):
                cells.append("")
            elif token.type == "tr_close":
                rows.append("|" + "|".join(cells) + "|" + ("h" if header else ""))
        return rows

    def inline(self, token: Any) -> str:
        out: list[str] = []
        link: list[str] = []  # the href of each open link; its label is collected in `out`
        starts: list[int] = []
        line_start = True  # the next text begins a line: a marker there would start a block
        # Adjacent text and inline HTML are escaped as one run: `#im<b></b>age(` must not become a macro.
        run: list[str] = []
        run_begins = False

        def flush() -> None:
            if run:
                text = _escape("".join(run))
                text = _LINE_START.sub(r"\\\1", text, count=1) if run_begins else text
                if text.startswith("'") and out and out[-1] in _QUOTE_MARKS:
                    text = "\\" + text  # `**b**'s`: a quote after a mark would lengthen it
                out.append(text)
                run.clear()

        def mark(marker: str) -> None:
            last = out[-1] if out else ""
            if last.endswith("'") and not last.endswith("\\'") and last not in _QUOTE_MARKS:
                out[-1] = last[:-1] + "\\'"  # `it'**b**`: a quote before a mark would lengthen it
            out.append(marker)

        for child in token.children or []:
            kind = child.type
            if kind == "html_inline" and _HTML_COMMENT.fullmatch(child.content):
                continue  # a comment is hidden in Markdown: it stays hidden (and joins what is around it)
            begins, line_start = line_start, kind in ("softbreak", "hardbreak")
            literal_html = kind == "html_inline" and not _BREAK.fullmatch(child.content)
            if kind in ("text", "text_special") or literal_html:
                # Notation renders no HTML: a tag written in text (`<span>`) is text, and kept.
                run_begins = run_begins if run else begins
                # A tag spanning lines keeps to one: a line inside it must not start a table or list.
                run.append(child.content.replace("\n", " ") if literal_html else child.content)
                continue
            flush()
            if kind == "code_inline":
                out.append("{code}" + _code(child.content) + "{/code}")
            elif kind in ("strong_open", "strong_close"):
                mark("''")
            elif kind in ("em_open", "em_close"):
                mark("'''")
            elif kind in ("s_open", "s_close"):
                out.append("%%")
            elif kind in ("softbreak", "hardbreak"):
                out.append("\n")
            elif kind == "link_open":
                link.append(str(child.attrs.get("href", "")))
                starts.append(len(out))
            elif kind == "link_close" and link:
                href, start = link.pop(), starts.pop()
                label = "".join(out[start:])
                del out[start:]
                safe = _src(href)  # no `#image(` or `]]` of the URL's can act in notation
                # A bare URL: Backlog links it by itself.
                if label in (href, _escape(href), ""):
                    out.append(safe)
                elif ">" in label or "[[" in label or "{" in label:
                    out.append(f"{label} ({safe})")  # `>` would end the label early: the URL follows instead
                else:
                    out.append(f"[[{label}>{safe}]]")
            elif kind == "image":
                out.append(f"#image({_src(str(child.attrs.get('src', '')))})")
            elif kind == "html_inline":  # <br>
                out.append("&br;")
        flush()
        return "".join(out)


def _closing(tokens: list[Any], start: int) -> int:
    """The index of the token that closes the one at `start` (same nesting level)."""
    depth = 0
    for j in range(start, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


_CODE_OPEN = re.compile(r"\{code(?::[A-Za-z0-9_+.#-]{1,40})?\}")
_STRONG_SIGNS = (
    re.compile(r"^\|.*\|h[ \t]*$", re.M),  # a header row
    re.compile(r"\[\[[^\]\n>]+>https?://[^\]\s]+\]\]"),  # [[label>url]]
)
_WEAK_SIGNS = (
    re.compile(r"''[^'\n]+''"),
    re.compile(r"%%[^%\n]+%%"),
    re.compile(r"\[\[[^\]\n]+\]\]"),
    re.compile(r"^\*{1,4} \S", re.M),
    re.compile(r"&br;"),
    re.compile(r"&color\([^)\n]*\)[ \t]*\{"),
    re.compile(r"^#contents[ \t]*$", re.M),
)
# What only Markdown writes: ATX headings, fences, **bold**, ~~strike~~, [x](url), 1. lists.
_MARKDOWN_ONLY = re.compile(
    r"^ {0,3}#{1,6}[ \t]|^ {0,3}(?:```|~~~)|\*\*[^*\s][^*\n]*\*\*|~~[^~\n]+~~|\]\([^)\s]*\)|^ {0,3}\d{1,9}[.)][ \t]",
    re.M,
)
_MARKDOWN_CODE = re.compile(r"```.*?(```|\Z)|`[^`\n]*`", re.S)


def _without_backlog_code(text: str) -> tuple[str, bool]:
    """Text with each closed `{code}…{/code}` blanked (one pass: find, not a lazy regex), and whether any was."""
    out, pos = [], 0
    while (opening := _CODE_OPEN.search(text, pos)) is not None:
        close = text.find("{/code}", opening.end())
        if close < 0:
            break
        out += [text[pos : opening.start()], " "]
        pos = close + len("{/code}")
    return "".join(out) + text[pos:], pos > 0


def looks_like_backlog(text: str) -> bool:
    """Whether text is already Backlog notation, so a write passes it through as is.

    Code is ignored first (Backlog `{code}` blocks, then Markdown code: a shell `[[ -f x ]]` says
    nothing). Nothing Markdown-only (`# heading`, a fence, `**bold**`, `[x](url)`…) may be left; then
    one strong sign (a closed `{code}…{/code}` or `{quote}…{/quote}`, a `|…|h` row, `[[label>url]]`)
    with one more sign of any kind, or three kinds of weak ones (`''bold''`, `%%strike%%`, `[[link]]`,
    `* heading`, `&br;`, `&color(…){`, `#contents`) decide. A lone `&br;` is not enough.
    """
    rest, had_code = _without_backlog_code(text)
    if _MARKDOWN_ONLY.search(rest):
        return False
    prose = _MARKDOWN_CODE.sub(" ", rest)
    quote = prose.find("{quote}")
    strong = had_code + (quote >= 0 and "{/quote}" in prose[quote:])
    strong += sum(1 for sign in _STRONG_SIGNS if sign.search(prose))
    weak = sum(1 for sign in _WEAK_SIGNS if sign.search(prose))
    return (strong >= 1 and strong + weak >= 2) or weak >= 3


def for_project(markdown: str, rule: str) -> str:
    """What to send for a text field: Markdown as written, converted for `backlog` projects."""
    if rule != "backlog" or not markdown.strip() or looks_like_backlog(markdown):
        return markdown
    return to_backlog(markdown)
