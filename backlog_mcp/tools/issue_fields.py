"""An issue's fields as a write shows them: before the change, and as Backlog saved them.

A write's answer comes from what Backlog returned, never from the plan: `landed` reads each row's
field back from the saved issue and names the fields saved otherwise than asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backlog_mcp.client import JSONObject
from backlog_mcp.render.text import fmt_number, plural
from backlog_mcp.render.writes import LIST, Row, listed


def names_of(items: Sequence[JSONObject] | None) -> str:
    return listed(str(i.get("name")) for i in items or [])


def name_of(user: JSONObject | None) -> str:
    return str(user.get("name")) if user else ""


LISTED = frozenset({"Category", "Milestone", "Version"})
# Where each row's value sits in an issue as Backlog returns it (a list, or an object with a name).
_RETURNED = {
    "Summary": "summary", "Type": "issueType", "Status": "status", "Resolution": "resolution",
    "Priority": "priority", "Assignee": "assignee", "Category": "category", "Milestone": "milestone",
    "Version": "versions", "Start date": "startDate", "Due date": "dueDate",
    "Estimated hours": "estimatedHours", "Actual hours": "actualHours",
}  # fmt: skip


def _returned(issue: Mapping[str, Any], label: str, form: Mapping[str, Any], *, custom: bool) -> str | None:
    """A row's value in the issue Backlog returned, shown as the plan shows it; None: not a field it returns.

    `custom`: the row is a custom field's (whose name may be a built-in field's, such as "Priority").
    """
    if custom:
        field = next((f for f in issue.get("customFields") or [] if f.get("name") == label), None)
        return custom_shown(field) if field is not None else None
    if label in _RETURNED:
        value = issue.get(_RETURNED[label])
        if isinstance(value, list):
            return names_of(value)
        if isinstance(value, dict):
            return str(value.get("name") or "")
        if value is None:
            return ""
        return (
            fmt_number(value) if isinstance(value, int | float) else str(value)[:10] if "date" in label else str(value)
        )
    if label == "Description":
        return plural(len(str(issue.get("description") or "")), "character")
    if label == "Parent":
        parent = issue.get("parentIssueId")
        return "" if not parent else None if parent == form.get("parentIssueId") else f"issue id {parent}"
    return None


def landed(
    rows: list[Row], issue: Mapping[str, Any], form: Mapping[str, Any], custom: range = range(0)
) -> tuple[list[Row], list[str]]:
    """The rows as Backlog returned the issue, and each field whose value is not what was asked.

    A write's answer must say what Backlog did, not what was planned: a field it ignored shows its real value.
    `custom`: the positions of custom fields' rows.
    """
    out: list[Row] = []
    missed: list[str] = []
    for n, (label, old, asked) in enumerate(rows):
        got = _returned(issue, label, form, custom=n in custom)
        if got is None or _same(got, asked):
            out.append((label, old, asked))
            continue
        out.append((label, old, got))
        missed.append(label)
    return out, missed


def _same(got: str, asked: str) -> bool:
    """Equal as shown: numbers compared as numbers, lists as sets of names."""
    if got == asked:
        return True
    try:
        return float(got) == float(asked)
    except ValueError:
        return sorted(got.split(LIST)) == sorted(asked.split(LIST))


def current_value(issue: Mapping[str, Any], label: str) -> str:
    """A field's value before a change, shown as its row shows it (by the row's label)."""
    return _returned(issue, label, {}, custom=False) or ""


def custom_shown(entry: Mapping[str, Any] | None) -> str:
    if not entry:
        return ""
    value = entry.get("value")
    if isinstance(value, list):
        return listed(str(v.get("name")) for v in value)
    if isinstance(value, dict):
        return str(value.get("name"))
    return "" if value is None else str(value)[:10] if str(value).endswith("T00:00:00Z") else str(value)
