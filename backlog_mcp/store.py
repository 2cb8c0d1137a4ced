"""A shared store (Valkey or Redis, `BACKLOG_STORE_URL`) for every instance behind a load balancer.

It holds what instances must agree on: the response cache (same keys, TTLs and stale grace as the
SQLite one; a write through one instance drops the rows every instance reads) and each key's rate
budget (Backlog counts per key, so instances spend one budget together). A store that cannot be
reached costs nothing but speed: reads go straight to Backlog, pacing falls back to this instance's
own view, and one warning is logged per outage (another when it is back).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from backlog_mcp.cache import Entry, ResponseCache

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from backlog_mcp.config import Settings

log = logging.getLogger(__name__)

PREFIX = "backlog-mcp:"
# Seconds a store command may take, counted on a busy event loop too, before the store counts as away;
# then it is left alone for RETRY seconds, so a store that hangs costs one wait, not one per request.
TIMEOUT = 2.0
RETRY = 5.0
CONNECTIONS = 64  # per instance
WAIT = 2.0  # seconds at most an instance waits for the row another instance is fetching
PATH_INDEX_TTL = 7 * 24 * 3600  # an index outlives every row it lists; rows expire on their own

# Take one request from a bucket if Backlog's window is still open: returns {limit, remaining before,
# seconds to reset}, or nothing when the bucket is unknown or its window is over.
_TAKE = """
local b = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'reset', 'seen')
if not b[1] then return false end
local now = tonumber(ARGV[1])
local left = math.min(tonumber(b[3]) - now, tonumber(b[4]) + 60 - now)
if left <= 0 then redis.call('DEL', KEYS[1]) return false end
local remaining = tonumber(b[2])
if remaining > 0 then redis.call('HINCRBY', KEYS[1], 'remaining', -1) end
return {tonumber(b[1]), remaining, tostring(left)}
"""
# What Backlog said, kept as the lower of it and what instances have spent since in the same window.
_NOTE = """
local reset = redis.call('HGET', KEYS[1], 'reset')
local remaining = tonumber(ARGV[2])
if reset and tonumber(reset) == tonumber(ARGV[3]) then
  remaining = math.min(remaining, tonumber(redis.call('HGET', KEYS[1], 'remaining')))
end
redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'remaining', remaining, 'reset', ARGV[3], 'seen', ARGV[4])
redis.call('EXPIRE', KEYS[1], 120)
return remaining
"""


def _space_of(scope: str) -> str:
    """The space part of a cache scope (`base_url#key identity`), as a short hash for key names."""
    return hashlib.sha256(scope.split("#", 1)[0].encode()).hexdigest()[:16]


def _key_of(scope: str) -> str:
    return scope.split("#", 1)[1] if "#" in scope else ""


class Store:
    """One connection pool to the store; every call degrades to 'not there' when it is away."""

    def __init__(self, redis: Redis, url_shown: str) -> None:
        self.redis = redis
        self.url_shown = url_shown  # without a password
        self.away = False
        self._retry_at = 0.0
        self.take = redis.register_script(_TAKE)
        self.note = redis.register_script(_NOTE)

    @classmethod
    def connect(cls, url: str) -> Store:
        from redis.asyncio import BlockingConnectionPool, Redis

        # A burst of calls waits for one of the pool's connections rather than failing ("too many connections").
        pool = BlockingConnectionPool.from_url(
            url, max_connections=CONNECTIONS, timeout=TIMEOUT, socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT, decode_responses=True,
        )  # fmt: skip
        redis = Redis(connection_pool=pool)
        return cls(redis, shown_url(url))

    async def ask(self, call: Callable[[], Awaitable[Any]], default: Any = None, *, force: bool = False) -> Any:
        """`call()`, or `default` when the store is away (logged once per outage) or refuses it.

        `force`: try even while the store is left alone after a failure (a write's invalidation).
        Only a lost connection counts as an outage; a refusal (out of memory, read-only replica) is
        logged and costs that one command. Messages name the error's kind only: a failed command's
        text would carry the cached body it wrote.
        """
        from redis.exceptions import ConnectionError as Disconnected
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as TimedOut

        if self.away and not force and time.monotonic() < self._retry_at:
            return default
        try:
            result = await asyncio.wait_for(call(), timeout=TIMEOUT + 1)
        except (Disconnected, TimedOut, OSError, TimeoutError) as exc:
            self._retry_at = time.monotonic() + RETRY
            if not self.away:
                self.away = True
                log.warning("shared store %s unreachable (%s); reading Backlog directly", self.url_shown, _kind(exc))
            return default
        except RedisError as exc:
            log.warning("shared store %s refused a command (%s)", self.url_shown, _kind(exc))
            return default
        if self.away:
            self.away = False
            log.warning("shared store %s is back", self.url_shown)
        return result

    async def ready(self) -> bool:
        return bool(await self.ask(self.redis.ping, default=False))

    async def aclose(self) -> None:
        await self.redis.aclose(close_connection_pool=True)  # the pool was given, so it is not closed by default


def shown_url(url: str) -> str:
    """The URL without credentials (`user:pass@`, `?password=`), for logs."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2].partition('?')[0]}" if sep else url


def _kind(exc: BaseException) -> str:
    """An error's kind and its first words, never a command's arguments."""
    text = str(exc)
    if text.startswith("Command #"):  # a pipeline's error quotes the command, cached body and all
        return type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(text.split(' ')[:6])[:60]}"


