"""`--demo`: the bundled sample space, served in-process: no account, no key, no network, no `.env`.

The same dataset as the project's fake Backlog, behind an httpx ASGI transport; writes land in an
in-memory copy that is thrown away when the server stops. No cache file and no audit log.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from backlog_mcp.config import Settings

if TYPE_CHECKING:
    import httpx

DEMO_URL = "https://demo.backlog.invalid"  # .invalid: never a real host, so no answer can point at one


def demo_settings(base: Settings | None = None) -> Settings:
    """Settings for the demo; access controls (read-only, projects, toolsets) carry over from `base`."""
    from backlog_mcp.fake import DEFAULT_API_KEY

    return replace(
        base or Settings(api_key="", base_url=""),
        api_key=DEFAULT_API_KEY,
        base_url=DEMO_URL,
        user_id=None,
        per_user_keys=False,
        cache_path=None,
        audit_path=None,
        demo=True,
    )


def demo_transport() -> httpx.AsyncBaseTransport:
    """A fresh sample space (a new in-memory copy per run), answering in-process."""
    import httpx

    from backlog_mcp.fake import REFERENCE_NOW, FakeBacklog, build_space

    space = build_space()
    started = time.monotonic()
    # Writes land on the demo's today, in order: its fixed "now" plus the time the server has run.
    space.clock = lambda: REFERENCE_NOW + timedelta(seconds=time.monotonic() - started)
    return httpx.ASGITransport(app=FakeBacklog(space, base_url=DEMO_URL))


def demo_today() -> datetime:
    """The sample space's 'now', so overdue marks and 'yesterday' match its data."""
    from backlog_mcp.fake import REFERENCE_NOW

    return REFERENCE_NOW
