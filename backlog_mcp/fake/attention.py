"""The fake's writes on what needs the user's attention: watchings (add, note, remove) and notifications read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backlog_mcp.fake.dataset import Space, ts
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, missing, single


class AttentionRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_issue`)."""

    space: Space

    if TYPE_CHECKING:  # supplied by `FakeBacklog`

        def _issue(self, req: Request, key: str) -> JSON: ...

    # -- watchings ---------------------------------------------------------------------------------

    def add_watching(self, req: Request) -> Answer:
        issue = self._issue(req, single(req.form, "issueIdOrKey") or "")
        mine = self.space.watchings.setdefault(req.user_id, [])
        if any(w["issue"]["id"] == issue["id"] for w in mine):
            raise bad("The issue is already being watched.")
        newest = max((w["id"] for ws in self.space.watchings.values() for w in ws), default=7_699)
        now = ts(self.space.clock())
        watching = {
            "id": newest + 1, "resourceAlreadyRead": True, "note": single(req.form, "note") or "", "type": "issue",
            "issue": {k: v for k, v in issue.items() if k != "customFields"}, "lastContentUpdated": issue["updated"],
            "created": now, "updated": now,
        }  # fmt: skip
        mine.append(watching)
        return 201, watching, []

    def _watching(self, req: Request, wid: str) -> JSON:
        found = next((w for w in self.space.watchings.get(req.user_id, []) if str(w["id"]) == wid), None)
        if found is None:
            raise missing("watching")
        return found

    def get_watching(self, req: Request, wid: str) -> Answer:
        return 200, self._watching(req, wid), []

    def update_watching(self, req: Request, wid: str) -> Answer:
        watching = self._watching(req, wid)
        watching["note"] = single(req.form, "note") or ""
        watching["updated"] = ts(self.space.clock())
        return 200, watching, []

    def delete_watching(self, req: Request, wid: str) -> Answer:
        watching = self._watching(req, wid)
        self.space.watchings[req.user_id].remove(watching)
        return 200, watching, []

    # -- notifications -----------------------------------------------------------------------------

    def read_notification(self, req: Request, nid: str) -> Answer:
        found = next((n for n in self.space.notifications.get(req.user_id, []) if str(n["id"]) == nid), None)
        if found is None:
            raise missing("notification")
        found["alreadyRead"] = True
        return 204, None, []

    def reset_unread(self, req: Request) -> Answer:
        """Resets the unread badge (Backlog's "already read" flag), answering the count it cleared."""
        inbox = self.space.notifications.get(req.user_id, [])
        count = sum(1 for n in inbox if not n["alreadyRead"])
        for notification in inbox:
            notification["alreadyRead"] = True
        return 200, {"count": count}, []
