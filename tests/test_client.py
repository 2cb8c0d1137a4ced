from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from backlog_mcp.cache import ResponseCache
from backlog_mcp.client import BacklogClient, collect_stale, encode_params
from backlog_mcp.config import Settings
from backlog_mcp.errors import (
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnconfirmedWriteError,
)
from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog
from tests.conftest import BASE_URL, FAST_RETRY

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


def envelope(message: str, code: int) -> dict[str, object]:
    return {"errors": [{"message": message, "code": code, "moreInfo": ""}]}


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[ResponseCache]:
    c = await ResponseCache.open(tmp_path / "c.sqlite3")
    yield c
    await c.close()


def make_client(settings: Settings, handler: Handler, cache: ResponseCache | None = None) -> BacklogClient:
    return BacklogClient(settings, cache, transport=httpx.MockTransport(handler), retry=FAST_RETRY)


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (
            400,
            envelope("count must be between 1 and 100.", 7),
            BadRequestError,
            "count must be between 1 and 100.",
        ),
        (
            401,
            envelope("Authentication failure.", 11),
            AuthenticationError,
            "Authentication failure. (Backlog error code 11)",
        ),
        (403, envelope("No permission.", 5), ForbiddenError, "No permission. (Backlog error code 5)"),
        (404, envelope("No issue.", 6), NotFoundError, "GET /issues/X-1: No issue. (Backlog error code 6)"),
        (500, envelope("Internal error.", 1), ServerError, "Internal error."),
        (503, b"<html>maintenance</html>", ServerError, "GET /issues/X-1: HTTP 503"),
    ],
)
async def test_error_statuses_map_to_typed_errors(
    settings: Settings, status: int, body: object, error: type[Exception], text: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content)

    client = make_client(settings, handler)
    with pytest.raises(error) as info:
        await client.issue("X-1")
    assert text in str(info.value)
    assert DEFAULT_API_KEY not in str(info.value)
    assert info.value.status == status  # type: ignore[attr-defined]
    await client.aclose()


async def test_404_carries_backlog_code_and_message(settings: Settings) -> None:
    client = make_client(settings, lambda r: httpx.Response(404, json=envelope("No issue.", 6)))
    with pytest.raises(NotFoundError) as info:
        await client.issue("X-1")
    assert (info.value.code, info.value.status, info.value.path) == (6, 404, "/issues/X-1")
    assert client.requests_sent == 1  # 4xx is not retried
    await client.aclose()


async def test_429_far_reset_raises_with_reset_time(settings: Settings) -> None:
    reset = int(time.time()) + 45
    headers = {"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    client = make_client(
        settings, lambda r: httpx.Response(429, json=envelope("Too Many Requests.", 13), headers=headers)
    )
    with pytest.raises(RateLimitedError) as info:
        await client.issues({})
    assert info.value.reset_at == reset
    assert 40 <= (info.value.retry_after() or 0) <= 45
    assert "Too Many Requests. (Backlog error code 13)" in str(info.value)
    await client.aclose()


async def test_429_near_reset_waits_and_retries(settings: Settings) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            reset = str(time.time() + 0.1)
            return httpx.Response(429, json=envelope("Too Many Requests.", 13), headers={"X-RateLimit-Reset": reset})
        return httpx.Response(200, json=[])

    client = make_client(settings, handler)
    assert await client.issues({}) == []
    assert len(calls) == 2
    await client.aclose()


