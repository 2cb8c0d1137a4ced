"""Notifications: what needs the user's attention, unread first."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from backlog_mcp.args import Timezone, zone
from backlog_mcp.client import Params
from backlog_mcp.lookup import gather
from backlog_mcp.render.notifications import render_notifications
from backlog_mcp.tools.declare import Call, ToolSpec


async def get_notifications(
    call: Call,
    count: Annotated[int, Field(ge=1, le=100, description="1-100")] = 20,
    before_id: Annotated[int | None, Field(ge=1, description="Notifications older than this id")] = None,
    unread_only: bool = False,
    timezone: Timezone = "UTC",
) -> str:
    """My notifications: who did what on which issue (assigned, commented, mentioned…), unread first."""
    tz = zone(timezone)
    client = call.app.client
    # Ids are integers: `maxId` one below the bound is right whether Backlog's bound is inclusive or not.
    params: Params = {"count": count, "maxId": before_id - 1 if before_id else None, "order": "desc"}
    page, unread_total, view = await gather(
        client.notifications(params), client.count_notifications({"alreadyRead": False}), call.app.view(tz)
    )
    full = len(page.sent) == count  # Backlog's page, before the allow-list: older ones may exist
    lowest_sent = min((int(n["id"]) for n in page.sent), default=None)
    shown = [n for n in page.items if not n.get("alreadyRead")] if unread_only else page.items
    return render_notifications(
        shown,
        unread_total=unread_total,
        view=view,
        older_call=lambda oldest_shown: call.again(before_id=oldest_shown),
        lowest_sent=lowest_sent if full else None,
    )


TOOLS = (ToolSpec(get_notifications, "My notifications", "notifications"),)
