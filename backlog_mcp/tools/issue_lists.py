"""Issue lists by name: any filter, the watch list, my open issues; and the answer for a missing issue."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from backlog_mcp.app import AppState
from backlog_mcp.args import (
    Count,
    DayRange,
    Names,
    Offset,
    Text,
    Timezone,
    day,
    day_range,
    issue_ref,
    zone,
)
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import MissingError, NotFoundError, UsageError
from backlog_mcp.lookup import ANYONE, CATEGORY, CLOSED_STATUS_ID, ISSUE_TYPE, ME, MILESTONE, STATUS, USER, gather
from backlog_mcp.matching import closest_first, shown
from backlog_mcp.render.issue_list import render_issue_list
from backlog_mcp.render.text import item
from backlog_mcp.tools.declare import Call, format_call

log = logging.getLogger(__name__)

SORT_KEYS = (
    "updated", "created", "dueDate", "startDate", "priority", "status", "summary", "issueType", "assignee",
    "category", "milestone", "version", "estimatedHours", "actualHours", "createdUser", "updatedUser",
)  # fmt: skip
# A plain string in the schema (the 16 keys would cost ~45 tokens in every tools/list): checked here, and an
# unknown key is refused with the valid ones, closest first.
SortKey = Annotated[str, Field(max_length=40)]
Ids = Annotated[list[Annotated[int, Field(ge=1)]] | None, Field(max_length=50)]


def missing(key: str, app: AppState) -> UsageError:
    """The one answer for an issue that is missing, invisible or outside the allow-list."""
    why = (
        "does not exist, this Backlog user cannot see it, or it is outside the projects this server may use"
        if app.settings.projects is not None
        else "does not exist, or this Backlog user cannot see it"
    )
    find = format_call(get_user_issue_list, {"keyword": "...", "assignees": ["anyone"]})
    return MissingError(f"Issue {key} {why}. Check the key; find issues with {find}.")


def key_arg(raw: str) -> str:
    return issue_ref(raw, find=format_call(get_user_issue_list, {"keyword": "..."}))


_DAY_ARGS = (("created", "created"), ("updated", "updated"), ("start_date", "startDate"), ("due_date", "dueDate"))


def _days(ranges: dict[str, str | None], legacy: dict[str, str | None]) -> dict[str, str]:
    """Backlog's `createdSince`… parameters from the `A..B` ranges and the seed's `*_since/_until`."""
    params: dict[str, str] = {}
    for arg, param in _DAY_ARGS:
        since, until = day_range(arg, ranges[arg])
        old_since, old_until = day(f"{arg}_since", legacy[f"{arg}_since"]), day(f"{arg}_until", legacy[f"{arg}_until"])
        if (since or until) and (old_since or old_until):
            raise UsageError(f"Pass {arg} or {arg}_since/{arg}_until, not both.")
        since, until = since or old_since, until or old_until
        if since:
            params[param + "Since"] = since
        if until:
            params[param + "Until"] = until
    return params


def _day_words(params: Mapping[str, str]) -> list[str]:
    """The day filters as the header says them: by their argument names and range form (`due_date ..2026-11-30`)."""
    words = []
    for arg, param in _DAY_ARGS:
        since, until = params.get(param + "Since", ""), params.get(param + "Until", "")
        if since or until:
            words.append(f"{arg} {since}" if since == until else f"{arg} {since}..{until}")
    return words


async def get_user_issue_list(
    call: Call,
    projects: Annotated[Names, Field(description="Keys or names")] = None,
    assignees: Annotated[Names, Field(description="Names, login ids, 'me' (default) or 'anyone'")] = None,
    statuses: Names = None,
    include_closed: bool = False,
    issue_types: Names = None,
    priorities: Names = None,
    categories: Names = None,
    milestones: Names = None,
    parent: Annotated[str | None, Field(description="Children of this issue key", max_length=200)] = None,
    keyword: Text | None = None,
    created: DayRange = None,
    updated: DayRange = None,
    start_date: DayRange = None,
    due_date: DayRange = None,
    include_archived: bool = False,
    watching: Annotated[bool, Field(description="Issues I watch instead (no other filters)")] = False,
    sort: SortKey = "updated",
    order: Literal["asc", "desc"] = "desc",
    offset: Offset = 0,
    count: Count = 20,
    timezone: Timezone = None,
    created_since: DayRange = None,
    created_until: DayRange = None,
    updated_since: DayRange = None,
    updated_until: DayRange = None,
    start_date_since: DayRange = None,
    start_date_until: DayRange = None,
    due_date_since: DayRange = None,
    due_date_until: DayRange = None,
    project_ids: Ids = None,
    assignee_ids: Ids = None,
    status_ids: Ids = None,
    milestone_ids: Ids = None,
    parent_issue_ids: Ids = None,
    user_id: Annotated[int | None, Field(ge=1)] = None,
) -> str:
    """Find issues, as a table. Default: my issues not closed, latest update first.

    Date filters take `YYYY-MM-DD..YYYY-MM-DD` (either end optional).
    """
    tz = zone(timezone)
    if sort not in SORT_KEYS:
        raise UsageError(
            f'Unknown sort "{shown(sort)}". Valid values, closest first: {", ".join(closest_first(sort, SORT_KEYS))}.'
        )
    if watching:
        filters = set(call.given) - {"watching", "offset", "count", "timezone"}
        if filters:
            raise UsageError(f"watching=true lists every issue I watch; leave out {', '.join(sorted(filters))}.")
        return await _watched(call, offset, count, tz)
    dates = _days(
        {"created": created, "updated": updated, "start_date": start_date, "due_date": due_date},
        {
            "created_since": created_since, "created_until": created_until,
            "updated_since": updated_since, "updated_until": updated_until,
            "start_date_since": start_date_since, "start_date_until": start_date_until,
            "due_date_since": due_date_since, "due_date_until": due_date_until,
        },
    )  # fmt: skip
    parent_key = key_arg(parent) if parent else None
    keyword = keyword.strip() if keyword and keyword.strip() else None
    if user_id is not None:
        assignee_ids = [*(assignee_ids or []), user_id]
    app, lookup = call.app, call.app.lookup
    # Projects named by key: their lists go out with the project list, not after it.
    status_needed = bool(statuses) or not (status_ids or include_closed)  # named, or "not closed"
    needs = [
        *([STATUS] if status_needed else []),
        *([USER] if set(map(str.casefold, assignees or ())) - ANYONE - ME else []),
    ]
    needs += [
        kind for kind, names in ((ISSUE_TYPE, issue_types), (CATEGORY, categories), (MILESTONE, milestones)) if names
    ]
    lookup.prefetch(projects or (), *needs)
    view_soon = app.client.early(app.view(tz))
    people = {name.strip().casefold() for name in assignees or ()}
    if not assignee_ids and people <= ME and (people or app.settings.user_id is None):
        app.client.early(app.client.myself())  # "me": asked with the project list, not after it
    # "Not closed" in every project with nothing else to look up: no round trip for the statuses (below).
    quick = not (statuses or status_ids or include_closed or projects or project_ids or parent_key) and not (
        issue_types or categories or milestones
    )
    scope = await lookup.projects(projects or (), project_ids or ())
    narrowed = bool(projects or project_ids)
    archived = [p for p in scope if p.get("archived")] if not (narrowed or include_archived) else []
    scope = [p for p in scope if p not in archived]
    if not scope:
        return "No issues: this user is not a member of any project that is not archived."
    params: dict[str, Any] = {**dates, "keyword": keyword, "sort": sort, "order": order}
    words: list[str] = []
    if narrowed or archived:
        params["projectId"] = [int(p["id"]) for p in scope]
    if narrowed:
        words.append("in " + ", ".join(item(p["projectKey"]) for p in scope))
    open_statuses = not (status_ids or statuses) and not include_closed
    # Every name lookup needs only the project list: resolve them all in one round trip.
    who, status_named, open_ids, type_ids, category_ids, milestone_named, priority_ids, parent_id = await gather(
        _assignees(app, scope, assignees, assignee_ids),
        lookup.ids(STATUS, statuses or (), scope),
        lookup.open_status_ids(scope) if open_statuses and not quick else _empty(),
        lookup.ids(ISSUE_TYPE, issue_types or (), scope),
        lookup.ids(CATEGORY, categories or (), scope),
        lookup.ids(MILESTONE, milestones or (), scope),
        lookup.priority_ids(priorities or ()),
        _issue_id(app, parent_key),
    )
    if who:
        params["assigneeId"] = [uid for uid, _ in who]
        words.insert(0, "assigned to " + ", ".join(item(name) for _, name in who))
    if status_ids or statuses:
        params["statusId"] = sorted({*(status_ids or []), *status_named})
        named = [*map(item, statuses or []), *(f"id {sid}" for sid in status_ids or [])]
        words.append("status " + " or ".join(named))
    elif open_statuses:
        if not quick:
            params["statusId"] = open_ids
        words.append("not closed")
    for label, names, ids, param in (
        ("issue type", issue_types, type_ids, "issueTypeId"),
        ("category", categories, category_ids, "categoryId"),
        ("milestone", milestones, milestone_named, "milestoneId"),
        ("priority", priorities, priority_ids, "priorityId"),
    ):
        if names:
            params[param] = ids
            words.append(f"{label} " + " or ".join(map(item, names)))
    if milestone_ids:
        params["milestoneId"] = sorted({*params.get("milestoneId", []), *milestone_ids})
        words.append("milestone id " + " or ".join(map(str, milestone_ids)))
    parents = [*(parent_issue_ids or []), *([parent_id] if parent_id else [])]
    if parents:
        params["parentIssueId"] = parents
        shown_parents = [*([parent_key] if parent_key else []), *(f"issue id {i}" for i in parent_issue_ids or [])]
        words.append("children of " + " or ".join(item(p) for p in shown_parents))
    if keyword:
        words.append(f'matching "{item(keyword)}"')
    words.extend(_day_words(dates))
    listing = {**params, "offset": offset, "count": count}
    if quick:
        (issues, total), view = await gather(_not_closed(app, scope, params, offset, count), view_soon)
    else:
        issues, total, view = await gather(app.client.issues(listing), app.client.count_issues(params), view_soon)
    description = ("Issues " + ", ".join(words) if words else "All issues") + f", by {sort} {order}"
    if archived:
        description += f" (archived projects left out: {', '.join(item(p['projectKey']) for p in archived)})"
    return render_issue_list(
        issues,
        total=total,
        offset=offset,
        scope=description,
        view=view,
        next_call=lambda next_offset: call.again(offset=next_offset),
        with_assignee=len(who) != 1,
    )


async def _watched(call: Call, offset: int, count: int, tz: ZoneInfo | None) -> str:
    """The issues the key's owner watches, those changed since they last looked marked."""
    client = call.app.client
    me, view = await gather(client.myself(), call.app.view(tz))
    params: Params = {"offset": offset, "count": count, "sort": "issueUpdated", "order": "desc"}
    page, total = await gather(client.watchings(int(me["id"]), params), client.count_watchings(int(me["id"])))
    issues = [w["issue"] for w in page.items if isinstance(w.get("issue"), dict)]
    changed = frozenset(
        int(w["issue"]["id"]) for w in page.items if not w.get("resourceAlreadyRead") and w.get("issue")
    )
    note = f", {len(changed)} here changed since I last read them" if changed else ""
    return render_issue_list(
        issues,
        total=total,
        offset=offset,
        scope=f"Issues I watch{note}, latest change first",
        view=view,
        next_call=lambda next_offset: call.again(offset=next_offset),
        changed=changed,
        full_page=len(page.sent) == count,
        sent=len(page.sent),
    )


