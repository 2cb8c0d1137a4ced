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

_SPECIAL = re.compile(r"(''|%%|\[\[|\]\]|&br;|&color\(|\{code|\{/code\}|\{quote\}|\{/quote\})")


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
                lang = (token.info or "").strip().split(" ")[0]
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
                out += [token.content.rstrip("\n"), ""]
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
        for child in token.children or []:
            kind = child.type
            begins, line_start = line_start, kind in ("softbreak", "hardbreak")
            if kind == "text":
                text = _escape(child.content)
                out.append(_LINE_START.sub(r"\\\1", text, count=1) if begins else text)
            elif kind == "code_inline":
                out.append("{code}" + _code(child.content) + "{/code}")
            elif kind in ("strong_open", "strong_close"):
                out.append("''")
            elif kind in ("em_open", "em_close"):
                out.append("'''")
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
                # A bare URL: Backlog links it by itself.
                if label in (href, ""):
                    out.append(href)
                elif ">" in label or "[[" in label or "{" in label:
                    out.append(f"{label} ({href})")  # `>` would end the label early: the URL follows instead
                else:
                    out.append(f"[[{label}>{href}]]")
            elif kind == "image":
                out.append(f"#image({child.attrs.get('src', '')})")
            elif kind in ("html_inline",):
                out.append(child.content)
        return "".join(out)


def _closing(tokens: list[Any], start: int) -> int:
    """The index of the token that closes the one at `start` (same nesting level)."""
    depth = 0
    for j in range(start, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


_STRONG_SIGNS = re.compile(r"\{code[:}]|\{quote\}|&br;|&color\(|^\|.*\|h\s*$|^#contents|\[\[[^\]\n>]+>https?://", re.M)
_WEAK_SIGNS = (
    re.compile(r"''[^'\n]+''"),
    re.compile(r"%%[^%\n]+%%"),
    re.compile(r"\[\[[^\]\n]+\]\]"),
    re.compile(r"^\*{1,4} \S", re.M),
)
_MARKDOWN_CODE = re.compile(r"```.*?(```|\Z)|`[^`\n]*`", re.S)


def looks_like_backlog(text: str) -> bool:
    """Whether text is already Backlog notation, so a write passes it through as is.

    Code (fenced or inline, Markdown style) is ignored first: a shell `[[ -f x ]]` or SQL `'%%x%%'`
    says nothing. Then one strong sign (`{code}`, `{quote}`, `&br;`, a `|…|h` row…) or two kinds
    of weak ones (`''bold''`, `%%strike%%`, `[[link]]`, `* heading`) decide.
    """
    prose = _MARKDOWN_CODE.sub(" ", text)
    if _STRONG_SIGNS.search(prose):
        return True
    return sum(1 for sign in _WEAK_SIGNS if sign.search(prose)) >= 2


def for_project(markdown: str, rule: str) -> str:
    """What to send for a text field: Markdown as written, converted for `backlog` projects."""
    if rule != "backlog" or not markdown.strip() or looks_like_backlog(markdown):
        return markdown
    return to_backlog(markdown)
