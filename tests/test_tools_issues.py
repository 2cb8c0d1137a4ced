"""The issue tools end to end in memory: real MCP client, real server, fake Backlog over ASGI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.client import RetryPolicy
from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, OTHER_API_KEY, REFERENCE_NOW, FakeBacklog, build_space
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, comment_heads, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


class CountingTransport(httpx.AsyncBaseTransport):
    """ASGI transport that records the peak number of requests in flight."""

    def __init__(self, app: FakeBacklog) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.active = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.01)  # let concurrent requests overlap
            return await self.inner.handle_async_request(request)
        finally:
            self.active -= 1


@asynccontextmanager
async def client_for(
    fake: FakeBacklog, tmp_path: Path, key: str = DEFAULT_API_KEY, **settings: object
) -> AsyncIterator[Client]:
    s = Settings(api_key=key, base_url=BASE_URL, cache_path=tmp_path / "c.sqlite3", **settings)  # type: ignore[arg-type]
    server = build_server(s, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        yield client


@pytest.fixture
async def tools(fake: FakeBacklog, tmp_path: Path) -> AsyncIterator[Client]:
    async with client_for(fake, tmp_path) as client:
        yield client


async def call(client: Client, name: str, **args: object) -> str:
    result = await client.call_tool(name, args)
    assert not result.is_error, text_of(result)
    return text_of(result)


async def error(client: Client, name: str, **args: object) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error
    return text_of(result)


async def test_tools_list_names_annotations_and_schemas(tools: Client) -> None:
    listed = (await tools.list_tools()).tools
    reads = [t for t in listed if t.annotations is not None and t.annotations.read_only_hint]
    assert [t.name for t in reads] == [
        "get_myself", "get_users_by_project", "search_backlog", "get_activity", "get_projects", "get_project", "get_issue_details",
        "get_issue_comments", "get_my_issues", "get_user_issue_list", "get_attachment", "get_wiki_pages",
        "get_wiki_page", "get_documents", "get_document", "get_pull_requests", "get_pull_request", "get_notifications",
    ]  # fmt: skip
    for tool in listed:
        assert tool.output_schema is None
        assert tool.description and "\n    " not in tool.description  # dedented: no wasted tokens
    details = next(t for t in listed if t.name == "get_issue_details")
    assert details.input_schema["required"] == ["issue_key"]
    # The seed's older names work when called (see test_seed_argument_names_still_work), unadvertised;
    # `timezone` is taken but described once in the instructions.
    assert set(details.input_schema["properties"]) == {"issue_key", "comment_count", "max_tokens"}


async def test_issue_details_backlog_notation(tools: Client) -> None:
    text = await call(tools, "get_issue_details", issue_key="ORBIT-1", comment_count=4, timezone="Asia/Tokyo")
    assert text == snapshot("""\
# ORBIT-1 地図画面を回転するとクラッシュする
Bug · In Progress · Priority High · Assignee Hana Sato
https://acme.backlog.com/view/ORBIT-1
Created 2026-10-31 15:00 Asia/Tokyo by 伊藤 健二
Start 11-02 · Due 11-18 (overdue 2 d) · Estimated 6 h · Actual 2.5 h
Category Android, Backend · Milestone Sprint 14 · Version 2.4.0
Children: ORBIT-2 回転時の状態保存を修正 (Open, 佐藤 太郎); ORBIT-3 Add a rotation regression test (Closed, Tanaka Yuki)
Custom fields: Device model: Pixel 8 · Crash count: 17 · First seen: 2026-10-28 · Severity: Major · OS versions: Android 14, Android 15 · 影響範囲: 地図, other: Compass overlay · Reproducible: Always
Attachments stacktrace.txt (4.7 KB), screenshot.png (178 KB)
Shared files /qa/rotation-test-plan.xlsx (20 KB)
Stars 3

