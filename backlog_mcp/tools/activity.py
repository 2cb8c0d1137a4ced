"""The activity tool: what happened in the space, a project or by one user, as a timeline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import Field

from backlog_mcp.args import MAX_ITEMS, MaxTokens, Text, Timezone, day, zone
from backlog_mcp.client import JSONObject, Page, Params
from backlog_mcp.errors import UsageError
from backlog_mcp.lookup import STATUS, gather, key_like
from backlog_mcp.render.activity import KINDS, render_activity
from backlog_mcp.render.text import inline, parse_ts, url_part
from backlog_mcp.tools.declare import Call, ToolSpec, format_call
from backlog_mcp.tools.git import get_pull_request
from backlog_mcp.tools.issues import get_issue_comments

PAGE = 100  # Backlog's largest page
MAX_PAGES = 5  # requests one call may spend walking back to `since`
ActivityKind = Literal["issues", "comments", "wiki", "files", "git", "documents", "project"]


def _params(cursor: int | None, type_ids: list[int]) -> Params:
    return {"count": PAGE, "order": "desc", "maxId": cursor, "activityTypeId": type_ids}


async def _named(call: Call, activities: list[JSONObject]) -> list[JSONObject]:
    """Activities whose status and resolution changes carry names, as Backlog sends them by id."""
    client = call.app.client
    # By key, as every other asker of a project's statuses (one cached list, one flight).
    keys = {int(a["project"]["id"]): str(a["project"]["projectKey"]) for a in activities if _has(a, "status")}
    project_ids = sorted(keys)
    # Only issue activity names statuses by id; a pull request's status is its own (Open, Merged…).
    statuses = await gather(*(client.project_list(keys[pid], "statuses") for pid in project_ids))
    status_names = {
        (pid, str(s["id"])): str(s["name"]) for pid, found in zip(project_ids, statuses, strict=True) for s in found
    }
    resolutions = (
        {str(r["id"]): str(r["name"]) for r in await client.resolutions()}
        if any(_has(a, "resolution") for a in activities)
        else {}
    )
    out = []
    for activity in activities:
        content = activity.get("content") or {}
        changes = content.get("changes") if isinstance(content, dict) else None
        if not changes or activity.get("type") not in ISSUE_CHANGES:
            out.append(activity)
            continue
        pid = int(activity["project"]["id"])
        renamed = []
        for change in changes:
            field = change.get("field")
            if field == "status":
                change = _renamed(change, {k[1]: v for k, v in status_names.items() if k[0] == pid})
            elif field == "resolution":
                change = _renamed(change, resolutions)
            renamed.append(change)
        out.append({**activity, "content": {**content, "changes": renamed}})
    return out


def _renamed(change: JSONObject, names: dict[str, str]) -> JSONObject:
    sides = ("new_value", "old_value")
    return {**change, **{side: names.get(str(change.get(side)), change.get(side)) for side in sides}}


ISSUE_CHANGES = (2, 3, 14)  # activity types whose status and resolution changes arrive as ids


def _has(activity: JSONObject, field: str) -> bool:
    if activity.get("type") not in ISSUE_CHANGES:
        return False
    content = activity.get("content")
    return isinstance(content, dict) and any(c.get("field") == field for c in content.get("changes") or [])


async def get_activity(
    call: Call,
    project_key: Annotated[Text | None, Field(description="Only this project")] = None,
    user: Annotated[Text | None, Field(description="Only what this person did: name, login id or me")] = None,
    since: Annotated[Text | None, Field(description="From this day, YYYY-MM-DD")] = None,
    until: Annotated[Text | None, Field(description="Up to this day, YYYY-MM-DD")] = None,
    kinds: Annotated[list[ActivityKind] | None, Field(max_length=MAX_ITEMS)] = None,
    before_id: Annotated[int | None, Field(ge=1, description="Activity before this id (paging)")] = None,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """What happened, newest first, grouped by day then by item: issues, comments, wiki, git, documents.

    For stand-ups and "what changed since yesterday"; days in the shown zone.
    """
    tz = zone(timezone)
    first, last = day("since", since), day("until", until)
    if first and last and first > last:
        raise UsageError(f'since="{first}" is after until="{last}"; write the earlier day first.')
    app, client = call.app, call.app.client
    scope = "Activity"
    path = "/space/activities"
    only_user: int | None = None
    type_ids = sorted({t for kind in kinds or () for t in KINDS[kind]})
    cursor = before_id - 1 if before_id else None
    # Sent at once, needing no lookup: the space's zone and, for a project named by key, its first page
    # and its statuses (status changes arrive as ids); the lookup then only confirms the project.
    view_soon = app.client.early(app.view(tz))
    key = key_like(project_key) if not user else None
    first_page: asyncio.Future[Page] | None = None
    if key is not None and client.allows_key(key):
        if not type_ids or set(type_ids) & set(ISSUE_CHANGES):  # only issue activity names statuses by id
            app.lookup.prefetch([key], STATUS)
        first_page = client.early(client.activities(f"/projects/{key}/activities", _params(cursor, type_ids)))
    project = await app.lookup.project(project_key) if project_key else None
    if project is not None:
        path = f"/projects/{project['projectKey']}/activities"
        scope += f" in {inline(project['projectKey'])}"
    if user:
        projects = [project] if project is not None else await app.lookup.projects()
        people = await app.lookup.users([user], projects)
        only_user = people[0][0]
        scope += f" by {inline(people[0][1])}"
        if project is None:
            path = f"/users/{only_user}/activities"
    if tz is None and (first or last):  # days in the space's zone by default, known once /space is read
        tz = (await view_soon).tz
    start = datetime.combine(datetime.fromisoformat(first), time(), tz) if first else None
    end = datetime.combine(datetime.fromisoformat(last), time(), tz) + timedelta(days=1) if last else None
    if first or last:
        scope += f" from {first or 'the start'} to {last or 'now'}"
    if kinds:
        scope += f" ({', '.join(dict.fromkeys(kinds))})"
    found: list[JSONObject] = []
    exhausted = False
    for n in range(MAX_PAGES):
        if n:  # a long scan: say how far it got
            await call.progress(n, MAX_PAGES, f"read {n * PAGE} activities, {len(found)} kept")
        sent_early = first_page if n == 0 and path == f"/projects/{key}/activities" else None
        page = await (sent_early or client.activities(path, _params(cursor, type_ids)))
        for activity in page.items:
            created = parse_ts(str(activity.get("created")))
            if only_user is not None and int((activity.get("createdUser") or {}).get("id") or 0) != only_user:
                continue
            if end is not None and created >= end:
                continue
            if start is not None and created < start:
                exhausted = True
                break
            found.append(activity)
        if exhausted or len(page.sent) < PAGE or len(found) >= PAGE:
            exhausted = exhausted or len(page.sent) < PAGE
            break
        cursor = min(int(a["id"]) for a in page.sent) - 1
    if not found and not exhausted and cursor is not None:
        older = call.again(before_id=cursor + 1)
        return f"No activity: {scope}, among the {MAX_PAGES * PAGE} checked. Older: {older}"
    found, view = await gather(_named(call, found), view_soon)
    return render_activity(
        found,
        scope=scope,
        view=view,
        budget=max_tokens,
        older_call=lambda oldest: call.again(before_id=oldest),
        more=not exhausted,
        scanned_to=cursor + 1 if cursor is not None else None,
        rest_of_comment=_comment_call(app.settings.base_url),
    )


def _comment_call(base_url: str) -> Callable[[JSONObject], str | None]:
    """The call (and the page in Backlog) that shows one comment of an activity whole."""

    def call_for(activity: JSONObject) -> str | None:
        content = activity.get("content") or {}
        comment_id = int((content.get("comment") or {}).get("id") or 0)
        project = str((activity.get("project") or {}).get("projectKey") or "")
        if not comment_id or not project:
            return None
        # before_id one past the comment, count 1: exactly that comment, whatever its id.
        if activity.get("type") in (2, 3) and content.get("key_id"):
            key = f"{project}-{content['key_id']}"
            args = {"issue_key": key, "before_id": comment_id + 1, "count": 1, "max_tokens": 20000}
            return f"{format_call(get_issue_comments, args)} or {base_url}/view/{key}#comment-{comment_id}"
        repository = content.get("repository") or {}
        if activity.get("type") in (19, 20) and content.get("number") and repository.get("id"):
            args = {
                "project_key": project,
                "repository": str(repository["id"]),  # by id: the name is user text, the call is ours
                "number": content["number"],
                "comment_count": 1,
                "before_id": comment_id + 1,
                "max_tokens": 20000,
            }
            page = f"{base_url}/git/{project}/{url_part(repository.get('name'))}/pullRequests/{content['number']}"
            return f"{format_call(get_pull_request, args)} or {page}"
        return None

    return call_for


TOOLS = (ToolSpec(get_activity, "Recent activity", "space"),)
