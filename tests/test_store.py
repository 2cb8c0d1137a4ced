"""Many instances on one shared store (issue 18): a real Valkey or Redis server, started here.

Two servers built in this process stand for two instances behind a load balancer: each has its own
client, lookup and state, and they share nothing but the store and the Backlog they talk to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import ConfigError, Settings, settings_from_env
from backlog_mcp.fake import DEFAULT_API_KEY, OTHER_API_KEY, REFERENCE_NOW, FakeBacklog
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, text_of
from tests.store_server import StoreServer

pytestmark = pytest.mark.anyio


class Counting(httpx.AsyncBaseTransport):
    """The fake over ASGI, counting what it answered by status."""

    def __init__(self, fake: FakeBacklog) -> None:
        self.inner = httpx.ASGITransport(app=fake)
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response


@asynccontextmanager
async def instances(
    url: str, transport: httpx.AsyncBaseTransport, *keys: str, tmp_path: Path
) -> AsyncIterator[list[Client]]:
    """One server per key given, all on the store at `url`."""
    async with AsyncExitStack() as stack:
        clients = []
        for n, key in enumerate(keys):
            settings = Settings(api_key=key, base_url=BASE_URL, store_url=url, audit_path=tmp_path / f"audit-{n}.jsonl")
            server = build_server(settings, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
            clients.append(await stack.enter_async_context(Client(server)))
        yield clients


async def test_one_instance_reads_what_the_other_cached_and_a_write_is_seen_by_both(
    store: StoreServer, tmp_path: Path
) -> None:
    fake = FakeBacklog()
    async with instances(store.url, httpx.ASGITransport(app=fake), DEFAULT_API_KEY, DEFAULT_API_KEY,
                         tmp_path=tmp_path) as (a, b):  # fmt: skip
        first = text_of(await b.call_tool("get_issue_details", {"issue_key": "ORBIT-2"}))
        fake.requests.clear()
        again = text_of(await a.call_tool("get_issue_details", {"issue_key": "ORBIT-2"}))
        assert again == first and fake.requests == []  # served from the store, not asked again
        changed = await a.call_tool("update_issue", {"issue_key": "ORBIT-2", "summary": "Renamed through A"})
        assert not changed.is_error, text_of(changed)
        after = text_of(await b.call_tool("get_issue_details", {"issue_key": "ORBIT-2"}))
        assert after.startswith("# ORBIT-2 Renamed through A")


async def test_keys_never_read_each_others_rows(store: StoreServer, tmp_path: Path) -> None:
    fake = FakeBacklog()
    async with instances(store.url, httpx.ASGITransport(app=fake), DEFAULT_API_KEY, OTHER_API_KEY,
                         tmp_path=tmp_path) as (hana, bob):  # fmt: skip
        mine = text_of(await hana.call_tool("get_myself", {}))
        theirs = text_of(await bob.call_tool("get_myself", {}))
    assert "Hana Sato" in mine and "Hana Sato" not in theirs and "Bob Chen" in theirs


async def test_instances_spend_one_rate_budget(store: StoreServer, tmp_path: Path) -> None:
    """Backlog counts per key: two instances together must not run into its 429s."""
    fake = FakeBacklog(limits={"read": 30, "search": 30})
    counting = Counting(fake)
    async with instances(store.url, counting, DEFAULT_API_KEY, DEFAULT_API_KEY, tmp_path=tmp_path) as (a, b):
        for client in (a, b):  # each learns the budget from Backlog's headers once
            await client.call_tool("get_issue_details", {"issue_key": "ORBIT-5"})
        calls = [
            client.call_tool("get_issue_details", {"issue_key": f"ORBIT-{6 + n * 2 + side}"})
            for n in range(12)
            for side, client in enumerate((a, b))
        ]
        results = await asyncio.gather(*calls)
    assert 429 not in counting.statuses
    refused = [text_of(r) for r in results if r.is_error]
    assert refused and all("rate limit" in text.lower() for text in refused), refused[:2]


async def test_the_store_going_away_costs_no_call(
    store: StoreServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeBacklog()
    async with instances(store.url, httpx.ASGITransport(app=fake), DEFAULT_API_KEY, tmp_path=tmp_path) as (a,):
        assert not (await a.call_tool("get_issue_details", {"issue_key": "ORBIT-3"})).is_error
        store.stop()
        with caplog.at_level(logging.WARNING, logger="backlog_mcp.store"):
            for key in ("ORBIT-3", "ORBIT-5"):
                result = await a.call_tool("get_issue_details", {"issue_key": key})
                assert not result.is_error, text_of(result)
                assert text_of(result).startswith(f"# {key} ")
    warned = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warned) == 1 and store.url.split("//")[1] in warned[0]


def test_the_store_url_is_checked_at_start() -> None:
    base = {"BACKLOG_DOMAIN": "acme.backlog.com", "BACKLOG_API_KEY": DEFAULT_API_KEY}
    assert (
        settings_from_env({**base, "BACKLOG_STORE_URL": "redis://valkey:6379/0"}).store_url == "redis://valkey:6379/0"
    )
    assert settings_from_env(base).store_url is None
    for bad in ("valkey:6379", "http://valkey:6379", "redis://"):
        with pytest.raises(ConfigError, match="BACKLOG_STORE_URL"):
            settings_from_env({**base, "BACKLOG_STORE_URL": bad})
    secret = settings_from_env({**base, "BACKLOG_STORE_URL": "redis://:hunter2@valkey:6379/0"})
    assert "hunter2" not in repr(secret)


def test_clear_cache_empties_the_shared_store(store: StoreServer, tmp_path: Path) -> None:
    import asyncio as aio

    from backlog_mcp.cli import clear_store

    async def fill() -> int:
        async with instances(store.url, httpx.ASGITransport(app=FakeBacklog()), DEFAULT_API_KEY,
                             tmp_path=tmp_path) as (a,):  # fmt: skip
            await a.call_tool("get_issue_details", {"issue_key": "ORBIT-2"})
        return await clear_store(store.url)

    assert aio.run(fill()) > 0
    assert aio.run(clear_store(store.url)) == 0


async def test_an_invalidation_the_store_missed_is_owed_not_lost(store: StoreServer) -> None:
    from redis.exceptions import ConnectionError as Disconnected

    from backlog_mcp.store import Store, StoreCache

    scope = "https://acme.backlog.com#k1"
    writer, reader = StoreCache(Store.connect(store.url)), StoreCache(Store.connect(store.url))
    try:
        await reader.put("row", scope=scope, path="/issues/X-1", body="old", ttl=600, grace=0)
        real = writer.store.redis.smembers

        def failing(*_args: object) -> object:
            raise Disconnected("Error 111 connecting")

        writer.store.redis.smembers = failing  # type: ignore[method-assign,assignment]
        assert await writer.invalidate(scope, ["/issues/X-1/*"]) == 0  # the store did not take it
        assert await reader.get("row") is not None  # so the row is still there
        writer.store.redis.smembers = real  # type: ignore[method-assign]
        writer.store.away = False  # the store answers again (no need to wait out the pause)
        assert await writer.get("row") is None  # the owed drop went first
        assert await reader.get("row") is None
    finally:
        await writer.close()
        await reader.close()


def test_store_errors_and_urls_never_carry_secrets_or_bodies() -> None:
    from redis.exceptions import ResponseError

    from backlog_mcp.store import _kind, shown_url

    assert shown_url("redis://:hunter2@valkey:6379/0") == "redis://valkey:6379/0"
    assert shown_url("redis://valkey:6379/0?password=hunter2") == "redis://valkey:6379/0"
    pipeline = ResponseError(
        'Command # 1 (HSET backlog-mcp:r:abc body {"summary": "secret plan"}) of pipeline caused error: OOM'
    )
    assert _kind(pipeline) == "ResponseError"
    assert _kind(ResponseError("OOM command not allowed when used memory > 'maxmemory'.")).startswith(
        "ResponseError: OOM"
    )


async def test_two_instances_missing_the_same_row_at_once_ask_backlog_once(store: StoreServer, tmp_path: Path) -> None:
    fake = FakeBacklog()
    async with instances(store.url, httpx.ASGITransport(app=fake), DEFAULT_API_KEY, DEFAULT_API_KEY,
                         tmp_path=tmp_path) as (a, b):  # fmt: skip
        both = await asyncio.gather(
            *(client.call_tool("get_issue_details", {"issue_key": "ORBIT-9"}) for client in (a, b, a, b))
        )
    assert len({text_of(result) for result in both}) == 1
    asked = [(r.path, tuple(r.query)) for r in fake.requests]
    assert sorted(asked) == sorted(set(asked))  # each request once, across both instances
