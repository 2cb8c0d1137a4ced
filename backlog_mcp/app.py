"""What every tool call needs (`AppState`), opened once per server run and closed after it.

A leaf below the tools: it knows the client, the cache and the name lookup, and nothing of MCP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backlog_mcp.audit import AuditLog
from backlog_mcp.cache import ResponseCache
from backlog_mcp.client import BacklogClient, RetryPolicy
from backlog_mcp.config import Settings
from backlog_mcp.lookup import Lookup
from backlog_mcp.render.text import View

if TYPE_CHECKING:
    import httpx


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    """The settings, the one client, its cache and the shared lookup."""

    settings: Settings
    client: BacklogClient
    cache: ResponseCache | None
    lookup: Lookup
    now: Callable[[], datetime] = utc_now  # "today" for overdue marks; tests pin it
    audit: AuditLog | None = None  # every write attempt, one line each

    async def view(self, tz: ZoneInfo) -> View:
        """How to show times: the caller's zone, the space's zone (date-only fields), today there."""
        space = await self.client.space()
        try:
            space_tz = ZoneInfo(str(space.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            space_tz = ZoneInfo("UTC")
        return View(tz=tz, today=self.now().astimezone(tz).date(), base_url=self.settings.base_url, space_tz=space_tz)


@asynccontextmanager
async def open_state(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
) -> AsyncIterator[AppState]:
    """Open the cache and the client; close both however the run ends."""
    cache = await ResponseCache.open(settings.cache_path) if settings.cache_path else None
    client = BacklogClient(settings, cache, transport=transport, retry=retry)
    try:
        audit = AuditLog(settings.audit_path) if settings.audit_path else None
        yield AppState(settings, client, cache, Lookup(client), now, audit)
    finally:
        await client.aclose()
        if cache is not None:
            await cache.close()
