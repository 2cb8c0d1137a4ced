"""The space's metadata and the project allow-list (`BACKLOG_PROJECTS`), on top of the transport.

An object of a project outside the allow-list raises the same `NotFoundError` a missing one does,
and lists are queried or filtered down to the allowed projects. Every area builds on this.
"""

from __future__ import annotations

from collections.abc import Sequence

from backlog_mcp.client.transport import Transport
from backlog_mcp.client.wire import JSONObject, Params, segment
from backlog_mcp.config import WRITE_LEVELS
from backlog_mcp.errors import NotFoundError, ReadOnlyError, WriteLevelError


def issue_paths(*refs: str | int | None) -> list[str]:
    """What a change to an issue makes stale: the issue (by each ref) with its comments, and lists."""
    return ["/issues", "/issues/count", *(f"/issues/{segment(ref)}/*" for ref in refs if ref)]


def is_id(value: str) -> bool:
    """A numeric id as Backlog writes them: ASCII digits only ("４２" and "²" are not ids)."""
    return value.isascii() and value.isdigit()


def project_of(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0].upper()


class Scoped(Transport):
    """Metadata of the space, the allow-list and write levels, and the projects they apply to."""

    # -- the space -------------------------------------------------------------------------------

    async def myself(self) -> JSONObject:
        me = await self.get_object("/users/myself", ttl=self._meta_ttl)
        self._my_id = int(me["id"]) if isinstance(me.get("id"), int) else self._my_id
        return me

    async def space(self) -> JSONObject:
        return await self.get_object("/space", ttl=self._meta_ttl)

    async def users(self) -> list[JSONObject]:
        return await self.get_list("/users", ttl=self._meta_ttl)

    async def priorities(self) -> list[JSONObject]:
        return await self.get_list("/priorities", ttl=self._meta_ttl)

    async def resolutions(self) -> list[JSONObject]:
        return await self.get_list("/resolutions", ttl=self._meta_ttl)

    # -- the project allow-list ----------------------------------------------------------------

    def allows_key(self, project_key: str) -> bool:
        allowed = self.settings.projects
        return allowed is None or project_key.upper() in allowed

    def _denied(self, what: str, path: str) -> NotFoundError:
        # Word for word what a missing object gives: a denied object must not reveal that it exists.
        return NotFoundError(
            f"GET {path}: No {what}. (Backlog error code 6)", status=404, code=6, method="GET", path=path
        )

    def require(self, project_key: str, need: str) -> None:
        """Refuse, before anything is sent, a write above the project's level.

        Raises:
            WriteLevelError: `need` ("comment" or "write") is above what `BACKLOG_PROJECTS` gives the project.
        """
        have = self.settings.level(project_key)
        if WRITE_LEVELS.index(have) < WRITE_LEVELS.index(need):
            if self.settings.read_only:
                raise ReadOnlyError(f"{project_key}: refused, the server runs read-only")
            raise WriteLevelError(
                f"Project {project_key} is at level {have!r} on this server, and this write needs {need!r}; "
                f"nothing was sent. The server's configuration decides: BACKLOG_PROJECTS={project_key}:{need}."
            )

    async def _allowed_project_ids(self) -> set[int] | None:
        if self.settings.projects is None:
            return None
        return {int(p["id"]) for p in await self.projects()}

    async def _scoped(self, params: Params) -> Params | None:
        """`params` narrowed to the allowed projects; None when nothing allowed is asked for."""
        allowed = await self._allowed_project_ids()
        if allowed is None:
            return params
        asked = params.get("projectId")
        if isinstance(asked, Sequence) and not isinstance(asked, str):
            allowed &= {int(pid) for pid in asked}
        elif asked is not None:
            allowed &= {int(asked)}
        return {**params, "projectId": sorted(allowed)} if allowed else None

    # -- projects --------------------------------------------------------------------------------

    async def projects(self) -> list[JSONObject]:
        """Every project the key can see, archived ones too, within the allow-list."""
        projects = await self.get_list("/projects", ttl=self._meta_ttl)
        if self.settings.projects is None:
            return projects
        return [p for p in projects if self.allows_key(str(p.get("projectKey", "")))]

    async def project(self, key: str | int) -> JSONObject:
        """A project by key or id, from the (shared, cached) project list when it is there."""
        path = f"/projects/{segment(key)}"
        if isinstance(key, str) and not is_id(key) and not self.allows_key(key):
            raise self._denied("project", path)
        for project in await self.projects():
            if str(key) in (project.get("projectKey"), str(project.get("id"))):
                return project
        project = await self.get_object(path, ttl=self._meta_ttl)
        if not self.allows_key(str(project.get("projectKey", ""))):
            raise self._denied("project", path)
        return project

    async def project_list(self, key: str | int, what: str) -> list[JSONObject]:
        """Per-project metadata: statuses, issueTypes, categories, versions, customFields, users."""
        if self.settings.projects is not None:
            if isinstance(key, str) and not is_id(key):
                if not self.allows_key(key):  # a key says its project: no lookup needed
                    raise self._denied("project", f"/projects/{segment(key)}")
            else:
                await self.project(key)
        return await self.get_list(f"/projects/{segment(key)}/{what}", ttl=self._meta_ttl)

    # -- what reads teach and writes make stale ----------------------------------------------------

    def _learn_ids(self, issues: list[JSONObject]) -> None:
        for issue in issues:
            key, issue_id = issue.get("issueKey"), issue.get("id")
            if isinstance(key, str) and isinstance(issue_id, int):
                self.issue_ids.remember(key, issue_id)

    def _watch_paths(self, user_id: int) -> list[str]:
        return [f"/users/{user_id}/watchings", f"/users/{user_id}/watchings/count", "/watchings/*"]

    def _my_watch_paths(self) -> list[str]:
        """The key owner's watch list shows issues with their summary and status: stale after an issue write."""
        return self._watch_paths(self._my_id) if self._my_id is not None else []
