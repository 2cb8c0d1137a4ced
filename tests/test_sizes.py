"""No argument can stall the server or blow the budget: huge arguments are refused in milliseconds."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from backlog_mcp.fake import FakeBacklog
from tests.conftest import text_of

pytestmark = pytest.mark.anyio

HUGE = "x" * (4 * 1024 * 1024)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_user_issue_list", {"assignees": [HUGE]}),
        ("get_user_issue_list", {"keyword": HUGE}),
        ("get_user_issue_list", {"statuses": ["Open"] * 100_000}),
        ("get_user_issue_list", {HUGE: 1}),
        ("get_issue_details", {"issue_key": HUGE}),
        ("get_issue_details", {"issue_key": "ORBIT-1", "timezone": HUGE}),
        ("add_issue_comment", {"issue_key": "ORBIT-1", "content": HUGE}),
    ],
    ids=["assignee", "keyword", "list", "argument-name", "key", "timezone", "comment"],
)
async def test_a_4mb_argument_is_refused_at_once_without_delaying_others(
    mcp: Client, tool: str, args: dict[str, object]
) -> None:
    await mcp.call_tool("get_myself", {})  # now cached
    timings: dict[str, float] = {}
    texts: dict[str, str] = {}

    async def timed(name: str, call_tool: str, call_args: dict[str, object]) -> None:
        began = time.perf_counter()
        result = await mcp.call_tool(call_tool, call_args)
        timings[name] = time.perf_counter() - began
        texts[name] = text_of(result)
        assert result.is_error == (name == "huge")

    async with anyio.create_task_group() as group:
        group.start_soon(timed, "huge", tool, args)
        group.start_soon(timed, "cached", "get_myself", {})
    assert timings["huge"] < 1.0, timings
    assert timings["cached"] < 1.0, timings
    assert len(texts["huge"]) < 2_000  # the error quotes a short prefix, never the input
    assert "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" not in texts["huge"]


async def test_headers_and_next_page_calls_stay_within_the_budget(mcp: Client) -> None:
    names = ["In Progress"] * 50
    result = await mcp.call_tool(
        "get_user_issue_list", {"statuses": names, "keyword": "a" * 200, "assignees": ["anyone"], "count": 100}
    )
    text = text_of(result)
    assert len(text.encode()) / 3 <= 10_000


def test_the_list_budget_pays_for_header_and_next_page_call_first() -> None:
    from datetime import date
    from zoneinfo import ZoneInfo

    from backlog_mcp.fake import build_space
    from backlog_mcp.render.issue_list import render_issue_list
    from backlog_mcp.render.text import View

    issues = list(build_space(issues_per_project=60).issues.values())[:100]
    view = View(tz=ZoneInfo("UTC"), today=date(2026, 11, 30), base_url="https://a.backlog.com")
    long_call = "get_user_issue_list(" + "x" * 6_000 + ")"
    for budget in (4_000, 10_000):  # the next-page call alone is about 2,000 tokens here
        text = render_issue_list(
            issues, total=500, offset=0, scope="Issues " + "y" * 20_000, view=view,
            next_call=lambda _offset: long_call, budget=budget,
        )  # fmt: skip
        assert len(text.encode()) / 3 <= budget, budget
        assert "| Key |" in text
        # A next-page call that would eat more than a quarter of the budget is named by what changes.
        assert (long_call in text) == (budget == 10_000) and ("the same call with offset=" in text) == (budget < 10_000)


ADVERSARIAL = {
    "[[ x 50,000": ("[[" * 50_000, "ORBIT-1"),
    "&color(red){ x 8,333": ("&color(red){" * 8_333, "ORBIT-1"),
    "{code} x 16,666": ("{code}" * 16_666, "ORBIT-1"),
    "'' x 50,000": ("''" * 50_000, "ORBIT-1"),
    "<b><http:a x 14,285": ("<b>" + "<http:a" * 14_285, "NOVA-1"),
    "<b  x 33,333": ("<b " * 33_333, "NOVA-1"),
    "[[ x 24,000 then ]]": ("[[" * 24_000 + "]]", "ORBIT-1"),
    "&color( x 8,000 then }": ("&color(" * 8_000 + "}", "ORBIT-1"),
}


@pytest.mark.parametrize("case", list(ADVERSARIAL))
async def test_adversarial_descriptions_convert_in_linear_time(mcp: Client, fake: FakeBacklog, case: str) -> None:
    text, key = ADVERSARIAL[case]
    issue = fake.space.issue_by_key(key)
    assert issue is not None
    issue["description"] = text
    await mcp.call_tool("get_myself", {})
    began = time.process_time()
    result = await mcp.call_tool("get_issue_details", {"issue_key": key, "comment_count": 0})
    assert not result.is_error
    # Quadratic patterns took 5-42 s here; linear ones take well under a second (a bound, not a target).
    assert time.process_time() - began < 3.0, case


def test_the_conversion_memo_is_bounded_by_characters() -> None:
    from backlog_mcp.render import notation

    notation._MEMO.clear()
    notation._MEMO.size = 0
    for n in range(200):
        notation.to_markdown(f"{n} " + "x" * 100_000, "markdown")
    assert notation._MEMO.size <= notation.MEMO_CHARACTERS
    assert len(notation._MEMO) < 200
