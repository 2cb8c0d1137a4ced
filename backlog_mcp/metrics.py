"""Prometheus metrics, served at /metrics over HTTP (behind the bearer token): what an operator watches.

Tool calls by tool and outcome with their latency, requests sent to Backlog by method, rate bucket
and status, cache lookups by result, and what Backlog last said is left of each rate bucket. No
label carries a key, a user, an issue or any text from Backlog: tool names and fixed words only.
Off until `enable()` (the HTTP transport): over stdio nobody scrapes, and `prometheus_client`
costs ~80 ms to import, so every hook is then a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOOL_BUCKETS = (0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.tool_calls = Counter(
            "backlog_mcp_tool_calls", "Tool calls by tool and outcome", ["tool", "outcome"], registry=reg
        )
        self.tool_seconds = Histogram(
            "backlog_mcp_tool_seconds", "Tool call latency in seconds", ["tool"], buckets=TOOL_BUCKETS, registry=reg
        )
        self.requests = Counter(
            "backlog_mcp_backlog_requests", "Requests answered by Backlog", ["method", "bucket", "status"], registry=reg
        )
        self.lookups = Counter("backlog_mcp_cache_lookups", "Response cache lookups", ["result"], registry=reg)
        self.remaining = Gauge(
            "backlog_mcp_rate_remaining",
            "Requests left in a Backlog rate bucket, as it last said",
            ["bucket"],
            registry=reg,
        )


_metrics: _Metrics | None = None


def enable() -> None:
    """Start counting (idempotent)."""
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()


@contextmanager
def tool_call(tool: str) -> Iterator[None]:
    """Count one call of `tool` (an error when it raises) and time it."""
    began = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        if _metrics is not None:
            _metrics.tool_calls.labels(tool, outcome).inc()
            _metrics.tool_seconds.labels(tool).observe(time.perf_counter() - began)


def answered(method: str, bucket: str, status: int) -> None:
    if _metrics is not None:
        _metrics.requests.labels(method, bucket, str(status)).inc()


def looked_up(hit: bool) -> None:
    if _metrics is not None:
        _metrics.lookups.labels("hit" if hit else "miss").inc()


def budget_left(bucket: str, remaining: int) -> None:
    if _metrics is not None:
        _metrics.remaining.labels(bucket).set(remaining)


def exposition() -> bytes:
    from prometheus_client import generate_latest

    enable()
    registry: Any = _metrics.registry if _metrics is not None else None
    return bytes(generate_latest(registry))
