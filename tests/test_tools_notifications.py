"""get_notifications against the fake inbox: unread first, exact paging, the allow-list."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, text_of

pytestmark = pytest.mark.anyio


async def test_unread_first_with_who_why_and_what(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_notifications", {"count": 8, "timezone": "Asia/Tokyo"}))
    assert text == snapshot("""\
Notifications, newest first (7 unread in all; times Asia/Tokyo).

## Unread
- id 900024 · 2026-11-20 13:00 · **伊藤 健二** commented on NOVA-1 Checkout fails with 502 for large carts: "Follow-up…" · Milestone set to Sprint 14 · Priority: Normal → High · Description edited
- id 900023 · 2026-11-20 13:00 · **伊藤 健二** commented on ORBIT-1 地図画面を回転するとクラッシュする: "Root cause…" · Milestone set to Sprint 14 · Priority: Normal → High · Description edited
- id 900022 · 2026-11-12 20:00 · **Alice Martin** commented on NOVA-1 Checkout fails with 502 for large carts: "LGTM 👍 本番反映も問題なし。" · Category: Frontend → Frontend, Infra · Attached log-28.txt
- id 900021 · 2026-11-12 06:00 · **Tanaka Yuki** updated NOVA-1 Checkout fails with 502 for large carts · Due date: 2026-11-15 → 2026-11-18 · Crash count: 15 → 17
- id 900020 · 2026-11-12 06:00 · **鈴木 一郎** updated ORBIT-1 地図画面を回転するとクラッシュする · Due date: 2026-11-15 → 2026-11-18 · Crash count: 15 → 17
- id 900019 · 2026-11-11 23:00 · **佐藤 太郎** updated NOVA-1 Checkout fails with 502 for large carts · Assignee: 田中 美咲 → Hana Sato
- id 900018 · 2026-11-11 23:00 · **田中 美咲** updated ORBIT-1 地図画面を回転するとクラッシュする · Assignee: 田中 美咲 → Hana Sato

## Read
- id 900017 · 2026-11-11 12:00 · **伊藤 健二** commented on NOVA-1 Checkout fails with 502 for large carts: "Deployed to staging. 確認お願いします。" · Status: Open → In Progress

Older: get_notifications(count=8, before_id=900017, timezone="Asia/Tokyo")\
""")


async def test_pages_cover_the_inbox_without_overlap(mcp: Client, fake: FakeBacklog) -> None:
    inbox = next(iter(fake.space.notifications.values()))
    seen: list[str] = []
    call: dict[str, object] = {"count": 7}
    while True:
        text = text_of(await mcp.call_tool("get_notifications", call))
        seen += [line for line in text.split("\n") if line.startswith("- ")]
        match = re.search(r"before_id=(\d+)", text)
        if not match:
            break
        call = {"count": 7, "before_id": int(match[1])}
    assert len(seen) == len(inbox) == 24 and len(set(seen)) == 24


async def test_the_allow_list_keeps_other_projects_notifications_out(fake: FakeBacklog, tmp_path: Path) -> None:
    settings = Settings(
        api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c", projects=frozenset({"ORBIT"})
    )
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        text = text_of(await client.call_tool("get_notifications", {"count": 24}))
    assert "ORBIT-" in text and "NOVA" not in text
    assert "unread here" in text and "unread in all" not in text  # Backlog's count would include NOVA's
    assert not any(r.path == "/notifications/count" for r in fake.requests)


async def test_the_fake_counts_and_bounds_like_backlog(fake: FakeBacklog) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url=f"{BASE_URL}/api/v2") as http:
        key = {"apiKey": DEFAULT_API_KEY}
        unread = (await http.get("/notifications/count", params={**key, "alreadyRead": "false"})).json()
        every = (await http.get("/notifications/count", params=key)).json()
        page = (await http.get("/notifications", params={**key, "maxId": 900010, "count": 3})).json()
        bad = await http.get("/notifications", params={**key, "count": 101})
    assert unread == {"count": 7} and every == {"count": 24}
    assert [n["id"] for n in page] == [900010, 900009, 900008]
    assert all(n["sender"]["userId"] != "hana.sato" for n in page)
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == 7


async def _follow(client: Client, first: dict[str, object]) -> list[str]:
    seen: list[str] = []
    call = dict(first)
    for _ in range(50):
        text = text_of(await client.call_tool("get_notifications", call))
        seen += [line for line in text.split("\n") if line.startswith("- ")]
        match = re.search(r"before_id=(\d+)", text)
        if not match:
            return seen
        call = {**first, "before_id": int(match[1])}
    raise AssertionError("paging did not end")


async def test_paging_goes_on_past_pages_the_allow_list_thinned(fake: FakeBacklog, tmp_path: Path) -> None:
    settings = Settings(
        api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c", projects=frozenset({"ORBIT"})
    )
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    inbox = next(iter(fake.space.notifications.values()))
    orbit = [n for n in inbox if n["project"]["projectKey"] == "ORBIT"]
    async with Client(server) as client:
        seen = await _follow(client, {"count": 10})
    assert len(seen) == len(orbit) == len(set(seen)) and all("NOVA" not in line for line in seen)


async def test_full_pages_of_a_hundred_reach_the_oldest(mcp: Client, fake: FakeBacklog) -> None:
    inbox = next(iter(fake.space.notifications.values()))
    template = inbox[-1]
    inbox += [{**template, "id": 800_000 - n, "created": template["created"]} for n in range(226)]
    seen = await _follow(mcp, {"count": 100})
    assert len(seen) == 250


def test_a_budget_cut_page_goes_on_right_after_the_oldest_shown() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from backlog_mcp.fake import build_space
    from backlog_mcp.render.notifications import render_notifications
    from backlog_mcp.render.text import View

    inbox = next(iter(build_space(issues_per_project=30).notifications.values()))[:6]
    for n in inbox:
        n["issue"] = {**n["issue"], "summary": "long " * 80}
    view = View(tz=ZoneInfo("UTC"), today=date(2026, 11, 20), base_url="https://a.backlog.com")
    text = render_notifications(
        inbox,
        unread_total=7,
        view=view,
        older_call=lambda oldest: f"older(before_id={oldest})",
        lowest_sent=None,
        budget=400,
    )
    shown = text.count("\n- ")
    assert 0 < shown < 6
    assert f"older(before_id={inbox[shown - 1]['id']})" in text  # the next page starts right below the last shown


async def test_a_change_only_comment_shows_what_it_changed(mcp: Client, fake: FakeBacklog) -> None:
    inbox = fake.space.notifications[1073925001]
    changed = next(n for n in inbox if n["comment"] and not n["comment"]["content"] and n["comment"]["changeLog"])
    text = text_of(await mcp.call_tool("get_notifications", {"count": 24}))
    line = next(row for row in text.split("\n") if row.startswith(f"- id {changed['id']} · "))
    first = changed["comment"]["changeLog"][0]
    assert f"→ {first['newValue']}" in line, line
