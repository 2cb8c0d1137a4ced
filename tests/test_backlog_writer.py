"""Markdown → Backlog notation keeps the meaning: a round trip back to Markdown parses the same."""

from __future__ import annotations

from typing import Any

import pytest
from markdown_it import MarkdownIt

from backlog_mcp.render.backlog_writer import NotationError, for_project, looks_like_backlog, to_backlog
from backlog_mcp.render.notation import backlog_to_markdown

PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])

CASES = (
    "# Title",
    "## Second\n\n### Third\n\n#### Fourth",
    "Plain text with a full stop.",
    "Some **bold** text",
    "Some *italic* text",
    "Some ~~struck~~ text",
    "**bold** and *italic* and ~~strike~~ together",
    "Inline `code` here",
    "Inline `a ** b` keeps its stars",
    "- one\n- two\n- three",
    "- one\n  - nested\n    - deeper\n- back",
    "1. first\n2. second\n3. third",
    "1. first\n   1. sub one\n   2. sub two\n2. second",
    "- bullets\n\n1. then numbers",
    "- [ ] todo\n- [x] done",
    "> a quote",
    "> quoted line\n> - with a list",
    "| A | B |\n|---|---|\n| 1 | 2 |",
    "| Name | Note |\n|---|---|\n| x | a \\| b |",
    "[a link](https://example.com/x?y=1)",
    "<https://example.com/auto>",
    "![diagram](https://example.com/d.png)",
    "```\nplain code\n```",
    "```python\ndef f(x):\n    return x ** 2  # ''not bold''\n```",
    "```sql\nSELECT '%%' FROM t WHERE a = '[[x]]';\n```",
    "Text with %%percent%% signs and ''quotes''",
    "Text with [[brackets]] in it",
    "First paragraph.\n\nSecond paragraph.",
    "# Release 2.4\n\n- **Fix** rotation crash\n- Update `sdk`\n\n```sh\n./deploy.sh --prod\n```\n\n> Ship on Friday",
    "日本語の **強調** と `コード`",
    "Line one\nline two",
    "---\n\nafter a rule",
)


def shape(markdown: str) -> list[Any]:
    """What a Markdown renderer sees: block and inline token types, texts and link targets."""
    out: list[Any] = []
    for token in PARSER.parse(markdown):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("softbreak", "hardbreak"):
                    out.append("break")
                elif child.type == "text" and not child.content:
                    continue
                elif child.type == "image":
                    out.append(("image", child.attrs.get("src")))  # Backlog's #image() has no alt text
                else:
                    out.append((child.type, child.content, child.attrs.get("href")))
        elif token.type in ("fence", "code_block"):
            out.append(("code", token.content))  # byte for byte
        else:
            out.append(token.type.replace("_open", "").replace("_close", "/"))
    return _merged(out)


def _merged(items: list[Any]) -> list[Any]:
    """Adjacent text runs as one (an escape may split a run without changing it); a link whose text
    is its URL as that URL's text (Backlog links bare URLs itself)."""
    merged: list[Any] = []
    for entry in items:
        if entry == ("link_close", "", None) and len(merged) >= 2 and merged[-2][0] == "link_open":
            href = merged[-2][2]
            if merged[-1] == ("text", href, None):
                merged[-2:] = [("text", href, None)]
                continue
        if (
            merged
            and isinstance(entry, tuple)
            and entry[0] == "text"
            and isinstance(merged[-1], tuple)
            and merged[-1][0] == "text"
        ):
            merged[-1] = ("text", merged[-1][1] + entry[1], None)
        else:
            merged.append(entry)
    return merged


def test_there_are_at_least_30_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("markdown", CASES)
def test_round_trip_keeps_the_meaning(markdown: str) -> None:
    notation = to_backlog(markdown)
    back = backlog_to_markdown(notation)
    assert shape(back) == shape(markdown), (notation, back)


@pytest.mark.parametrize("markdown", [c for c in CASES if "```" in c])
def test_code_blocks_come_through_byte_for_byte(markdown: str) -> None:
    body = markdown.split("```", 2)[1].split("\n", 1)[1]
    assert body.rstrip("\n") in to_backlog(markdown)


def test_text_already_in_backlog_notation_passes_through() -> None:
    notation = "* Heading\n- item\n''bold'' and {code}x{/code}"
    assert looks_like_backlog(notation)
    assert for_project(notation, "backlog") == notation
    assert for_project("**bold**", "backlog") == "''bold''"
    assert for_project("**bold**", "markdown") == "**bold**"
    assert not looks_like_backlog("Plain **markdown** with `code`")


def test_review_cases() -> None:
    with pytest.raises(NotationError, match=r"\{/code\}"):
        to_backlog("```\nx = '{/code}'\n```")
    with pytest.raises(NotationError):
        to_backlog("inline `{/code}` here")
    assert to_backlog("a &br; b") == "a \\&br; b"
    assert backlog_to_markdown(to_backlog("a &br; b")) == "a &br; b"
    assert to_backlog("[a > b](https://x.com)") == "a > b (https://x.com)"
    assert to_backlog("\\- not a list\n\\> not a quote") == "\\- not a list\n\\> not a quote"
    # Markdown code that happens to hold Backlog-like marks is still Markdown.
    assert not looks_like_backlog("# Title\n\nrun `[[ -f x ]]` and `a = ''` then `b = ''`")
    assert not looks_like_backlog("```sql\nSELECT '%%foo%%';\n```")
    assert not looks_like_backlog("''bold'' and %%gone%%")  # two weak signs are not evidence enough
    assert looks_like_backlog("''bold'' and %%gone%% and [[Home]]")