async def get_my_issues(
    call: Call,
    offset: Offset = 0,
    count: Count = 20,
    timezone: Timezone = None,
    include_archived: bool = False,
) -> str:
    """My open issues (the API key's owner), latest update first; filters: get_user_issue_list."""
    return await get_user_issue_list(
        call, assignees=["me"], offset=offset, count=count, timezone=timezone, include_archived=include_archived
    )


async def _empty() -> list[int]:
    return []


async def _not_closed(
    app: AppState, scope: list[JSONObject], params: dict[str, Any], offset: int, count: int
) -> tuple[list[JSONObject], int]:
    """A page of the issues not closed, and how many there are, without first reading every project's statuses.

    Closed is status 4 in every project (custom statuses get other ids): the newest issues (twice what
    the page needs, at least 40, at most 100) are read with no status filter and Closed ones dropped
    here, and the total is all of them less the Closed ones, in one round trip. Only when the page
    asked for lies beyond them are the statuses read and the page asked for exactly.
    """
    newest, everything, closed = await gather(
        app.client.issues({**params, "offset": 0, "count": min(100, max(40, 2 * (offset + count)))}),
        app.client.count_issues(params),
        app.client.count_issues({**params, "statusId": [CLOSED_STATUS_ID]}),
    )
    total = max(0, everything - closed)
    open_ones = [i for i in newest if (i.get("status") or {}).get("id") != CLOSED_STATUS_ID]
    if offset + count <= len(open_ones) or len(open_ones) >= total:
        return open_ones[offset : offset + count], total
    exact = {**params, "statusId": await app.lookup.open_status_ids(scope), "offset": offset, "count": count}
    return await app.client.issues(exact), total


async def _issue_id(app: AppState, key: str | None) -> int | None:
    if key is None:
        return None
    if key.isascii() and key.isdigit():
        return int(key)
    try:
        return int((await app.client.issue(key, child_summary=True))["id"])
    except NotFoundError:
        raise missing(key, app) from None


async def _assignees(
    app: AppState, scope: list[JSONObject], names: list[str] | None, ids: list[int] | None
) -> list[tuple[int, str]]:
    """Who to filter on: explicit names/ids, nobody for 'anyone', else USER_ID or the key's owner."""
    wanted = [n for n in names or [] if n.strip().casefold() not in ANYONE]
    if names and not wanted and not ids:
        return []
    found = await app.lookup.users(wanted, scope) if wanted else []
    found += [(uid, f"user {uid}") for uid in ids or [] if uid not in {f for f, _ in found}]
    if found:
        return found
    configured = app.settings.user_id
    if configured is None:
        me = await app.client.myself()
        return [(int(me["id"]), str(me["name"]))]
    return await app.lookup.users([configured], scope)


LEGACY_DATES = frozenset(f"{arg}_{end}" for arg, _ in _DAY_ARGS for end in ("since", "until"))
