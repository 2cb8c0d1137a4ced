"""Backlog's rate limits, per bucket (read, update, search, icon): remembered from its headers, paced before sending.

Backlog counts per API key and bucket, per minute, and says how much is left in `X-RateLimit-*`
headers. The transport asks `pace` before each request and tells `note` each answer's headers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from backlog_mcp import metrics
from backlog_mcp.client.wire import reset_time
from backlog_mcp.errors import RateLimitedError

if TYPE_CHECKING:
    import httpx

_SEARCH_PATHS = frozenset({"/issues", "/issues/count", "/wikis", "/wikis/count"})


def rate_bucket(method: str, path: str) -> str:
    if method != "GET":
        return "update"
    if path in _SEARCH_PATHS:
        return "search"
    if path.endswith(("/icon", "/image")):
        return "icon"
    return "read"


class SharedBudgets(Protocol):
    """Where several instances keep one key's budget (the shared store); see `backlog_mcp.store`."""

    @property
    def away(self) -> bool: ...

    async def take(self, scope: str, bucket: str, now: float) -> tuple[int, int, float] | None: ...

    def note(self, scope: str, bucket: str, figures: tuple[int, int, float, float]) -> None: ...


@dataclass
class Bucket:
    limit: int
    remaining: int
    reset: float
    seen: float  # our clock when Backlog told us; its windows last a minute whatever the clocks say


class RateBudget:
    """What is left of each bucket, as Backlog last said, less what we have sent since."""

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[None]],
        max_wait: Callable[[], float],
        shared: SharedBudgets | None = None,
        scope: str = "",
    ) -> None:
        """`shared`: the budget every instance spends for this key (`scope`); this one's own view stands in
        whenever it cannot be asked."""
        self.buckets: dict[str, Bucket] = {}
        self._sleep = sleep
        self._max_wait = max_wait  # the longest wait for a reset worth making (the retry policy's)
        self._shared = shared
        self.scope = scope

    async def pace(self, bucket: str, method: str, path: str) -> None:
        """Slow down as a bucket empties, instead of running into 429s.

        Raises:
            RateLimitedError: the bucket is spent and its reset is not near; sending would only
                earn a 429 (the caller may still answer from the cache).
        """
        now = time.time()
        if self._shared is not None:
            taken = await self._shared.take(self.scope, bucket, now)
            if taken is not None:  # the shared figures, already less this request
                limit, remaining, left = taken
                self.buckets[bucket] = Bucket(limit, remaining, now + left, now)
            elif not self._shared.away:
                self.buckets.pop(bucket, None)  # no instance knows it (or its window is over)
        info = self.buckets.get(bucket)
        if info is None or info.limit <= 0:
            return
        # Backlog's windows last a minute: never trust a reset later than a minute after we heard it,
        # or a clock that runs ahead of ours would keep a spent bucket spent forever.
        until_reset = min(info.reset - now, info.seen + 60.0 - now)
        if until_reset <= 0:
            self.buckets.pop(bucket, None)
            return
        if info.remaining <= 0:
            if until_reset > self._max_wait():
                raise RateLimitedError(
                    f"{method} {path}: the {bucket} rate limit is spent (not sent)",
                    reset_at=now + until_reset,
                    method=method,
                    path=path,
                )
            await self._sleep(until_reset)
            return
        if info.remaining < max(2, info.limit // 10):
            await self._sleep(min(1.0, until_reset / info.remaining))
        info.remaining -= 1  # count our own request now: concurrent callers see it before the reply

    def note(self, bucket: str, headers: httpx.Headers) -> None:
        """Remember a bucket's state; headers that make no sense are ignored (safe waits apply)."""
        with contextlib.suppress(KeyError, ValueError):
            limit, remaining = int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"])
            reset = reset_time(headers.get("X-RateLimit-Reset"))
            if reset is None or not 0 <= remaining <= limit <= 10**7:
                return
            self.buckets[bucket] = Bucket(limit, remaining, reset, time.time())
            metrics.budget_left(bucket, remaining)
            if self._shared is not None:
                self._shared.note(self.scope, bucket, (limit, remaining, reset, self.buckets[bucket].seen))
