"""Issue tools: details with comments, comment paging, and issue lists by name."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from backlog_mcp.catalog import Catalog, gather
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import BacklogError, NotFoundError
from backlog_mcp.render.issue import Thread, issue_links, render_comments, render_issue
from backlog_mcp.render.issue_list import render_issue_list
from backlog_mcp.render.text import View
from backlog_mcp.tools.guard import add_read_tool, guarded

if TYPE_CHECKING:
    from backlog_mcp.server import AppState

log = logging.getLogger(__name__)
T = TypeVar("T")

_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,9}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

IssueKey = Annotated[str, Field(description="Issue key such as PROJ-123 (or the numeric issue id)")]
Timezone = Annotated[str, Field(description="IANA timezone for times in the output, e.g. Asia/Tokyo")]
MaxTokens = Annotated[
    int, Field(ge=1000, le=20000, description="Output budget in tokens; whole items beyond it are left out")
]
Names = Annotated[list[str] | None, Field(description="Names (case-insensitive)")]
Day = Annotated[str | None, Field(description="YYYY-MM-DD")]
SortKey = Literal[
    "updated", "created", "dueDate", "startDate", "priority", "status", "summary", "issueType", "assignee",
    "category", "milestone", "version", "estimatedHours", "actualHours", "createdUser", "updatedUser",
]  # fmt: skip


def issue_ref(raw: str) -> str:
    """Validate an issue key or id before it goes near a URL.

    Raises:
        ToolError: not a key like PROJ-123 and not a numeric id.
    """
    value = raw.strip()
    if value.isdigit() and len(value) <= 12:
        return value
    if _KEY.match(value.upper()):
        return value.upper()
    shown = value[:40] + ("…" if len(value) > 40 else "")
    raise ToolError(
        f'"{shown}" is not an issue key. Use PROJECT-NUMBER such as "ORBIT-12" (or a numeric issue id); '
        "find keys with get_user_issue_list(keyword=...)."
    )


def zone(name: str) -> ZoneInfo:
    """Raises ToolError for names that are not IANA timezones."""
    try:
        if not name or len(name) > 64:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(
            f'Unknown timezone "{name[:64]}". Use an IANA name such as "Asia/Tokyo", "Europe/London" or "UTC".'
        ) from None


async def _view(app: AppState, tz: ZoneInfo) -> View:
    space = await app.client.space()
    try:
        space_tz = ZoneInfo(str(space.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        space_tz = ZoneInfo("UTC")
    return View(tz=tz, today=app.now().astimezone(tz).date(), base_url=app.settings.base_url, space_tz=space_tz)


def _not_found(key: str) -> ToolError:
    return ToolError(
        f"Issue {key} does not exist, or this Backlog user cannot see it. Check the key; "
        "find issues with get_user_issue_list(keyword=..., assignees=['anyone'])."
    )


async def get_issue_details(
    issue_key: IssueKey,
    ctx: Context[Any],
    include_comments: Annotated[bool, Field(description="Include the newest comments")] = True,
    comment_count: Annotated[int, Field(ge=1, le=100, description="How many of the newest comments to fetch")] = 30,
    timezone: Timezone = "UTC",
    max_tokens: MaxTokens = 10000,
    issue_title: Annotated[str | None, Field(description="Ignored; accepted for older configurations")] = None,
) -> str:
    """Everything about one Backlog issue in one call, as compact Markdown.

    Header (type, status, priority, assignee), URL, dates (overdue marked), hours, category,
    milestones, versions, parent and child issues, custom fields, attachments, the description
    and the newest comments with field changes (oldest first). Older comments: get_issue_comments.
    """
    key = issue_ref(issue_key)
    tz = zone(timezone)
    if issue_title:
        log.info("get_issue_details %s (%s)", key, issue_title[:80])

    async def work(app: AppState) -> str:
        c = app.client
        project_key = key.rsplit("-", 1)[0] if "-" in key else None
        known_id = int(key) if key.isdigit() else c.issue_ids.get(key)
        calls: list[Any] = [c.issue(key, child_summary=True), _view(app, tz)]
        if project_key:
            calls.append(c.project(project_key))
        if include_comments:
            calls += [c.comments(key, {"order": "desc", "count": comment_count}), c.count_comments(key)]
        if known_id is not None:  # children in the same round trip when the id is already known
            calls.append(_optional(c.child_issues(known_id)))
        try:
            results = await gather(*calls)
        except NotFoundError:
            raise _not_found(key) from None
        issue, view = results[0], results[1]
        project = results[2] if project_key else await c.project(issue["projectId"])
        thread = None
        if include_comments:
            offset = -3 if known_id is not None else -2
            comments, total = results[offset], results[offset + 1]
            thread = Thread(comments=list(reversed(comments)), total=max(total, len(comments)))
        early_children = results[-1] if known_id is not None else None
        parent, children, child_total = await _relatives(app, issue, early_children)
        return render_issue(
            issue,
            rule=str(project.get("textFormattingRule", "markdown")),
            view=view,
            thread=thread,
            parent=parent,
            children=children,
            child_total=child_total,
            budget=max_tokens,
        )

    return await guarded(ctx, work)


async def _optional(call: Awaitable[T]) -> T | None:
    """A speculative fetch: None when it fails, so the caller falls back to the sure path."""
    try:
        return await call
    except BacklogError:
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


async def _none() -> None:
    return None


async def get_issue_comments(
    issue_key: IssueKey,
    ctx: Context[Any],
    before_id: Annotated[int | None, Field(ge=1, description="Only comments older than this comment id")] = None,
    after_id: Annotated[int | None, Field(ge=1, description="Only comments newer than this comment id")] = None,
    count: Annotated[int, Field(ge=1, le=100, description="Comments per page (at most 98 are shown)")] = 20,
    timezone: Timezone = "UTC",
    max_tokens: MaxTokens = 10000,
) -> str:
    """A page of an issue's comments with their field changes, oldest first.

    Without ids: the newest `count`. With `before_id`: the `count` comments just before it (use the
    id get_issue_details or the previous page gives). With `after_id`: the ones just after it.
    """
    key = issue_ref(issue_key)
    tz = zone(timezone)
    if before_id and after_id:
        raise ToolError("Pass before_id or after_id, not both.")

    async def work(app: AppState) -> str:
        c = app.client
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
                c.issue(key), c.comments(key, params), c.count_comments(key), _view(app, tz)
            )
        except NotFoundError:
            raise _not_found(key) from None
        project = await c.project(issue["projectId"])
        page = [x for x in comments if x["id"] not in (before_id, after_id)]
        more = len(page) > page_size or len(comments) >= fetch  # another comment beyond this page exists
        page = page[:page_size]  # the ones nearest the bound (Backlog sent them nearest first)
        ordered = sorted(page, key=lambda x: int(x["id"]))
        if not ordered:
            return f"No comments on {key} in that range ({total} in all)."
        newer = f'get_issue_comments(issue_key="{key}", after_id={ordered[-1]["id"]})'
        if after_id:
            older, newer_call = 0, newer if more else None  # older ones: the caller came from there
        elif before_id:
            older, newer_call = (-1 if more else 0), newer
        else:
            older, newer_call = max(0, total - len(ordered)), None
        links = issue_links(issue)
        body, _shown = render_comments(
            ordered,
            issue_key=key,
            rule=str(project.get("textFormattingRule", "markdown")),
            view=view,
            links=links,
            budget=max_tokens - 100,
            older=older,
            newer_call=newer_call,
        )
        return f"# {key}: comments ({total} in all, oldest first, times {view.tz_name})\n\n{body}"

    return await guarded(ctx, work)


def _day(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ToolError(f'{name}="{value[:40]}" is not a date; use YYYY-MM-DD, e.g. "2026-11-30".') from None
    return value


def _call(name: str, args: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return f"{name}({inner})"


async def get_user_issue_list(
    ctx: Context[Any],
    projects: Annotated[list[str] | None, Field(description="Project keys (or names), e.g. ['ORBIT']")] = None,
    assignees: Annotated[
        list[str] | None,
        Field(description="Names, login ids or 'me'; ['anyone'] for all assignees. Default: the current user"),
    ] = None,
    statuses: Annotated[list[str] | None, Field(description="Status names, e.g. ['Open', 'In Progress']")] = None,
    include_closed: Annotated[bool, Field(description="Also list closed issues (when no statuses are given)")] = False,
    issue_types: Names = None,
    priorities: Annotated[list[str] | None, Field(description="High, Normal or Low")] = None,
    categories: Names = None,
    milestones: Names = None,
    keyword: Annotated[str | None, Field(description="Words to search in summary and description")] = None,
    created_since: Day = None,
    created_until: Day = None,
    updated_since: Day = None,
    updated_until: Day = None,
    start_date_since: Day = None,
    start_date_until: Day = None,
    due_date_since: Day = None,
    due_date_until: Day = None,
    sort: SortKey = "updated",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Field(ge=0, description="Rows to skip (paging)")] = 0,
    count: Annotated[int, Field(ge=1, le=100, description="Rows per page")] = 20,
    timezone: Timezone = "UTC",
    project_ids: Annotated[list[int] | None, Field(description="Numeric project ids")] = None,
    assignee_ids: Annotated[list[int] | None, Field(description="Numeric user ids")] = None,
    status_ids: Annotated[list[int] | None, Field(description="Numeric status ids")] = None,
    milestone_ids: Annotated[list[int] | None, Field(description="Numeric milestone ids")] = None,
    parent_issue_ids: Annotated[list[int] | None, Field(description="Numeric ids of parent issues")] = None,
    user_id: Annotated[int | None, Field(description="Numeric assignee id (older name of assignee_ids)")] = None,
) -> str:
    """Find issues, one table row each: key, summary, status, priority, assignee, due, updated.

    Default: the current user's issues that are not closed, in all projects, most recently updated
    first. Every filter takes names (statuses per project, custom ones too); the header gives the
    total and the exact call for the next page. Details of one issue: get_issue_details.
    """
    tz = zone(timezone)
    dates = {
        "createdSince": _day("created_since", created_since),
        "createdUntil": _day("created_until", created_until),
        "updatedSince": _day("updated_since", updated_since),
        "updatedUntil": _day("updated_until", updated_until),
        "startDateSince": _day("start_date_since", start_date_since),
        "startDateUntil": _day("start_date_until", start_date_until),
        "dueDateSince": _day("due_date_since", due_date_since),
        "dueDateUntil": _day("due_date_until", due_date_until),
    }
    if keyword is not None and not keyword.strip():
        keyword = None
    if user_id is not None:
        assignee_ids = [*(assignee_ids or []), user_id]
    given = {k: v for k, v in locals().items() if k in _LIST_ARGS and v not in (None, [], False, _DEFAULTS.get(k))}

    async def work(app: AppState) -> str:
        catalog = Catalog(app.client)
        scope = await catalog.select_projects(projects, project_ids)
        if not scope:
            return "No issues: this user is not a member of any project."
        params: dict[str, Any] = {**dates, "keyword": keyword, "sort": sort, "order": order}
        words: list[str] = []
        narrowed = bool(projects or project_ids)
        if narrowed:
            params["projectId"] = [int(p["id"]) for p in scope]
            words.append("in " + ", ".join(str(p["projectKey"]) for p in scope))
        # Every name lookup needs only the project list: resolve them all in one round trip.
        empty: list[int] = []

        async def nothing() -> list[int]:
            return empty

        def lookup(kind: str, what: str, names: list[str] | None) -> Any:
            return catalog.ids_by_name(kind, what, names, scope) if names else nothing()

        open_statuses = not (status_ids or statuses) and not include_closed
        who, named_statuses, open_ids, type_ids, category_ids, milestone_named, priority_ids = await gather(
            _assignees(app, catalog, scope, assignees, assignee_ids),
            lookup("status", "statuses", statuses),
            catalog.open_status_ids(scope) if open_statuses else nothing(),
            lookup("issue type", "issueTypes", issue_types),
            lookup("category", "categories", categories),
            lookup("milestone", "versions", milestones),
            catalog.priority_ids(priorities) if priorities else nothing(),
        )
        if who:
            params["assigneeId"] = [uid for uid, _ in who]
            words.insert(0, "assigned to " + ", ".join(name for _, name in who))
        if status_ids or statuses:
            params["statusId"] = sorted({*(status_ids or []), *named_statuses})
            if statuses:
                words.append("status " + " or ".join(statuses))
        elif open_statuses:
            params["statusId"] = open_ids
            words.append("not closed")
        for kind, names, ids, param in (
            ("issue type", issue_types, type_ids, "issueTypeId"),
            ("category", categories, category_ids, "categoryId"),
            ("milestone", milestones, milestone_named, "milestoneId"),
            ("priority", priorities, priority_ids, "priorityId"),
        ):
            if names:
                params[param] = ids
                words.append(f"{kind} " + " or ".join(names))
        if milestone_ids:
            params["milestoneId"] = sorted({*params.get("milestoneId", []), *milestone_ids})
        if parent_issue_ids:
            params["parentIssueId"] = parent_issue_ids
        if keyword:
            words.append(f'matching "{keyword}"')
        words.extend(f"{k} {v}" for k, v in dates.items() if v)
        listing = {**params, "offset": offset, "count": count}
        issues, total, view = await gather(app.client.issues(listing), app.client.count_issues(params), _view(app, tz))
        description = "Issues " + ", ".join(words) if words else "All issues"
        description += f", by {sort} {order}"
        single = len(who) == 1
        return render_issue_list(
            issues,
            total=total,
            offset=offset,
            scope=description,
            view=view,
            next_call=lambda next_offset: _call("get_user_issue_list", {**given, "offset": next_offset}),
            with_assignee=not single,
        )

    return await guarded(ctx, work)


_LIST_ARGS = (
    "projects", "assignees", "statuses", "include_closed", "issue_types", "priorities", "categories",
    "milestones", "keyword", "created_since", "created_until", "updated_since", "updated_until",
    "start_date_since", "start_date_until", "due_date_since", "due_date_until", "sort", "order", "count",
    "timezone", "project_ids", "assignee_ids", "status_ids", "milestone_ids", "parent_issue_ids",
)  # fmt: skip
_DEFAULTS = {"sort": "updated", "order": "desc", "count": 20, "timezone": "UTC"}


async def _assignees(
    app: AppState,
    catalog: Catalog,
    scope: list[JSONObject],
    names: list[str] | None,
    ids: list[int] | None,
) -> list[tuple[int, str]]:
    """Who to filter on: explicit names/ids, nobody for 'anyone', else USER_ID or the key's owner."""
    wanted = [n for n in names or [] if n.strip().casefold() not in ("anyone", "any", "all", "*")]
    if names and not wanted and not ids:
        return []
    found = await catalog.user_ids(wanted, scope) if wanted else []
    found += [(uid, f"user {uid}") for uid in ids or [] if uid not in {f for f, _ in found}]
    if found:
        return found
    configured = app.settings.user_id
    if configured is None:
        me = await app.client.myself()
        return [(int(me["id"]), str(me["name"]))]
    return await catalog.user_ids([configured], scope)


def register(server: MCPServer[Any]) -> None:
    add_read_tool(server, get_issue_details, "Issue details with comments")
    add_read_tool(server, get_issue_comments, "Issue comments, paged")
    add_read_tool(server, get_user_issue_list, "Find issues")
