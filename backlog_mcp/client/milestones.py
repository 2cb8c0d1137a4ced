"""Milestones (Backlog's versions): adding one to a project and updating it."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import JSONObject, Params, segment
from backlog_mcp.errors import BadResponseError


class MilestoneEndpoints(Scoped):
    """Version and milestone writes (one list in Backlog); the project's list and issues showing them go stale."""

    async def milestones_now(self, project_key: str) -> list[JSONObject]:
        """The project's versions as Backlog has them now (not the cached list): an update sends the name back."""
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        return await self.get_list(f"/projects/{segment(project_key)}/versions", ttl=0)

    async def create_milestone(self, project_key: str, form: Params) -> JSONObject:
        return await self._write_version("POST", project_key, f"/projects/{segment(project_key)}/versions", form)

    async def update_milestone(self, project_key: str, milestone_id: int, form: Params) -> JSONObject:
        path = f"/projects/{segment(project_key)}/versions/{milestone_id}"
        return await self._write_version("PATCH", project_key, path, form)

    async def _write_version(self, method: str, project_key: str, path: str, form: Params) -> JSONObject:
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        self.require(project_key, "write")
        # Issues embed their milestones by name: a rename or an archive shows in every cached issue.
        stale = [f"/projects/{segment(project_key)}/versions", "/issues", "/issues/count", "/issues/*"]
        data = await self._request(method, path, data=form, stale=stale)
        if not isinstance(data, dict):
            raise BadResponseError(f"{method} {path}: expected a JSON object", method=method, path=path)
        return data