**調査メモ** (custom field)
>回転直後に onRotate が2回呼ばれる。
>Second call sees a null map.
## Description
># 概要 / Overview
>
>地図画面を回転するとアプリがクラッシュする。**Expected**: no crash, *the map keeps its zoom*.
>
>## Steps to reproduce
>
>1. Open the map (地図を開く)
>2. Rotate the device
>    1. 横向きにする
>    2. Back to portrait
>
>- 影響: Android 14, 15
>   - Pixel 8 / Galaxy S24
>     - only with the compass overlay
>- ~~Workaround: lock rotation~~ no longer works 重要
>- [ ] add a regression test
>- [x] collect logs
>
>See [Crash dashboard](https://crash.example.com/orbit) and [Design spec](https://docs.example.com/spec),
>related ORBIT-2, ORBIT-3 and the wiki page Release checklist (wiki page).
>Line after a break.
>
>```java
>NullPointerException at MapView.onRotate(MapView.java:212)
>   ''this is not bold'' and [[not a link]]
>```
>
>| Device | Crashes | Note |
>| --- | --- | --- |
>| **Pixel 8** | 17 | **most** reports |
>| **Galaxy S24** | 3 | manual \\| gated |
>
>[attachment: screenshot.png]
>
>[attachment: screenshot.png]
>
>stacktrace [attachment: stacktrace.txt]
>
>> ユーザーからの報告: 「回転すると落ちる」
>
>> 引用行 (quoted line)
## Comments (4 of 30)
_26 earlier comments: get_issue_comments(issue_key="ORBIT-1", before_id=5500027)._

11-11 23:00 田中 美咲 · Assignee: 田中 美咲 → Hana Sato
11-12 06:00 鈴木 一郎 · Due date: 2026-11-15 → 2026-11-18 · Crash count: 15 → 17
20:00 Hana Sato · Category: Android → Android, Backend · Attached log-28.txt
>Thanks, looks good on my side. 問題ありません。

11-20 13:00 伊藤 健二 · Milestone set to Sprint 14 · Priority: Normal → High · Description edited
># Root cause
>
>The fragment is recreated before the map is ready.\
""")


async def test_issue_details_markdown_project(tools: Client) -> None:
    text = await call(tools, "get_issue_details", issue_key="nova-1", comment_count=3)
    assert text == snapshot("""\
# NOVA-1 Checkout fails with 502 for large carts
Bug · In Progress · Priority High · Assignee Hana Sato
https://acme.backlog.com/view/NOVA-1
Created 2026-10-31 15:00 Asia/Tokyo by 伊藤 健二
Start 11-02 · Due 11-18 (overdue 2 d) · Estimated 6 h · Actual 2.5 h
Category Frontend, Infra · Milestone Sprint 14 · Version 2.4.0
Children: NOVA-2 回転時の状態保存を修正 (Open, 佐藤 太郎); NOVA-3 Add a rotation regression test (Closed, Tanaka Yuki)
Custom fields: Device model: Pixel 8 · Crash count: 17 · First seen: 2026-10-28 · Severity: Major · OS versions: Android 14, Android 15 · 影響範囲: 地図, other: Compass overlay · Reproducible: Always
Attachments stacktrace.txt (4.7 KB), screenshot.png (178 KB)
Shared files /qa/rotation-test-plan.xlsx (20 KB)
Stars 3

**調査メモ** (custom field)
>回転直後に onRotate が2回呼ばれる。
>Second call sees a null map.
## Description
>## Overview
>Checkout fails with **HTTP 502** when the cart has more than 50 items. 支払い画面でエラーになります。
>
>### Steps
>1. Add 51 items to the cart
>2. Press *Checkout*
>    - on mobile too
>3. See the error
>
>- [ ] add a load test
>- [x] capture the gateway logs
>
>| Env | Rate | Note |
>|---|---|---|
>| staging | 100% | always |
>| prod | 12% | peak hours |
>
>```python
>def checkout(cart):
>     return gateway.post(cart)  # **not bold**
>```
>
>Related: NOVA-2, see <https://status.example.com>.
>Next line after an HTML break.
>**Raw log**
>
>502 Bad Gateway
>
>> お客様からの問い合わせ: 「決済できない」
## Comments (3 of 30)
_27 earlier comments: get_issue_comments(issue_key="NOVA-1", before_id=5500058)._

11-12 06:00 Tanaka Yuki · Due date: 2026-11-15 → 2026-11-18 · Crash count: 15 → 17
20:00 Alice Martin · Category: Frontend → Frontend, Infra · Attached log-28.txt
>LGTM 👍 本番反映も問題なし。

11-20 13:00 伊藤 健二 · Milestone set to Sprint 14 · Priority: Normal → High · Description edited
>## Follow-up
>We should add an alert for 5xx spikes.\
""")


async def test_issue_details_by_numeric_id_and_without_comments(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-2")
    assert issue is not None
    text = await call(tools, "get_issue_details", issue_key=str(issue["id"]), include_comments=False)
    assert text.startswith("# NOVA-2 回転時の状態保存を修正\n")
    assert "Parent: NOVA-1 Checkout fails with 502 for large carts (In Progress, Hana Sato)" in text
    assert "## Comments" not in text


async def test_issue_details_one_round_trip_when_metadata_cached(fake: FakeBacklog, tmp_path: Path) -> None:
    transport = CountingTransport(fake)
    s = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c.sqlite3")
    server = build_server(s, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        await call(client, "get_issue_details", issue_key="ORBIT-4", comment_count=1)  # warms space + project
        fake.requests.clear()
        transport.peak = 0
        await call(client, "get_issue_details", issue_key="ORBIT-5")
    # ORBIT-5 has no relatives: issue, comments and comment count go out together, nothing else.
    assert sorted(r.path for r in fake.requests) == [
        "/issues/ORBIT-5",
        "/issues/ORBIT-5/comments",
        "/issues/ORBIT-5/comments/count",
    ]
    assert transport.peak == 3


async def test_children_join_the_first_round_trip_once_the_issue_id_is_known(fake: FakeBacklog, tmp_path: Path) -> None:
    transport = CountingTransport(fake)
    s = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c.sqlite3")
    server = build_server(s, transport=transport, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        await call(client, "get_user_issue_list", projects=["ORBIT"], count=3)  # ORBIT-1 is listed: its id is known
        fake.requests.clear()
        transport.peak = 0
        text = await call(client, "get_issue_details", issue_key="ORBIT-1")
    assert "Children: ORBIT-2 " in text
    assert len(fake.requests) == 4  # issue, comments, comment count, children: one round trip
    assert transport.peak == 4


async def test_long_thread_keeps_newest_and_says_how_to_get_the_rest(tools: Client) -> None:
    text = await call(tools, "get_issue_details", issue_key="ORBIT-4", comment_count=100, max_tokens=2000)
    shown = int(text.split("## Comments (")[1].split(" of ")[0])
    assert 0 < shown < 100
    assert f"_{120 - shown} earlier comments: get_issue_comments(" in text
    before_id = int(text.split("before_id=")[1].split(")")[0])
    older = await call(tools, "get_issue_comments", issue_key="ORBIT-4", before_id=before_id, count=5)
    ids_before = comment_heads(older)
    assert len(ids_before) == 5
    assert "Newer comments: get_issue_comments(" in older


async def test_comment_pages_cover_the_thread_without_overlap(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-4")
    assert issue is not None
    all_ids = [c["id"] for c in fake.space.comments[issue["id"]]]
    page = await call(tools, "get_issue_comments", issue_key="NOVA-4", count=50)
    seen = 50
    while "before_id=" in page:
        match = re.search(r"before_id=(\d+)", page)
        assert match is not None
        before = int(match[1])
        page = await call(tools, "get_issue_comments", issue_key="NOVA-4", before_id=before, count=50)
        seen += len(comment_heads(page))
    assert seen == len(all_ids) == 120


async def test_budget_drops_whole_comments_and_description_blocks(tools: Client) -> None:
    text = await call(tools, "get_issue_details", issue_key="ORBIT-1", max_tokens=1000)
    assert len(text.encode()) / 3 <= 1100
    assert "Description shortened" in text or "earlier comments: " in text
    assert text.count("```") % 2 == 0  # no fence cut in half


async def test_bad_inputs_get_actionable_errors(tools: Client) -> None:
    assert await error(tools, "get_issue_details", issue_key="../etc/passwd") == snapshot(
        '"../etc/passwd" is not an issue key. Use PROJECT-NUMBER such as "ORBIT-12" (or a numeric id); find keys with get_user_issue_list(keyword="...").'
    )
    assert await error(tools, "get_issue_details", issue_key="ORBIT-1", timezone="Mars/Base") == snapshot(
        'Unknown timezone "Mars/Base". Use an IANA name such as "Asia/Tokyo", "Europe/London" or "UTC".'
    )
    assert await error(tools, "get_issue_details", issue_key="ORBIT-99999") == snapshot(
        'Issue ORBIT-99999 does not exist, or this Backlog user cannot see it. Check the key; find issues with get_user_issue_list(keyword="...", assignees=["anyone"]).'
    )
    assert await error(tools, "get_user_issue_list", statuses=["Don"]) == snapshot(
        'Unknown status "Don" in ORBIT, NOVA. Valid values, closest first: "Open", "Closed", "Resolved", "In Progress", "Waiting for QA".'
    )
    assert await error(tools, "get_user_issue_list", assignees=["Hanna Sado"]) == snapshot(
        'Unknown user "Hanna Sado" in the members of ORBIT, NOVA. Valid values, closest first: "Hana Sato", "hana.sato", "taro.sato", "Tanaka Yuki", "yuki.tanaka", "Alice Martin", "ichiro", "misaki", "bob", "alice", "kenji", "伊藤 健二", "佐藤 太郎", "田中 美咲", "鈴木 一郎" and 1 more.'
    )
    assert await error(tools, "get_user_issue_list", projects=["NOPE"]) == snapshot(
        'Unknown project "NOPE". Valid values, closest first: "NOVA", "Nova Web Platform", "OLD", "Old Intranet", "ORBIT", "Orbit Mobile App".'
    )
    assert await error(tools, "get_user_issue_list", due_date_until="2026/11/30") == snapshot(
        'due_date_until="2026/11/30" is not a date; use YYYY-MM-DD, e.g. "2026-11-30".'
    )
    assert await error(tools, "get_issue_comments", issue_key="ORBIT-1", before_id=5, after_id=9) == snapshot(
        "Pass before_id or after_id, not both."
    )


async def test_forbidden_project_reads_as_not_found(fake: FakeBacklog, tmp_path: Path) -> None:
    async with client_for(fake, tmp_path, key=OTHER_API_KEY) as bob:
        text = await error(bob, "get_issue_details", issue_key="ORBIT-1")
        assert "Issue ORBIT-1 does not exist, or this Backlog user cannot see it." in text
        listing = await call(bob, "get_user_issue_list", assignees=["anyone"], count=100)
        assert "ORBIT-" not in listing


async def test_default_list_is_my_open_issues(tools: Client, fake: FakeBacklog) -> None:
    text = await call(tools, "get_user_issue_list", count=5)
    assert text == snapshot("""\
Issues assigned to Hana Sato, not closed, by updated desc (archived projects left out: OLD): issues 1-5 of 82 (dates Asia/Tokyo).

| Key | Summary | Status | Priority | Due | Updated |
|---|---|---|---|---|---|
| NOVA-1 | Checkout fails with 502 for large carts | In Progress | High | 2026-11-18 (overdue 2 d) | 2026-11-20 |
| ORBIT-1 | 地図画面を回転するとクラッシュする | In Progress | High | 2026-11-18 (overdue 2 d) | 2026-11-20 |
| ORBIT-211 | Upgrade the payment SDK #207 | Open | Normal | 2026-12-12 | 2026-11-19 |
| ORBIT-201 | Crash when rotating the map screen #197 | Open | Normal |  | 2026-11-09 |
| ORBIT-200 | Upgrade the payment SDK #196 | Open | Normal | 2026-10-27 (overdue 24 d) | 2026-11-08 |

77 more. Next page: get_user_issue_list(offset=5, count=5)\
""")
    archived = {pid for pid, p in fake.space.projects.items() if p.data["archived"]}
    mine_open = [
        i for i in fake.space.issues.values()
        if i["assignee"] and i["assignee"]["userId"] == "hana.sato" and i["status"]["id"] != 4
        and i["projectId"] not in archived
    ]  # fmt: skip
    assert archived and f"of {len(mine_open)} " in text
    everything = await call(tools, "get_user_issue_list", count=5, include_archived=True)
    assert "archived" not in everything.split("\n")[0]
    assert f"of {len(mine_open) + 4} " in everything  # the archived project's four open issues of Hana's


async def test_list_by_names_and_paging(tools: Client, fake: FakeBacklog) -> None:
    args = {"projects": ["ORBIT"], "assignees": ["佐藤 太郎", "alice"], "statuses": ["Open", "In Progress"], "count": 7}
    first = await call(tools, "get_user_issue_list", **args)
    assert first.startswith("Issues assigned to 佐藤 太郎, Alice Martin, in ORBIT, status Open or In Progress")
    total = int(first.split(" of ")[1].split(" ")[0])
    expected = [
        i for i in fake.space.issues.values()
        if i["issueKey"].startswith("ORBIT-") and i["assignee"] and i["assignee"]["userId"] in ("taro.sato", "alice")
        and i["status"]["id"] in (1, 2)
    ]  # fmt: skip
    assert total == len(expected)
    next_call = first.split("Next page: ")[1].strip()
    assert next_call == (
        'get_user_issue_list(projects=["ORBIT"], assignees=["佐藤 太郎", "alice"], '
        'statuses=["Open", "In Progress"], offset=7, count=7)'
    )
    second = await call(tools, "get_user_issue_list", **args, offset=7)

    def keys(text: str) -> set[str]:
        return {line.split(" | ")[0][2:] for line in text.splitlines() if line.startswith("| ") and "-" in line[:12]}

    assert keys(first).isdisjoint(keys(second)) and len(keys(first)) == 7


async def test_list_filters_by_type_priority_category_milestone_keyword_dates(tools: Client, fake: FakeBacklog) -> None:
    text = await call(
        tools, "get_user_issue_list", assignees=["anyone"], include_closed=True, issue_types=["bug"],
        priorities=["high"], categories=["Android"], milestones=["Sprint 14"], keyword="地図",
        updated_since="2026-01-01", count=100,
    )  # fmt: skip
    expected = sorted(
        i["issueKey"] for i in fake.space.issues.values()
        if i["issueType"]["name"] == "Bug" and i["priority"]["id"] == 2
        and any(c["name"] == "Android" for c in i["category"]) and any(m["name"] == "Sprint 14" for m in i["milestone"])
        and "地図" in f"{i['summary']} {i['description']}"
    )  # fmt: skip
    assert expected, "the dataset should hold such issues"
    assert sorted(line.split(" | ")[0][2:] for line in text.splitlines()[4:] if line.startswith("| ")) == expected


async def test_seed_compatible_id_arguments(tools: Client, fake: FakeBacklog) -> None:
    text = await call(
        tools, "get_user_issue_list", project_ids=[105], assignee_ids=[1073925005], status_ids=[1], count=100
    )
    expected = [
        i for i in fake.space.issues.values()
        if i["projectId"] == 105 and i["assignee"] and i["assignee"]["id"] == 1073925005 and i["status"]["id"] == 1
    ]  # fmt: skip
    assert f"of {len(expected)} " in text
    legacy = await call(tools, "get_user_issue_list", user_id=1073925005, project_ids=[105], status_ids=[1], count=100)
    assert legacy.split("\n", 1)[1] == text.split("\n", 1)[1]


async def test_user_id_setting_picks_default_assignee(fake: FakeBacklog, tmp_path: Path) -> None:
    async with client_for(fake, tmp_path, user_id="alice") as client:
        text = await call(client, "get_user_issue_list")
        assert text.startswith("Issues assigned to Alice Martin, not closed")


async def test_second_identical_call_is_served_from_cache(tools: Client, fake: FakeBacklog) -> None:
    first = await call(tools, "get_issue_details", issue_key="ORBIT-1")
    sent = len(fake.requests)
    assert await call(tools, "get_issue_details", issue_key="ORBIT-1") == first
    assert len(fake.requests) == sent
    await call(tools, "get_user_issue_list")
    sent = len(fake.requests)
    await call(tools, "get_user_issue_list")
    assert len(fake.requests) == sent


async def test_stale_copy_is_marked_when_backlog_is_down(fake: FaultyBacklog, tmp_path: Path) -> None:
    async with client_for(fake, tmp_path, issue_ttl=0.001, metadata_ttl=0.001) as client:
        fresh = await call(client, "get_issue_details", issue_key="NOVA-5")
        await asyncio.sleep(0.01)
        fake.faults.error_rate = 1.0
        stale = await call(client, "get_issue_details", issue_key="NOVA-5")
        assert stale.startswith("**Note: Backlog is not answering; this is a cached copy about")
        assert stale.split("\n\n", 1)[1] == fresh


async def test_retry_policy_is_used(fake: FaultyBacklog, tmp_path: Path) -> None:
    fake.faults.fail_next = [503]
    s = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=None)
    server = build_server(s, transport=httpx.ASGITransport(app=fake), retry=RetryPolicy(attempts=2, base_delay=0.001))
    async with Client(server) as client:
        assert "Hana Sato" in await call(client, "get_myself")


def test_space_fixture_is_deterministic() -> None:
    a, b = build_space(), build_space()
    assert a.issues == b.issues and a.comments == b.comments
    assert len(a.issues) >= 400


async def test_misspelled_arguments_are_errors_not_silently_ignored(tools: Client) -> None:
    assert await error(tools, "get_user_issue_list", project=["ORBIT"]) == snapshot(
        'Unknown argument "project"; did you mean "projects"? Valid arguments: assignees, categories, count, created, due_date, include_archived, include_closed, issue_types, keyword, milestones, offset, order, parent, priorities, projects, sort, start_date, statuses, timezone, updated, watching.'
    )
    text = await error(tools, "get_issue_details", issue_key="ORBIT-1", comments=5)
    assert 'Unknown argument "comments"; did you mean "comment_count"?' in text


async def test_dates_lose_their_year_only_when_it_is_this_one(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-3")
    assert issue is not None
    issue.update(startDate="2026-11-02T00:00:00Z", dueDate="2026-1")  # a value Backlog should not send: as it is
    this_year = await call(tools, "get_issue_details", issue_key="NOVA-3", include_comments=False)
    assert "\nStart 11-02 · Due 2026-1\n" in this_year
    other = fake.space.issue_by_key("NOVA-2")  # not read yet: nothing cached
    assert other is not None
    other.update(created="2025-03-01T01:00:00Z", startDate="2025-11-01T00:00:00Z", dueDate="2025-12-01T00:00:00Z")
    last_year = await call(tools, "get_issue_details", issue_key="NOVA-2", include_comments=False)
    # Created last year, read this year: a bare month and day would pass for this year's.
    assert "\nCreated 2025-03-01 10:00 Asia/Tokyo by " in last_year
    assert "\nStart 2025-11-01 · Due 2025-12-01" in last_year


async def test_odd_backlog_data_is_shown_not_crashed_on(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-4")
    assert issue is not None
    issue["dueDate"] = "someday"
    comment = fake.space.comments[issue["id"]][-1]
    comment["changeLog"] = [{"field": "limitDate", "newValue": "2025/03/12", "originalValue": None}]
    comment["content"] = "<div>" * 3000 + "deep"
    text = await call(tools, "get_issue_details", issue_key="NOVA-4", comment_count=1)
    assert "Due someday" in text
    assert "Due date set to 2025/03/12" in text
    assert text.endswith("deep")


async def test_children_still_listed_when_the_parent_cannot_be_read(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None
    issue["parentIssueId"] = 987654321  # a parent this user cannot see
    text = await call(tools, "get_issue_details", issue_key="ORBIT-1", include_comments=False)
    assert "\nParent: issue id 987654321\n" in text
    assert "\nChildren: ORBIT-2 " in text


async def test_one_huge_comment_is_clipped_to_the_budget(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-4")
    assert issue is not None
    fake.space.comments[issue["id"]][-1]["content"] = "```\n" + "\n".join(f"line {n}" for n in range(20000)) + "\n```"
    text = await call(tools, "get_issue_details", issue_key="NOVA-4", comment_count=2, max_tokens=2000)
    assert len(text.encode()) / 3 < 2300
    assert "more lines of this comment not shown)" in text
    assert text.count("```") % 2 == 0


async def test_comment_paging_hints_are_exact(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None
    ids = [c["id"] for c in fake.space.comments[issue["id"]]]  # 30 comments
    everything = await call(tools, "get_issue_comments", issue_key="ORBIT-1", count=30)
    assert "earlier" not in everything.lower() and "Newer" not in everything
    newest = await call(tools, "get_issue_comments", issue_key="ORBIT-1", count=10)
    assert f'_20 earlier comments: get_issue_comments(issue_key="ORBIT-1", before_id={ids[20]}, count=10)._' in newest
    middle = await call(tools, "get_issue_comments", issue_key="ORBIT-1", before_id=ids[20], count=10)
    assert f"before_id={ids[10]}" in middle and f"after_id={ids[19]}" in middle
    after = await call(tools, "get_issue_comments", issue_key="ORBIT-1", after_id=ids[9], count=10)
    assert "before_id" not in after and f"after_id={ids[19]}" in after
    last = await call(tools, "get_issue_comments", issue_key="ORBIT-1", after_id=ids[19], count=10)
    assert "before_id" not in last and "after_id" not in last


async def test_a_one_line_giant_comment_keeps_its_start(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("NOVA-4")
    assert issue is not None
    fake.space.comments[issue["id"]][-1]["content"] = "IMPORTANT first sentence. " + "blah " * 20000
    text = await call(tools, "get_issue_details", issue_key="NOVA-4", comment_count=3, max_tokens=2000)
    assert ">IMPORTANT first sentence. blah" in text
    assert len(text.encode()) / 3 < 2300


async def test_tools_without_arguments_reject_any(tools: Client) -> None:
    assert await error(tools, "get_myself", verbose=True) == snapshot(
        "This tool takes no arguments; leave out verbose."
    )


async def test_textarea_custom_field_respects_the_budget(tools: Client, fake: FakeBacklog) -> None:
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None
    issue["customFields"][-1]["value"] = "\n".join(f"note {n}" for n in range(30000))
    text = await call(tools, "get_issue_details", issue_key="ORBIT-1", max_tokens=2000)
    assert len(text.encode()) / 3 < 2300
    assert ">note 0" in text and "more lines)" in text


async def test_issues_i_watch_with_the_changed_ones_marked(tools: Client, fake: FakeBacklog) -> None:
    watched = next(iter(fake.space.watchings.values()))
    text = await call(tools, "get_user_issue_list", watching=True, count=20)
    assert text.startswith(
        "Issues I watch, 5 here changed since I last read them, latest change first: issues 1-12 of 12"
    )
    for watching in watched:
        marker = " (changed)" if not watching["resourceAlreadyRead"] else " |"
        assert f"| {watching['issue']['issueKey']}{marker}" in text
    refused = await error(tools, "get_user_issue_list", watching=True, keyword="x")
    assert refused == "watching=true lists every issue I watch; leave out keyword."
    page = await call(tools, "get_user_issue_list", watching=True, count=5, offset=5)
    assert "issues 6-10 of 12" in page and "Next page: get_user_issue_list(watching=true, offset=10, count=5)" in page


def test_the_first_comment_shown_is_dated_to_the_day_only_when_nothing_comes_between() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from backlog_mcp.render.issue import render_comments
    from backlog_mcp.render.notation import LinkContext
    from backlog_mcp.render.text import View

    view = View(tz=ZoneInfo("UTC"), today=date(2026, 11, 30), base_url="https://a.backlog.com")
    comments = [
        {"id": n, "content": f"note {n}", "created": f"2026-11-14T{n:02}:30:00Z", "createdUser": {"name": "Ann"}}
        for n in (20, 21)
    ]

    def shown(older: int) -> str:
        links, since = LinkContext(), "2026-11-14 09:00"
        more = "more()"
        return render_comments(
            comments, rule="markdown", view=view, links=links, budget=1000, older=older,
            older_call=lambda _id: more, since=since,
        )[0]  # fmt: skip

    assert shown(0).startswith("20:30 Ann\n>note 20\n\n21:30 Ann")  # the creation, just above, is that day
    # With earlier comments between the creation and it, its day is said.
    assert shown(3).startswith("_3 earlier comments: more()._\n\n11-14 20:30 Ann\n>note 20\n\n21:30 Ann")
