"""Confirmations of writes: what changed, where to see it; never the whole text echoed back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backlog_mcp.render.text import View, fmt_time, inline, item, plural, quote, user_name

JSON = dict[str, Any]


def render_comment_added(comment: JSON, issue_key: str, view: View) -> str:
    """The saved comment as Backlog returned it: id, author, time, whom it notified, where."""
    when = fmt_time(comment.get("created"), view)
    people = [n.get("user") for n in comment.get("notifications") or [] if isinstance(n, dict)]
    told = ", ".join(user_name(p, listed=True) for p in people if isinstance(p, dict))
    return (
        f"Comment {comment.get('id')} added to {issue_key} by {user_name(comment.get('createdUser'))} "
        f"at {when} ({view.tz_name}){f'; notified {told}' if told else ''}."
        f"\n{view.base_url}/view/{issue_key}#comment-{comment.get('id')}"
    )


def render_description_set(issue: JSON, before: str, view: View) -> str:
    key = str(issue.get("issueKey"))
    after = str(issue.get("description") or "")
    change = "cleared" if not after else f"replaced ({len(before)} → {plural(len(after), 'character')})"
    return f"Description of {key} ({inline(issue.get('summary', ''))}) {change}.\n{view.base_url}/view/{key}"


Row = tuple[str, str, str]  # field, old value, new value (plain text; a list's names joined by `listed`)
LIST = "\x1f"  # before each name of a list value in a row: each name is escaped as a list item


def listed(names: Iterable[object]) -> str:
    """Names as one row value that still knows where each name ends (a name's own comma is not a separator)."""
    return "".join(LIST + str(name).replace(LIST, " ") for name in names)


def _value(text: str) -> str:
    if not text:
        return "(none)"
    if text.startswith(LIST):  # a list, of one name or more
        return ", ".join(item(name) for name in text[1:].split(LIST))
    return inline(text)


def render_change(
    *,
    head: str,
    rows: list[Row],
    dry_run: bool,
    url: str | None = None,
    texts: Sequence[tuple[str, str]] = (),
    missed: Sequence[str] = (),
) -> str:
    """A write's answer: what changes, field by field `old → new`; a dry run also shows the text it would send.

    `missed`: fields Backlog saved with another value than asked (their rows show what it saved).
    """
    lines = [("Dry run, nothing was sent. " if dry_run else "") + head]
    for name, old, new in rows:
        label = inline(name)  # a custom field's name is user text
        lines.append(f"- {label}: {_value(old)} → {_value(new)}" if old != "" else f"- {label}: {_value(new)}")
    if missed:
        fields = ", ".join(item(m) for m in missed)
        lines.append(f"**Backlog did not save {fields} as asked**: the values above are what it saved.")
    for label, text in texts if dry_run else ():
        lines += ["", f"{label} as it would be sent:", quote(text) if text else "> (empty)"]
    if url:
        lines += ["", url]
    return "\n".join(lines)
