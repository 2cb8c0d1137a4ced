"""Space-level tools: the connection check."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from backlog_mcp.render.space import render_myself
from backlog_mcp.tools.guard import add_read_tool, guarded

if TYPE_CHECKING:
    from backlog_mcp.server import AppState


async def get_myself(ctx: Context[Any]) -> str:
    """Check the connection: which Backlog user and space the configured API key belongs to.

    Call this first when other tools fail with authentication errors, or to learn the current
    user's name and login id (what `me` means in other tools).
    """

    async def work(app: AppState) -> str:
        user, space = await asyncio.gather(app.client.myself(), app.client.space())
        return render_myself(user, space, app.settings.base_url)

    return await guarded(ctx, work)


def register(server: MCPServer[Any]) -> None:
    add_read_tool(server, get_myself, "Who am I (connection check)")
