"""A fake Backlog API v2, faithful to backlog-api.md, with a seeded sample space: `FakeBacklog` is an ASGI app."""

from backlog_mcp.fake.app import FakeBacklog, Request
from backlog_mcp.fake.dataset import DEFAULT_API_KEY, OTHER_API_KEY, REFERENCE_NOW, build_space

__all__ = ["DEFAULT_API_KEY", "OTHER_API_KEY", "REFERENCE_NOW", "FakeBacklog", "Request", "build_space"]
