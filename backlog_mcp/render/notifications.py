"""Notifications as one line each: when, who, why, and what they point at."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from backlog_mcp.render.text import View, approx_tokens, fit, fmt_time, item, split_lines, user_name

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
        return f"{item(issue.get('issueKey'))} {item(issue.get('summary', ''))}"
    pull = notification.get("pullRequest")
    if pull:
        return f"pull request #{item(pull.get('number'))} {item(pull.get('summary', ''))}"
    document = notification.get("document")
    if document:
        return item(document.get("title", "a document"))
    return item((notification.get("project") or {}).get("projectKey", "?"))


_MARKUP = re.compile(r"^[#*\-+|>\s]+|[|\s]+$")  # heading, list, table or quote marks around a first line


def _first_line(comment: JSON | None) -> str:
    lines = (_MARKUP.sub("", line) for line in split_lines(str((comment or {}).get("content") or "")))
    text = next((line for line in lines if line), "")
    if not text:
        return ""
    cut = text[:FIRST_LINE] + ("…" if len(text) > FIRST_LINE else "")
    return f': "{item(cut)}"'


def notification_line(notification: JSON, view: View) -> str:
    why = REASONS.get(int(notification.get("reason") or 9), "notified you about")
    who = user_name(notification.get("sender"))
    when = fmt_time(notification.get("created"), view)
    comment = notification.get("comment") or notification.get("pullRequestComment")
    return f"- {when} · **{who}** {why} {_target(notification)}{_first_line(comment)}"


def render_notifications(
    notifications: Sequence[JSON],
    *,
    unread_total: int | None,
    view: View,
    older_call: str | None,
    budget: int = 10_000,
) -> str:
    """Unread first, then read, each newest first; the unread count; the call for older ones."""
    unread = [n for n in notifications if not n.get("alreadyRead")]
    read = [n for n in notifications if n.get("alreadyRead")]
    total = f"{unread_total} unread in all" if unread_total is not None else f"{len(unread)} unread here"
    head = f"Notifications, newest first ({total}; times {view.tz_name})."
    if not notifications:
        return head.replace(",", ":", 1).replace("newest first ", "") + " None in this range."
    room = budget - approx_tokens(head) - 60
    sections: list[str] = [head]
    shown = 0
    for title, group in (("Unread", unread), ("Read", read)):
        if not group or room <= 0:
            continue
        lines = fit((notification_line(n, view) for n in group), room)
        room -= lines.used
        shown += len(lines.items)
        sections += ["", f"## {title}", *lines.items]
    if shown < len(notifications):
        sections += ["", f"_{len(notifications) - shown} more in this page did not fit the budget._"]
    if older_call is not None:
        sections += ["", f"Older: {older_call}"]
    return "\n".join(sections)
