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
    # Whether Backlog's id bounds are inclusive is not documented: ask for one more and drop the bound.
    params: Params = {"count": min(count + 1, 100), "maxId": before_id, "order": "desc"}
    page, unread_total, view = await gather(
        client.notifications(params), client.count_notifications({"alreadyRead": False}), call.app.view(tz)
    )
    page = [n for n in page if n.get("id") != before_id][:count]
    older = call.again(before_id=min(int(n["id"]) for n in page)) if len(page) == count else None
    shown = [n for n in page if not n.get("alreadyRead")] if unread_only else page
    return render_notifications(shown, unread_total=unread_total, view=view, older_call=older)


TOOLS = (ToolSpec(get_notifications, "My notifications", "notifications"),)
