"""Confirmations of writes: what changed, where to see it; never the whole text echoed back."""

from __future__ import annotations

from typing import Any

from backlog_mcp.render.text import View, fmt_time, item, user_name

JSON = dict[str, Any]


def render_comment_added(comment: JSON, issue_key: str, view: View) -> str:
    when = fmt_time(comment.get("created"), view)
    return (
        f"Comment {comment.get('id')} added to {issue_key} by {user_name(comment.get('createdUser'))} "
        f"at {when} ({view.tz_name}).\n{view.base_url}/view/{issue_key}#comment-{comment.get('id')}"
    )


def render_description_set(issue: JSON, before: str, view: View) -> str:
    key = str(issue.get("issueKey"))
    after = str(issue.get("description") or "")
    change = "cleared" if not after else f"replaced ({len(before)} → {len(after)} characters)"
    return f"Description of {key} ({item(issue.get('summary', ''))}) {change}.\n{view.base_url}/view/{key}"