async def test_transport_errors_and_timeouts(settings: Settings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler, text in (
        (refuse, "cannot reach Backlog (ConnectError)"),
        (slow, "did not answer within 15 s"),
    ):
        client = make_client(settings, handler)
        with pytest.raises(TransportError, match=re.escape(text)):
            await client.space()
        assert client.requests_sent == FAST_RETRY.attempts  # retried, then given up
        await client.aclose()


async def test_bad_json_and_wrong_shape(settings: Settings) -> None:
    client = make_client(settings, lambda r: httpx.Response(200, content=b"{not json"))
    with pytest.raises(BadResponseError, match="not JSON"):
        await client.space()
    await client.aclose()
    client = make_client(settings, lambda r: httpx.Response(200, json={"a": 1}))
    with pytest.raises(BadResponseError, match="expected a JSON array"):
        await client.issues({})
    await client.aclose()


async def test_5xx_retried_then_succeeds(settings: Settings) -> None:
    statuses = [503, 500]

    def handler(request: httpx.Request) -> httpx.Response:
        if statuses:
            return httpx.Response(statuses.pop(0), json=envelope("Internal error.", 1))
        return httpx.Response(200, json={"spaceKey": "acme"})

    client = make_client(settings, handler)
    assert (await client.space())["spaceKey"] == "acme"
    assert client.requests_sent == 3
    await client.aclose()


async def test_writes_are_not_retried(settings: Settings) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the write's look at the issue first
            return httpx.Response(200, json={"id": 1, "issueKey": "X-1", "parentIssueId": None})
        return httpx.Response(503, json=envelope("Internal error.", 1))

    client = make_client(settings, handler)
    with pytest.raises(UnconfirmedWriteError):  # sent: the outcome is unknown, not simply failed
        await client.add_comment("X-1", "hello")
    assert client.requests_sent == 2  # one GET, one POST: never a second POST
    await client.aclose()


def test_array_params_use_brackets() -> None:
    assert encode_params({"statusId": [1, 2], "keyword": "a b", "archived": False, "x": None, "count": 5}) == [
        ("statusId[]", "1"),
        ("statusId[]", "2"),
        ("keyword", "a b"),
        ("archived", "false"),
        ("count", "5"),
    ]


async def test_request_shape_key_in_query_form_encoded_body(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1})

    client = make_client(settings, handler)
    await client.update_issue("ORBIT-1", {"statusId": 2, "categoryId": [5, 6], "comment": "done & dusted"})
    request = seen[-1]
    assert request.method == "PATCH"
    assert request.url.path == "/api/v2/issues/ORBIT-1"
    assert request.url.params["apiKey"] == DEFAULT_API_KEY
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"statusId=2&categoryId%5B%5D=5&categoryId%5B%5D=6&comment=done+%26+dusted"
    await client.aclose()


async def test_path_segments_are_quoted(settings: Settings) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    client = make_client(settings, handler)
    await client.issue("../users?x=1#y")
    assert seen[0].startswith("/api/v2/issues/..%2Fusers%3Fx%3D1%23y?")
    await client.aclose()


async def test_cache_hit_makes_no_request(settings: Settings, fake: FakeBacklog, cache: ResponseCache) -> None:
    client = BacklogClient(settings, cache, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    first = await client.issue("ORBIT-1")
    second = await client.issue("ORBIT-1")
    assert first == second
    assert len(fake.requests) == 1
    await client.aclose()


async def test_writes_invalidate_the_issue_and_lists(
    settings: Settings, fake: FakeBacklog, cache: ResponseCache
) -> None:
    client = BacklogClient(settings, cache, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    await client.issue("ORBIT-1")
    await client.issues({"projectId": [104]})
    await client.project_list("ORBIT", "statuses")
    await client.update_issue("ORBIT-1", {"statusId": 3, "comment": "fixed"})
    fake.requests.clear()
    issue = await client.issue("ORBIT-1")
    assert issue["status"]["name"] == "Resolved"
    await client.issues({"projectId": [104]})
    await client.project_list("ORBIT", "statuses")  # metadata is untouched by issue writes
    assert [r.path for r in fake.requests] == ["/issues/ORBIT-1", "/issues"]
    await client.aclose()


async def test_single_flight_shares_one_request(settings: Settings) -> None:
    count = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        await asyncio.sleep(0.05)
        return httpx.Response(200, json={"spaceKey": "acme"})

    client = BacklogClient(settings, None, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    results = await asyncio.gather(*(client.space() for _ in range(10)))
    assert count == 1
    assert all(r == {"spaceKey": "acme"} for r in results)
    await client.aclose()


async def test_concurrency_is_capped(fake: FakeBacklog) -> None:
    active = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return httpx.Response(200, json={})

    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, max_concurrency=3)
    client = BacklogClient(settings, None, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    await asyncio.gather(*(client.issue(f"ORBIT-{n}") for n in range(1, 13)))
    assert peak == 3
    await client.aclose()


async def test_stale_if_error_serves_expired_copy_and_reports_age(tmp_path: Path) -> None:
    now = [1000.0]
    cache = await ResponseCache.open(tmp_path / "c.sqlite3", clock=lambda: now[0])
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, issue_ttl=60, stale_grace=600)
    up = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        if up[0]:
            return httpx.Response(200, json={"issueKey": "ORBIT-1"})
        raise httpx.ConnectError("down", request=request)

    client = make_client(settings, handler, cache)
    await client.issue("ORBIT-1")
    up[0] = False
    now[0] += 300  # past the TTL, inside the grace period
    with collect_stale() as ages:
        assert (await client.issue("ORBIT-1")) == {"issueKey": "ORBIT-1"}
    assert len(ages) == 1
    now[0] += 600  # past the grace period too
    with pytest.raises(TransportError):
        await client.issue("ORBIT-1")
    await client.aclose()
    await cache.close()


async def test_pacing_slows_down_when_bucket_nearly_empty(settings: Settings) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    reset = time.time() + 30
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(reset)}
    client = BacklogClient(
        settings,
        None,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={}, headers=headers)),
        retry=FAST_RETRY,
        sleep=fake_sleep,
    )
    await client.issue("A-1")
    assert sleeps == []
    await client.issue("A-2")
    assert len(sleeps) == 1 and 0.5 < sleeps[0] <= 1.0
    await client.aclose()


