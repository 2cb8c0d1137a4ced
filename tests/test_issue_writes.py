"""The seed's writes end to end, and what each write makes stale in the cache (nothing else)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.client import BacklogClient
from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


@pytest.fixture
async def tools(fake: FakeBacklog, settings: Settings) -> AsyncIterator[Client]:
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        yield client


async def call(client: Client, name: str, **args: object) -> str:
    result = await client.call_tool(name, args)
    assert not result.is_error, text_of(result)
    return text_of(result)


def gets(fake: FakeBacklog) -> list[str]:
    return [r.path for r in fake.requests if r.method == "GET"]


async def test_a_comment_shows_at_once_and_nothing_unrelated_is_refetched(tools: Client, fake: FakeBacklog) -> None:
    parents = {i["parentIssueId"] for i in fake.space.issues.values()}
    unrelated = next(
        i["issueKey"]
        for i in fake.space.issues.values()
        if i["issueKey"].startswith("ORBIT-") and not i["parentIssueId"] and i["id"] not in parents
    )
    await call(tools, "get_issue_details", issue_key="ORBIT-1")
    await call(tools, "get_issue_details", issue_key=unrelated)
    await call(tools, "get_user_issue_list", projects=["ORBIT"])
    fake.requests.clear()
    added = await call(tools, "add_issue_comment", issue_key="ORBIT-1", content="Deployed to staging.")
    assert added.startswith("Comment ") and "added to ORBIT-1 by Hana Sato" in added
    assert "#comment-" in added and "Deployed to staging." not in added  # confirmed, not echoed
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/issues/ORBIT-1/comments")]
    fake.requests.clear()
    again = await call(tools, "get_issue_details", issue_key="ORBIT-1")
    assert "Deployed to staging." in again  # no wait for a TTL
    assert "/issues/ORBIT-1" in gets(fake) and "/issues/ORBIT-1/comments" in gets(fake)
    fake.requests.clear()
    await call(tools, "get_issue_details", issue_key=unrelated)  # no relative of ORBIT-1: still cached
    await call(tools, "get_myself")
    assert gets(fake) == ["/issues"]  # only the (speculative) list of its children: every list is stale
    fake.requests.clear()
    await call(tools, "get_user_issue_list", projects=["ORBIT"])  # lists: the issue's update time moved
    assert sorted(gets(fake)) == ["/issues", "/issues/count"]


async def test_description_replaced_cleared_and_read_back(tools: Client, fake: FakeBacklog) -> None:
    before = await call(tools, "get_issue_details", issue_key="NOVA-1", comment_count=0)
    assert "## Description" in before
    text = await call(tools, "update_issue_description", issue_key="nova-1", description="New **plan**.")
    assert text.splitlines()[0].startswith("Description of NOVA-1 (")
    assert "replaced (" in text and text.endswith("https://acme.backlog.com/view/NOVA-1")
    after = await call(tools, "get_issue_details", issue_key="NOVA-1", comment_count=0)
    assert ">New **plan**." in after
    cleared = await call(tools, "update_issue_description", issue_key="NOVA-1", description="")
    assert ") cleared." in cleared
    assert "_No description._" in await call(tools, "get_issue_details", issue_key="NOVA-1", comment_count=0)


async def test_an_unconfirmed_comment_says_the_outcome_is_unknown_and_how_to_check(
    tools: Client, fake: FaultyBacklog
) -> None:
    await call(tools, "get_issue_details", issue_key="ORBIT-3")  # cached: the next request is the POST
    fake.faults.fail_next = [503]
    result = await tools.call_tool("add_issue_comment", {"issue_key": "ORBIT-3", "content": "Once only"})
    assert result.is_error
    assert text_of(result) == snapshot(
        'Backlog did not confirm the comment on ORBIT-3 (ServerError); it may or may not have been saved. Check with get_issue_comments(issue_key="ORBIT-3", count=5) before trying again, or it may be applied twice.'
    )
    assert [r.method for r in fake.requests].count("POST") == 1  # never retried blindly


async def test_writes_reject_bad_input_before_any_request(tools: Client, fake: FakeBacklog) -> None:
    for name, args in (
        ("add_issue_comment", {"issue_key": "ORBIT-1", "content": "   "}),
        ("add_issue_comment", {"issue_key": "ORBIT 1", "content": "x"}),
        ("update_issue_description", {"issue_key": "ORBIT-1", "description": "x" * 100_001}),
    ):
        result = await tools.call_tool(name, args)
        assert result.is_error, name
    assert fake.requests == []


async def test_each_write_names_what_it_makes_stale(fake: FakeBacklog, settings: Settings) -> None:
    """Per endpoint: the issue under its key and id (with comments), the parent, and the lists."""
    from backlog_mcp.cache import ResponseCache

    assert settings.cache_path is not None
    cache = await ResponseCache.open(settings.cache_path)
    client = BacklogClient(settings, cache, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    try:
        child = next(i for i in fake.space.issues.values() if i["parentIssueId"])
        parent = fake.space.issues[child["parentIssueId"]]
        other = next(i for i in fake.space.issues.values() if i["id"] not in (child["id"], parent["id"]))
        for issue in (child, parent, other):
            await client.issue(issue["issueKey"])
            await client.issue(issue["id"])
            await client.comments(issue["issueKey"], {"count": 5})
        await client.project_list("ORBIT", "statuses")
        await client.issues({"count": 5})

        async def paths() -> set[str]:
            db = cache._db
            assert db is not None
            return {row[0] for row in await db.execute_fetchall("SELECT path FROM responses")}

        cached = await paths()
        await client.add_comment(child["issueKey"], "hello")
        gone = cached - await paths()
        assert gone == {
            f"/issues/{child['issueKey']}",
            f"/issues/{child['id']}",
            f"/issues/{child['issueKey']}/comments",
            "/issues",
        }
        await client.issues({"count": 5})  # fetch them again
        await client.issue(child["issueKey"])
        await client.issue(child["id"])
        await client.comments(child["issueKey"], {"count": 5})
        cached = await paths()
        await client.update_issue(child["issueKey"], {"description": "changed"})
        gone = cached - await paths()
        child_rows = {
            f"/issues/{child['issueKey']}", f"/issues/{child['id']}", f"/issues/{child['issueKey']}/comments", "/issues",
        }  # fmt: skip
        assert gone == child_rows  # the parent shows no description of its children
        await client.issues({"count": 5})
        await client.issue(child["issueKey"])
        await client.issue(child["id"])
        await client.comments(child["issueKey"], {"count": 5})
        cached = await paths()
        await client.update_issue(child["issueKey"], {"statusId": 2})
        gone = cached - await paths()
        # A status change also touches the parent, which lists its children with their status.
        assert gone == child_rows | {f"/issues/{parent['issueKey']}", f"/issues/{parent['id']}"}
        assert f"/issues/{other['issueKey']}" in await paths()
        assert "/projects/ORBIT/statuses" in await paths()
    finally:
        await client.aclose()
        await cache.close()


async def test_a_write_cut_by_the_deadline_says_its_outcome_is_unknown(fake: FaultyBacklog, tmp_path: Path) -> None:
    class SlowAfterWrite(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(app=fake)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method == "POST":
                await asyncio.sleep(3)  # Backlog applied it; the answer never arrives in time
            return response

    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c", tool_deadline=0.5)
    server = build_server(settings, transport=SlowAfterWrite(), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        result = await client.call_tool("add_issue_comment", {"issue_key": "orbit-1", "content": "once"})
    assert result.is_error
    assert text_of(result) == snapshot(
        'Backlog did not confirm within 0.5 s, so it is unknown whether the change was made. Check with get_issue_comments(issue_key="ORBIT-1", count=5) before trying again.'
    )
    assert [r.method for r in fake.requests].count("POST") == 1


async def test_a_write_drops_what_another_process_cached_under_the_issue_id(
    fake: FakeBacklog, settings: Settings
) -> None:
    """Two servers on one cache file: B read by numeric id, A writes by key; B sees the change."""
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None
    transport = httpx.ASGITransport(app=fake)
    a = build_server(settings, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    b = build_server(settings, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(a) as writer, Client(b) as reader:
        before = await call(reader, "get_issue_comments", issue_key=str(issue["id"]))
        assert "(30 in all" in before
        await call(writer, "add_issue_comment", issue_key="ORBIT-1", content="Seen by everyone")
        after = await call(reader, "get_issue_comments", issue_key=str(issue["id"]))
        assert "(31 in all" in after and "Seen by everyone" in after
