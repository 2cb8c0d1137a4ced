"""The fake Backlog with fault injection, served in-process or on loopback: for tests and benchmarks only.

`FaultyBacklog` adds latency, 5xx, cut connections, malformed and huge bodies and scripted
statuses to the faithful `FakeBacklog`; `serve_on_loopback` runs an app on 127.0.0.1 in a
thread; `python -m tests.faulty_backlog` serves one in its own process, with `/_fake/requests`
so a benchmark in another process can count the requests it caused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import uvicorn

from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, Request, build_space
from backlog_mcp.fake.app import JSON_TYPE, Receive, Scope, Send, encode, lifespan, read_body
from backlog_mcp.fake.dataset import Space
from backlog_mcp.fake.protocol import envelope

Headers = list[tuple[bytes, bytes]]


@dataclass
class Faults:
    """Knobs for reliability tests and benchmarks; all off by default."""

    latency: float = 0.0  # seconds added before every answer
    jitter: float = 0.0  # plus up to this many seconds, at random
    spike_rate: float = 0.0  # fraction of requests that stall for `spike_latency` more
    spike_latency: float = 0.0
    error_rate: float = 0.0  # fraction answered 500 or 503
    drop_rate: float = 0.0  # fraction whose connection is cut mid-body (real sockets only)
    malformed_rate: float = 0.0  # fraction of 200s answered with broken JSON
    huge_rate: float = 0.0  # fraction of 200s padded to several MB
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests, in order
    seed: int = 1


class FaultyBacklog(FakeBacklog):
    """`FakeBacklog` plus `faults`; `injected` counts what was injected, by kind."""

    def __init__(self, space: Space | None = None, *, faults: Faults | None = None, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.faults = faults or Faults()
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(self.faults.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        if scope["path"] == "/_fake/requests":
            query = dict(parse_qsl(scope.get("query_string", b"").decode()))
            since = int(query.get("since", "0")) if query.get("since", "0").isdigit() else 0
            log = [{"method": r.method, "path": r.path, "query": r.query} for r in self.requests[since:]]
            await self._send(send, 200, {"count": len(self.requests), "requests": log}, [])
            return
        f = self.faults
        delay = f.latency + self._rng.random() * f.jitter
        if f.spike_rate and self._rng.random() < f.spike_rate:
            self.injected["latency spike"] += 1
            delay += f.spike_latency
        if delay:
            await asyncio.sleep(delay)
        status, payload, headers = await self.handle(scope, body)
        if status == 429 and payload == envelope("Too Many Requests.", 13):  # the real limit, not a script
            self.injected["429 (limit)"] += 1
        raw, headers = encode(payload, headers)
        if f.drop_rate and self._rng.random() < f.drop_rate:
            self.injected["drop"] += 1
            headers = [*headers, (b"content-length", str(len(raw) + 1000).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": raw[: len(raw) // 2], "more_body": True})
            raise ConnectionAbortedError("fake Backlog dropped the connection")
        if status < 300 and f.malformed_rate and self._rng.random() < f.malformed_rate:
            self.injected["malformed"] += 1
            raw = raw[: max(1, len(raw) // 2)] + b"<html>oops"
        elif status < 300 and f.huge_rate and self._rng.random() < f.huge_rate:
            self.injected["huge"] += 1
            raw = json.dumps(_pad(payload), ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    def intercept(self, request: Request, limit_headers: Headers) -> tuple[int, Any, Headers] | None:
        f = self.faults
        if f.fail_next:
            status = f.fail_next.pop(0)
            self.injected[str(status)] += 1
            if status == 429:  # a burst: the reset is near, as after a short spike
                limit_headers = [*limit_headers[:2], (b"x-ratelimit-reset", str(int(time.time()) + 1).encode())]
            return status, envelope(f"Injected failure {status}.", 13 if status == 429 else 1), limit_headers
        if f.error_rate and self._rng.random() < f.error_rate:
            self.injected["5xx"] += 1
            return self._rng.choice([500, 503]), envelope("Internal error.", 1), limit_headers
        return None

    @staticmethod
    async def _send(send: Send, status: int, payload: Any, headers: Headers) -> None:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": status, "headers": [JSON_TYPE, *headers]})
        await send({"type": "http.response.body", "body": raw})


def _pad(payload: Any) -> Any:
    filler = "x" * (6 * 1024 * 1024)
    if isinstance(payload, dict):
        return {**payload, "padding": filler}
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return [{**payload[0], "padding": filler}, *payload[1:]]
    return payload


@contextmanager
def serve_on_loopback(app: Any, port: int = 0, *, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve the ASGI `app` (the fake, or the server with `lifespan="on"`) until the block ends; yields its
    base URL (`http://127.0.0.1:PORT`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="critical", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake Backlog server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faulty_backlog", description=__doc__)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of answers that are 5xx")
    parser.add_argument("--scale-issues", type=int, default=0, help="add project SCALE with this many issues")
    parser.add_argument("--long-thread", type=int, default=120, help="comments on the long-thread issues")
    parser.add_argument("--no-rate-limit", action="store_true", help="lift the per-minute limits (benchmarks)")
    args = parser.parse_args()
    space = build_space(long_thread_comments=args.long_thread, scale_project_issues=args.scale_issues)
    limits = {"read": 10**7, "search": 10**7} if args.no_rate_limit else None
    app = FaultyBacklog(space, faults=Faults(latency=args.latency, error_rate=args.error_rate), limits=limits)
    sys.stderr.write(f"faulty fake Backlog on http://127.0.0.1:{args.port} (key {DEFAULT_API_KEY})\n")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
