"""MCP server for Nulab Backlog."""

__version__ = "0.1.0"
