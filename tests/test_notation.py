"""Backlog notation -> Markdown: a corpus of cases, each pinned."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot

from backlog_mcp.render.notation import LinkContext, backlog_to_markdown, to_markdown

LINKS = LinkContext((("11", "nulab.png"), ("12", "spec.pdf")))

CASES = [
    (
        "heading levels",
        "* H1\n** H2\n*** H3\n**** H4",
        snapshot("""\
# H1

## H2

### H3

#### H4\
"""),
    ),
    ("heading without space", "*見出し", snapshot("# 見出し")),
    (
        "bullets nested",
        "- a\n-- b\n--- c\n- d",
        snapshot("""\
- a
  - b
    - c
- d\
"""),
    ),
    (
        "numbered nested",
        "+ one\n++ one.one\n++ one.two\n+ two",
        snapshot("""\
1. one
   1. one.one
   2. one.two
2. two\
"""),
    ),
    (
        "mixed list kinds",
        "- item\n++ numbered child\n- next",
        snapshot("""\
- item
  1. numbered child
- next\
"""),
    ),
    (
        "checklist",
        "- [ ] todo\n- [x] done\n- [X] also done",
        snapshot("""\
- [ ] todo
- [x] done
- [x] also done\
"""),
    ),
    ("bold", "this is ''bold'' text", snapshot("this is **bold** text")),
    ("italic", "this is '''italic''' text", snapshot("this is *italic* text")),
    ("bold and italic together", "''b'' and '''i''' and ''b2''", snapshot("**b** and *i* and **b2**")),
    ("strike", "%%gone%% stays", snapshot("~~gone~~ stays")),
    ("link label >", "[[Nulab>https://nulab.com]]", snapshot("[Nulab](https://nulab.com)")),
    ("link label :", "[[Nulab:https://nulab.com/ja/]]", snapshot("[Nulab](https://nulab.com/ja/)")),
    ("bracket url", "[[https://example.com/a?b=1]]", snapshot("https://example.com/a?b=1")),
    ("bare url", "see https://example.com/x for details", snapshot("see https://example.com/x for details")),
    ("issue key bracket", "blocked by [[ORBIT-12]]", snapshot("blocked by ORBIT-12")),
    ("issue key bare", "see ORBIT-12 and NOVA-3", snapshot("see ORBIT-12 and NOVA-3")),
    (
        "wiki link",
        "[[Release checklist]]",
        snapshot("Release checklist (wiki page)"),
    ),
    (
        "wiki link japanese",
        "[[リリース手順]]",
        snapshot("リリース手順 (wiki page)"),
    ),
    (
        "code block",
        "{code}\nprint('x')\n{/code}",
        snapshot("""\
```
print('x')
```\
"""),
    ),
    (
        "code block with language",
        "{code:java}\nclass A {}\n{/code}",
        snapshot("""\
```java
class A {}
```\
"""),
    ),
    (
        "notation inside code stays literal",
        "{code}\n''not bold'' %%no%% [[no>http://x]]\n* not heading\n{/code}",
        snapshot("""\
```
''not bold'' %%no%% [[no>http://x]]
* not heading
```\
"""),
    ),
    ("inline code", "run {code}make test{/code} first", snapshot("run `make test` first")),
    (
        "quote block",
        "{quote}\nquoted ''bold''\nsecond line\n{/quote}",
        snapshot("""\
> quoted **bold**
> second line\
"""),
    ),
    (
        "quote lines",
        "> first\n> second",
        snapshot("""\
> first
> second\
"""),
    ),
    (
        "table with header row",
        "|Name|Value|h\n|a|1|\n|b|2|",
        snapshot("""\
| Name | Value |
| --- | --- |
| a | 1 |
| b | 2 |\
"""),
    ),
    (
        "table without header",
        "|a|1|\n|b|2|",
        snapshot("""\
|  |  |
| --- | --- |
| a | 1 |
| b | 2 |\
"""),
    ),
    (
        "table header cells",
        "|~Row|x|\n|~Row2|y|",
        snapshot("""\
