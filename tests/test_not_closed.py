"""'Not closed' over every project without reading each project's statuses first (issue 16, cold depth).

Closed is status 4 in every project; the newest 100 are read unfiltered and Closed ones dropped, the
total is all less Closed. A page beyond those 100 falls back to the exact statuses. Either way the
answer is the one the exact query gives, checked here against the fake's own data.
"""

from __future__ import annotations

import re

import pytest
from mcp import Client

from backlog_mcp.fake import DEFAULT_API_KEY
from tests.conftest import text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


def expected(fake: FaultyBacklog, assignee: int | None) -> list[str]:
    """Every issue not closed in a project that is not archived, newest update first."""
    live = {pid for pid, project in fake.space.projects.items() if not project.data.get("archived")}
    issues = [
        i
        for i in fake.space.issues.values()
        if i["projectId"] in live
        and i["status"]["id"] != 4
        and (assignee is None or (i["assignee"] or {}).get("id") == assignee)
    ]
    issues.sort(key=lambda i: (i["updated"], i["id"]), reverse=True)
    return [i["issueKey"] for i in issues]


def keys(text: str) -> list[str]:
    return re.findall(r"^\| ([A-Z]+-\d+) \|", text, re.M)


def total(text: str) -> int:
    found = re.search(r" of (\d+) ", text)
    assert found, text
    return int(found.group(1))


async def test_my_open_issues_need_no_status_lookup(mcp: Client, fake: FaultyBacklog) -> None:
    fake.requests.clear()
    text = text_of(await mcp.call_tool("get_my_issues", {}))
    mine = expected(fake, assignee=fake.space.api_keys[DEFAULT_API_KEY])
    assert keys(text) == mine[:20] and total(text) == len(mine)
    lists = [r for r in fake.requests if r.path == "/issues"]
    assert len(lists) == 1 and not any(k.startswith("statusId") for k, _v in lists[0].query)  # not waiting for them
    counts = sorted([k, v] for r in fake.requests if r.path == "/issues/count" for k, v in r.query if k == "statusId[]")
    assert counts == [["statusId[]", "4"]]  # all, and those Closed
    assert not any(r.path.endswith("/statuses") for r in fake.requests)
    fake.requests.clear()
    assert text_of(await mcp.call_tool("get_my_issues", {})) == text and fake.requests == []  # cached whole


async def test_a_page_beyond_the_newest_hundred_is_asked_exactly(mcp: Client, fake: FaultyBacklog) -> None:
    everyone = expected(fake, assignee=None)
    assert len(everyone) > 115  # the page lies beyond the newest 100, whatever their statuses
    fake.requests.clear()
    args = {"assignees": ["anyone"], "offset": 95, "count": 20}
    text = text_of(await mcp.call_tool("get_user_issue_list", args))
    assert keys(text) == everyone[95:115] and total(text) == len(everyone)
    assert any(r.path.endswith("/statuses") for r in fake.requests)  # the exact query, after the quick one
