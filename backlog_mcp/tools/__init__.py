"""Tool registration: one module per Backlog area."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backlog_mcp.tools import issues, space

if TYPE_CHECKING:
    from mcp.server import MCPServer


def register(server: MCPServer[Any]) -> None:
    space.register(server)
    issues.register(server)
