"""What every tool call needs (`AppState`), opened once per server run and closed after it.

A leaf below the tools: it knows the client, the cache and the name lookup, and nothing of MCP.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backlog_mcp import logs
from backlog_mcp.audit import AuditLog
from backlog_mcp.cache import key_identity, user_scope
from backlog_mcp.client import BacklogClient, RetryPolicy
from backlog_mcp.client.tracking import asked_ahead
from backlog_mcp.config import Settings
from backlog_mcp.errors import KeyRefusedError
from backlog_mcp.lookup import Lookup
from backlog_mcp.render.text import View
from backlog_mcp.store import Cache, open_cache

if TYPE_CHECKING:
    import httpx


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    """The settings, the one client, its cache and the shared lookup."""

    settings: Settings
    client: BacklogClient
    cache: Cache | None
    lookup: Lookup
    now: Callable[[], datetime] = utc_now  # "today" for overdue marks; tests pin it
    audit: AuditLog | None = None  # every write attempt, one line each
    users: PerUser | None = None  # HTTP with per-user keys: one client per key, sharing the cache
    others: Mapping[str, AppState] = field(default_factory=dict)  # several spaces: the rest, by name

    @property
    def space_names(self) -> tuple[str, ...]:
        """Every configured space, this (the default) one first; empty with one space."""
        return (self.settings.space, *self.others) if self.others else ()

    def in_space(self, name: str) -> AppState:
        return self if name == self.settings.space else self.others[name]

    def for_key(self, key: str, user: str | None = None) -> AppState:
        """The state to serve one request with its own Backlog key or OAuth token (`user`: whose)."""
        return self if self.users is None else self.users.state(key, user)

    def prefetch(self) -> None:
        """Ask now, at start, for what nearly every first call needs: the project list, the space, who "me" is.

        Sent early and kept per metadata TTL, so the user's first question does not wait a round trip for
        them (a space-wide search would wait two); a failure is reported by the call that needs the answer,
        not here. None with per-user keys or sign-in: no key is the server's own.
        """
        if self.users is not None:  # per-user keys (sign-in too)
            return
        # Without a cache (or with metadata kept for no time) the answers would be gone before a call asks.
        every = (self.client, *(other.client for other in self.others.values()))
        clients = [c for c in every if c.caches_reads and c.settings.metadata_ttl > 0]

        async def ask() -> None:
            # httpx is imported and its pool (TLS context) built on a worker thread: the client's opening
            # exchange (initialize, tools/list) is not held up by them.
            await asyncio.to_thread(lambda: [client.pool for client in clients])
            asked_ahead.set(True)  # in this task's context, so in the asks' below
            for client in clients:
                for each in (client.projects, client.space, client.myself):
                    client.early(each())

        if clients:
            self.client.early(ask())  # the main client's: settled first when the state closes

    async def view(self, tz: ZoneInfo | None) -> View:
        """How to show times: the caller's zone (None: the space's), the space's zone (date-only fields), today."""
        space = await self.client.space()
        try:
            space_tz = ZoneInfo(str(space.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            space_tz = ZoneInfo("UTC")
        # By default the space's zone: Backlog's user object carries none (backlog-api.md §5.1), so the
        # space's is the zone the key owner's team works in, and costs no request (`/space` is read anyway).
        tz = tz or space_tz
        return View(tz=tz, today=self.now().astimezone(tz).date(), base_url=self.settings.base_url, space_tz=space_tz)


class PerUser:
    """One client and lookup per API key (most recently used kept), all sharing one cache and one pool.

    The cache is keyed by the key's identity (`cache.cache_scope`), so no key is ever served what
    another key fetched. Bounded against a flood of made-up keys: at most `LIMIT` clients live (they
    own no connections: the pool is shared, the key travels in each request), a key Backlog rejected
    is refused without a request for `REJECTED_FOR` seconds, and new keys are admitted at most
    `NEW_KEYS_BURST` at once, then `NEW_KEYS_PER_SECOND`.
    """

    LIMIT = 256
    REJECTED_FOR = 60.0
    REJECTED_KEPT = 1024
    NEW_KEYS_BURST = 60
    NEW_KEYS_PER_SECOND = 1.0

    def __init__(
        self,
        base: AppState,
        make_client: Callable[[Settings], BacklogClient],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base, self.make_client, self.clock = base, make_client, clock
        self.states: OrderedDict[str, AppState] = OrderedDict()
        self.rejected: OrderedDict[str, float] = OrderedDict()  # key identity -> when Backlog said 401
        self._allowance = float(self.NEW_KEYS_BURST)
        self._refilled = clock()

    def refused(self, key: str) -> bool:
        """Whether Backlog answered 401 to `key` moments ago."""
        when = self.rejected.get(key_identity(key))
        return when is not None and self.clock() - when < self.REJECTED_FOR

    def state(self, key: str, user: str | None = None) -> AppState:
        """The state for `key`; `user` (a signed-in Backlog user) scopes the cache to them, not to this token.

        Raises:
            KeyRefusedError: Backlog rejected this key moments ago, or too many new keys are arriving.
        """
        found = self.states.get(key)
        if found is not None:
            self.states.move_to_end(key)
            return found
        now = self.clock()
        if self.refused(key):
            if self.base.settings.oauth is not None:
                raise KeyRefusedError(
                    "Backlog no longer accepts your sign-in (HTTP 401); sign in again from your client (reconnect "
                    "this server). Nothing was sent."
                )
            raise KeyRefusedError(
                "Backlog rejected this API key moments ago (HTTP 401): the key in your X-Backlog-Api-Key header "
                f"is wrong, revoked, or of another space than {self.base.settings.base_url}. Fix it in your client's "
                "configuration; nothing was sent."
            )
        if user is None:  # a token this server issued to a signed-in user is no made-up key: not counted
            self._admit(now)
        logs.protect(key)
        # Each user is themself: the operator's USER_ID is nobody else's "me".
        settings = replace(self.base.settings, api_key=key, user_id=None)
        client = self.make_client(settings)
        if user is not None:  # one user's tokens come and go (hourly): their cache rows and budget stay theirs
            client.scope = client.rates.scope = user_scope(settings.base_url, user)
        client.on_rejected = functools.partial(self._rejected, key)
        state = AppState(settings, client, self.base.cache, Lookup(client), self.base.now, self.base.audit)
        self.states[key] = state
        while len(self.states) > self.LIMIT:
            old, _evicted = self.states.popitem(last=False)
            self._forget_later(old)
        return state

    def _admit(self, now: float) -> None:
        """Count one new key against the allowance (`NEW_KEYS_BURST`, then `NEW_KEYS_PER_SECOND`).

        Raises:
            KeyRefusedError: the allowance is spent.
        """
        self._allowance = min(
            float(self.NEW_KEYS_BURST), self._allowance + (now - self._refilled) * self.NEW_KEYS_PER_SECOND
        )
        self._refilled = now
        if self._allowance < 1:
            wait = (1 - self._allowance) / self.NEW_KEYS_PER_SECOND
            raise KeyRefusedError(
                f"Too many new API keys are reaching this server at once; retry in {math.ceil(wait)} s. "
                "Nothing was sent to Backlog."
            )
        self._allowance -= 1

    async def aclose(self) -> None:
        """Settle every user's early requests (their pool is the server's: it closes with it)."""
        for state in list(self.states.values()):
            await state.client.settle()

    def _rejected(self, key: str) -> None:
        """Backlog answered 401 to `key`: drop its client and refuse it for a while without asking again."""
        identity = key_identity(key)
        self.rejected[identity] = self.clock()
        self.rejected.move_to_end(identity)
        while len(self.rejected) > self.REJECTED_KEPT:
            self.rejected.popitem(last=False)
        if self.states.pop(key, None) is not None:
            self._forget_later(key)

    def _forget_later(self, key: str) -> None:
        """Stop redacting a dropped key once any call that had it has had its whole deadline."""
        delay = self.base.settings.tool_deadline + 5
        asyncio.get_running_loop().call_later(delay, lambda: None if key in self.states else logs.forget(key))


@asynccontextmanager
async def open_state(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
) -> AsyncIterator[AppState]:
    """Open the cache and the client; close both however the run ends."""
    cache = await open_cache(settings)
    client = BacklogClient(settings, cache, transport=transport, retry=retry)
    users: PerUser | None = None
    others: dict[str, AppState] = {}
    try:
        audit = AuditLog(settings.audit_path) if settings.audit_path else None
        state = AppState(settings, client, cache, Lookup(client), now, audit)
        for other in settings.spaces[1:]:
            # Its own client and lookup; the cache and audit log are shared, rows and lines keyed by space.
            own = BacklogClient(other, cache, transport=transport, retry=retry)
            others[other.space] = AppState(other, own, cache, Lookup(own), now, audit)
        if others:
            state = replace(state, others=others)
        if settings.per_user_keys:
            # One pool for every user's client: the key is per request, so connections need not be.
            users = PerUser(state, lambda own: BacklogClient(own, cache, transport=transport, retry=retry, pool=client))
            state = replace(state, users=users)
        yield state
    finally:
        await client.settle()  # first: what it asked ahead (the start's prefetch) may ask the other clients
        if users is not None:
            await users.aclose()
        for other_state in others.values():
            await other_state.client.aclose()
        await client.aclose()
        if cache is not None:
            await cache.close()
