"""The projects toolset: what a project looks like from the inside, in one call."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.fake import FakeBacklog
from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_get_projects_lists_active_ones_unless_asked(mcp: Client) -> None:
    active = text_of(await mcp.call_tool("get_projects", {}))
    assert active == snapshot("""\
Active projects: 2.

| Key | Name | Text format |
|---|---|---|
| ORBIT | Orbit Mobile App | Backlog notation |
| NOVA | Nova Web Platform | Markdown |\
""")
    everything = text_of(await mcp.call_tool("get_projects", {"include_archived": True}))
    assert "| OLD | Old Intranet | Markdown | archived |" in everything


async def test_get_project_answers_how_a_project_is_set_up(mcp: Client, fake: FakeBacklog) -> None:
    fake.space.projects[104].custom_fields[0]["applicableIssueTypes"] = [fake.space.projects[104].issue_types[0]["id"]]
    fake.space.projects[104].custom_fields[3]["required"] = True
    text = text_of(await mcp.call_tool("get_project", {"project_key": "Orbit Mobile App"}))
    assert text == snapshot("""\
# ORBIT: Orbit Mobile App
Text format: Backlog notation · https://acme.backlog.com/projects/ORBIT

## Statuses (in workflow order)
Open → In Progress → Resolved → Waiting for QA → Closed

## Issue types
Bug, Task, Request, その他

## Categories
Android, iOS, Backend, デザイン

## Milestones and versions
| Name | Start | Release due | State |
|---|---|---|---|
| 2.4.0 | 2026-11-06 | 2026-11-19 (overdue 1 d) | open |
| Sprint 14 | 2026-11-20 | 2026-12-03 | open |
| Sprint 15 | 2026-12-04 | 2026-12-17 | open |
| スプリント 16 | 2026-12-18 | 2026-12-31 | open |
| 2.3.0 | 2026-10-23 | 2026-11-05 | archived |

## Custom fields
- Device model (text): only for Bug
- Crash count (number): unit 件
- First seen (date)
- Severity (required single choice): Critical, Major, Minor
- OS versions (multiple choice): Android 14, Android 15, iOS 18
- 影響範囲 (check boxes): 地図, Login; free text allowed
- Reproducible (radio): Always, Sometimes; free text allowed
- 調査メモ (multi-line text)

## Members (7)
Alice Martin (alice), Hana Sato (hana.sato), Tanaka Yuki (yuki.tanaka), 伊藤 健二 (kenji), 佐藤 太郎 (taro.sato), 田中 美咲 (misaki), 鈴木 一郎 (ichiro)\
""")
    assert len(fake.requests) <= 8  # the project list, six lists of its set-up, the space: one round trip


async def test_get_project_names_the_valid_projects(mcp: Client) -> None:
    result = await mcp.call_tool("get_project", {"project_key": "ORBT"})
    assert result.is_error
    assert text_of(result) == snapshot('Project "ORBT" does not exist or is not allowed. Projects: ORBIT, NOVA, OLD.')


async def test_a_huge_project_stays_a_short_answer(mcp: Client, fake: FakeBacklog) -> None:
    project = fake.space.projects[104]
    for n in range(3000):
        uid = 2_000_000 + n
        fake.space.users[uid] = {
            **fake.space.users[project.member_ids[0]],
            "id": uid,
            "userId": f"u{n}",
            "name": f"User {n}",
        }
        project.member_ids.append(uid)
    project.custom_fields[3]["items"] = [{"id": n, "name": f"Choice {n}", "displayOrder": n} for n in range(500)]
    text = text_of(await mcp.call_tool("get_project", {"project_key": "ORBIT"}))
    assert len(text.encode()) / 3 < 8_000
    assert "and 470 more" in text and 'more: get_users_by_project(project_key="ORBIT")' in text
