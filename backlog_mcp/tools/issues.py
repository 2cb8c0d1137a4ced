"""Issue tools: details with comments and comment paging; the lists are in `issue_lists`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from pydantic import Field

from backlog_mcp.app import AppState
from backlog_mcp.args import (
    IssueKey,
    MaxTokens,
    Timezone,
    zone,
)
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import BacklogError, NotFoundError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.render.issue import Hints, Thread, issue_links, render_comments, render_issue
from backlog_mcp.tools.declare import Call, ToolSpec, format_call
from backlog_mcp.tools.issue_lists import LEGACY_DATES, get_my_issues, get_user_issue_list, key_arg, missing

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = [
    "TOOLS",
    "get_issue_comments",
    "get_issue_details",
    "get_my_issues",
    "get_user_issue_list",
    "key_arg",
    "missing",
]


def _comments_call(key: str) -> Any:
    return lambda before_id: format_call(get_issue_comments, {"issue_key": key, "before_id": before_id})


async def get_issue_details(
    call: Call,
    issue_key: IssueKey,
    comment_count: Annotated[int, Field(ge=0, le=100, description="Newest comments to include (0: none)")] = 30,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
    include_comments: bool = True,
    issue_title: Annotated[str | None, Field(max_length=1000)] = None,
) -> str:
    """Everything about one issue in one call: all fields by name, parent and children, description, newest comments.

    Older comments: get_issue_comments.
    """
    key = key_arg(issue_key)
    tz = zone(timezone)
    if issue_title:
        log.info("get_issue_details %s (%s)", key, issue_title[:80])
    count = comment_count if include_comments else 0
    app, c = call.app, call.app.client
    project_key = key.rsplit("-", 1)[0] if "-" in key else None
    known_id = int(key) if key.isascii() and key.isdigit() else c.issue_ids.get(key)
    calls: list[Any] = [c.issue(key, child_summary=True), app.view(tz)]
    if project_key:
        calls.append(c.project(project_key))
    if count:
        calls += [c.comments(key, {"order": "desc", "count": count}), c.count_comments(key)]
    if known_id is not None:  # children in the same round trip when the id is already known
        calls.append(_optional(c.child_issues(known_id)))
    try:
        results = await gather(*calls)
    except NotFoundError:
        raise missing(key, app) from None
    issue, view = results[0], results[1]
    project = results[2] if project_key else await c.project(issue["projectId"])
    thread = None
    if count:
        offset = -3 if known_id is not None else -2
        comments, total = results[offset], results[offset + 1]
        thread = Thread(comments=list(reversed(comments)), total=max(total, len(comments)))
    early_children = results[-1] if known_id is not None else None
    parent, children, child_total = await _relatives(app, issue, early_children)
    full = {"issue_key": key, "comment_count": 0, "max_tokens": 20000}
    return render_issue(
        issue,
        rule=str(project.get("textFormattingRule", "markdown")),
        view=view,
        thread=thread,
        hints=Hints(
            older_comments=_comments_call(key),
            full_description=(lambda: format_call(get_issue_details, full))
            if max_tokens < 20_000 or thread is not None
            else None,
        ),
        parent=parent,
        children=children,
        child_total=child_total,
        budget=max_tokens,
    )


async def _optional(call: Awaitable[T]) -> T | None:
    """A speculative fetch: None when it fails, so the caller falls back to the sure path."""
    try:
        return await call
    except BacklogError:
        return None


async def _none() -> None:
    return None


async def _relatives(
    app: AppState, issue: JSONObject, children: list[JSONObject] | None
) -> tuple[JSONObject | None, list[JSONObject], int]:
    """Parent and children: a second round trip, only for what the first could not fetch.

    Each is optional: a parent in a project this user cannot see must not hide the children.
    """
    parent_id = issue.get("parentIssueId")
    child_total = int((issue.get("childIssueSummary") or {}).get("total") or 0)
    parent_call = _optional(app.client.issue(parent_id)) if parent_id else _none()
    children_call = (
        _optional(app.client.child_issues(int(issue["id"]))) if child_total and children is None else _none()
    )
    parent, fetched = await gather(parent_call, children_call)
    found: list[JSONObject] = children if children is not None else fetched or []
    return parent, found, max(child_total, len(found))


async def get_issue_comments(
    call: Call,
    issue_key: IssueKey,
    before_id: Annotated[int | None, Field(ge=1, description="Comments before this comment id")] = None,
    after_id: Annotated[int | None, Field(ge=1, description="Comments after this comment id")] = None,
    count: Annotated[int, Field(ge=1, le=100, description="1-100 (98 shown at most)")] = 20,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """A page of an issue's comments with their field changes, oldest first.

    Without ids: the newest page.
    """
    key = key_arg(issue_key)
    tz = zone(timezone)
    if before_id and after_id:
        raise UsageError("Pass before_id or after_id, not both.")
    app, c = call.app, call.app.client
    # Backlog does not document whether minId/maxId are inclusive: ask with the bound itself
    # and two more (the bound, and one to learn whether more exist), drop the bound by id.
    page_size = min(count, 98)  # Backlog sends at most 100: room for the bound and one more
    fetch = page_size + 2
    params: Params
    if after_id:
        params = {"minId": after_id, "order": "asc", "count": fetch}
    else:
        params = {"order": "desc", "count": fetch, "maxId": before_id}
    try:
        issue, comments, total, view = await gather(
            c.issue(key, child_summary=True), c.comments(key, params), c.count_comments(key), app.view(tz)
        )
    except NotFoundError:
        raise missing(key, app) from None
    project = await c.project(issue["projectId"])
    page = [x for x in comments if x["id"] not in (before_id, after_id)]
    more = len(page) > page_size or len(comments) >= fetch  # another comment beyond this page exists
    page = page[:page_size]  # the ones nearest the bound (Backlog sent them nearest first)
    ordered = sorted(page, key=lambda x: int(x["id"]))
    if not ordered:
        return f"No comments on {key} in that range ({total} in all)."
    newer = call.again(issue_key=key, before_id=None, after_id=ordered[-1]["id"])
    if after_id:
        older, newer_call = 0, newer if more else None  # older ones: the caller came from there
    elif before_id:
        older, newer_call = (-1 if more else 0), newer
    else:
        older, newer_call = max(0, total - len(ordered)), None
    body, _shown = render_comments(
        ordered,
        rule=str(project.get("textFormattingRule", "markdown")),
        view=view,
        links=issue_links(issue),
        budget=max_tokens - 100,
        older=older,
        older_call=lambda first_id: call.again(issue_key=key, after_id=None, before_id=first_id),
        newer_call=newer_call,
    )
    return f"# {key}: comments ({total} in all, oldest first, times {view.tz_name})\n\n{body}"


TOOLS = (
    ToolSpec(
        get_issue_details,
        "Issue details with comments",
        "issues",
        hidden=frozenset({"include_comments", "issue_title"}),
    ),
    ToolSpec(get_issue_comments, "Issue comments, paged", "issues"),
    ToolSpec(get_my_issues, "My open issues", "issues"),
    ToolSpec(
        get_user_issue_list,
        "Find issues",
        "issues",
        hidden=LEGACY_DATES
        | frozenset({"project_ids", "assignee_ids", "status_ids", "milestone_ids", "parent_issue_ids", "user_id"}),
    ),
)
