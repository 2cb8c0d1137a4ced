"""Every tool under every Backlog role: it works with what the role may see, or says in one line that it may not."""

from __future__ import annotations

import anyio
import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY
from tests.faulty_backlog import FaultyBacklog
from tests.test_hostile import CALLS, ERRORS

ROLES = {1: "Administrator", 2: "Normal User", 3: "Reporter", 4: "Viewer", 5: "Guest Reporter", 6: "Guest Viewer"}


def run_as(role: int) -> list[tuple[str, bool, str]]:
    fake = FaultyBacklog(build_space(issues_per_project=12, long_thread_comments=30), base_url=BASE_URL)
    fake.space.users[fake.space.api_keys[DEFAULT_API_KEY]]["roleType"] = role
    server = build_server(
        Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=None),
        transport=httpx.ASGITransport(app=fake),
        retry=FAST_RETRY,
        now=lambda: REFERENCE_NOW,
    )

    async def run() -> list[tuple[str, bool, str]]:
        async with Client(server) as client:
            out = []
            for name, args in (*CALLS, *ERRORS):
                result = await client.call_tool(name, args)
                out.append((name, bool(result.is_error), str(getattr(result.content[0], "text", ""))))
            return out

    return anyio.run(run)


@pytest.mark.parametrize("role", list(ROLES), ids=list(ROLES.values()))
def test_every_tool_under_every_role_answers_or_says_the_role_may_not(role: int) -> None:
    answers = run_as(role)
    for name, is_error, text in answers:
        assert text.strip(), (name, role)  # never an empty answer
        assert "Traceback" not in text and "Error executing tool" not in text, (name, text)
        if is_error:
            assert "\n" not in text, (name, text)  # one line
    refused = [(name, text) for name, is_error, text in answers if is_error and "(HTTP 403)" in text]
    assert all("role or project membership does not allow that" in text for _name, text in refused)
    by_name = {name: (is_error, text) for name, is_error, text in answers}
    if role in (1, 2):
        assert not refused  # administrators and normal users may do all of these
    else:  # Backlog opens Git to administrators and normal users only
        assert (
            by_name["get_pull_requests"][0] and "Git repositories and pull requests" in by_name["get_pull_requests"][1]
        )
    if role in (4, 6):  # viewers: a write that reaches Backlog is refused, one line
        assert by_name["add_issue_comment"][0] and "may only view" in by_name["add_issue_comment"][1]
    if role in (3, 5):  # reporters add comments, change nothing else
        assert not by_name["add_issue_comment"][0]
        assert (
            by_name["update_issue_description"][0]
            and "only add issues and comments" in by_name["update_issue_description"][1]
        )


@pytest.mark.anyio
@pytest.mark.parametrize("role", [2, 6])
async def test_below_administrator_the_people_are_those_of_its_projects(
    fake: FaultyBacklog, settings: Settings, role: int
) -> None:
    fake.space.users[fake.space.api_keys[DEFAULT_API_KEY]]["roleType"] = role
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        result = await client.call_tool("get_users_by_project", {})
    text = str(getattr(result.content[0], "text", ""))
    assert not result.is_error and text.startswith("Members of the projects this user can see")
    assert "| Hana Sato |" in text


@pytest.mark.anyio
async def test_an_administrator_gets_the_whole_space(fake: FaultyBacklog, settings: Settings) -> None:
    fake.space.users[fake.space.api_keys[DEFAULT_API_KEY]]["roleType"] = 1
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        result = await client.call_tool("get_users_by_project", {})
    assert str(getattr(result.content[0], "text", "")).startswith("Users of the space")


@pytest.mark.anyio
async def test_search_says_what_the_role_may_not_read_not_none(fake: FaultyBacklog, settings: Settings) -> None:
    fake.space.users[fake.space.api_keys[DEFAULT_API_KEY]]["roleType"] = 4  # a viewer: no Git
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        result = await client.call_tool("search_backlog", {"query": "tile cache"})
    text = str(getattr(result.content[0], "text", ""))
    assert "## Pull requests: Backlog refused them to this user (see below)" in text
    assert "_The repositories of ORBIT could not be read (HTTP 403)._" in text and "## Wiki pages (2)" in text
