"""Issue lists as one compact table row per issue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backlog_mcp.render.text import View, approx_tokens, cell, fit, fmt_due, fmt_time, plural

JSON = dict[str, Any]
CLOSED_STATUS_ID = 4
MAX_SCOPE = 1_000  # characters of the header's description of the filters


def issue_row(issue: JSON, view: View, with_assignee: bool, changed: bool = False) -> str:
    closed = (issue.get("status") or {}).get("id") == CLOSED_STATUS_ID
    due = fmt_due(issue.get("dueDate"), closed, view) if issue.get("dueDate") else ""
    cells = [
        cell(issue.get("issueKey")) + (" (changed)" if changed else ""),
        cell(issue.get("summary")),
        cell((issue.get("status") or {}).get("name")),
        cell((issue.get("priority") or {}).get("name")),
    ]
    if with_assignee:
        assignee = issue.get("assignee") or {}
        cells.append(cell(assignee.get("name") or assignee.get("userId") or ""))  # escaped once, as a cell
    cells += [due, fmt_time(issue.get("updated"), view)[:10]]
    return "| " + " | ".join(cells) + " |"


def render_issue_list(
    issues: Sequence[JSON],
    *,
    total: int | None,
    offset: int,
    scope: str,
    view: View,
    next_call: Callable[[int], str],
    with_assignee: bool = True,
    budget: int = 10_000,
    changed: frozenset[int] = frozenset(),
    full_page: bool = False,
    sent: int | None = None,
) -> str:
    """`scope` says what was asked for; `next_call` is the exact call for the next page.

    `total` None: unknown (the answer then says whether more may exist, from `full_page`);
    `changed`: ids of issues marked "(changed)", e.g. watched ones changed since last read.
    `sent`: how many rows Backlog sent for this page before the allow-list filtered them (the next
    page starts after those, and row numbers are not shown: they would not be Backlog's).

    The budget covers the whole answer: the header (`scope` is cut to `MAX_SCOPE` characters) and
    the next-page call are paid for first, the rows fill what is left.
    """
    if len(scope) > MAX_SCOPE:
        scope = scope[:MAX_SCOPE] + "…"
    if not issues:
        if total and offset >= total:
            return f"No issues at offset {offset}: {scope} has {total} in all (offsets 0 to {total - 1})."
        return f"No issues: {scope}."
    columns = ["Key", "Summary", "Status", "Priority", *(["Assignee"] if with_assignee else []), "Due", "Updated"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    call_cost = approx_tokens(next_call(offset + len(issues)))
    long_call = call_cost > budget // 4  # then the answer names only what changes
    fixed = approx_tokens("\n".join([scope, *lines])) + (20 if long_call else call_cost) + 40
    rows = fit((issue_row(i, view, with_assignee, int(i.get("id", 0)) in changed) for i in issues), budget - fixed)
    lines += rows.items
    shown = len(rows.items)
    first, last = offset + 1, offset + shown
    of = f" of {total}" if total is not None else ""
    span = f"issue {first}" if first == last else f"issues {first}-{last}"
    head = f"{scope}: {span}{of} (dates {view.tz_name})."
    if sent is not None and total is None:
        head = f"{scope}: {plural(shown, 'issue')} (dates {view.tz_name})."
        last = offset + sent if shown == len(issues) else last
    tail = []
    follow = f"the same call with offset={last}" if long_call else next_call(last)
    if total is not None and last < total:
        tail.append(f"{total - last} more. Next page: {follow}")
    elif total is None and (full_page or shown < len(issues)):
        tail.append(f"More may exist. Next page: {follow}")
    return "\n".join([head, "", *lines, *(["", *tail] if tail else [])])
