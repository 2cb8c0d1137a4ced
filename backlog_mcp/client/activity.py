"""Timelines: the space's, a project's, a user's."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import Page, Params


class ActivityEndpoints(Scoped):
    """Activities."""

    async def activities(self, path: str, params: Params) -> Page:
        """`/space/activities`, `/projects/KEY/activities` or `/users/ID/activities`, within the allow-list.

        Never cached: a timeline is asked for to see what just changed, by anyone.
        """
        found = await self.get_list(path, params, ttl=0)
        return Page([a for a in found if self.allows_key(str((a.get("project") or {}).get("projectKey", "")))], found)
