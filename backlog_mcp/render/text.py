"""Markdown primitives shared by the renderers: dates, sizes, escaping, token estimates, the budget fitter.

Text written by Backlog users reaches Markdown through exactly one function per context:
`quote` (a block of their Markdown, every line behind `>`), `cell` (a table cell) and `inline`
(a heading's title: one line, Markdown punctuation and the renderers' separators escaped), and
`item` (a value anywhere else on one of our lines, where values are joined by `, ` or `; ` too).
Error messages quote values through `matching.shown`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import quote as percent_encoded
from zoneinfo import ZoneInfo

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class View:
    """How to show times: the caller's timezone, the space's (for date-only fields) and today."""

    tz: ZoneInfo
    today: date
    base_url: str
    space_tz: ZoneInfo = UTC_ZONE

    @property
    def tz_name(self) -> str:
        return str(self.tz)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def fmt_time(value: str | None, view: View) -> str:
    """An instant (`created`, `updated`) in the caller's timezone, to the minute."""
    if not value:
        return "-"
    try:
        return parse_ts(value).astimezone(view.tz).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return inline(value)  # not a timestamp after all: show it as Backlog sent it


def to_date(value: str | None, view: View) -> date | None:
    """A calendar date (`startDate`, `dueDate`) serialised as a timestamp, or `yyyy-MM-dd`.

    Raises:
        ValueError: the value is neither.
    """
    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value)
    if value.endswith("T00:00:00Z"):
        return date.fromisoformat(value[:10])
    # Some spaces send local midnight expressed in UTC (…T15:00:00Z for a date in Tokyo).
    return parse_ts(value).astimezone(view.space_tz).date()


def fmt_date(value: str | None, view: View) -> str:
    try:
        day = to_date(value, view)
    except ValueError:
        return inline(value)
    return day.isoformat() if day else "-"


def overdue_days(due: str | None, closed: bool, view: View) -> int:
    try:
        day = to_date(due, view)
    except ValueError:
        return 0
    if day is None or closed:
        return 0
    return max(0, (view.today - day).days)


def fmt_due(due: str | None, closed: bool, view: View) -> str:
    late = overdue_days(due, closed, view)
    text = fmt_date(due, view)
    if late:
        text += f" (overdue {late} d)"
    return text


def fmt_size(size: int | None) -> str:
    if size is None:
        return "?"
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size_f = size / 1024
        if size_f < 1024 or unit == "GB":
            return f"{size_f:.1f} {unit}" if size_f < 10 else f"{size_f:.0f} {unit}"
        size = int(size_f)
    return f"{size} B"  # pragma: no cover


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