class StoreCache:
    """The response cache in the store: `ResponseCache`'s methods, rows shared by every instance."""

    path = None  # no file

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self.budgets = StoreBudgets(store)
        self._pending: list[tuple[str, list[str], bool]] = []  # invalidations the store did not take yet
        self._flushing = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return True

    def _row(self, key: str) -> str:
        return f"{PREFIX}r:{key}"

    async def get(self, key: str, *, fetching: bool = False) -> Entry | None:
        """The fresh entry for `key`, if any (never a row a write of ours still owes the store the drop of).

        `fetching`: the caller asks Backlog on a miss. The first instance to miss claims the key for
        up to `WAIT`; another that misses meanwhile waits for the row it writes, as calls within one
        instance share one request, and asks Backlog itself only if no row comes in time.
        """
        if self._pending:
            await self._flush()
            if self._pending:
                return None
        entry = await self._fresh(key)
        if entry is not None or not fetching or self.store.away:
            return entry
        claim = f"{PREFIX}f:{key}"
        if await self.store.ask(lambda: self.store.redis.set(claim, "1", nx=True, px=int(WAIT * 1000)), default=True):
            return None  # ours to fetch
        pause, waited = 0.01, 0.0
        while waited < WAIT and entry is None:
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 0.16)
            entry = await self._fresh(key)
        return entry

    async def _fresh(self, key: str) -> Entry | None:
        entry = await self.get_stale(key)
        return entry if entry is not None and entry.expires_at > self._clock() else None

    async def get_stale(self, key: str) -> Entry | None:
        row = await self.store.ask(lambda: self.store.redis.hgetall(self._row(key)), default={})
        if not row or "body" not in row:
            return None
        return Entry(row["body"], float(row["created_at"]), float(row["expires_at"]))

    async def put(self, key: str, *, scope: str, path: str, body: str, ttl: float, grace: float) -> None:
        if ttl <= 0:
            return
        now = self._clock()
        space = _space_of(scope)
        member = f"{_key_of(scope)}|{key}"
        index = f"{PREFIX}p:{space}:{path}"
        paths = f"{PREFIX}paths:{space}"
        row = {"body": body, "created_at": repr(now), "expires_at": repr(now + ttl)}

        async def write() -> None:
            async with self.store.redis.pipeline(transaction=False) as pipe:
                pipe.hset(self._row(key), mapping=row)  # type: ignore[arg-type]  # redis-py's Mapping is invariant
                pipe.pexpire(self._row(key), max(1, int((ttl + grace) * 1000)))
                pipe.sadd(index, member)
                pipe.expire(index, PATH_INDEX_TTL)
                pipe.sadd(paths, path)
                pipe.expire(paths, PATH_INDEX_TTL)
                await pipe.execute()

        await self.store.ask(write)

    async def delete(self, key: str) -> None:
        await self.store.ask(lambda: self.store.redis.delete(self._row(key)))

    async def invalidate(self, scope: str, paths: Iterable[str], *, every_key: bool = False) -> int:
        """Drop the rows of `scope` at each path (`/x/*`: the path and below), for every instance at once."""
        self._pending.append((scope, list(paths), every_key))
        return await self._flush()

    async def _flush(self) -> int:
        """Send the invalidations owed, oldest first: a write whose invalidation failed is never forgotten."""
        dropped = 0
        async with self._flushing:
            while self._pending:
                result = await self.store.ask(functools.partial(self._invalidate, *self._pending[0]), force=True)
                if result is None:
                    log.warning("shared store: %d invalidations owed, sent when it answers", len(self._pending))
                    break
                self._pending.pop(0)
                dropped += int(result)
        return dropped

    async def _invalidate(self, scope: str, wanted: list[str], every_key: bool) -> int:
        redis = self.store.redis
        space, own = _space_of(scope), _key_of(scope)
        known = {str(path) for path in await redis.smembers(f"{PREFIX}paths:{space}")}
        hit = {
            path
            for path in known
            for want in wanted
            if path == want.removesuffix("/*") or (want.endswith("/*") and path.startswith(want[:-1]))
        }
        dropped = 0
        for path in hit:
            index = f"{PREFIX}p:{space}:{path}"
            members = [str(m) for m in await redis.smembers(index)]
            members = [m for m in members if every_key or m.split("|", 1)[0] == own]
            if not members:
                continue
            async with redis.pipeline(transaction=True) as pipe:  # rows and their index entries together
                pipe.delete(*(self._row(m.split("|", 1)[1]) for m in members))
                pipe.srem(index, *members)
                deleted, _removed = await pipe.execute()
            dropped += int(deleted)
        return dropped

    async def purge_expired(self) -> int:
        return 0  # the store expires rows itself

    async def clear(self) -> int:
        async def every_row() -> int:
            dropped = 0
            async for name in self.store.redis.scan_iter(match=f"{PREFIX}*", count=500):
                if name.startswith(f"{PREFIX}oauth:"):
                    continue  # sign-ins (`oauth_state`): clearing the cache signs nobody out
                dropped += int(name.startswith(f"{PREFIX}r:"))
                await self.store.redis.delete(name)
            return dropped

        return int(await self.store.ask(every_row, default=0))

    async def count(self) -> int:
        async def rows() -> int:
            return sum([1 async for _ in self.store.redis.scan_iter(match=f"{PREFIX}r:*", count=500)])

        return int(await self.store.ask(rows, default=0))

    async def close(self) -> None:
        await self.store.aclose()


