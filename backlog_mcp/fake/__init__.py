"""A fake Backlog API v2 for tests, benchmarks and demos: `FakeBacklog` is an ASGI app."""

from backlog_mcp.fake.app import FakeBacklog, Faults
from backlog_mcp.fake.dataset import DEFAULT_API_KEY, OTHER_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.fake.loopback import serve_on_loopback

__all__ = [
    "DEFAULT_API_KEY",
    "OTHER_API_KEY",
    "REFERENCE_NOW",
    "FakeBacklog",
    "Faults",
    "build_space",
    "serve_on_loopback",
]
