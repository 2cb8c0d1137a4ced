"""Issue 18's figures for many instances on one store (a real Valkey/Redis, started here).

- 200 concurrent tool calls over HTTP, through one instance and then split across two, each run on a
  fresh store: p50/p95 latency, errors, and the fake's request count (the shared cache must keep two
  instances at or below one instance's count).
- A cache hit through the store against a hit in the SQLite file, p50 over many lookups.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from backlog_mcp.cache import ResponseCache, cache_key
from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space
from backlog_mcp.store import Store, StoreCache
from tests.faulty_backlog import serve_on_loopback
from tests.store_server import StoreServer, server_binary

CALLS = 200
# 20 distinct questions asked 10 times each, as a team asks overlapping ones.
QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    *(("get_issue_details", {"issue_key": f"ORBIT-{n}"}) for n in range(1, 11)),
    *(("get_issue_details", {"issue_key": f"NOVA-{n}"}) for n in range(5, 10)),
    ("get_projects", {}),
    ("get_myself", {}),
    ("get_project", {"project_key": "ORBIT"}),
    ("get_wiki_pages", {"project_key": "ORBIT"}),
    ("get_user_issue_list", {"projects": ["NOVA"], "assignees": ["anyone"]}),
]
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def instance(backlog: str, store_url: str, folder: Path) -> Iterator[str]:
    """`backlog-mcp --transport http` on the store; yields its /mcp URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")} | {
        "BACKLOG_DOMAIN": backlog,
        "BACKLOG_API_KEY": DEFAULT_API_KEY,
        "BACKLOG_STORE_URL": store_url,
        "BACKLOG_HTTP_TOKEN": "off",
        "BACKLOG_AUDIT_LOG": "off",
        "HOME": str(folder),
    }
    with (folder / f"instance-{port}.log").open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "backlog_mcp", "--transport", "http", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("an instance did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        child.terminate()
        child.wait(timeout=10)


async def burst(urls: list[str]) -> dict[str, Any]:
    """CALLS tool calls at once, spread over `urls`; latency per call and errors."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CALLS)) as http:

        async def one(n: int) -> tuple[float, bool]:
            name, args = QUESTIONS[n % len(QUESTIONS)]
            body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": args}}
            began = time.perf_counter()
            answer = await http.post(urls[n % len(urls)], json=body, headers=HEADERS)
            took = (time.perf_counter() - began) * 1000
            failed = answer.status_code != 200 or bool(answer.json().get("result", {}).get("isError", True))
            return took, failed

        results = await asyncio.gather(*(one(n) for n in range(CALLS)))
    times = sorted(t for t, _ in results)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "errors": sum(failed for _, failed in results),
    }


async def concurrent_calls(binary: str) -> dict[str, Any]:
    """One instance, then two, each against a fresh store and a fresh fake."""
    out: dict[str, Any] = {}
    for label, count in (("one instance", 1), ("two instances", 2)):
        fake = FakeBacklog(build_space())
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            folder = Path(tmp)
            store = StoreServer(binary, folder)
            stack.callback(store.stop)
            backlog = stack.enter_context(serve_on_loopback(fake))
            urls = [stack.enter_context(instance(backlog, store.url, folder)) for _ in range(count)]
            figures = await burst(urls)
        out[label] = {**figures, "backlog_requests": len(fake.requests)}
    return out


async def hit_latency(store_url: str, folder: Path, lookups: int = 2000) -> dict[str, float]:
    """p50 of a cache hit (the same row) through the store and through the SQLite file, in ms."""
    body = '{"id": 1, "summary": "' + "x" * 1500 + '"}'
    key = cache_key("https://acme.backlog.com#k", "/issues/ORBIT-1", [])
    sqlite = await ResponseCache.open(folder / "c.sqlite3")
    shared = StoreCache(Store.connect(store_url))
    figures: dict[str, float] = {}
    try:
        for label, cache in (("sqlite", sqlite), ("store", shared)):
            await cache.put(
                key, scope="https://acme.backlog.com#k", path="/issues/ORBIT-1", body=body, ttl=600, grace=0
            )
            took = []
            for _ in range(lookups):
                began = time.perf_counter()
                assert await cache.get(key) is not None
                took.append((time.perf_counter() - began) * 1000)
            figures[f"{label}_p50_ms"] = round(statistics.median(took), 3)
    finally:
        await sqlite.close()
        await shared.close()
    return figures


async def measure() -> dict[str, Any] | None:
    """Both figures, or None where no Valkey/Redis server is installed."""
    binary = server_binary()
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        store = StoreServer(binary, Path(tmp))
        try:
            hits = await hit_latency(store.url, Path(tmp))
        finally:
            store.stop()
    return {"binary": Path(binary).name, "concurrent": await concurrent_calls(binary), "cache_hit": hits}


def lines(figures: dict[str, Any] | None) -> list[str]:
    if figures is None:
        return ["## Many instances on one store", "", "Not measured: no valkey-server or redis-server here."]
    out = [
        "## Many instances on one store",
        "",
        f"A real {figures['binary']} on loopback; the fake Backlog on loopback with no added latency; instances",
        f"are `backlog-mcp --transport http` processes. {CALLS} tool calls at once (20 questions, 10 times each),",
        "each run on a fresh store and a fresh fake:",
        "",
        "| Instances | p50 ms | p95 ms | Errors | Requests to Backlog |",
        "|---|---|---|---|---|",
    ]
    out.extend(
        f"| {label} | {v['p50_ms']} | {v['p95_ms']} | {v['errors']} | {v['backlog_requests']} |"
        for label, v in figures["concurrent"].items()
    )
    hit = figures["cache_hit"]
    out += [
        "",
        f"A cache hit (a 1.5 KB row), p50 over 2,000 lookups: SQLite {hit['sqlite_p50_ms']} ms, "
        f"the store {hit['store_p50_ms']} ms.",
    ]
    return out


if __name__ == "__main__":
    import json

    sys.stdout.write(json.dumps(asyncio.run(measure()), indent=1) + "\n")
