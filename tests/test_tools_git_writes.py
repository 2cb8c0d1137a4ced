"""create_pull_request and update_pull_request: by name, dry runs that send nothing, levels, what Backlog saved."""

from __future__ import annotations

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio
OPEN = {
    "project_key": "ORBIT",
    "repository": "ios",
    "branch": "feature/tile-cache",
    "summary": "Tile cache eviction",
    "description": "Evicts the **oldest** tiles first.",
    "assignee": "Tanaka Yuki",
    "issue_key": "ORBIT-4",
}


def writes(fake: FaultyBacklog) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


async def test_a_pull_request_is_opened_by_names(mcp: Client, fake: FaultyBacklog) -> None:
    preview = text_of(await mcp.call_tool("create_pull_request", {**OPEN, "dry_run": True}))
    assert preview.startswith("Dry run, nothing was sent. Would open a pull request in ORBIT/orbit-ios:")
    assert "- Branch: feature/tile-cache\n- Into: main" in preview and "- Assignee: Tanaka Yuki" in preview
    assert "''oldest''" in preview  # ORBIT writes Backlog notation: the description as it would be sent
    assert writes(fake) == []
    done = text_of(await mcp.call_tool("create_pull_request", OPEN))
    assert done.startswith("Opened ORBIT/orbit-ios#") and "/git/ORBIT/orbit-ios/pullRequests/" in done
    number = int(done.split("#")[1].split(":")[0])
    (sent,) = [r for r in fake.requests if r.method == "POST"]
    form = dict(sent.form)
    assert sent.path == "/projects/ORBIT/git/repositories/42/pullRequests"
    assert form["base"] == "main" and form["issueId"] == str(fake.space.issue_by_key("ORBIT-4")["id"])  # type: ignore[index]
    shown = text_of(
        await mcp.call_tool("get_pull_request", {"project_key": "ORBIT", "repository": "orbit-ios", "number": number})
    )
    assert "Tile cache eviction" in shown and "ORBIT-4" in shown and "Tanaka Yuki" in shown


async def test_a_pull_request_is_changed_old_to_new_with_a_comment(mcp: Client, fake: FaultyBacklog) -> None:
    where = {"project_key": "ORBIT", "repository": "orbit-android", "number": 1}
    change = {**where, "summary": "Offline map tiles (v2)", "assignee": "Hana Sato", "comment": "Renamed."}
    preview = text_of(await mcp.call_tool("update_pull_request", {**change, "dry_run": True}))
    assert "- Summary: Offline map tiles → Offline map tiles (v2)" in preview and writes(fake) == []
    done = text_of(await mcp.call_tool("update_pull_request", change))
    assert done.startswith("Changed ORBIT/orbit-android#1:") and "- Assignee: Tanaka Yuki → Hana Sato" in done
    assert writes(fake) == ["PATCH /projects/ORBIT/git/repositories/41/pullRequests/1"]
    after = text_of(await mcp.call_tool("get_pull_request", where))
    assert after.startswith("# ORBIT/orbit-android#1 Offline map tiles (v2)") and "Renamed." in after


async def test_levels_a_comment_alone_needs_comment_and_fields_need_write(
    fake: FaultyBacklog, settings: Settings
) -> None:
    commenting = Settings(**{**settings.__dict__, "projects": frozenset({"ORBIT"}), "levels": {"ORBIT": "comment"}})
    server = build_server(
        commenting, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    where = {"project_key": "ORBIT", "repository": "orbit-android", "number": 1}
    async with Client(server) as client:
        opened = await client.call_tool("create_pull_request", {**OPEN, "dry_run": True})
        renamed = await client.call_tool("update_pull_request", {**where, "summary": "x", "dry_run": True})
        said = await client.call_tool("update_pull_request", {**where, "comment": "Looks good."})
    assert opened.is_error and "needs 'write'" in text_of(opened)
    assert renamed.is_error and "needs 'write'" in text_of(renamed)
    assert not said.is_error and writes(fake) == ["PATCH /projects/ORBIT/git/repositories/41/pullRequests/1"]


async def test_bad_input_is_refused_before_any_write(mcp: Client, fake: FaultyBacklog) -> None:
    same = await mcp.call_tool("create_pull_request", {**OPEN, "branch": "main"})
    assert same.is_error and "merges one branch into another" in text_of(same)
    foreign = await mcp.call_tool("create_pull_request", {**OPEN, "issue_key": "NOVA-1"})
    assert foreign.is_error and "not an issue of ORBIT" in text_of(foreign)
    nobody = await mcp.call_tool("create_pull_request", {**OPEN, "assignee": "Nobody Here"})
    assert nobody.is_error
    missing = await mcp.call_tool(
        "update_pull_request", {"project_key": "ORBIT", "repository": "ios", "number": 999, "comment": "x"}
    )
    assert missing.is_error and "has no pull request 999" in text_of(missing)
    nothing = await mcp.call_tool("update_pull_request", {"project_key": "ORBIT", "repository": "ios", "number": 1})
    assert nothing.is_error and "Nothing to change" in text_of(nothing)
    assert writes(fake) == []
