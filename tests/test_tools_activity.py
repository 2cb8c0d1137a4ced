"""get_activity: the timeline by day then item, in the caller's days, by project, user and kind."""

from __future__ import annotations

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


async def test_what_happened_in_a_project_since_yesterday(mcp: Client) -> None:
    text = text_of(
        await mcp.call_tool("get_activity", {"project_key": "ORBIT", "since": "2026-11-18", "timezone": "Asia/Tokyo"})
    )
    assert text == snapshot("""\
Activity in ORBIT from 2026-11-18 to now (times Asia/Tokyo), newest first.

## 2026-11-20
**ORBIT-210 Export to CSV drops Japanese characters #206**
- 17:48 Tanaka Yuki updated it · Status: Open → Resolved

**ORBIT-1 地図画面を回転するとクラッシュする**
- 13:00 伊藤 健二 updated it · Milestone set to Sprint 14 · Priority: Normal → High · Description edited
  ># Root cause
  >
  >The fragment is recreated before the map is ready.

## 2026-11-19
**ORBIT-211 Upgrade the payment SDK #207**
- 23:06 Tanaka Yuki updated it

**ORBIT wiki Home (id 3300001)**
- 18:00 Hana Sato edited the page\
""")


async def test_status_changes_are_named_not_numbered(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments", "issues"]}))
    assert "Status: Open → In Progress" in text or "Status: In Progress →" in text
    assert "Status: 1 →" not in text and "Status: 2 →" not in text


async def test_what_i_did_and_other_kinds(mcp: Client, fake: FaultyBacklog) -> None:
    mine = text_of(await mcp.call_tool("get_activity", {"user": "me", "until": "2026-11-12", "max_tokens": 1000}))
    assert mine.startswith("Activity by Hana Sato from the start to 2026-11-12 (times Asia/Tokyo), newest first.")
    assert "/users/1073925001/activities" in [r.path for r in fake.requests]
    lines = [line for line in mine.split("\n") if line.startswith("- ")]
    assert lines and all(" Hana Sato " in line for line in lines)
    assert 'get_activity(user="me", until="2026-11-12", before_id=' in mine.split("\n")[-1]
    git = text_of(await mcp.call_tool("get_activity", {"kinds": ["git"], "max_tokens": 3000}))
    assert "pushed 1 commit to" in git and "opened it" in git and "ORBIT-1 " not in git


async def test_paging_on_reaches_older_activity(mcp: Client) -> None:
    first = text_of(await mcp.call_tool("get_activity", {"project_key": "NOVA", "max_tokens": 1000}))
    call = first.split("continue with ")[-1].rstrip("._") if "continue with" in first else None
    assert call is not None and call.startswith('get_activity(project_key="NOVA", before_id=')
    before = int(call.split("before_id=")[1].split(",")[0])
    second = text_of(
        await mcp.call_tool("get_activity", {"project_key": "NOVA", "max_tokens": 1000, "before_id": before})
    )
    assert second != first and second.startswith("Activity in NOVA (times Asia/Tokyo), newest first.")


async def test_a_comment_shows_up_in_the_timeline_at_once(mcp: Client) -> None:
    before = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"]}))
    assert "Timeline check" not in before
    added = await mcp.call_tool("add_issue_comment", {"issue_key": "ORBIT-7", "content": "Timeline check"})
    assert not added.is_error
    after = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"]}))
    assert "Hana Sato commented\n  >Timeline check" in after


async def test_bad_days_are_refused_before_any_request(mcp: Client, fake: FaultyBacklog) -> None:
    backwards = await mcp.call_tool("get_activity", {"since": "2026-11-20", "until": "2026-11-01"})
    assert backwards.is_error and "earlier day first" in text_of(backwards)
    wrong = await mcp.call_tool("get_activity", {"since": "yesterday"})
    assert wrong.is_error and "YYYY-MM-DD" in text_of(wrong)
    assert fake.requests == []


async def test_a_block_too_big_for_the_budget_loses_nothing(mcp: Client, fake: FaultyBacklog) -> None:
    newest = [a for a in fake.space.activities if a["project"]["projectKey"] == "ORBIT"][:60]
    for n, activity in enumerate(newest):
        activity["type"] = 3
        activity["created"] = "2026-11-19T10:00:00Z"
        activity["content"] = {
            "id": 1,
            "key_id": 1,
            "summary": "one issue",
            "comment": {"id": n, "content": f"c{n} " + "word " * 40},
        }
    text = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "max_tokens": 1000}))
    shown = [line for line in text.split("\n") if line.startswith("- ")]
    assert 1 < len(shown) < 60
    before = int(text.split("before_id=")[1].split(",")[0].split(")")[0])
    # The next page starts right after the first line shown: nothing of the clipped block is skipped.
    assert before == newest[1]["id"] + 1


