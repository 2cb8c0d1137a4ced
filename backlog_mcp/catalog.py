"""Project metadata (statuses, users, types, …) looked up by name, fetched concurrently and cached.

Every lookup goes through the client with the metadata TTL, so a project's statuses are fetched
once per TTL however many calls need them (no N+1 across tool calls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from backlog_mcp.client import BacklogClient, JSONObject
from backlog_mcp.errors import TransportError
from backlog_mcp.names import resolve

CLOSED_STATUS_ID = 4


async def gather(*calls: Awaitable[Any]) -> list[Any]:
    """Run calls concurrently and wait for all of them; then raise the first failure, if any.

    Waiting for the rest (rather than cancelling them) keeps cancellation out of the caller's
    task, where it would collide with the deadline's cancel scope.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            # One of ours was cancelled, not this task (that would have raised above).
            raise TransportError("a request to Backlog was interrupted; try again")
        if isinstance(result, BaseException):
            raise result
    return results


class Catalog:
    """Name lookups for one tool call."""

    def __init__(self, client: BacklogClient) -> None:
        self.client = client

    async def select_projects(self, keys: Sequence[str] | None, ids: Sequence[int] | None) -> list[JSONObject]:
        """Projects named by key or name and/or numeric id; all of the user's projects if neither."""
        projects = await self.client.projects()
        if not keys and not ids:
            return projects
        chosen: dict[int, JSONObject] = {}
        by_id = {int(p["id"]): p for p in projects}
        for pid in ids or []:
            if pid not in by_id:
                keys_text = ", ".join(f"{p['projectKey']} (id {p['id']})" for p in projects)
                raise ToolError(f"No project with id {pid} is visible to this user. Projects: {keys_text}.")
            chosen[pid] = by_id[pid]
        options: dict[str, set[int]] = {}
        for p in projects:
            options.setdefault(str(p["projectKey"]), set()).add(int(p["id"]))
            options.setdefault(str(p["name"]), set()).add(int(p["id"]))
        for key in keys or []:
            for pid in resolve("project", key, options):
                chosen[pid] = by_id[pid]
        return list(chosen.values())

    async def per_project(self, projects: Iterable[JSONObject], what: str) -> list[tuple[JSONObject, JSONObject]]:
        """(project, item) pairs of one metadata list across projects, fetched concurrently."""
        chosen = list(projects)
        lists = await gather(*(self.client.project_list(p["projectKey"], what) for p in chosen))
        return [(p, item) for p, items in zip(chosen, lists, strict=True) for item in items]

    async def ids_by_name(
        self, kind: str, what: str, names: Sequence[str], projects: Sequence[JSONObject]
    ) -> list[int]:
        """Resolve names of a per-project list (statuses, issueTypes, categories, versions)."""
        options: dict[str, set[int]] = {}
        for _project, item in await self.per_project(projects, what):
            options.setdefault(str(item["name"]), set()).add(int(item["id"]))
        where = ", ".join(str(p["projectKey"]) for p in projects)
        found: set[int] = set()
        for name in names:
            found |= resolve(kind, name, options, where)
        return sorted(found)

    async def open_status_ids(self, projects: Sequence[JSONObject]) -> list[int]:
        """Every status except Closed, across the projects (custom statuses included)."""
        pairs = await self.per_project(projects, "statuses")
        return sorted({int(s["id"]) for _p, s in pairs if s["id"] != CLOSED_STATUS_ID})

    async def priority_ids(self, names: Sequence[str]) -> list[int]:
        options: dict[str, set[int]] = {}
        for p in await self.client.priorities():
            options.setdefault(str(p["name"]), set()).add(int(p["id"]))
        found: set[int] = set()
        for name in names:
            found |= resolve("priority", name, options)
        return sorted(found)

    async def users(self, projects: Sequence[JSONObject]) -> list[JSONObject]:
        seen: dict[int, JSONObject] = {}
        for _project, user in await self.per_project(projects, "users"):
            seen.setdefault(int(user["id"]), user)
        return list(seen.values())

    async def user_ids(self, wanted: Sequence[str], projects: Sequence[JSONObject]) -> list[tuple[int, str]]:
        """Resolve `me`, numeric ids, login ids and display names to (id, name)."""
        result: dict[int, str] = {}
        members: list[JSONObject] | None = None
        for text in wanted:
            value = text.strip()
            if value.casefold() in ("me", "myself", "自分"):
                me = await self.client.myself()
                result[int(me["id"])] = str(me["name"])
                continue
            if members is None:
                members = await self.users(projects)
            if value.isdigit():
                match = next((u for u in members if int(u["id"]) == int(value)), None)
                result[int(value)] = str(match["name"]) if match else f"user {value}"
                continue
            options: dict[str, set[int]] = {}
            for user in members:
                options.setdefault(str(user["name"]), set()).add(int(user["id"]))
                if user.get("userId"):
                    options.setdefault(str(user["userId"]), set()).add(int(user["id"]))
            where = "the members of " + ", ".join(str(p["projectKey"]) for p in projects)
            for uid in resolve("user", value, options, where):
                result[uid] = next(str(u["name"]) for u in members if int(u["id"]) == uid)
        return list(result.items())
