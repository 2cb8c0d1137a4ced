"""create_milestone and update_milestone: by name, dry runs that send nothing, levels, Backlog's answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


def writes(fake: FaultyBacklog) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


async def test_a_milestone_is_added_and_shows_in_the_project(mcp: Client, fake: FaultyBacklog) -> None:
    args = {"project_key": "orbit", "name": "Sprint 17", "start_date": "2026-12-01", "due_date": "2026-12-14"}
    preview = text_of(await mcp.call_tool("create_milestone", {**args, "dry_run": True}))
    assert preview.startswith("Dry run, nothing was sent. Would add a milestone to ORBIT:")
    assert "- Due: 2026-12-14" in preview and writes(fake) == []
    done = text_of(await mcp.call_tool("create_milestone", args))
    assert done.startswith("Added milestone ") and "- Start: 2026-12-01" in done and "- Due: 2026-12-14" in done
    assert writes(fake) == ["POST /projects/ORBIT/versions"]
    project = text_of(await mcp.call_tool("get_project", {"project_key": "ORBIT"}))
    assert "Sprint 17" in project  # the cached list was dropped
    again = await mcp.call_tool("create_milestone", args)
    assert again.is_error and "already has a milestone" in text_of(again) and "update_milestone" in text_of(again)


async def test_a_milestone_is_changed_by_name_old_to_new(mcp: Client, fake: FaultyBacklog) -> None:
    change = {"project_key": "ORBIT", "milestone": "sprint 14", "name": "Sprint 14b", "due_date": "2026-12-20"}
    preview = text_of(await mcp.call_tool("update_milestone", {**change, "dry_run": True}))
    assert "- Name: Sprint 14 → Sprint 14b" in preview and writes(fake) == []
    done = text_of(await mcp.call_tool("update_milestone", change))
    assert done.startswith('Changed milestone "Sprint 14" of ORBIT:') and "→ 2026-12-20" in done
    # Backlog's update needs the name every time: sent even when only the archive flag changes.
    archived = text_of(
        await mcp.call_tool("update_milestone", {"project_key": "ORBIT", "milestone": "Sprint 14b", "archived": True})
    )
    assert "- Archived: no → yes" in archived
    sent = fake.requests[-1]
    assert (sent.method, dict(sent.form)) == ("PATCH", {"name": "Sprint 14b", "archived": "true"})
    issue = text_of(await mcp.call_tool("get_issue_details", {"issue_key": "ORBIT-1"}))
    assert "Milestone Sprint 14b" in issue  # issues embed it by name: their cached copies went stale


async def test_unknown_names_and_bad_days_are_refused_before_any_write(mcp: Client, fake: FaultyBacklog) -> None:
    unknown = await mcp.call_tool(
        "update_milestone", {"project_key": "ORBIT", "milestone": "Sprnt 14", "archived": True}
    )
    assert unknown.is_error and '"Sprint 14"' in text_of(unknown).split("closest first")[1][:40]
    backwards = await mcp.call_tool(
        "create_milestone", {"project_key": "ORBIT", "name": "X", "start_date": "2026-12-10", "due_date": "2026-12-01"}
    )
    assert backwards.is_error and "before start_date" in text_of(backwards)
    nothing = await mcp.call_tool("update_milestone", {"project_key": "ORBIT", "milestone": "Sprint 14"})
    assert nothing.is_error and "Nothing to change" in text_of(nothing)
    assert writes(fake) == []


async def test_a_project_below_write_level_refuses_even_a_dry_run(
    fake: FaultyBacklog, settings: Settings, tmp_path: Path
) -> None:
    commenting = Settings(**{**settings.__dict__, "projects": frozenset({"ORBIT"}), "levels": {"ORBIT": "comment"}})
    server = build_server(
        commenting, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        refused = await client.call_tool("create_milestone", {"project_key": "ORBIT", "name": "X", "dry_run": True})
    assert refused.is_error and "needs 'write'" in text_of(refused)
    assert writes(fake) == []


async def test_a_rename_made_elsewhere_is_not_undone(mcp: Client, fake: FaultyBacklog) -> None:
    assert "Sprint 14" in text_of(await mcp.call_tool("get_project", {"project_key": "ORBIT"}))  # now cached
    version = next(v for v in fake.space.projects[104].versions if v["name"] == "Sprint 14")
    version["name"] = "Sprint 14 (renamed in Backlog)"
    done = await mcp.call_tool("update_milestone", {"project_key": "ORBIT", "milestone": "Sprint 14", "archived": True})
    assert not done.is_error
    assert dict(fake.requests[-1].form)["name"] == "Sprint 14 (renamed in Backlog)" and version["archived"] is True
