"""Issue tools (filled in by the issue-summaries work)."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer


def register(server: MCPServer[Any]) -> None:
    return None
