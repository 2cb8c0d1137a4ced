"""Space-level tools: the connection check."""

from __future__ import annotations

from backlog_mcp.lookup import gather
from backlog_mcp.render.space import render_myself
from backlog_mcp.tools.declare import Call, ToolSpec


async def get_myself(call: Call) -> str:
    """Which Backlog user and space the API key belongs to: the connection check, and who `me` is."""
    user, space = await gather(call.app.client.myself(), call.app.client.space())
    return render_myself(user, space, call.app.settings.base_url)


TOOLS = (ToolSpec(get_myself, "Who am I (connection check)", "space"),)
