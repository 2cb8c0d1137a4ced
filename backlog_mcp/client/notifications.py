"""The key owner's notifications: read them, mark them read (within the allow-list)."""

from __future__ import annotations

from collections.abc import Sequence

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import JSONObject, Page, Params
from backlog_mcp.errors import WriteLevelError


class NotificationEndpoints(Scoped):
    """Notifications."""

    _INBOX = ("/notifications", "/notifications/count")

    async def notifications(self, params: Params) -> Page:
        """The key owner's notifications, within the allow-list (kept for the issue TTL: they arrive often)."""
        found = await self.get_list("/notifications", params, ttl=self._issue_ttl)
        return Page([n for n in found if self.allows_key(str((n.get("project") or {}).get("projectKey", "")))], found)

    async def notification(self, notification_id: int) -> JSONObject | None:
        """One of the key owner's notifications, or None (unknown, or of a project outside the allow-list).

        Backlog has no endpoint for one: ids just above and at it are asked for (`maxId` one above and
        two of them: right whether Backlog's bound is inclusive or not). Never cached: read state changes.
        """
        found = await self.get_list(
            "/notifications", {"maxId": notification_id + 1, "count": 2, "order": "desc"}, ttl=0
        )
        return next(
            (
                n
                for n in found
                if n.get("id") == notification_id
                and self.allows_key(str((n.get("project") or {}).get("projectKey", "")))
            ),
            None,
        )

    async def count_notifications(self, params: Params) -> int | None:
        """Backlog's count, or None under an allow-list: it counts other projects' notifications too."""
        if self.settings.projects is not None:
            return None
        return await self.get_count("/notifications/count", params, ttl=self._issue_ttl)

    async def mark_notifications_read(self, notification_ids: Sequence[int]) -> None:
        """Each one read; under an allow-list, only those of allowed projects (checked once, before any is sent).

        Raises:
            NotFoundError: an id not among the newest 100 of the allowed projects, worded as a missing one.
        """
        if self.settings.projects is not None:
            allowed = {int(n["id"]) for n in (await self.notifications({"count": 100, "order": "desc"})).items}
            for nid in notification_ids:
                if nid not in allowed:
                    raise self._denied("notification", f"/notifications/{nid}/markAsRead")
        for nid in notification_ids:
            await self._request("POST", f"/notifications/{nid}/markAsRead", stale=self._INBOX)

    async def reset_unread_count(self) -> None:
        """Every notification read, in every project: refused under an allow-list."""
        if self.settings.projects is not None:
            raise WriteLevelError("Marking every notification read would touch projects outside BACKLOG_PROJECTS.")
        await self._request("POST", "/notifications/markAsRead", stale=self._INBOX)
