"""Where sign-in state lives: client registrations, pending sign-ins, codes, tokens and Backlog grants.

In memory for one instance; in the shared store (`BACKLOG_STORE_URL`) for many, where every value is
encrypted with `BACKLOG_OAUTH_STATE_KEY` (Fernet, from `cryptography`) and every row is named by the
SHA-256 of its token or code, never by the token itself: a copy of the store signs nobody in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    import aiosqlite
    from cryptography.fernet import Fernet

    from backlog_mcp.store import Store

log = logging.getLogger(__name__)

Row = dict[str, Any]
PREFIX = "backlog-mcp:oauth:"  # `--clear-cache` leaves these: clearing the cache signs nobody out
# Seconds a refresh may hold a grant's lock (by default): longer than a Backlog request may take, so a slow
# refresh is never overtaken by a second one with the same, rotated refresh token.
LOCK_FOR = 30.0
_AWAY = object()
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class VaultUnavailable(Exception):
    """The shared store does not answer: sign-ins can be neither checked nor kept just now (not "signed out")."""


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

    async def close(self) -> None:
        """Let go of what the vault opened itself (not a store or cache it was given)."""
        ...


# Kinds anyone may create without signing in (registrations, sign-ins started): bounded, oldest first.
# The rest exist only for users who signed in with Backlog, and are never evicted.
UNPROVEN = ("client", "pending")


class MemoryVault:
    """One instance's state, without a cache file (`--no-cache`): lost on restart (clients sign in again).

    `UNPROVEN` kinds are bounded per kind, oldest first: a flood of registrations or sign-ins started
    and never finished evicts only rows of its own kind, never a signed-in user's grant or tokens.
    """

    LIMIT = 20_000  # rows of one unproven kind

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._kinds: dict[str, OrderedDict[str, tuple[float | None, str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None:
        rows = self._kinds.setdefault(kind, OrderedDict())
        name = _name(kind, key)
        rows[name] = (None if ttl is None else self._clock() + ttl, json.dumps(row))
        rows.move_to_end(name)
        if kind in UNPROVEN and len(rows) > self.LIMIT:
            now = self._clock()
            for old in [n for n, (until, _) in rows.items() if until is not None and until <= now]:
                del rows[old]
            while len(rows) > self.LIMIT:
                rows.popitem(last=False)

    async def get(self, kind: str, key: str) -> Row | None:
        found = self._kinds.get(kind, OrderedDict()).get(_name(kind, key))
        if found is None or (found[0] is not None and found[0] <= self._clock()):
            return None
        row: Row = json.loads(found[1])
        return row

    async def take(self, kind: str, key: str) -> Row | None:
        row = await self.get(kind, key)
        await self.drop(kind, key)
        return row

    async def drop(self, kind: str, key: str) -> None:
        self._kinds.get(kind, OrderedDict()).pop(_name(kind, key), None)

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        held = self._locks.setdefault(name, asyncio.Lock())
        async with held:
            yield
        if not held.locked() and self._locks.get(name) is held:
            del self._locks[name]


class StoreVault:
    """State every instance shares, encrypted at rest.

    A store that does not answer raises `VaultUnavailable` rather than reading as empty: a client
    told its token is unknown would drop it and make its user sign in again.
    """

    def __init__(self, store: Store, key: str, lock_for: float = LOCK_FOR) -> None:
        """`lock_for`: longer than a refresh with Backlog may take."""
        from cryptography.fernet import Fernet

        self.store = store
        self._fernet = Fernet(key)
        self._lock_for = lock_for

    def _key(self, kind: str, key: str) -> str:
        return PREFIX + _name(kind, key)

    def _open(self, sealed: str | None) -> Row | None:
        return None if sealed is None else unseal(self._fernet, sealed, "the shared store")

    async def close(self) -> None:
        return None  # the store is the cache's, closed with it

    async def _ask(self, call: Callable[[], Any]) -> Any:
        answer = await self.store.ask(call, default=_AWAY, force=True)
        if answer is _AWAY:
            raise VaultUnavailable("the shared store does not answer")
        return answer

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None:
        sealed = seal(self._fernet, row)
        expiry = None if ttl is None else max(1, int(ttl))
        await self._ask(lambda: self.store.redis.set(self._key(kind, key), sealed, ex=expiry))

    async def get(self, kind: str, key: str) -> Row | None:
        return self._open(await self._ask(lambda: self.store.redis.get(self._key(kind, key))))

    async def take(self, kind: str, key: str) -> Row | None:
        return self._open(await self._ask(lambda: self.store.redis.getdel(self._key(kind, key))))

    async def drop(self, kind: str, key: str) -> None:
        await self._ask(lambda: self.store.redis.delete(self._key(kind, key)))

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """Taken by polling (each try one quick command), so waiting for a slow refresh never reads as an outage."""
        key, mine = PREFIX + _name("lock", name), secrets.token_hex(8)
        deadline = time.monotonic() + self._lock_for
        while not await self._ask(lambda: self.store.redis.set(key, mine, nx=True, px=int(self._lock_for * 1000))):
            if time.monotonic() > deadline:
                break  # held past its time by someone gone: go ahead rather than keep the user waiting
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            with contextlib.suppress(VaultUnavailable):  # else it expires on its own
                await self._ask(lambda: self.store.redis.eval(_RELEASE, 1, key, mine))


def seal(fernet: Fernet, row: Row) -> str:
    return fernet.encrypt(json.dumps(row).encode()).decode()


def unseal(fernet: Fernet, sealed: str, where: str) -> Row | None:
    """A row as written, or None for one another key sealed (the key or the app's secret changed) or damaged."""
    from cryptography.fernet import InvalidToken

    try:
        row: Row = json.loads(fernet.decrypt(sealed.encode()))
    except (InvalidToken, ValueError):
        log.warning(
            "a sign-in row in %s cannot be decrypted (BACKLOG_OAUTH_STATE_KEY or the app's secret changed)", where
        )
        return None
    return row


def derived_key(secret: str) -> str:
    """A Fernet key from the application's secret, for the state file when no BACKLOG_OAUTH_STATE_KEY is set
    (a new secret makes the old state unreadable: users sign in again)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"backlog-mcp/oauth-state/{secret}".encode()).digest()).decode()


class SqliteVault:
    """One instance's state in its cache file (the `oauth` table), encrypted: a restart signs nobody out.

    Its own connection to the file, so the cache giving up after a storage error leaves sign-ins
    alone; `--clear-cache` empties the responses only. A storage error raises `VaultUnavailable` (a 503).
    Processes sharing the file share the state, and a grant's lock is a row with an expiry.
    """

    LIMIT = MemoryVault.LIMIT
    PRUNE_EVERY = 100  # puts of an unproven kind between prunes

    def __init__(
        self, db: aiosqlite.Connection, key: str, clock: Callable[[], float] = time.time, lock_for: float = LOCK_FOR
    ) -> None:
        from cryptography.fernet import Fernet

        self._db, self._fernet, self._clock, self._lock_for = db, Fernet(key), clock, lock_for
        self._puts = 0

    @classmethod
    async def open(
        cls, path: Path, key: str, clock: Callable[[], float] = time.time, lock_for: float = LOCK_FOR
    ) -> SqliteVault:
        """On the cache file `path` (already created and migrated by the cache).

        Raises:
            VaultUnavailable: the file cannot be opened.
        """
        import sqlite3

        import aiosqlite

        try:
            db = await aiosqlite.connect(path, isolation_level=None)
            await db.execute("PRAGMA busy_timeout = 5000")
        except (sqlite3.Error, OSError) as exc:
            raise VaultUnavailable(f"the sign-in state file cannot be opened ({type(exc).__name__})") from None
        return cls(db, key, clock, lock_for)

    async def close(self) -> None:
        await self._db.close()

    async def _run(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        import sqlite3

        try:
            return list(await self._db.execute_fetchall(sql, args))
        except (sqlite3.Error, ValueError) as exc:  # ValueError: the connection was closed
            raise VaultUnavailable(f"the sign-in state file failed ({type(exc).__name__})") from None

    def _open(self, rows: list[Any]) -> Row | None:
        if not rows or (rows[0][1] is not None and rows[0][1] <= self._clock()):
            return None
        return unseal(self._fernet, str(rows[0][0]), "the cache file")

    async def put(self, kind: str, key: str, row: Row, ttl: float | None) -> None:
        sealed = seal(self._fernet, row)
        until = None if ttl is None else self._clock() + ttl
        await self._run("INSERT OR REPLACE INTO oauth (name, kind, expires_at, sealed) VALUES (?, ?, ?, ?)",
                        (_name(kind, key), kind, until, sealed))  # fmt: skip
        if kind in UNPROVEN:
            self._puts += 1
            if self._puts % self.PRUNE_EVERY == 0:
                await self._prune(kind)

    async def _prune(self, kind: str) -> None:
        await self._run("DELETE FROM oauth WHERE expires_at <= ?", (self._clock(),))
        await self._run(
            "DELETE FROM oauth WHERE kind = ? AND rowid IN (SELECT rowid FROM oauth WHERE kind = ? "
            "ORDER BY rowid DESC LIMIT -1 OFFSET ?)", (kind, kind, self.LIMIT),
        )  # fmt: skip

    async def get(self, kind: str, key: str) -> Row | None:
        return self._open(await self._run("SELECT sealed, expires_at FROM oauth WHERE name = ?", (_name(kind, key),)))

    async def take(self, kind: str, key: str) -> Row | None:
        import sqlite3

        name = _name(kind, key)
        if sqlite3.sqlite_version_info >= (3, 35):
            return self._open(await self._run("DELETE FROM oauth WHERE name = ? RETURNING sealed, expires_at", (name,)))
        # Older SQLite (no RETURNING): read, then delete by the sealed value read, so of two takers one gets it.
        rows = await self._run("SELECT sealed, expires_at FROM oauth WHERE name = ?", (name,))
        if not rows:
            return None
        return self._open(rows) if await self._deleted(name, rows[0][0]) == 1 else None

    async def _deleted(self, name: str, sealed: str) -> int:
        import sqlite3

        try:
            cursor = await self._db.execute("DELETE FROM oauth WHERE name = ? AND sealed = ?", (name, sealed))
        except (sqlite3.Error, ValueError) as exc:
            raise VaultUnavailable(f"the sign-in state file failed ({type(exc).__name__})") from None
        return int(cursor.rowcount)  # this statement's own count: no other task's statement comes between

    async def drop(self, kind: str, key: str) -> None:
        await self._run("DELETE FROM oauth WHERE name = ?", (_name(kind, key),))

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        """A row held by one task of one process at a time, polled; it expires if its holder dies."""
        key, mine = _name("lock", name), secrets.token_hex(8)
        deadline = time.monotonic() + self._lock_for
        try:  # from the first try on: a task cancelled while taking it leaves no row of its own behind
            while True:
                now = time.time()
                # Two statements, not an upsert: SQLite before 3.24 has no ON CONFLICT … DO UPDATE.
                await self._run("UPDATE oauth_locks SET holder = ?, until = ? WHERE name = ? AND until <= ?",
                                (mine, now + self._lock_for, key, now))  # fmt: skip
                await self._run("INSERT OR IGNORE INTO oauth_locks (name, holder, until) VALUES (?, ?, ?)",
                                (key, mine, now + self._lock_for))  # fmt: skip
                held = await self._run("SELECT holder FROM oauth_locks WHERE name = ?", (key,))
                if (held and held[0][0] == mine) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            yield
        finally:
            with contextlib.suppress(VaultUnavailable):
                await self._run("DELETE FROM oauth_locks WHERE name = ? AND holder = ?", (key, mine))
