"""Cold calls: each read tool makes exactly the Backlog requests its goal allows (benchmarks/cold.py says why).

A fresh process state and cache per call, against the fake's request log. A read tool missing from
the table fails the test, so a new tool gets a goal (and its reasons) as it lands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings, settings_from_env
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.server import build_server
from benchmarks.cold import CALLS, PREFETCHED, Cold
from tests.conftest import BASE_URL, FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


async def cold_requests(tmp_path: Path, calls: list[tuple[str, dict[str, object]]]) -> list[str]:
    fake = FaultyBacklog(build_space(), base_url=BASE_URL)
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "cache.sqlite3")
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        for name, args in calls:
            result = await client.call_tool(name, args)
            assert not result.is_error, (name, result.content)
    return [f"{r.method} {r.path}" for r in fake.requests]


@pytest.mark.parametrize("cold", CALLS, ids=[cold.label for cold in CALLS])
async def test_each_read_tool_cold_makes_exactly_the_requests_explained(cold: Cold, tmp_path: Path) -> None:
    sent = await cold_requests(tmp_path, [(cold.name, cold.args)])
    assert all(line.startswith("GET ") for line in sent)
    assert sorted(line.removeprefix("GET ") for line in sent) == sorted(path for path, _why in cold.requests)


async def test_every_read_tool_has_a_cold_goal(mcp: Client) -> None:
    listed = (await mcp.list_tools()).tools
    reads = {tool.name for tool in listed if tool.annotations and tool.annotations.read_only_hint}
    assert reads - {cold.name for cold in CALLS} == set()


async def test_create_then_comment_reads_the_new_issue_from_what_the_create_answered(tmp_path: Path) -> None:
    create: dict[str, object] = {
        "project_key": "ORBIT",
        "summary": "Cold check",
        "issue_type": "Bug",
        "priority": "High",
        "custom_fields": {"Severity": "Minor"},
    }
    sent = await cold_requests(
        tmp_path, [("create_issue", create), ("add_issue_comment", {"issue_key": "ORBIT-220", "content": "First"})]
    )
    # Names to ids (project, types, priorities, custom fields), the two writes, /space for the answer's times.
    assert sent == [
        "GET /projects",
        "GET /projects/ORBIT/issueTypes",
        "GET /priorities",
        "GET /projects/ORBIT/customFields",
        "POST /issues",
        "POST /issues/ORBIT-220/comments",
        "GET /space",
    ]


async def _until(done: Callable[[], bool]) -> None:
    """Wait (5 s at most) until `done()`: the start's prefetch runs on its own."""
    for _ in range(250):
        if done():
            return
        await anyio.sleep(0.02)


def _started(settings: Settings, transport: httpx.AsyncBaseTransport) -> Client:
    return Client(
        build_server(settings, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW, prefetch=True)
    )


class Counting(httpx.AsyncBaseTransport):
    """The fake, or no Backlog at all (`down`), recording every path asked, refused ones too."""

    def __init__(self, fake: FaultyBacklog, *, down: bool = False) -> None:
        self.inner, self.down, self.asked = httpx.ASGITransport(app=fake), down, list[str]()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path.removeprefix("/api/v2"))
        if self.down:
            raise httpx.ConnectError("unreachable", request=request)
        return await self.inner.handle_async_request(request)

    async def at_least(self, count: int) -> list[str]:
        """The paths asked, sorted, once there are `count` of them."""
        await _until(lambda: len(self.asked) >= count)
        return sorted(self.asked)


async def test_a_started_server_has_asked_what_first_calls_need_and_a_search_is_two_round_trips(
    tmp_path: Path,
) -> None:
    fake = FaultyBacklog(build_space(), base_url=BASE_URL)
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "cache.sqlite3")
    async with _started(settings, httpx.ASGITransport(app=fake)) as client:
        await _until(lambda: len(fake.requests) >= 3)
        assert sorted(r.path for r in fake.requests) == sorted(PREFETCHED)
        fake.requests.clear()
        assert not (await client.call_tool("get_myself", {})).is_error
        assert fake.requests == []  # both of its requests were asked at start
        search = next(cold for cold in CALLS if cold.name == "search_backlog")
        result = await client.call_tool(search.name, search.args)
        assert not result.is_error
        # Without the project list to wait for, the per-project lists go out first, what they name second.
        expected = sorted(path for path, _why in search.requests if path not in PREFETCHED)
        assert sorted(r.path for r in fake.requests) == expected


async def test_nothing_is_asked_at_start_without_a_cache_or_a_key_of_the_servers_own(tmp_path: Path) -> None:
    counting = Counting(FaultyBacklog(build_space(), base_url=BASE_URL))
    uncached = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=None)
    unkept = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "t.sqlite3", metadata_ttl=0)
    per_user = Settings(api_key="-", base_url=BASE_URL, cache_path=tmp_path / "c.sqlite3", per_user_keys=True)
    for settings in (uncached, unkept, per_user):
        async with _started(settings, counting) as client:
            await client.list_tools()
            await anyio.sleep(0.2)
    assert counting.asked == []


async def test_a_refused_key_at_start_is_quiet_and_reported_by_the_first_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counting = Counting(FaultyBacklog(build_space(), base_url=BASE_URL))
    settings = Settings(api_key="not-the-key", base_url=BASE_URL, cache_path=tmp_path / "cache.sqlite3")
    async with _started(settings, counting) as client:
        assert await counting.at_least(3) == sorted(PREFETCHED)  # asked, and refused
        await anyio.sleep(0.1)
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        result = await client.call_tool("get_projects", {})
    assert result.is_error and "BACKLOG_API_KEY" in result.content[0].text  # type: ignore[union-attr]


async def test_backlog_down_at_start_serves_the_stale_copy_to_the_call_and_says_so_then(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FaultyBacklog(build_space(), base_url=BASE_URL)
    settings = Settings(
        api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "cache.sqlite3", metadata_ttl=0.05
    )
    first = Counting(fake)
    async with _started(settings, first):
        assert await first.at_least(3) == sorted(PREFETCHED)
        await anyio.sleep(0.1)  # kept, then out of date
    down = Counting(fake, down=True)
    async with _started(settings, down) as client:
        assert set(await down.at_least(3)) == set(PREFETCHED)  # each tried (and retried)
        await anyio.sleep(0.3)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []  # quiet at start
        shown = text_of(await client.call_tool("get_projects", {}))
    assert "ORBIT" in shown and "cached copy" in caplog.text  # the call that used the copy says it


async def test_each_space_is_asked_at_start(tmp_path: Path) -> None:
    from tests.test_spaces import ENV, ByHost, client_space

    fakes = {"acme.backlog.com": FaultyBacklog(build_space(), base_url="https://acme.backlog.com"),
             "client.backlog.jp": client_space()}  # fmt: skip
    settings = settings_from_env({**ENV, "BACKLOG_CACHE_PATH": str(tmp_path / "cache.sqlite3")})
    async with _started(settings, ByHost(fakes)):
        await _until(lambda: all(len(fake.requests) >= 3 for fake in fakes.values()))
    assert [sorted(r.path for r in fake.requests) for fake in fakes.values()] == [sorted(PREFETCHED)] * 2
