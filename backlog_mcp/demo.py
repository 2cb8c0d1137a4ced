"""`--demo`: the bundled sample space, served in-process: no account, no key, no network, no `.env`.

The same dataset as the project's fake Backlog, behind an httpx ASGI transport; writes land in an
in-memory copy that is thrown away when the server stops. No cache file and no audit log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from backlog_mcp.config import Settings

if TYPE_CHECKING:
    import httpx

DEMO_URL = "https://demo.backlog.invalid"  # .invalid: never a real host, so no answer can point at one


def demo_settings(base: Settings | None = None) -> Settings:
    """Settings for the demo; access controls (read-only, projects, toolsets) carry over from `base`."""
    from backlog_mcp.fake import DEFAULT_API_KEY

    settings = Settings(api_key=DEFAULT_API_KEY, base_url=DEMO_URL)
    if base is not None:
        settings = replace(
            settings,
            read_only=base.read_only,
            projects=base.projects,
            levels=base.levels,
            toolsets=base.toolsets,
            tools=base.tools,
            http_token=base.http_token,
            http_hosts=base.http_hosts,
            http_origins=base.http_origins,
        )
    return replace(settings, cache_path=None, audit_path=None, demo=True)


def demo_transport() -> httpx.AsyncBaseTransport:
    """A fresh sample space (a new in-memory copy per run), answering in-process."""
    import httpx

    from backlog_mcp.fake import FakeBacklog, build_space

    return httpx.ASGITransport(app=FakeBacklog(build_space(), base_url=DEMO_URL))


def demo_today() -> datetime:
    """The sample space's 'now', so overdue marks and 'yesterday' match its data."""
    from backlog_mcp.fake import REFERENCE_NOW

    return REFERENCE_NOW
