"""Short-TTL cache of successful GET responses in SQLite (aiosqlite, WAL).

Expiry is decided in SQL (`expires_at`), rows stay a grace period longer (`stale_until`) so a
failing Backlog can be answered from the last good copy, and purging is one indexed DELETE.
Keys hash the base URL, an identity hash of the API key, the path and the sorted params: the
key itself never reaches a cache key or a row. A cache that cannot be used (read-only or full
disk) turns itself off with one warning; a corrupt file is moved aside and recreated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiosqlite

from backlog_mcp.migrate import apply_migrations

log = logging.getLogger(__name__)

PURGE_INTERVAL = 300.0
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000

Params = Iterable[tuple[str, str]]


def key_identity(api_key: str) -> str:
    """A stable, non-reversible id of an API key, for scoping rows to that key."""
    return hashlib.sha256(f"backlog-mcp/key/{api_key}".encode()).hexdigest()[:24]


def cache_scope(base_url: str, api_key: str) -> str:
    return f"{base_url}#{key_identity(api_key)}"


def user_scope(base_url: str, user_id: str) -> str:
    """A signed-in Backlog user's scope, stable across their tokens; hashed apart from every key's, so no
    API key (`oauth-user:<id>` included) can name it."""
    return f"{base_url}#{hashlib.sha256(f'backlog-mcp/oauth-user/{user_id}'.encode()).hexdigest()[:24]}"


def cache_key(scope: str, path: str, params: Params) -> str:
    query = urlencode(sorted(params))
    return hashlib.sha256(f"{scope}\n{path}\n{query}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    body: str
    created_at: float
    expires_at: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.created_at)


def _private_file(path: Path) -> None:
    """Create the cache file (0600) and any missing folders (0700) before SQLite touches them.

    Folders that already exist keep their mode (a cache in /tmp must not strip /tmp's bits), and
    a cache file that is a symbolic link is refused, not followed.

    Raises:
        OSError: the file cannot be created, or is a symbolic link (ELOOP).
    """
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is cut by the umask
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _private_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        sidecar = Path(f"{path}{suffix}")
        if sidecar.is_file() and not sidecar.is_symlink():
            sidecar.chmod(0o600)


def _move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").rename(f"{aside}{suffix}")
    return aside


class ResponseCache:
    """Use `await ResponseCache.open(path)`; every method is safe to call after a failure."""

    budgets: None = None  # one instance's rate budget is its own (the shared store keeps one for all)

    def __init__(self, db: aiosqlite.Connection | None, path: Path | None, clock: Callable[[], float]) -> None:
        self._db = db
        self.path = path
        self._clock = clock
        self._last_purge = clock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> aiosqlite.Connection | None:
        """The open connection (None: disabled), for the sign-in state kept in the same file."""
        return self._db

    @classmethod
    async def open(cls, path: Path | str, *, clock: Callable[[], float] = time.time) -> ResponseCache:
        """Open (creating, migrating, or recovering) the cache; never raises for disk trouble."""
        path = Path(path)
        in_memory = str(path) == ":memory:"
        if not in_memory and not _ours(path):
            log.warning("response cache disabled: %s exists and is not an SQLite file; it is left untouched", path)
            return cls(None, path, clock)
        try:
            db = await cls._connect(path, in_memory)
        except sqlite3.DatabaseError as exc:
            if in_memory or not _is_corruption(exc):
                log.warning("response cache disabled: cannot open %s (%s)", path, exc)
                return cls(None, path, clock)
            aside = _move_aside(path)
            log.warning("response cache %s is unreadable (%s); moved it to %s", path, exc, aside.name)
            try:
                db = await cls._connect(path, in_memory)
            except (sqlite3.Error, OSError) as exc2:
                log.warning("response cache disabled: cannot recreate %s (%s)", path, exc2)
                return cls(None, path, clock)
        except OSError as exc:
            if path.is_symlink():
                log.warning("response cache disabled: %s is a symbolic link, which is not followed", path)
            else:
                log.warning("response cache disabled: cannot create %s (%s)", path, exc)
            return cls(None, path, clock)
        cache = cls(db, None if in_memory else path, clock)
        await cache.purge_expired()
        return cache

    @staticmethod
    async def _connect(path: Path, in_memory: bool) -> aiosqlite.Connection:
        if not in_memory:
            _private_file(path)
        db = await aiosqlite.connect(":memory:" if in_memory else path, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not in_memory:
                # WAL lets several server processes read while one writes.
                await db.execute("PRAGMA journal_mode = WAL")
                await db.execute("PRAGMA synchronous = NORMAL")
            await apply_migrations(db)
        except BaseException:
            await db.close()
            raise
        if not in_memory:
            _private_sidecars(path)
        return db

    async def _disable(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("response cache disabled after a storage error (%s); serving without a cache", exc)
            self._warned = True
        db, self._db = self._db, None
        if db is not None:
            # Do not let a sick disk hold up the tool call that noticed it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(db.close(), timeout=2.0)

    async def get(self, key: str, *, fetching: bool = False) -> Entry | None:
        """The fresh entry for `key`, if any (`fetching`: see `StoreCache.get`; one process shares its fetches)."""
        return await self._select(key, "expires_at > ?")

    async def get_stale(self, key: str) -> Entry | None:
        """The newest copy still inside its stale grace period, fresh or not."""
        return await self._select(key, "coalesce(stale_until, expires_at) > ?")

    async def _select(self, key: str, condition: str) -> Entry | None:
        if self._db is None:
            return None
        sql = f"SELECT body, created_at, expires_at FROM responses WHERE key = ? AND {condition}"
        try:
            rows = list(await self._db.execute_fetchall(sql, (key, self._clock())))  # one thread hop
        except sqlite3.Error as exc:
            await self._disable(exc)
            return None
        return Entry(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    async def put(self, key: str, *, scope: str, path: str, body: str, ttl: float, grace: float) -> None:
        if self._db is None or ttl <= 0:
            return
        now = self._clock()
        try:
            await self._db.execute(
                "INSERT OR REPLACE INTO responses (key, scope, path, body, created_at, expires_at, stale_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, scope, path, body, now, now + ttl, now + ttl + grace),
            )
        except sqlite3.Error as exc:
            await self._disable(exc)
            return
        if now - self._last_purge > PURGE_INTERVAL:
            await self.purge_expired()

    async def delete(self, key: str) -> None:
        if self._db is None:
            return
        try:
            await self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
        except sqlite3.Error as exc:
            await self._disable(exc)

    async def invalidate(self, scope: str, paths: Iterable[str], *, every_key: bool = False) -> int:
        """Drop the rows of `scope` at each path; `/issues/X/*` means the path and everything below it.

        `every_key`: the rows of every API key of the same space (a write changes what all of them see).
        """
        if self._db is None:
            return 0
        clauses: list[str] = []
        space = scope.split("#", 1)[0].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "#%"
        args: list[str] = [space if every_key else scope]
        for path in paths:
            base = path.removesuffix("/*")
            if path.endswith("/*"):
                like = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
                clauses.append("path = ? OR path LIKE ? ESCAPE '\\'")
                args += [base, like]
            else:
                clauses.append("path = ?")
                args.append(base)
        if not clauses:
            return 0
        try:
            match = "scope LIKE ? ESCAPE '\\'" if every_key else "scope = ?"
            cursor = await self._db.execute(f"DELETE FROM responses WHERE {match} AND ({' OR '.join(clauses)})", args)
        except sqlite3.Error as exc:
            await self._disable(exc)
            return 0
        return cursor.rowcount

    async def purge_expired(self) -> int:
        """Delete rows whose stale grace period is over."""
        if self._db is None:
            return 0
        self._last_purge = now = self._clock()
        try:
            cursor = await self._db.execute(
                "DELETE FROM responses WHERE coalesce(stale_until, expires_at) <= ?", (now,)
            )
        except sqlite3.Error as exc:
            await self._disable(exc)
            return 0
        return cursor.rowcount

    async def clear(self) -> int:
        """Delete every row; return how many there were."""
        if self._db is None:
            return 0
        cursor = await self._db.execute("DELETE FROM responses")
        return cursor.rowcount

    async def count(self) -> int:
        if self._db is None:
            return 0
        async with self._db.execute("SELECT count(*) FROM responses") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()


def _ours(path: Path) -> bool:
    """Whether the file may be used: missing, empty, or an SQLite database (corrupt or not).

    Any other file (a path mistyped onto someone's notes) is never chmodded, moved or written.
    """
    try:
        if path.is_symlink() or not path.exists():
            return True  # a link is refused when opened (O_NOFOLLOW), with its own message
        with path.open("rb") as existing:
            head = existing.read(len(SQLITE_HEADER))
    except OSError:
        return True  # unreadable: opening it reports the real trouble
    return not head or head == SQLITE_HEADER


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text
