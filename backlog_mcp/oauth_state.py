"""Where sign-in state lives: client registrations, pending sign-ins, codes, tokens and Backlog grants.

In memory for one instance; in the shared store (`BACKLOG_STORE_URL`) for many, where every value is
encrypted with `BACKLOG_OAUTH_STATE_KEY` (Fernet, from `cryptography`) and every row is named by the
SHA-256 of its token or code, never by the token itself: a copy of the store signs nobody in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from backlog_mcp.store import Store

log = logging.getLogger(__name__)

Row = dict[str, Any]
PREFIX = "backlog-mcp:oauth:"  # `--clear-cache` leaves these: clearing the cache signs nobody out
LOCK_FOR = 10.0  # seconds a refresh may hold a grant's lock


def _name(kind: str, key: str) -> str:
    return f"{kind}:{hashlib.sha256(key.encode()).hexdigest()}"


class Vault(Protocol):
    """Rows by kind and key, each with a lifetime (None: until dropped)."""

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None: ...

    async def get(self, kind: str, key: str) -> Row | None: ...

    async def take(self, kind: str, key: str) -> Row | None:
        """Get and drop at once: of two takers of one row, exactly one has it (single-use codes)."""
        ...

    async def drop(self, kind: str, key: str) -> None: ...

    def lock(self, name: str) -> Any:
        """An async context manager held by one task of one instance at a time (a grant's refresh)."""
        ...


class MemoryVault:
    """One instance's state: lost on restart (clients sign in again). Bounded against a flood of registrations."""

    LIMIT = 50_000

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rows: OrderedDict[str, tuple[float | None, str]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None:
        name = _name(kind, key)
        self._rows[name] = (None if ttl is None else self._clock() + ttl, json.dumps(row))
        self._rows.move_to_end(name)
        if len(self._rows) > self.LIMIT:
            now = self._clock()
            for old in [n for n, (until, _) in self._rows.items() if until is not None and until <= now]:
                del self._rows[old]
            while len(self._rows) > self.LIMIT:
                self._rows.popitem(last=False)

    async def get(self, kind: str, key: str) -> Row | None:
        found = self._rows.get(_name(kind, key))
        if found is None or (found[0] is not None and found[0] <= self._clock()):
            return None
        row: Row = json.loads(found[1])
        return row

    async def take(self, kind: str, key: str) -> Row | None:
        row = await self.get(kind, key)
        self._rows.pop(_name(kind, key), None)
        return row

    async def drop(self, kind: str, key: str) -> None:
        self._rows.pop(_name(kind, key), None)

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        held = self._locks.setdefault(name, asyncio.Lock())
        async with held:
            yield
        if not held.locked() and self._locks.get(name) is held:
            del self._locks[name]


class StoreVault:
    """State every instance shares, encrypted at rest; a store that is away reads as empty (logged by the store)."""

    def __init__(self, store: Store, key: str) -> None:
        from cryptography.fernet import Fernet

        self.store = store
        self._fernet = Fernet(key)

    def _key(self, kind: str, key: str) -> str:
        return PREFIX + _name(kind, key)

    def _open(self, sealed: str | None) -> Row | None:
        from cryptography.fernet import InvalidToken

        if sealed is None:
            return None
        try:
            row: Row = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            # Another key (BACKLOG_OAUTH_STATE_KEY changed) or a damaged row: as good as absent.
            log.warning("a sign-in row in the shared store cannot be decrypted with BACKLOG_OAUTH_STATE_KEY")
            return None
        return row

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None:
        sealed = self._fernet.encrypt(json.dumps(row).encode()).decode()
        expiry = None if ttl is None else max(1, int(ttl))
        await self.store.ask(lambda: self.store.redis.set(self._key(kind, key), sealed, ex=expiry), force=True)

    async def get(self, kind: str, key: str) -> Row | None:
        return self._open(await self.store.ask(lambda: self.store.redis.get(self._key(kind, key))))

    async def take(self, kind: str, key: str) -> Row | None:
        return self._open(await self.store.ask(lambda: self.store.redis.getdel(self._key(kind, key)), force=True))

    async def drop(self, kind: str, key: str) -> None:
        await self.store.ask(lambda: self.store.redis.delete(self._key(kind, key)), force=True)

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        from redis.exceptions import RedisError

        held = self.store.redis.lock(PREFIX + _name("lock", name), timeout=LOCK_FOR, blocking_timeout=LOCK_FOR)
        got = bool(await self.store.ask(held.acquire, default=False, force=True))
        try:
            yield  # without the lock (store away, or held past its time) the refresh goes ahead: no one is stuck
        finally:
            if got:
                with contextlib.suppress(RedisError, OSError):  # expired meanwhile, or the store went: it expires
                    await held.release()