async def test_a_comment_of_two_paragraphs_is_kept_whole(mcp: Client) -> None:
    content = "First paragraph: the crash is in the map fragment.\n\nSecond paragraph: fixed by waiting for onMapReady."
    assert not (await mcp.call_tool("add_issue_comment", {"issue_key": "ORBIT-7", "content": content})).is_error
    text = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"]}))
    assert (
        " Hana Sato commented\n"
        "  >First paragraph: the crash is in the map fragment.\n"
        "  >\n"
        "  >Second paragraph: fixed by waiting for onMapReady."
    ) in text


async def test_a_comment_too_big_for_the_budget_says_where_the_rest_is(mcp: Client) -> None:
    content = "\n\n".join(f"Paragraph {n}: " + "details " * 30 for n in range(40))
    assert not (await mcp.call_tool("add_issue_comment", {"issue_key": "ORBIT-7", "content": content})).is_error
    text = text_of(
        await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"], "max_tokens": 1500})
    )
    assert "  >Paragraph 0: details" in text and "Paragraph 39" not in text
    # Said on the event's own line, not inside the quote (which holds what users wrote).
    line = next(line for line in text.split("\n") if "cut for size" in line)
    assert line.startswith("- ") and " Hana Sato commented (" in line
    rest = line.split("whole: ")[1]
    call, _, page = rest.partition(" or ")
    assert page.startswith("https://acme.backlog.com/view/ORBIT-7#comment-") and page.endswith(")")
    comment_id = int(page.split("#comment-")[1].rstrip(")"))
    assert call == f'get_issue_comments(issue_key="ORBIT-7", before_id={comment_id + 1}, count=1, max_tokens=20000)'
    whole = text_of(
        await mcp.call_tool(
            "get_issue_comments", {"issue_key": "ORBIT-7", "before_id": comment_id + 1, "count": 1, "max_tokens": 20000}
        )
    )
    assert "Paragraph 39" in whole and whole.count("Paragraph 0:") == 1


async def test_a_comment_that_fits_the_answer_is_never_cut(mcp: Client) -> None:
    content = "\n\n".join(f"Paragraph {n}: " + "details " * 30 for n in range(12))  # about 1,400 tokens
    assert not (await mcp.call_tool("add_issue_comment", {"issue_key": "ORBIT-7", "content": content})).is_error
    text = text_of(await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"]}))
    assert "  >Paragraph 11: details" in text and "cut for size" not in text


async def test_a_cut_comment_never_leaves_a_fence_open(mcp: Client) -> None:
    # A fence that starts after a Unicode line separator, and one that opens on the cut line itself.
    for content in ("intro\u2028```\n" + "code line\n" * 800, "x\n\n```" + "y" * 5000):
        assert not (await mcp.call_tool("add_issue_comment", {"issue_key": "ORBIT-7", "content": content})).is_error
        text = text_of(
            await mcp.call_tool("get_activity", {"project_key": "ORBIT", "kinds": ["comments"], "max_tokens": 1000})
        )
        quoted = [line for line in text.split("\n") if line.startswith("  >")]
        fences = [line for line in quoted if line.lstrip(" >").startswith("```")]
        assert len(fences) % 2 == 0, fences


async def test_times_and_day_windows_are_the_spaces_by_default(mcp: Client, fake: FaultyBacklog) -> None:
    assert fake.space.space["timezone"] == "Asia/Tokyo"
    late = next(a for a in fake.space.activities if a["project"]["projectKey"] == "ORBIT" and a["type"] == 3)
    late["created"] = "2026-11-19T15:30:00Z"  # 2026-11-20 00:30 in Tokyo, still the 19th in UTC
    window = {"project_key": "ORBIT", "since": "2026-11-20", "until": "2026-11-20", "kinds": ["comments"]}
    tokyo = text_of(await mcp.call_tool("get_activity", window))
    assert tokyo.startswith("Activity in ORBIT from 2026-11-20 to 2026-11-20 (comments) (times Asia/Tokyo)")
    assert "## 2026-11-20\n" in tokyo and "\n- 00:30 " in tokyo
    utc = text_of(await mcp.call_tool("get_activity", {**window, "timezone": "UTC"}))
    assert "\n- 00:30 " not in utc and "15:30" not in utc


async def test_a_space_elsewhere_shows_its_own_zone(fake: FaultyBacklog, settings: Settings) -> None:
    fake.space.space["timezone"] = "Europe/London"
    server = build_server(settings, transport=httpx.ASGITransport(app=fake), now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        text = text_of(await client.call_tool("get_issue_details", {"issue_key": "ORBIT-7"}))
    assert " Europe/London by " in text and "Asia/Tokyo" not in text
