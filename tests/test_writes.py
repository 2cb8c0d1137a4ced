"""The write tools end to end against the fake: previews, validation, levels, no duplicates, the audit log."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.client import BacklogClient
from backlog_mcp.config import Settings
from backlog_mcp.errors import BadRequestError
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


def connect(fake: FaultyBacklog, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Client:
    server = build_server(
        settings, transport=transport or httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    return Client(server)


@pytest.fixture
def audited(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, audit_path=tmp_path / "audit" / "audit.jsonl")


@pytest.fixture
async def tools(fake: FaultyBacklog, audited: Settings) -> AsyncIterator[Client]:
    async with connect(fake, audited) as client:
        yield client


async def ok(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    return text_of(result)


async def refused(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, text_of(result)
    return text_of(result)


def writes(fake: FaultyBacklog) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


async def test_create_then_update_with_a_comment_reads_back_at_once(tools: Client, fake: FaultyBacklog) -> None:
    before = await ok(tools, "get_user_issue_list", projects=["ORBIT"], keyword="Compass drift", assignees=["anyone"])
    assert "No issues" in before  # cached now: the create must drop it
    created = await ok(
        tools, "create_issue", project_key="orbit", summary="Compass drift after rotation", issue_type="bug",
        assignee="tanaka", categories=["iOS"], milestones=["Sprint 15"], start_date="2026-12-01",
        due_date="2026-12-10", custom_fields={"Severity": "Minor", "OS versions": ["iOS 18"]},
        description="## Steps\n1. Rotate **twice**", notify=["kenji"],
    )  # fmt: skip
    assert created == snapshot("""\
Created ORBIT-220:
- Summary: Compass drift after rotation
- Type: Bug
- Priority: Normal
- Assignee: Tanaka Yuki
- Category: iOS
- Milestone: Sprint 15
- Start date: 2026-12-01
- Due date: 2026-12-10
- Severity: Minor
- OS versions: iOS 18
- Description: 28 characters
- Notify: 伊藤 健二

https://acme.backlog.com/view/ORBIT-220\
""")
    stored = fake.space.issue_by_key("ORBIT-220")
    assert (
        stored is not None and stored["description"] == "** Steps\n\n+ Rotate ''twice''"
    )  # ORBIT uses Backlog notation
    listed = await ok(tools, "get_user_issue_list", projects=["ORBIT"], keyword="Compass drift", assignees=["anyone"])
    assert "ORBIT-220" in listed
    details = await ok(tools, "get_issue_details", issue_key="ORBIT-220")  # cached now
    updated = await ok(tools, "update_issue", issue_key="ORBIT-220", status="in progress", comment="On it, **today**")
    assert updated == snapshot("""\
Updated ORBIT-220:
- Status: Open → In Progress
- Comment: 16 characters

https://acme.backlog.com/view/ORBIT-220\
""")
    after = await ok(tools, "get_issue_details", issue_key="ORBIT-220")
    assert "Bug · Open" in details and "Bug · In Progress" in after
    assert "Status: Open → In Progress\n>On it, **today**" in after


async def test_a_dry_run_changes_nothing_and_shows_the_diff(tools: Client, fake: FaultyBacklog) -> None:
    space = copy.deepcopy((fake.space.issues, fake.space.comments, fake.space.wikis, fake.space.watchings))
    preview = await ok(
        tools, "update_issue", issue_key="ORBIT-1", status="Resolved", assignee="me", due_date="2026-11-30",
        custom_fields={"Severity": "Critical"}, clear=["milestones"], comment="Fixed in `2.4.1`", dry_run=True,
    )  # fmt: skip
    assert preview == snapshot("""\
Dry run, nothing was sent. Would update ORBIT-1:
- Status: In Progress → Resolved
- Due date: 2026-11-18 → 2026-11-30
- Severity: Major → Critical
- Milestone: Sprint 14 → (none)
- Comment: 27 characters

Comment as it would be sent:
>Fixed in {code}2.4.1{/code}