|  |  |
| --- | --- |
| **Row** | x |
| **Row2** | y |\
"""),
    ),
    (
        "table inline markup",
        "|Item|Note|h\n|''bold''|%%old%% new|\n|[[L>https://x.y]]|ORBIT-1|",
        snapshot("""\
| Item | Note |
| --- | --- |
| **bold** | ~~old~~ new |
| [L](https://x.y) | ORBIT-1 |\
"""),
    ),
    (
        "table escaped bar",
        "|a \\| b|c|",
        snapshot("""\
|  |  |
| --- | --- |
| a \\| b | c |\
"""),
    ),
    (
        "line break entity",
        "one&br;two",
        snapshot("""\
one
two\
"""),
    ),
    ("color", "&color(red) { 重要 } and &color(#ffffff, #abd500){x}", snapshot("重要 and x")),
    ("image url", "#image(https://example.com/a.png)", snapshot("![image](https://example.com/a.png)")),
    ("image attachment name", "#image(nulab.png)", snapshot("[attachment: nulab.png]")),
    ("image attachment id", "#image(11)", snapshot("[attachment: nulab.png]")),
    ("thumbnail", "#thumbnail(11)", snapshot("[attachment: nulab.png]")),
    ("attach with label", "#attach(Spec:12)", snapshot("Spec [attachment: spec.pdf]")),
    ("revision", "#rev(ORBIT/app:abcdef0)", snapshot("revision ORBIT/app:abcdef0")),
    ("contents macro dropped", "#contents\n* Title", snapshot("# Title")),
    ("escapes", "\\%\\%not struck\\%\\% and \\'\\'not bold\\'\\'", snapshot("%%not struck%% and ''not bold''")),
    (
        "japanese paragraph",
        "これはテストです。\n二行目です。",
        snapshot("""\
これはテストです。
二行目です。\
"""),
    ),
    ("html special chars", "a < b && c > d <script>x</script>", snapshot("a < b && c > d <script>x</script>")),
    (
        "paragraphs",
        "first para\n\nsecond para",
        snapshot("""\
first para

second para\
"""),
    ),
    (
        "list then paragraph",
        "- a\n- b\n\ntext after",
        snapshot("""\
- a
- b

text after\
"""),
    ),
    ("asterisks and underscores literal", "snake_case and 2*3*4", snapshot("snake_case and 2*3*4")),
    ("heading with inline markup", "** ''重要'' な見出し", snapshot("## **重要** な見出し")),
    (
        "nested list japanese",
        "- 親\n-- 子\n--- 孫",
        snapshot("""\
- 親
  - 子
    - 孫\
"""),
    ),
    (
        "code keeps backslashes and blank lines",
        "{code:shell}\nls \\\n  -la\n\n\n\nx\n{/code}",
        snapshot("""\
```shell
ls \\
  -la



x
```\
"""),
    ),
    ("inline code holding backticks", "{code}a``b{/code}", snapshot("```a``b```")),
    ("inline code keeps spaces", "run {code}  a  b  {/code} now", snapshot("run `  a  b  ` now")),
    (
        "inline code with a bar in a cell",
        "|{code}x|y{/code}|z|",
        snapshot("""\
|  |  |
| --- | --- |
| `x\\|y` | z |\
"""),
    ),
    (
        "code inside a quote",
        "{quote}\n{code}\nq1\n{/code}\n{/quote}",
        snapshot("""\
> ```
> q1
> ```\
"""),
    ),
    ("placeholder characters in input are inert", "a \ue000C0\ue001 b \x00CODE0\x00", snapshot("a C0 b CODE0")),
    ("absurd nesting stays text", ">" * 12 + " deep", snapshot("> > > > > > > > >>>> deep")),
    (
        "Markdown marks are text in Backlog notation",
        "# not a heading\n1. not a list\n12) nor this\ntext\n===\n1.5 is a number",
        "\\# not a heading\n1\\. not a list\n12\\) nor this\ntext\n\\===\n1.5 is a number",
    ),
    (
        "an escaped list mark and dashes under a line stay text",
        "\\- not a list\ntext\n---\n\\+ nor this",
        "\\- not a list\ntext\n\\---\n\\+ nor this",
    ),
    (
        "crlf newlines",
        "line1\r\nline2\r\n\r\n- x",
        snapshot("""\
line1
line2

- x\
"""),
    ),
]


@pytest.mark.parametrize(("name", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_backlog_notation(name: str, source: str, expected: str) -> None:
    assert backlog_to_markdown(source, LINKS) == expected


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40


MD_CASES = [
    (
        "plain markdown untouched",
        "## Title\n- a\n- **b**\n\n| x | y |\n|---|---|\n| 1 | 2 |",
        snapshot("""\
## Title
- a
- **b**

| x | y |
|---|---|
| 1 | 2 |\
"""),
    ),
    (
        "br normalised",
        "one<br>two",
        snapshot("""\
one
two\
"""),
    ),
    (
        "details",
        "<details><summary>Log</summary>502</details>",
        snapshot("""\
**Log**

502\
"""),
    ),
    (
        "autolink kept beside html",
        "see <https://x.example>.<br>next",
        snapshot("""\
see <https://x.example>.
next\
"""),
    ),
    (
        "html in code fence untouched",
        "```html\n<br><b>x</b>\n```",
        snapshot("""\
```html
<br><b>x</b>
```\
"""),
    ),
    ("inline code with tag untouched", "use `<br>` for breaks", snapshot("use `<br>` for breaks")),
    (
        "indented code untouched",
        "para\n\n    <div>keep</div>",
        snapshot("""\
para

    <div>keep</div>\
"""),
    ),
    ("code span beside html", "`<br>` tag and <b>bold</b>", snapshot("`<br>` tag and **bold**")),
    (
        "longer fence holds a shorter one",
        "````\n```\n<b>in code</b>\n```\n````\n<b>after</b>",
        snapshot("""\
````
```
<b>in code</b>
```
````
**after**\
"""),
    ),
    (
        "autolink inside a code span",
        "Use `<https://example.com/a>` and <b>bold</b>",
        snapshot("Use `<https://example.com/a>` and **bold**"),
    ),
    (
        "quoted fence protects its html",
        "> ```html\n> <b>keep me</b>\n> ```\n\n<b>after</b>",
        snapshot("""\
> ```html
> <b>keep me</b>
> ```

**after**\
"""),
    ),
    ("br in a table row stays", "| x<br>y | z |", snapshot("| x<br>y | z |")),
    ("bold tag", "a <b>bold</b> word", snapshot("a **bold** word")),
]


@pytest.mark.parametrize(("name", "source", "expected"), MD_CASES, ids=[c[0] for c in MD_CASES])
def test_markdown_projects(name: str, source: str, expected: str) -> None:
    assert to_markdown(source, "markdown") == expected


def test_rule_dispatch() -> None:
    assert to_markdown("''b''", "backlog") == "**b**"
    assert to_markdown("''b''", "markdown") == "''b''"
    assert to_markdown(None, "backlog") == ""


def test_html_too_deep_to_convert_is_shown_as_written() -> None:
    source = "<div>" * 3000 + "x"
    assert to_markdown(source, "markdown") == source  # no RecursionError reaches the tool


def test_backtick_heavy_lines_stay_fast() -> None:
    import time

    began = time.perf_counter()
    to_markdown("x " + "`" * 30000 + " <b>y</b>", "markdown")
    to_markdown(" ".join("`" * k for k in range(1, 400)) + " <b>y</b>", "markdown")
    assert time.perf_counter() - began < 2.0  # was quadratic: seconds per line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("&color(red){alert} and &color(#fff) { spaced }", "alert and spaced"),
        ("&color(red) warning, see {the docs}", "&color(red) warning, see {the docs}"),
        ("Use &color(red) then {x}", "Use &color(red) then {x}"),
    ],
)
def test_color_keeps_text_and_only_takes_its_own_braces(text: str, expected: str) -> None:
    assert to_markdown(text, "backlog") == expected