class StoreBudgets:
    """Each key's rate budget in the store: `RateBudget` asks it first, so instances spend one budget."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: set[asyncio.Task[Any]] = set()

    @staticmethod
    def _name(scope: str, bucket: str) -> str:
        return f"{PREFIX}rate:{_space_of(scope)}:{_key_of(scope)}:{bucket}"

    @property
    def away(self) -> bool:
        return self.store.away

    async def take(self, scope: str, bucket: str, now: float) -> tuple[int, int, float] | None:
        """One request from the bucket: (limit, remaining before it, seconds to the reset), or None if unknown."""
        taken = await self.store.ask(lambda: self.store.take(keys=[self._name(scope, bucket)], args=[now]))
        return (int(taken[0]), int(taken[1]), float(taken[2])) if taken else None

    def note(self, scope: str, bucket: str, figures: tuple[int, int, float, float]) -> None:
        """What Backlog said (limit, remaining, reset, when heard), written in the background."""
        name = self._name(scope, bucket)
        task = asyncio.ensure_future(self.store.ask(lambda: self.store.note(keys=[name], args=list(figures))))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


Cache = ResponseCache | StoreCache  # the embedded default, or the store shared by instances


async def open_cache(settings: Settings) -> Cache | None:
    """The shared store when `BACKLOG_STORE_URL` names one, else the SQLite file, else none."""
    if settings.store_url:
        store = Store.connect(settings.store_url)
        if not await store.ready():
            log.warning("shared store %s not reachable yet; reading Backlog directly until it is", store.url_shown)
        return StoreCache(store)
    return await ResponseCache.open(settings.cache_path) if settings.cache_path else None