https://acme.backlog.com/view/ORBIT-1\
""")
    for name, args in (
        ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task"}),
        ("add_issue_comment", {"issue_key": "ORBIT-2", "content": "x"}),
        ("update_issue_description", {"issue_key": "ORBIT-2", "description": "x"}),
        ("update_issue_comment", {"issue_key": "ORBIT-1", "comment_id": 5500001, "content": "x"}),
        ("watch_issue", {"issue_key": "NOVA-9"}),
        ("save_wiki_page", {"project_key": "NOVA", "name": "New page", "content": "x"}),
        ("add_pull_request_comment", {"project_key": "NOVA", "repository": "nova-web", "number": 1, "content": "x"}),
        ("mark_notifications_read", {"all": True}),
    ):
        text = await ok(tools, name, **args, dry_run=True)
        assert text.startswith("Dry run, nothing was sent. Would"), (name, text)
    assert writes(fake) == []
    assert (fake.space.issues, fake.space.comments, fake.space.wikis, fake.space.watchings) == space
    # Checked through the fake's own API too: the issue is as it was.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url=f"{BASE_URL}/api/v2") as http:
        issue = (await http.get("/issues/ORBIT-1", params={"apiKey": DEFAULT_API_KEY})).json()
    assert issue["status"]["name"] == "In Progress" and issue["milestone"]


async def test_comment_level_comments_and_refuses_updates(fake: FaultyBacklog, audited: Settings) -> None:
    settings = dataclasses.replace(audited, projects=frozenset({"ORBIT"}), levels={"ORBIT": "comment"})
    async with connect(fake, settings) as client:
        commented = await ok(client, "add_issue_comment", issue_key="ORBIT-2", content="Looks good")
        assert commented.startswith("Comment ")
        watched = await ok(client, "watch_issue", issue_key="ORBIT-2")
        assert watched.startswith("Watching ORBIT-2")
        denied = await refused(client, "update_issue", issue_key="ORBIT-2", status="Closed")
        assert denied == snapshot(
            "Project ORBIT is at level 'comment' on this server, and this write needs 'write'; nothing was sent. The server's configuration decides: BACKLOG_PROJECTS=ORBIT:write."
        )
        for name, args in (
            ("create_issue", {"project_key": "ORBIT", "summary": "x", "issue_type": "Bug", "custom_fields": {"Severity": "Minor"}}),
            ("update_issue_description", {"issue_key": "ORBIT-2", "description": "x"}),
            ("save_wiki_page", {"page_id": 3300002, "content": "x"}),
        ):  # fmt: skip
            assert "needs 'write'" in await refused(client, name, **args)
    assert writes(fake) == ["POST /issues/ORBIT-2/comments", "POST /watchings"]


async def test_read_level_refuses_comments(fake: FaultyBacklog, settings: Settings) -> None:
    read = dataclasses.replace(settings, projects=frozenset({"ORBIT"}), levels={"ORBIT": "read"})
    async with connect(fake, read) as client:
        text = await refused(client, "add_issue_comment", issue_key="ORBIT-2", content="x")
        assert "level 'read'" in text and "BACKLOG_PROJECTS=ORBIT:comment" in text
    assert writes(fake) == []


async def test_a_create_that_times_out_is_unknown_and_never_sent_twice(fake: FaultyBacklog, audited: Settings) -> None:
    class LostAnswer(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(app=fake)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method == "POST":
                raise httpx.ReadTimeout("the answer was lost", request=request)  # Backlog applied it
            return response

    async with connect(fake, audited, LostAnswer()) as client:
        text = await refused(client, "create_issue", project_key="NOVA", summary="Only once please", issue_type="Task")
    assert text == snapshot(
        'Backlog did not confirm the new issue in NOVA (TransportError); it may or may not have been saved. Check with get_user_issue_list(projects=["NOVA"], keyword="Only once please", assignees=["anyone"]) before trying again, or it may be applied twice.'
    )
    assert writes(fake) == ["POST /issues"]
    assert sum(1 for i in fake.space.issues.values() if i["summary"] == "Only once please") == 1


async def test_the_audit_log_has_a_line_per_attempt_and_no_secret(fake: FaultyBacklog, audited: Settings) -> None:
    secret_text = "The rollout plan: do not leak this sentence"
    settings = dataclasses.replace(
        audited, projects=frozenset({"ORBIT", "NOVA"}), levels={"ORBIT": "comment", "NOVA": "write"}
    )
    async with connect(fake, settings) as client:
        await ok(
            client, "create_issue", project_key="NOVA", summary="Audit me", issue_type="Task", description=secret_text
        )
        await ok(client, "add_issue_comment", issue_key="NOVA-1", content=secret_text, dry_run=True)
        await refused(client, "update_issue", issue_key="ORBIT-1", summary="x")  # level
        await refused(client, "update_issue", issue_key="NOVA-1", status="Nope")  # validation
        await ok(client, "get_issue_details", issue_key="NOVA-1")  # a read: not audited
    assert audited.audit_path is not None
    raw = audited.audit_path.read_text()
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [(line["tool"], line["outcome"], line["project"], line["object"]) for line in lines] == [
        ("create_issue", "done", "NOVA", "NOVA-220"),
        ("add_issue_comment", "dry run", "NOVA", "NOVA-1"),
        ("update_issue", "refused", "ORBIT", "ORBIT-1"),
        ("update_issue", "refused", "NOVA", "NOVA-1"),
    ]
    assert lines[0]["texts"]["description"] == {
        "length": len(secret_text),
        "hmac": lines[1]["texts"]["comment"]["hmac"],
    }
    assert "Summary" in lines[0]["fields"] and "Description" in lines[0]["fields"]
    assert DEFAULT_API_KEY not in raw and secret_text not in raw and "rollout" not in raw
    assert oct(audited.audit_path.stat().st_mode & 0o777) == "0o600"


async def test_read_only_refusals_are_audited(fake: FaultyBacklog, audited: Settings) -> None:
    async with connect(fake, dataclasses.replace(audited, read_only=True)) as client:
        assert "read-only" in await refused(client, "create_issue", project_key="NOVA", summary="x", issue_type="Task")
    assert audited.audit_path is not None
    line = json.loads(audited.audit_path.read_text())
    assert (line["tool"], line["outcome"]) == ("create_issue", "refused")


VALIDATIONS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("create_issue", {"project_key": "ORBIT", "summary": " ", "issue_type": "Bug"}, "summary is empty"),
    ("create_issue", {"project_key": "NOPE", "summary": "x", "issue_type": "Bug"}, 'Project "NOPE" does not exist'),
    ("create_issue", {"project_key": "ORBIT", "summary": "x", "issue_type": "Bugs!"}, 'Unknown issue type "Bugs!"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "priority": "Urgent"}, 'Unknown priority "Urgent"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "assignee": "nobody"}, 'Unknown user "nobody"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "categories": ["Android"]}, 'Unknown category "Android"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "milestones": ["Sprint 99"]}, 'Unknown milestone "Sprint 99"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "versions": ["9.9"]}, 'Unknown version "9.9"'),
    ("create_issue", {"project_key": "ORBIT", "summary": "x", "issue_type": "Bug"}, 'Required custom fields left out: "Severity" (one of "Critical", "Major", "Minor")'),
    ("create_issue", {"project_key": "ORBIT", "summary": "x", "issue_type": "Bug", "custom_fields": {"Severity": "Huge"}}, 'Unknown choice of "Severity" "Huge". Valid values, closest first: "Critical", "Major", "Minor"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "custom_fields": {"Sevrity": "Major"}}, 'Unknown custom field "Sevrity"'),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "custom_fields": {"Crash count": "many"}}, "takes a number"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "custom_fields": {"First seen": "soon"}}, "is not a date"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "custom_fields": {"Severity": ["Major", "Minor"]}}, "takes one choice"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "start_date": "2026-12-10", "due_date": "2026-12-01"}, "due_date 2026-12-01 is before start_date 2026-12-10"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "due_date": "tomorrow"}, "is not a date"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "parent": "ORBIT-1"}, "is in another project"),
    ("create_issue", {"project_key": "ORBIT", "summary": "x", "issue_type": "Task", "parent": "ORBIT-2", "custom_fields": {"Severity": "Minor"}}, "is itself a child issue"),
    ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task", "notify": ["ghost"]}, 'Unknown user "ghost"'),
    ("update_issue", {"issue_key": "NOVA-3", "status": "Waiting for QA"}, 'Unknown status "Waiting for QA" in NOVA'),
    ("update_issue", {"issue_key": "NOVA-3", "resolution": "Done-ish"}, 'Unknown resolution "Done-ish"'),
    ("update_issue", {"issue_key": "NOVA-1", "due_date": "2000-01-01"}, "is before start_date"),
    ("update_issue", {"issue_key": "NOVA-3"}, "Nothing to change"),
    ("update_issue", {"issue_key": "NOVA-3", "summary": ""}, "summary cannot be empty"),
    ("update_issue", {"issue_key": "NOVA-3", "assignee": "me", "clear": ["assignee"]}, "both set and cleared"),
    ("update_issue", {"issue_key": "NOVA-5", "parent": "NOVA-5"}, "cannot be its own parent"),
    ("update_issue", {"issue_key": "NOVA-99999", "summary": "x"}, "Issue NOVA-99999 does not exist"),
    ("update_issue_comment", {"issue_key": "ORBIT-1", "comment_id": 5500002, "content": "x"}, "only its author can edit it"),
    ("update_issue_comment", {"issue_key": "ORBIT-1", "comment_id": 1, "content": "x"}, "ORBIT-1 has no comment 1"),
    ("add_issue_comment", {"issue_key": "ORBIT-1", "content": "  "}, "content is empty"),
    ("save_wiki_page", {"project_key": "NOVA", "name": "Brand new"}, "to create it, pass its content"),
    ("save_wiki_page", {"page_id": 3300002, "name": "x", "content": "x"}, "not both"),
    ("save_wiki_page", {"page_id": 3300002}, "Nothing to change"),
    ("add_pull_request_comment", {"project_key": "NOVA", "repository": "nova-web", "number": 99, "content": "x"}, "has no pull request 99"),
    ("mark_notifications_read", {}, "not both and not neither"),
    ("mark_notifications_read", {"notification_id": 900001, "all": True}, "not both and not neither"),
)  # fmt: skip


@pytest.mark.parametrize(("name", "args", "says"), VALIDATIONS, ids=[f"{v[0]}-{n}" for n, v in enumerate(VALIDATIONS)])
async def test_every_validation_refuses_before_any_write(
    tools: Client, fake: FaultyBacklog, name: str, args: dict[str, Any], says: str
) -> None:
    text = await refused(tools, name, **args)
    assert says in text
    assert writes(fake) == []


async def test_backlog_400s_come_back_with_all_their_messages(fake: FaultyBacklog, settings: Settings) -> None:
    client = BacklogClient(settings, transport=httpx.ASGITransport(app=fake))
    try:
        with pytest.raises(BadRequestError) as caught:
            await client.create_issue("NOVA", {"projectId": 105, "summary": ""})
    finally:
        await client.aclose()
    assert "summary is required. / issueTypeId is required. / priorityId is required." in caught.value.message


async def test_a_duplicate_wiki_name_is_backlogs_400(tools: Client, fake: FaultyBacklog) -> None:
    created = await ok(tools, "save_wiki_page", project_key="NOVA", name="Runbook", content="# Runbook\n- step")
    assert created.startswith("Created wiki page ")
    renamed = await refused(tools, "save_wiki_page", page_id=3300008, new_name="Runbook")
    assert "Backlog rejected the request (HTTP 400)" in renamed and "already in use" in renamed
    assert writes(fake) == ["POST /wikis", "PATCH /wikis/3300008"]


async def test_other_writes_read_back_at_once(tools: Client, fake: FaultyBacklog) -> None:
    page = await ok(tools, "get_wiki_page", page_id=3300009)
    await ok(tools, "save_wiki_page", page_id=3300009, content="# Deploy\nNew **steps**")
    assert "New **steps**" in await ok(tools, "get_wiki_page", page_id=3300009) and "New" not in page
    thread = await ok(tools, "get_pull_request", project_key="NOVA", repository="nova-web", number=2)
    await ok(tools, "add_pull_request_comment", project_key="NOVA", repository="nova-web", number=2, content="Ship it")
    assert "Ship it" in await ok(tools, "get_pull_request", project_key="NOVA", repository="nova-web", number=2)
    assert "Ship it" not in thread
    watched = await ok(tools, "get_user_issue_list", watching=True, count=100)
    assert "NOVA-9 " not in watched
    await ok(tools, "watch_issue", issue_key="NOVA-9", note="release blocker")
    assert "NOVA-9" in await ok(tools, "get_user_issue_list", watching=True, count=100)
    await ok(tools, "watch_issue", issue_key="NOVA-9", watch=False)
    assert "NOVA-9 " not in await ok(tools, "get_user_issue_list", watching=True, count=100)
    inbox = await ok(tools, "get_notifications")
    marked = await ok(tools, "mark_notifications_read", all=True)
    assert marked == "Marked every notification read (7 were unread)."
    assert inbox != await ok(tools, "get_notifications")
    edited = await ok(tools, "update_issue_comment", issue_key="ORBIT-1", comment_id=5500001, content="Edited *text*")
    assert edited.startswith("Edited comment 5500001 on ORBIT-1:")
    assert "Edited *text*" in await ok(tools, "get_issue_comments", issue_key="ORBIT-1", after_id=5500000, count=1)


def test_the_client_sends_delete_only_to_unwatch() -> None:
    client = Path(__file__).resolve().parent.parent / "backlog_mcp" / "client"
    source = "\n".join(path.read_text() for path in sorted(client.glob("*.py")))
    assert source.count('"DELETE"') == 1
    assert 'await self._request("DELETE", f"/watchings/{watching_id}"' in source


async def test_dry_runs_are_refused_above_the_level_too(fake: FaultyBacklog, audited: Settings) -> None:
    settings = dataclasses.replace(
        audited, projects=frozenset({"ORBIT", "NOVA"}), levels={"ORBIT": "read", "NOVA": "comment"}
    )
    async with connect(fake, settings) as client:
        for tool, args in (
            ("update_issue", {"issue_key": "NOVA-1", "summary": "x"}),
            ("create_issue", {"project_key": "NOVA", "summary": "x", "issue_type": "Task"}),
            ("add_issue_comment", {"issue_key": "ORBIT-1", "content": "x"}),
            ("save_wiki_page", {"page_id": 3300008, "content": "x"}),
        ):
            assert "nothing was sent" in await refused(client, tool, **args, dry_run=True), tool
        assert (await ok(client, "add_issue_comment", issue_key="NOVA-1", content="x", dry_run=True)).startswith(
            "Dry run"
        )
    assert writes(fake) == []


async def test_mark_read_keeps_to_the_allowed_projects(fake: FaultyBacklog, settings: Settings) -> None:
    inbox = fake.space.notifications[1073925001]
    nova = next(n for n in inbox if n["project"]["projectKey"] == "NOVA")
    orbit_unread = [n["id"] for n in inbox if n["project"]["projectKey"] == "ORBIT" and not n["alreadyRead"]]
    allowed = dataclasses.replace(settings, projects=frozenset({"ORBIT"}))
    async with connect(fake, allowed) as client:
        hidden = await refused(client, "mark_notifications_read", notification_id=nova["id"])
        assert "not among your newest 100 in the projects this server may use" in hidden
        marked = await ok(client, "mark_notifications_read", all=True)
        assert marked == f"Marked {len(orbit_unread)} unread notifications of the allowed projects read."
    assert sorted(w.split("/")[2] for w in writes(fake)) == sorted(str(i) for i in orbit_unread)
    assert not nova["alreadyRead"] or nova["id"] not in orbit_unread


async def test_review_fixes_for_updates(tools: Client, fake: FaultyBacklog) -> None:
    # Clearing a multi-choice custom field sends one empty value, and Backlog clears it.
    await ok(tools, "update_issue", issue_key="ORBIT-1", custom_fields={"OS versions": ""})
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None
    assert next(f for f in issue["customFields"] if f["name"] == "OS versions")["value"] == []
    # Clearing the start date while setting an earlier due date is fine.
    await ok(tools, "update_issue", issue_key="ORBIT-1", clear=["start_date"], due_date="2026-10-01")
    assert issue["startDate"] is None and issue["dueDate"] == "2026-10-01T00:00:00Z"
    # Setting what is already there is refused instead of adding an empty change comment.
    same = await refused(tools, "update_issue", issue_key="ORBIT-1", due_date="2026-10-01")
    assert same == "Nothing to change: ORBIT-1 already has those values."
    # Code Backlog notation cannot hold is refused before any request.
    before = len(writes(fake))
    code = await refused(tools, "add_issue_comment", issue_key="ORBIT-1", content="```\nx = '{/code}'\n```")
    assert "contains {/code}" in code and len(writes(fake)) == before


async def test_the_watch_list_is_fresh_after_an_issue_write(tools: Client, fake: FaultyBacklog) -> None:
    watched = await ok(tools, "get_user_issue_list", watching=True, count=100)
    key = watched.split("\n| ")[2].split(" ")[0]  # the first row's key
    await ok(tools, "update_issue", issue_key=key, summary="Renamed while watched")
    assert "Renamed while watched" in await ok(tools, "get_user_issue_list", watching=True, count=100)


async def test_a_long_text_never_reaches_the_audit_log(fake: FaultyBacklog, audited: Settings) -> None:
    secret = "TOPSECRET plan " + "x" * 100_001
    async with connect(fake, audited) as client:
        text = await refused(client, "add_issue_comment", issue_key="NOVA-1", content=secret)
        assert "TOPSECRET" not in text
        await ok(client, "add_issue_comment", issue_key="NOVA-1", content="short", dry_run="true")
    assert audited.audit_path is not None
    raw = audited.audit_path.read_text()
    assert "TOPSECRET" not in raw
    assert [json.loads(line)["outcome"] for line in raw.splitlines()] == ["refused", "dry run"]


async def test_the_client_itself_keeps_notification_writes_to_the_allow_list(
    fake: FaultyBacklog, settings: Settings
) -> None:
    from backlog_mcp.errors import NotFoundError, WriteLevelError

    nova = next(n for n in fake.space.notifications[1073925001] if n["project"]["projectKey"] == "NOVA")
    client = BacklogClient(
        dataclasses.replace(settings, projects=frozenset({"ORBIT"})), transport=httpx.ASGITransport(app=fake)
    )
    try:
        with pytest.raises(NotFoundError):
            await client.mark_notifications_read([nova["id"]])
        with pytest.raises(WriteLevelError):
            await client.reset_unread_count()
    finally:
        await client.aclose()
    assert writes(fake) == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("create_milestone", {"project_key": "ORBIT", "name": "X"}),
        ("update_milestone", {"project_key": "ORBIT", "milestone": "Sprint 14", "archived": True}),
        ("add_document", {"project_key": "ORBIT", "title": "X", "content": "y"}),
        (
            "create_pull_request",
            {"project_key": "ORBIT", "repository": "ios", "branch": "b", "summary": "s", "description": "d"},
        ),
        ("update_pull_request", {"project_key": "ORBIT", "repository": "ios", "number": 1, "comment": "c"}),
        ("upload_attachment", {"issue_key": "ORBIT-1", "path": "x.txt"}),
    ],
)
async def test_the_new_writes_refuse_above_the_projects_level_even_as_dry_runs(
    fake: FaultyBacklog, settings: Settings, tool: str, args: dict[str, object], tmp_path: Path
) -> None:
    (tmp_path / "x.txt").write_text("x")  # a file that may be uploaded: the level is what refuses
    reading = dataclasses.replace(
        settings, projects=frozenset({"ORBIT"}), levels={"ORBIT": "read"}, upload_roots=(tmp_path.resolve(),)
    )
    server = build_server(reading, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        refused = await client.call_tool(tool, {**args, "dry_run": True})
    assert refused.is_error and "at level 'read'" in text_of(refused), text_of(refused)
    assert all(r.method == "GET" for r in fake.requests)
