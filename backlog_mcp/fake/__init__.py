"""A fake Backlog API v2, faithful to backlog-api.md, with a seeded sample space: `FakeBacklog` is an ASGI app."""

from backlog_mcp.fake.app import FakeBacklog
from backlog_mcp.fake.dataset import DEFAULT_API_KEY, OTHER_API_KEY, REFERENCE_NOW
from backlog_mcp.fake.protocol import Request
from backlog_mcp.fake.sample import build_space

__all__ = ["DEFAULT_API_KEY", "OTHER_API_KEY", "REFERENCE_NOW", "FakeBacklog", "Request", "build_space"]