async def test_a_cancelled_caller_does_not_fail_the_others_sharing_its_request(settings: Settings) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json={"spaceKey": "acme"})

    client = BacklogClient(settings, None, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    first = asyncio.ensure_future(client.space())
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(client.space())
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == {"spaceKey": "acme"}
    assert client.requests_sent == 1
    await client.aclose()


async def test_every_caller_sharing_a_stale_copy_is_told_its_age(tmp_path: Path) -> None:
    now = [1000.0]
    cache = await ResponseCache.open(tmp_path / "c.sqlite3", clock=lambda: now[0])
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, metadata_ttl=10, stale_grace=600)
    up = [True]

    async def handler(request: httpx.Request) -> httpx.Response:
        if up[0]:
            return httpx.Response(200, json={"spaceKey": "acme"})
        await asyncio.sleep(0.02)
        raise httpx.ConnectError("down", request=request)

    client = BacklogClient(settings, cache, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    await client.space()
    up[0], now[0] = False, now[0] + 60

    async def caller() -> list[float]:
        with collect_stale() as ages:
            await client.space()
        return ages

    first, second = await asyncio.gather(caller(), caller())
    assert len(first) == 1 and len(second) == 1
    await client.aclose()
    await cache.close()


async def test_a_read_racing_a_write_is_neither_cached_nor_shared(settings: Settings, cache: ResponseCache) -> None:
    state = {"status": "old"}
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            state["status"] = "new"
            return httpx.Response(200, json={"status": "new"})
        seen = state["status"]
        if "expand[]" not in request.url.params:  # the write's own look at the issue is not held up
            await gate.wait()
        return httpx.Response(200, json={"status": seen})

    client = BacklogClient(settings, cache, transport=httpx.MockTransport(handler), retry=FAST_RETRY)
    slow_read = asyncio.ensure_future(client.issue("A-1"))
    await asyncio.sleep(0.01)
    await client.update_issue("A-1", {"statusId": 2})
    fresh_read = asyncio.ensure_future(client.issue("A-1"))  # must not join the read from before the write
    await asyncio.sleep(0.01)
    gate.set()
    assert (await slow_read)["status"] == "old"
    assert (await fresh_read)["status"] == "new"
    assert (await client.issue("A-1"))["status"] == "new"  # the old body was not stored
    await client.aclose()


async def test_redirects_are_errors_and_never_cached(settings: Settings, cache: ResponseCache) -> None:
    client = make_client(settings, lambda r: httpx.Response(301, headers={"Location": "https://elsewhere/"}), cache)
    with pytest.raises(BadResponseError, match="redirected the request"):
        await client.space()
    assert await cache.count() == 0
    await client.aclose()


async def test_a_spent_bucket_fails_fast_without_sending(settings: Settings) -> None:
    reset = time.time() + 50
    headers = {"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/issues"):
            return httpx.Response(429, json=envelope("Too Many Requests.", 13), headers=headers)
        return httpx.Response(200, json={"spaceKey": "acme"})

    client = make_client(settings, handler)
    with pytest.raises(RateLimitedError):
        await client.issues({})
    assert client.requests_sent == 1
    with pytest.raises(RateLimitedError, match="the search rate limit is spent"):
        await client.issues({"keyword": "x"})
    assert client.requests_sent == 1  # known to be spent: not sent
    assert await client.space() == {"spaceKey": "acme"}  # the read bucket still goes out
    assert client.requests_sent == 2
    await client.aclose()


async def test_a_server_clock_ahead_of_ours_cannot_keep_a_bucket_spent(settings: Settings) -> None:
    skew = 300  # Backlog's clock five minutes ahead
    sent: list[float] = []
    clock = [time.time()]

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock[0])
        reset = str(clock[0] + skew + 30)
        headers = {"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        return httpx.Response(429, json=envelope("Too Many Requests.", 13), headers=headers)

    client = make_client(settings, handler)
    with pytest.raises(RateLimitedError) as info:
        await client.issues({})
    with pytest.raises(RateLimitedError) as info:
        await client.issues({"keyword": "a"})
    assert len(sent) == 1
    assert (info.value.retry_after() or 0) <= 60  # a minute at most, not the skewed five and a half
    client.rates.buckets["search"].seen -= 61  # a minute later by our clock
    with pytest.raises(RateLimitedError):
        await client.issues({"keyword": "b"})
    assert len(sent) == 2  # the window is over by our clock: the request went out again
    await client.aclose()
