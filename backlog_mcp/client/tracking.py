"""What the transport keeps track of: within a tool call, stale copies served and writes sent (`collect_*`);
across calls, the issue ids it has learned (`Recent`).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
MAX_KNOWN_IDS = 20_000  # issue key -> id pairs remembered (about 2 MB at most)

# Ages (seconds) of stale cache copies served during the current tool call; see `collect_stale`.
stale_ages: ContextVar[list[float] | None] = ContextVar("backlog_stale_ages", default=None)


# Set while asking ahead of any call (the start's prefetch): a stale copy served then is said by the
# call that uses it, not logged at start.
asked_ahead: ContextVar[bool] = ContextVar("backlog_asked_ahead", default=False)

# Writes sent during the current tool call; see `collect_writes`.
writes_sent: ContextVar[list[str] | None] = ContextVar("backlog_writes_sent", default=None)


@contextlib.contextmanager
def _collecting(var: ContextVar[list[T] | None]) -> Iterator[list[T]]:
    found: list[T] = []
    token = var.set(found)
    try:
        yield found
    finally:
        var.reset(token)


def collect_writes() -> contextlib.AbstractContextManager[list[str]]:
    """Collect the writes this client sends inside this block (to know whether one may have landed)."""
    return _collecting(writes_sent)


def collect_stale() -> contextlib.AbstractContextManager[list[float]]:
    """Collect the ages of stale copies served by the client inside this block."""
    return _collecting(stale_ages)


class Recent(OrderedDict[str, int]):
    """A map that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: int) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)
