"""The key owner's watched issues (the only DELETE this client can send is `unwatch`)."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped, project_of
from backlog_mcp.client.wire import JSONObject, Page, Params, segment


class WatchingEndpoints(Scoped):
    """Watch lists, and watching or not."""

    async def watchings(self, user_id: int, params: Params) -> Page:
        """A user's watched issues, within the allow-list."""
        found = await self.get_list(f"/users/{segment(user_id)}/watchings", params, ttl=self._issue_ttl)
        allowed = [w for w in found if self.allows_key(project_of(str((w.get("issue") or {}).get("issueKey", ""))))]
        self._learn_ids([w["issue"] for w in allowed if isinstance(w.get("issue"), dict)])
        return Page(allowed, found)

    async def count_watchings(self, user_id: int) -> int | None:
        """Backlog's count, or None under an allow-list (it counts other projects' issues too)."""
        if self.settings.projects is not None:
            return None
        return await self.get_count(f"/users/{segment(user_id)}/watchings/count", ttl=self._issue_ttl)

    async def watching_of(self, user_id: int, issue_id: int) -> JSONObject | None:
        found = await self.get_list(f"/users/{user_id}/watchings", {"issueId": [issue_id], "count": 100}, ttl=0)
        return next((w for w in found if int((w.get("issue") or {}).get("id") or 0) == issue_id), None)

    async def watch(self, issue: JSONObject, user_id: int, note: str) -> JSONObject:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        form: Params = {"issueIdOrKey": str(issue["issueKey"]), "note": note}
        data = await self._request("POST", "/watchings", data=form, stale=self._watch_paths(user_id))
        return data if isinstance(data, dict) else {}

    async def update_watching(self, issue: JSONObject, watching_id: int, user_id: int, note: str) -> JSONObject:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        path = f"/watchings/{watching_id}"
        data = await self._request("PATCH", path, data={"note": note}, stale=self._watch_paths(user_id))
        return data if isinstance(data, dict) else {}

    async def unwatch(self, issue: JSONObject, watching_id: int, user_id: int) -> None:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        await self._request("DELETE", f"/watchings/{watching_id}", stale=self._watch_paths(user_id))
