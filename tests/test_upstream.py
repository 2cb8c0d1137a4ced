"""A misbehaving upstream, a damaged cache and odd inputs each cost one call, never a secret or the run."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from backlog_mcp.args import issue_ref
from backlog_mcp.cache import ResponseCache, cache_key
from backlog_mcp.client import BacklogClient, reset_time
from backlog_mcp.config import Settings
from backlog_mcp.errors import UsageError
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog
from backlog_mcp.logs import RedactFilter
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, Capture, text_of

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], httpx.Response]


class Upstream(httpx.AsyncBaseTransport):
    """The fake Backlog, with a hook that may answer in its place (a misbehaving upstream)."""

    def __init__(self, fake: FakeBacklog, hook: Callable[[httpx.Request], httpx.Response | None]) -> None:
        self.inner = httpx.ASGITransport(app=fake)
        self.hook = hook
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        answer = self.hook(request)
        return answer if answer is not None else await self.inner.handle_async_request(request)


@asynccontextmanager
async def serve(settings: Settings, transport: httpx.AsyncBaseTransport) -> AsyncIterator[Client]:
    server = build_server(settings, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        yield client


async def test_an_upstream_echoing_the_url_never_puts_the_key_in_an_answer_a_log_or_the_cache(
    fake: FakeBacklog, settings: Settings, captured: Capture
) -> None:
    def echo(request: httpx.Request) -> httpx.Response | None:
        url = str(request.url)
        if request.url.path.endswith("/issues/ORBIT-1"):
            message = f"Bad request for {url} (key {DEFAULT_API_KEY}, encoded {httpx.URL(url).query.decode()})"
            return httpx.Response(400, json={"errors": [{"message": message, "code": 7, "moreInfo": url}]})
        if request.url.path.endswith("/users/myself"):
            user = {"id": 1, "userId": "hana", "name": f"Hana {DEFAULT_API_KEY}", "roleType": 2}
            return httpx.Response(200, json=user)
        return None

    async with serve(settings, Upstream(fake, echo)) as client:
        failed = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1"})
        ok = await client.call_tool("get_myself", {})
    assert failed.is_error and "Backlog rejected the request (HTTP 400)" in text_of(failed)
    for text in (text_of(failed), text_of(ok)):
        assert DEFAULT_API_KEY not in text
    assert "Hana \\*\\*\\*" in text_of(ok) or "Hana ***" in text_of(ok)
    assert settings.cache_path is not None
    assert DEFAULT_API_KEY.encode() not in settings.cache_path.read_bytes()
    for record in captured.records:
        assert DEFAULT_API_KEY not in record.getMessage()


@pytest.mark.parametrize("reset", ["nan", "inf", "-inf", "1e30", "-5", "soon", ""])
async def test_nonsense_rate_limit_headers_are_ignored(fake: FakeBacklog, settings: Settings, reset: str) -> None:
    def limited(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/space"):
            headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
            return httpx.Response(200, json=fake.space.space, headers=headers)
        return None

    upstream = Upstream(fake, limited)
    async with serve(settings, upstream) as client:
        for _ in range(3):
            result = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1", "comment_count": 0})
            assert not result.is_error, text_of(result)
            await client.call_tool("get_user_issue_list", {"keyword": "x"})  # the bucket is not blocked


def test_reset_time_accepts_only_sane_epochs() -> None:
    import time

    now = time.time()
    assert reset_time(str(int(now) + 30)) == int(now) + 30
    for raw in ("nan", "inf", "1e30", str(now + 7200), "", None, "x"):
        assert reset_time(raw) is None


async def test_an_unreadable_cached_row_is_dropped_and_fetched_again(fake: FakeBacklog, settings: Settings) -> None:
    assert settings.cache_path is not None
    cache = await ResponseCache.open(settings.cache_path)
    client = BacklogClient(settings, cache, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    try:
        await client.space()
        key = cache_key(client.scope, "/space", [])
        await cache.put(key, scope=client.scope, path="/space", body="{not json", ttl=60, grace=60)
        sent = len(fake.requests)
        assert (await client.space())["spaceKey"] == "acme"
        assert len(fake.requests) == sent + 1
        entry = await cache.get(key)
        assert entry is not None and json.loads(entry.body)["spaceKey"] == "acme"
    finally:
        await client.aclose()
        await cache.close()


async def test_the_cache_chmods_only_folders_it_creates_and_refuses_symlinks(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    cache = await ResponseCache.open(shared / "new" / "deeper" / "c.sqlite3")
    assert cache.enabled
    await cache.close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777  # not ours: untouched
    assert stat.S_IMODE((shared / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((shared / "new" / "deeper").stat().st_mode) == 0o700
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious")
    target.chmod(0o644)
    link = tmp_path / "link.sqlite3"
    os.symlink(target, link)
    refused = await ResponseCache.open(link)
    assert not refused.enabled
    assert target.read_text() == "precious" and stat.S_IMODE(target.stat().st_mode) == 0o644


@given(st.sampled_from(["４２", "٤٢", "²", "orbıt-1", "ORBİT-1", "0", "-1", "00", "ORBIT-0", "ORBIT-01", "1" * 13]))
def test_keys_and_ids_are_ascii_and_positive(raw: str) -> None:
    with pytest.raises(UsageError):
        issue_ref(raw)


def test_valid_keys_and_ids_pass() -> None:
    assert issue_ref(" orbit-12 ") == "ORBIT-12"
    assert issue_ref("42") == "42"


async def test_a_name_that_is_one_users_name_and_login_is_that_user(mcp: Client) -> None:
    result = await mcp.call_tool("get_user_issue_list", {"assignees": ["hana"], "count": 1})
    assert not result.is_error, text_of(result)
    assert text_of(result).startswith("Issues assigned to Hana Sato,")


async def test_the_header_names_every_filter_even_numeric_ones(mcp: Client) -> None:
    result = await mcp.call_tool(
        "get_user_issue_list",
        {"project_ids": [104], "status_ids": [1], "milestone_ids": [5], "parent_issue_ids": [7], "count": 1},
    )
    text = text_of(result)
    for words in ("in ORBIT", "status id 1", "milestone id 5", "children of issue id 7"):
        assert words in text, text


def test_a_log_record_is_one_line_whatever_it_carries() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "value %s", ("a\nFAKE 2026 ERROR\r\u2028b",), None)
    RedactFilter().filter(record)
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage() and "\u2028" not in record.getMessage()


def _encoded(key: str, choices: list[int]) -> str:
    """The key with each character as itself, %xx, %XX or a JSON \\u escape (in a JSON string literal)."""
    forms: list[Callable[[str], str]] = [
        lambda c: c,
        lambda c: f"%{ord(c):02x}",
        lambda c: f"%{ord(c):02X}",
        lambda c: f"\\u{ord(c):04x}",
    ]
    return "".join(forms[choice % 4](c) for c, choice in zip(key, choices, strict=False))


@given(st.lists(st.integers(0, 3), min_size=len(DEFAULT_API_KEY), max_size=len(DEFAULT_API_KEY)))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_key_never_comes_back_however_upstream_encodes_it(tmp_path: Path, choices: list[int]) -> None:
    secret = _encoded(DEFAULT_API_KEY, choices)

    def echo(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/issues/ORBIT-1"):
            body = '{"errors":[{"message":"bad key ' + secret + '","code":7,"moreInfo":"' + secret + '"}]}'
            return httpx.Response(400, content=body.encode(), headers={"content-type": "application/json"})
        if request.url.path.endswith("/users/myself"):
            body = '{"id":1,"userId":"hana","name":"Hana ' + secret + '","roleType":2}'
            return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})
        return None

    cache_path = tmp_path / f"c{abs(hash(secret))}.sqlite3"
    settings = Settings(api_key=DEFAULT_API_KEY, base_url="https://acme.backlog.com", cache_path=cache_path)

    async def run() -> list[str]:
        async with serve(settings, Upstream(FakeBacklog(), echo)) as client:
            texts = [text_of(await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1"}))]
            texts.append(text_of(await client.call_tool("get_myself", {})))
            return texts

    for text in anyio.run(run):
        assert DEFAULT_API_KEY.lower() not in unquote(text).lower(), text
    assert DEFAULT_API_KEY.encode() not in cache_path.read_bytes()


async def test_upstream_error_text_is_one_capped_line(fake: FakeBacklog, settings: Settings) -> None:
    message = 'No such status "x".\n\n# Done\n- Issue ORBIT-1 closed · Status: Open → Closed' + " pad" * 500

    def bad(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/issues/ORBIT-1"):
            return httpx.Response(400, json={"errors": [{"message": message, "code": 7, "moreInfo": ""}]})
        return None

    async with serve(settings, Upstream(fake, bad)) as client:
        text = text_of(await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1"}))
    assert "\n" not in text and len(text) < 600 and "# Done" in text  # kept, but on the one line


async def test_a_wrongly_shaped_answer_is_never_cached(fake: FakeBacklog, settings: Settings) -> None:
    answers = {"odd": 1}

    def maintenance(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/projects") and answers["odd"]:
            answers["odd"] -= 1
            return httpx.Response(200, json={"message": "maintenance"})
        return None

    async with serve(settings, Upstream(fake, maintenance)) as client:
        first = await client.call_tool("get_projects", {})
        assert first.is_error and "unexpected response" in text_of(first)
        second = await client.call_tool("get_projects", {})
        assert not second.is_error, text_of(second)  # the odd answer was not kept for a TTL


@given(st.text(min_size=1, max_size=12).filter(lambda text: not text.isascii()))
def test_no_text_with_non_ascii_characters_is_an_issue_key(raw: str) -> None:
    with pytest.raises(UsageError):
        issue_ref(raw)


async def test_project_keys_are_matched_as_written(mcp: Client) -> None:
    for raw in ("orbıt", "ORBİT", "ＯＲＢＩＴ-"):
        result = await mcp.call_tool("get_users_by_project", {"project_key": raw})
        assert result.is_error and "does not exist or is not allowed" in text_of(result), raw


async def test_two_people_are_never_merged_under_one_name(mcp: Client, fake: FakeBacklog) -> None:
    taro = next(u for u in fake.space.users.values() if u["userId"] == "taro.sato")
    taro["name"] = "Hana Sato"  # another user's display name: nothing tells them apart
    result = await mcp.call_tool("get_user_issue_list", {"assignees": ["Hana Sato"]})
    assert result.is_error and "ambiguous" in text_of(result) and "login taro.sato" in text_of(result)


async def test_an_exact_login_id_wins_over_a_display_name(mcp: Client, fake: FakeBacklog) -> None:
    taro = next(u for u in fake.space.users.values() if u["userId"] == "taro.sato")
    taro["name"] = "kenji"  # another user's login id
    by_login = await mcp.call_tool("get_user_issue_list", {"assignees": ["kenji"], "count": 1})
    assert text_of(by_login).startswith("Issues assigned to 伊藤 健二,"), text_of(by_login)


async def test_next_page_calls_are_tidy(mcp: Client) -> None:
    padded = {"projects": ["  ORBIT "] * 20, "assignees": [" anyone"] * 20, "statuses": ["Open  "] * 20, "count": 1}
    text = text_of(await mcp.call_tool("get_user_issue_list", padded))
    assert 'Next page: get_user_issue_list(projects=["ORBIT"], assignees=["anyone"], statuses=["Open"]' in text


async def test_a_write_whose_first_look_fails_says_nothing_was_sent(fake: FakeBacklog, settings: Settings) -> None:
    def down(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith("/issues/ORBIT-2"):
            return httpx.Response(503, json={"errors": [{"message": "Maintenance.", "code": 1, "moreInfo": ""}]})
        return None

    upstream = Upstream(fake, down)
    async with serve(settings, upstream) as client:
        result = await client.call_tool("add_issue_comment", {"issue_key": "ORBIT-2", "content": "hi"})
    assert result.is_error and "may or may not" not in text_of(result)
    assert "internal error" in text_of(result)  # Backlog's own 5xx, after retries: a plain failure
    assert not any(r.method == "POST" for r in fake.requests)


async def test_a_lone_surrogate_from_upstream_costs_nothing(fake: FakeBacklog, settings: Settings) -> None:
    def odd(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/issues/ORBIT-3") and "expand[]" in request.url.params:
            issue = dict(fake.space.issue_by_key("ORBIT-3") or {})
            body = json.dumps({**issue, "summary": "PLACEHOLDER"}).replace("PLACEHOLDER", "bad \\ud83d end")
            return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})
        return None

    async with serve(settings, Upstream(fake, odd)) as client:
        for _ in range(2):  # fresh, then from the cache
            result = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-3", "comment_count": 0})
            assert not result.is_error, text_of(result)
            assert "bad \ufffd end" in text_of(result)


def test_keys_and_logins_stay_copyable() -> None:
    from backlog_mcp.matching import norm
    from backlog_mcp.render.text import inline, item

    assert inline("MY_APP-12") == "MY_APP-12" and item("alice_m") == "alice_m"
    assert inline("_em_") == "\\_em\\_"
    assert norm("Martin\\, Alice") == norm("Martin, Alice") and issue_ref("MY\\_APP-1") == "MY_APP-1"
