"""Names → ids for everything a tool, a write or a completion can name, in one place.

Projects, users (`me`, login ids, display names), and per-project statuses, issue types,
categories, milestones/versions and custom fields, plus the space's priorities and resolutions.
Every list comes through the client with the metadata TTL, so a project's statuses are fetched
once per TTL however many calls need them; lists for several projects are fetched concurrently.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from backlog_mcp.errors import MissingError, TransportError, UsageError
from backlog_mcp.matching import norm, resolve, shown

if TYPE_CHECKING:
    from backlog_mcp.client import BacklogClient, JSONObject

T = TypeVar("T")
CLOSED_STATUS_ID = 4
ANYONE = frozenset({"anyone", "any", "all", "*"})
ME = frozenset({"me", "myself", "自分"})


@dataclass(frozen=True)
class Kind:
    """One kind of per-project name: its label in messages and its list under /projects/{key}/."""

    label: str
    endpoint: str


STATUS = Kind("status", "statuses")
ISSUE_TYPE = Kind("issue type", "issueTypes")
CATEGORY = Kind("category", "categories")
MILESTONE = Kind("milestone", "versions")  # milestones and versions are one list in Backlog
VERSION = Kind("version", "versions")
CUSTOM_FIELD = Kind("custom field", "customFields")
USER = Kind("user", "users")
REPOSITORIES = Kind("repository", "git/repositories")


_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,24}")


def key_like(name: str | None) -> str | None:
    """`name` as a project key when it reads as one (ORBIT, orbit): usable in paths before the project list is in."""
    key = (name or "").strip()
    # ASCII before upper-casing: "orbıt".upper() is "ORBIT", and no project's key.
    return key.upper() if key.isascii() and _KEY.fullmatch(key.upper()) else None


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


def _options(items: Iterable[JSONObject], *fields: str) -> dict[str, set[int]]:
    options: dict[str, set[int]] = {}
    for item in items:
        for name in fields:
            if item.get(name):
                options.setdefault(str(item[name]), set()).add(int(item["id"]))
    return options


def _resolve_all(label: str, items: Iterable[JSONObject], names: Sequence[str], where: str = "") -> list[int]:
    options = _options(items, "name")
    found: set[int] = set()
    for name in names:
        found |= resolve(label, name, options, where)
    return sorted(found)


def _where(projects: Sequence[JSONObject]) -> str:
    return ", ".join(str(p["projectKey"]) for p in projects)


class Lookup:
    """Name resolution over the client's cached metadata; shared by every tool call."""

    def __init__(self, client: BacklogClient) -> None:
        self.client = client

    async def projects(self, names: Sequence[str] = (), ids: Sequence[int] = ()) -> list[JSONObject]:
        """Projects named by key or name and/or numeric id; every visible project if neither.

        Raises:
            UsageError: a name or id matches no visible project.
        """
        projects = await self.client.projects()
        if not names and not ids:
            return projects
        by_id = {int(p["id"]): p for p in projects}
        chosen: dict[int, JSONObject] = {}
        for pid in ids:
            if pid not in by_id:
                listed = ", ".join(f"{p['projectKey']} (id {p['id']})" for p in projects[:30])
                raise UsageError(f"No project with id {pid} is visible to this user. Projects: {listed}.")
            chosen[pid] = by_id[pid]
        options = _options(projects, "projectKey", "name")
        for name in names:
            for pid in resolve("project", name, options):
                chosen[pid] = by_id[pid]
        return list(chosen.values())

    def prefetch(self, names: Iterable[str], *kinds: Kind) -> None:
        """Ask now for these lists of the projects named by key (allowed ones), before the project list is in.

        Only with a cache: without one, the later ask would send the same request again.
        """
        if not self.client.caches_reads:
            return
        for name in names:
            key = key_like(name)
            if key is not None and self.client.allows_key(key):
                for kind in kinds:
                    self.client.early(self.client.project_list(key, kind.endpoint))

    async def project(self, name: str) -> JSONObject:
        """One project by key or name (case- and width-insensitive; "orbıt" is not "ORBIT").

        Raises:
            UsageError: no such project visible here (missing and not allowed read the same), or several.
        """
        try:
            found = await self.projects([name])
        except UsageError:
            found = []
        if len(found) != 1:
            keys = ", ".join(str(p["projectKey"]) for p in await self.client.projects())
            raise MissingError(f'Project "{shown(name)}" does not exist or is not allowed. Projects: {keys}.')
        return found[0]

    async def per_project(self, projects: Iterable[JSONObject], kind: Kind) -> list[tuple[JSONObject, JSONObject]]:
        """(project, item) pairs of one metadata list across projects, fetched concurrently."""
        chosen = list(projects)
        lists = await gather(*(self.client.project_list(p["projectKey"], kind.endpoint) for p in chosen))
        return [(p, item) for p, items in zip(chosen, lists, strict=True) for item in items]

    async def ids(self, kind: Kind, names: Sequence[str], projects: Sequence[JSONObject]) -> list[int]:
        """Ids of per-project names (statuses, issue types, categories, milestones…) across projects.

        Raises:
            UsageError: a name matches nothing, or several things, in those projects.
        """
        if not names:
            return []
        items = (item for _p, item in await self.per_project(projects, kind))
        return _resolve_all(kind.label, items, names, _where(projects))

    async def open_status_ids(self, projects: Sequence[JSONObject]) -> list[int]:
        """Every status except Closed, across the projects (custom statuses included)."""
        pairs = await self.per_project(projects, STATUS)
        return sorted({int(s["id"]) for _p, s in pairs if s["id"] != CLOSED_STATUS_ID})

    async def priority_ids(self, names: Sequence[str]) -> list[int]:
        """Raises UsageError for a name that is no priority; asks Backlog nothing when `names` is empty."""
        return _resolve_all("priority", await self.client.priorities(), names) if names else []

    async def resolution_ids(self, names: Sequence[str]) -> list[int]:
        """Raises UsageError for a name that is no resolution; asks Backlog nothing when `names` is empty."""
        return _resolve_all("resolution", await self.client.resolutions(), names) if names else []

    async def custom_field(self, name: str, projects: Sequence[JSONObject]) -> JSONObject:
        """A custom field definition by name (its `items` are the list choices).

        Raises:
            UsageError: no field of that name in the projects, or several.
        """
        pairs = await self.per_project(projects, CUSTOM_FIELD)
        ids = resolve(CUSTOM_FIELD.label, name, _options((field for _p, field in pairs), "name"), _where(projects))
        if len(ids) > 1:
            raise UsageError(f'{CUSTOM_FIELD.label} "{name}" differs between {_where(projects)}; name one project.')
        return next(field for _p, field in pairs if int(field["id"]) in ids)

    @staticmethod
    def custom_item_ids(field: JSONObject, names: Sequence[str]) -> list[int]:
        """Ids of a list-type custom field's choices, by name.

        Raises:
            UsageError: a name that is not one of the field's choices.
        """
        return _resolve_all(f'choice of "{field.get("name")}"', list(field.get("items") or []), names)

    async def members(self, projects: Sequence[JSONObject]) -> list[JSONObject]:
        seen: dict[int, JSONObject] = {}
        for _project, user in await self.per_project(projects, USER):
            seen.setdefault(int(user["id"]), user)
        return list(seen.values())

    async def users(self, wanted: Sequence[str], projects: Sequence[JSONObject]) -> list[tuple[int, str]]:
        """Resolve `me`, numeric ids, login ids and display names among the projects' members.

        Raises:
            UsageError: a name matches no member, or several.
        """
        result: dict[int, str] = {}
        members: list[JSONObject] | None = None
        for text in wanted:
            value = text.strip()
            if value.casefold() in ME:
                me = await self.client.myself()
                result[int(me["id"])] = str(me["name"])
                continue
            if members is None:
                members = await self.members(projects)
            if value.isascii() and value.isdigit() and len(value) <= 12:
                match = next((u for u in members if int(u["id"]) == int(value)), None)
                if match is None:
                    raise UsageError(f"User id {value} is not a member of {_where(projects)}.")
                result[int(value)] = str(match["name"])
                continue
            options = _options(members, "name", "userId")
            where = "the members of " + _where(projects)
            uids = resolve("user", value, options, where)
            people = [u for u in members if int(u["id"]) in uids]
            by_login = [u for u in people if norm(str(u.get("userId") or "")) == norm(value)]
            if len(people) > 1 and len(by_login) == 1:  # the exact login id wins over someone's display name
                people = by_login
            if len(people) > 1:  # one person's name is another's login id: never merge two people
                named = ", ".join(
                    f'"{shown(str(u["name"]))}" (login {shown(str(u.get("userId") or "-"))})' for u in people
                )
                raise UsageError(f'user "{shown(value)}" is ambiguous: it matches {named}. Use the login id.')
            result.update((int(u["id"]), str(u["name"])) for u in people)
        return list(result.items())
