"""Notifications as one line each: when, who, why, and what they point at."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backlog_mcp.render.issue import change_line
from backlog_mcp.render.notation import first_line
from backlog_mcp.render.text import View, approx_tokens, fit, fmt_time, inline, user_name

JSON = dict[str, Any]
REASONS = {
    1: "assigned you",
    2: "commented on",
    3: "added",
    4: "updated",
    5: "added a file to",
    6: "added you to the project",
    9: "notified you about",
    10: "assigned you the pull request",
    11: "commented on the pull request",
    12: "added the pull request",
    13: "updated the pull request",
    14: "commented on the document",
    15: "replied in the document",
    17: "mentioned you in the document",
}
FIRST_LINE = 100  # characters of a comment shown in the line


def _target(notification: JSON) -> str:
    issue = notification.get("issue")
    if issue:
        return f"{inline(issue.get('issueKey'))} {inline(issue.get('summary', ''))}"
    pull = notification.get("pullRequest")
    if pull:
        return f"pull request #{inline(pull.get('number'))} {inline(pull.get('summary', ''))}"
    document = notification.get("document")
    if document:
        return inline(document.get("title", "a document"))
    return inline((notification.get("project") or {}).get("projectKey", "?"))


def _first_line(comment: JSON | None, rule: str) -> str:
    """The comment's first line, notation converted as everywhere, escaped for our line."""
    text = first_line(str((comment or {}).get("content") or ""), rule, FIRST_LINE)
    return f': "{inline(text)}"' if text else ""


def notification_line(notification: JSON, view: View) -> str:
    why = REASONS.get(int(notification.get("reason") or 9), "notified you about")
    who = user_name(notification.get("sender"))
    when = fmt_time(notification.get("created"), view)
    comment = notification.get("comment") or notification.get("pullRequestComment")
    rule = str((notification.get("project") or {}).get("textFormattingRule") or "markdown")
    said = _first_line(comment, rule)
    # What the comment changed, as get_activity and get_issue_details show it (a change-only comment has no text).
    changed = "".join(f" · {change_line(entry, view)}" for entry in (comment or {}).get("changeLog") or [])
    # The id first: after a summary, a summary's own "(id 1)" could pass for it.
    return f"- id {inline(notification.get('id'))} · {when} · **{who}** {why} {_target(notification)}{said}{changed}"


def render_notifications(
    notifications: Sequence[JSON],
    *,
    unread_total: int | None,
    view: View,
    older_call: Callable[[int], str],
    lowest_sent: int | None,
    budget: int = 10_000,
) -> str:
    """Unread first, then read, each newest first; the unread count; the exact call for older ones.

    The budget keeps the newest that fit (so the older call starts right below the oldest shown);
    `lowest_sent` is the oldest id of Backlog's page when it was full (None: nothing older).
    """
    newest_first = sorted(notifications, key=lambda n: -int(n["id"]))
    unread_count = sum(1 for n in newest_first if not n.get("alreadyRead"))
    total = f"{unread_total} unread in all" if unread_total is not None else f"{unread_count} unread here"
    head = f"Notifications, newest first ({total}; times {view.tz_name})."
    kept = fit((notification_line(n, view) for n in newest_first), budget - approx_tokens(head) - 60)
    shown = newest_first[: len(kept.items)]
    lines = dict(zip((int(n["id"]) for n in shown), kept.items, strict=True))
    sections: list[str] = [head]
    for title, unread in (("Unread", True), ("Read", False)):
        group = [lines[int(n["id"])] for n in shown if bool(not n.get("alreadyRead")) == unread]
        if group:
            sections += ["", f"## {title}", *group]
    if not shown:
        sections += ["", "None in this range."]
    oldest = min((int(n["id"]) for n in shown), default=None)
    if kept.dropped and oldest is not None:
        sections += ["", f"Older: {older_call(oldest)}"]
    elif lowest_sent is not None:
        sections += ["", f"Older: {older_call(lowest_sent)}"]
    return "\n".join(sections)
