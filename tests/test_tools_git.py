"""get_pull_requests and get_pull_request: repositories, pull requests by name, one with its thread."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot
from mcp import Client

from tests.conftest import comment_heads, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


async def test_without_a_repository_the_repositories_with_open_counts(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_pull_requests", {"project_key": "orbit"}))
    assert text == snapshot("""\
Git repositories of ORBIT (2; dates Asia/Tokyo). Name one to list its pull requests.

- orbit-android: Android app · last push 2026-11-20 · 6 open pull requests
- orbit-ios: iOS app · last push 2026-11-20 · 4 open pull requests\
""")


async def test_open_pull_requests_of_a_repository(mcp: Client, fake: FaultyBacklog) -> None:
    text = text_of(await mcp.call_tool("get_pull_requests", {"project_key": "ORBIT", "repository": "ios"}))
    assert text == snapshot("""\
Open pull requests of ORBIT/orbit-ios: 4 pull requests, showing 1-4 (dates Asia/Tokyo).

- #5 回転時のクラッシュを修正 · Open · feature/offline-maps-5 → release/2.4 · by 鈴木 一郎 · assignee 伊藤 健二 · ORBIT-27 · updated 2026-11-01
- #4 Retry uploads after a dropped connection · Open · fix/rotation-crash-4 → main · by 田中 美咲 · assignee Hana Sato · updated 2026-10-28
- #2 依存ライブラリの更新 · Open · chore/deps-2 → main · by Tanaka Yuki · ORBIT-12 · updated 2026-10-20
- #1 Fix login timeout on slow networks · Open · fix/login-timeout-1 → main · by 佐藤 太郎 · assignee Alice Martin · ORBIT-7 · updated 2026-10-16\
""")
    listed = [r for r in fake.requests if r.path.endswith("/pullRequests")]
    assert listed and ("statusId[]", "1") in listed[-1].query and "/repositories/42/" in listed[-1].path


async def test_filters_by_assignee_and_issue_and_pages_on(mcp: Client) -> None:
    page = text_of(
        await mcp.call_tool(
            "get_pull_requests", {"project_key": "ORBIT", "repository": "orbit-android", "status": "all", "count": 3}
        )
    )
    assert page.endswith(
        '5 more. Next page: get_pull_requests(project_key="ORBIT", repository="orbit-android", status="all", offset=3, count=3)'
    )
    mine = text_of(
        await mcp.call_tool(
            "get_pull_requests",
            {"project_key": "ORBIT", "repository": "orbit-ios", "assignee": "me", "status": "all"},
        )
    )
    assert mine.startswith("All pull requests of ORBIT/orbit-ios assigned to Hana Sato: 1 pull request,")
    linked = text_of(
        await mcp.call_tool(
            "get_pull_requests", {"project_key": "ORBIT", "repository": "orbit-ios", "issue_key": "ORBIT-12"}
        )
    )
    assert "linked to ORBIT-12" in linked and linked.count("\n- #") == 1


async def test_one_pull_request_with_its_comments(mcp: Client) -> None:
    text = text_of(
        await mcp.call_tool("get_pull_request", {"project_key": "ORBIT", "repository": "orbit-android", "number": 1})
    )
    assert text == snapshot("""\
# ORBIT/orbit-android#1 Offline map tiles
Open · feature/offline-maps-1 → main · by 伊藤 健二 on 2026-10-15 18:00 · assignee Tanaka Yuki (times Asia/Tokyo)
Issue: ORBIT-6 Search returns stale results #2 (Waiting for QA)
Attachments: build.log, coverage.zip
https://acme.backlog.com/git/ORBIT/orbit-android/pullRequests/1

## Description
>ORBIT-6 を修正します。
>
>- テストを追加
>- `MapView` の null チェック
>- Tile cache: evict the oldest tiles first

## Comments
3 comments in all.

2026-10-15 21:00 佐藤 太郎
>`feature/offline-maps-1` を確認しました。nullチェックは良さそうです。

22:00 Tanaka Yuki
>LGTM 👍

23:00 Alice Martin
>LGTM 👍\
""")
    merged = text_of(
        await mcp.call_tool("get_pull_request", {"project_key": "ORBIT", "repository": "orbit-android", "number": 3})
    )
    assert "Merged 2026-10-24" in merged


async def test_unknown_repository_and_number_name_the_valid_ones(mcp: Client) -> None:
    repo = await mcp.call_tool("get_pull_requests", {"project_key": "ORBIT", "repository": "web"})
    assert repo.is_error and text_of(repo) == snapshot(
        'Unknown repository "web" in project ORBIT. Valid values, closest first: "orbit-ios", "orbit-android".'
    )
    number = await mcp.call_tool("get_pull_request", {"project_key": "ORBIT", "repository": "orbit-ios", "number": 99})
    assert number.is_error and text_of(number) == snapshot(
        'ORBIT/orbit-ios has no pull request 99; list them with get_pull_requests(project_key="ORBIT", repository="orbit-ios", status="all").'
    )


async def test_rows_dropped_for_size_are_the_next_page(mcp: Client, fake: FaultyBacklog) -> None:
    for pr in fake.space.pull_requests.values():
        pr["summary"] = "long summary " * 60
    first = text_of(
        await mcp.call_tool(
            "get_pull_requests",
            {"project_key": "ORBIT", "repository": "orbit-android", "status": "all", "max_tokens": 1000},
        )
    )
    shown = first.count("\n- #")
    assert 0 < shown < 8 and f"showing 1-{shown} " in first
    assert first.endswith(f'status="all", offset={shown}, max_tokens=1000)')


async def test_comment_pages_reach_the_first_comment(mcp: Client) -> None:
    args = {"project_key": "ORBIT", "repository": "orbit-android", "number": 1, "comment_count": 1}
    seen = []
    text = text_of(await mcp.call_tool("get_pull_request", args))
    for _ in range(5):
        seen += comment_heads(text)
        if "_Earlier comments: " not in text and "earlier comment" not in text:
            break
        before = int(text.split("before_id=")[1].split(",")[0].split(")")[0])
        text = text_of(await mcp.call_tool("get_pull_request", {**args, "before_id": before}))
    assert len(seen) == 3  # every comment, each once


async def test_an_offset_past_the_end_says_so(mcp: Client) -> None:
    past = await mcp.call_tool(
        "get_pull_requests", {"project_key": "ORBIT", "repository": "orbit-android", "offset": 50}
    )
    assert past.is_error and "offset=50 is past the end" in text_of(past) and "has 6" in text_of(past)
