"""What every tool call needs (`AppState`), opened once per server run and closed after it.

A leaf below the tools: it knows the client, the cache and the name lookup, and nothing of MCP.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backlog_mcp import logs
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
    users: PerUser | None = None  # HTTP with per-user keys: one client per key, sharing the cache

    def for_key(self, key: str) -> AppState:
        """The state to serve one request with its own Backlog key (per-user HTTP mode)."""
        return self if self.users is None else self.users.state(key)

    async def view(self, tz: ZoneInfo) -> View:
        """How to show times: the caller's zone, the space's zone (date-only fields), today there."""
        space = await self.client.space()
        try:
            space_tz = ZoneInfo(str(space.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            space_tz = ZoneInfo("UTC")
        return View(tz=tz, today=self.now().astimezone(tz).date(), base_url=self.settings.base_url, space_tz=space_tz)


class PerUser:
    """One client and lookup per API key (most recently used kept), all sharing one cache.

    The cache is keyed by the key's identity (`cache.cache_scope`), so no key is ever served what
    another key fetched.
    """

    LIMIT = 256

    def __init__(self, base: AppState, make_client: Callable[[Settings], BacklogClient]) -> None:
        self.base, self.make_client = base, make_client
        self.states: OrderedDict[str, AppState] = OrderedDict()
        self.retired: list[BacklogClient] = []
        self._closing: set[asyncio.Future[None]] = set()

    def state(self, key: str) -> AppState:
        found = self.states.get(key)
        if found is not None:
            self.states.move_to_end(key)
            return found
        logs.protect(key)
        # Each user is themself: the operator's USER_ID is nobody else's "me".
        settings = replace(self.base.settings, api_key=key, user_id=None)
        client = self.make_client(settings)
        state = AppState(settings, client, self.base.cache, Lookup(client), self.base.now, self.base.audit)
        self.states[key] = state
        if len(self.states) > self.LIMIT:
            _old, evicted = self.states.popitem(last=False)
            # A call may still be using it: close it once any call has had its whole deadline.
            loop = asyncio.get_running_loop()
            delay = self.base.settings.tool_deadline + 5
            self.retired.append(evicted.client)
            loop.call_later(delay, lambda: self._close(evicted.client))
        return state

    def _close(self, client: BacklogClient) -> None:
        if client in self.retired:
            self.retired.remove(client)
            task = asyncio.ensure_future(client.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for client in [*self.retired, *(state.client for state in self.states.values())]:
            await client.aclose()


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
    users: PerUser | None = None
    try:
        audit = AuditLog(settings.audit_path) if settings.audit_path else None
        state = AppState(settings, client, cache, Lookup(client), now, audit)
        if settings.per_user_keys:
            users = PerUser(state, lambda own: BacklogClient(own, cache, transport=transport, retry=retry))
            state = replace(state, users=users)
        yield state
    finally:
        if users is not None:
            await users.aclose()
        await client.aclose()
        if cache is not None:
            await cache.close()