# Every line terminator CommonMark or Unicode knows: a bare CR or U+2028 must not end our quote.
LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Markdown punctuation that could start emphasis, code, links, HTML or a cell, and our separators.
# (`#`, `>`, `-`, `+` and `1.` open a block only at a line's start: `_LEADING` handles a value there.)
# `&` only where it starts an entity (&middot; or &rarr; would be a separator). `_` only at a word's
# edge: inside a word (MY_APP-1, alice_m) CommonMark never reads it as emphasis, and keys and logins
# stay copyable.
_SPECIAL = re.compile(r"([\\`*\[\]<|~·→]|&(?=#?[0-9A-Za-z]+;)|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
# In a list of values joined by ", " or "; ", the separators of the list as well.
_LIST_SPECIAL = re.compile(r"([,;])")
# What would open a block at a value's start (at a line's start, or after `- `: `- # x` is a heading).
_LEADING = re.compile(r"^(|\d{1,9})(>|(?<!\d)(?:#(?=#{0,5}(?:\s|$))|[+\-](?=\s|$))|(?<=\d)[.)](?=\s|$))")


# C0 and C1 controls (tab and line feed aside) and the bidirectional controls: a terminal escape or
# an RLO in a file would act on whoever reads it, or reorder what they see. Shown as `\x1b`, `\u202e`.
_INVISIBLE = {
    c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
    for c in (
        *range(0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
    if c not in (0x09, 0x0A)
}


def visible_controls(text: str) -> str:
    """Control and bidi characters as visible escapes; CRLF line ends stay line ends."""
    return text.replace("\r\n", "\n").translate(_INVISIBLE)


def url_part(value: object) -> str:
    """One path segment of a URL shown in an answer: percent-encoded, `_` and `~` too (a name's `_x_` would
    otherwise read as emphasis in the Markdown around it)."""
    return percent_encoded(str(value), safe="").replace("_", "%5F").replace("~", "%7E")


def split_lines(text: str) -> list[str]:
    return LINE_BREAKS.split(text)


def quote(markdown: str) -> str:
    """Fence text written by Backlog users as a blockquote, so it cannot pose as tool output.

    The space after `>` is optional in CommonMark and costs a token a line; it is kept only before a
    line that starts with white space, where it is taken as the marker's own (the indent stays).
    """
    return "\n".join(f"> {line}" if line[:1].isspace() else f">{line}" for line in split_lines(markdown))


def inline(text: object) -> str:
    """A user-written value for a one-line head or a table cell.

    One line (every kind of line break and space run becomes one space), with Markdown punctuation
    and the renderers' separators (` · `, `→`, `|`) backslash-escaped, so the value can neither
    start a line, open emphasis or a link, nor pass for a separator of ours. A value may begin a line
    or a list item's text, so a block mark at its start (`#`, `>`, `-`, `+`, `1.`) is escaped too.
    """
    return _LEADING.sub(r"\1\\\2", mid(text))


def mid(text: object) -> str:
    """`inline` for a value that can only sit inside a line (a heading's title after `# KEY `, a table
    cell): there a block mark at its start is text, and shown without a backslash."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def marked(text: str, words: Sequence[str], width: int = 160) -> str:
    """A snippet of user text around the first match of the first of `words` it contains (in order of
    preference, case-insensitively), the match in bold: one line, escaped as `inline`, so our `**` marks
    are the only emphasis; `…` where it is cut."""
    flat = " ".join(text.split())
    found = (re.search(re.escape(w.strip()), flat, re.IGNORECASE) for w in words if w.strip())
    hit = next((m for m in found if m), None)
    # Bold only from a letter or digit to a letter or digit: `**` beside punctuation may not open or
    # close emphasis in CommonMark, and could then pair with another `**` further along the line.
    start, end = (hit.start(), hit.end()) if hit else (0, 0)
    while start < end and not flat[start].isalnum():
        start += 1
    while end > start and not flat[end - 1].isalnum():
        end -= 1
    if start == end:
        return inline(flat[:width]) + ("…" if len(flat) > width else "")
    lo = max(0, start - width // 3) if len(flat) > width else 0
    hi = min(len(flat), max(end, lo + width))
    if lo:  # from a word's start
        space = flat.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(flat):  # to a word's end
        space = flat.rfind(" ", end, hi)
        hi = space if space >= 0 else hi
    before = _SPECIAL.sub(r"\\\1", flat[lo:start])
    before = "…" + before if lo else _LEADING.sub(r"\1\\\2", before)
    word = _SPECIAL.sub(r"\\\1", flat[start:end])
    after = _SPECIAL.sub(r"\\\1", flat[end:hi]) + ("…" if hi < len(flat) else "")
    return f"{before}**{word}**{after}"


def item(text: object) -> str:
    """A user-written value in a list joined by `, ` or `; `: `inline`, with commas and semicolons escaped."""
    return _LIST_SPECIAL.sub(r"\\\1", inline(text))


def cell(text: object | None) -> str:
    """A table cell: the same escaping as a heading's title (nothing opens a block inside a cell)."""
    return mid(text if text is not None else "")


def plural(count: int, word: str) -> str:
    """`1 page`, `2 pages`."""
    return f"{count} {word if count == 1 else word + 's'}"


def approx_tokens(text: str) -> int:
    """A conservative token estimate: about 1 token per 3 UTF-8 bytes (CJK ~1 per char)."""
    return math.ceil(len(text.encode("utf-8")) / 3)


def user_name(user: dict[str, object] | None, *, listed: bool = False) -> str:
    """A person's name, escaped as a value on our line (`listed`: in a list joined by `, `)."""
    if not user:
        return "-"
    name = user.get("name") or user.get("userId") or user.get("id")
    return item(name) if listed else inline(name)


_FENCE_LINE = re.compile(r"^[ >]*(`{3,}|~{3,})")


class Fences:
    """Tracks whether a line-by-line walk through Markdown is inside a fenced code block."""

    def __init__(self) -> None:
        self.open = ""  # the open fence's marker, "" outside code
        self.closer = ""  # the line that would close it, quote prefix included

    def feed(self, line: str) -> None:
        match = _FENCE_LINE.match(line)
        if not match:
            return
        marker = match[1]
        if not self.open:
            self.open, self.closer = marker, line[: match.start(1)] + marker
        elif marker[0] == self.open[0] and len(marker) >= len(self.open) and not line[match.end(1) :].strip():
            self.open = self.closer = ""  # only a bare marker closes (```js inside a fence is text)


def clip(markdown: str, budget: int) -> tuple[str, int]:
    """The start of `markdown` within `budget` tokens, with any open fence closed.

    For the one item too big to show whole: whole lines while they fit, then as much of the
    next line as fits (marked with …). Returns (text, number of lines not shown in full).
    """
    lines = markdown.split("\n")
    kept: list[str] = []
    used = 0
    fences = Fences()
    for line in lines:
        cost = approx_tokens(line) + 1
        if used + cost > budget:
            room = (budget - used) * 3  # bytes, by the same estimate as approx_tokens
            if room > 40:
                kept.append(line.encode()[:room].decode(errors="ignore") + " …")
                fences.feed(kept[-1])  # a fence it opens is closed below too
            break
        kept.append(line)
        used += cost
        fences.feed(line)
    cut = len(lines) - sum(1 for line in kept if not line.endswith(" …"))
    if cut and fences.open:
        kept.append(fences.closer)
    return "\n".join(kept), cut


@dataclass(frozen=True)
class Fitted:
    """What `fit` kept: whole items, except that a first item too big alone is clipped."""

    items: list[str]
    used: int  # estimated tokens
    clipped_lines: int = 0  # lines of the first item not shown in full
    dropped: bool = False  # items after the kept ones were left out


def fit(items: Iterable[str], budget: int, *, overhead: int = 1) -> Fitted:
    """The leading `items` whose estimated tokens (plus `overhead` each) fit `budget`.

    The one budgeted fitter for lists, tables, comment threads and text blocks: whole items or
    none, but never nothing, so a first item bigger than the whole budget is clipped to it.
    """
    kept: list[str] = []
    used = 0
    for item in items:
        cost = approx_tokens(item) + overhead
        if used + cost > budget:
            if kept:
                return Fitted(kept, used, dropped=True)
            clipped, cut = clip(item, budget)
            return Fitted([clipped], budget, clipped_lines=cut, dropped=True)
        kept.append(item)
        used += cost
    return Fitted(kept, used)


def fit_blocks(markdown: str, budget: int) -> tuple[str, bool]:
    """Keep whole blocks (never splitting a fence, list or table) within `budget`; say if any was cut."""
    blocks: list[str] = []
    current: list[str] = []
    fences = Fences()
    for line in markdown.split("\n"):
        fences.feed(line)
        if not line.strip() and not fences.open and current:
            blocks.append("\n".join(current))
            current = []
        elif line.strip() or fences.open:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    fitted = fit(blocks, budget)
    return "\n\n".join(fitted.items), fitted.dropped


def fenced(text: str, lang: str = "") -> str:
    """A code block around `text` whose fence no line of it can close (longer than any backtick run)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def quoted_page(head: list[str], body: str, *, what: str, url: str, budget: int) -> str:
    """Head lines, then a user-written body quoted and cut by whole blocks to the budget (saying so)."""
    if not body:
        return "\n".join([*head, "", f"_Empty {what}._"])
    fitted, cut = fit_blocks(body, budget - approx_tokens("\n".join(head)) - 60)
    out = "\n".join([*head, "", quote(fitted)])
    if cut:
        out += (
            f"\n\n_{what.capitalize()} shortened (about {approx_tokens(body)} tokens in all); "
            f"the whole {what} is at {url}._"
        )
    return out
