"""Rules every tool keeps, checked by looping over `tools/list`: a tool added later is covered at once.

Titles and the four hints, the schema budget, read-only mode, the project allow-list for every
key- or id-addressed argument, bad arguments, toolset filters, and the import graph.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bpe_openai
import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.client import BacklogClient
from backlog_mcp.config import TOOLSETS, ConfigError, Settings
from backlog_mcp.errors import ReadOnlyError
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog
from backlog_mcp.server import build_server
from backlog_mcp.tools import TOOLS
from backlog_mcp.tools.declare import Kind
from tests.conftest import BASE_URL, FAST_RETRY, text_of

pytestmark = pytest.mark.anyio

ENCODING = bpe_openai.get_encoding("o200k_base")
TODAYS_FOUR = ("get_myself", "get_issue_details", "get_issue_comments", "get_user_issue_list")
FOUR_TOOL_BUDGET = 1_000  # tokens (o200k) of the compact tools/list JSON; README states both budgets
SURFACE_BUDGET = 5_600  # about 32 tools (issue 17); the first release's four stay within 1,000

# For each argument that addresses an object: a value for an object that exists in the fake but lies
# outside the allow-list (NOVA), and one for an object that does not exist at all. A tool with an
# addressing argument missing here fails `test_allow_list_answers_as_for_a_missing_object`.
ALLOWED = frozenset({"ORBIT"})
DENIED_VS_MISSING: dict[str, list[tuple[Any, Any]]] = {
    "issue_key": [("NOVA-1", "ORBIT-99999"), ("{NOVA-1 id}", "999999999")],
    "parent": [("NOVA-1", "ORBIT-99999")],
    "projects": [(["NOVA"], ["NOPE"])],
    "project_key": [("NOVA", "NOPE")],
    "page_id": [("{NOVA wiki id}", 99_999_999)],
    "project_ids": [([105], [999])],
    "parent_issue_ids": [(["{NOVA-1 id}"], [999999999])],
    "document_id": [("7ed9787dd2c4775adc68badc2fb2bd14", "00000000000000000000000000000000")],
}
# Arguments that look like addresses but are not: ids of comments inside an already-checked issue,
# and filters over issues that are themselves limited to the allowed projects.
NOT_ADDRESSES = frozenset(
    {"before_id", "after_id", "assignee_ids", "status_ids", "milestone_ids", "user_id", "comment_id", "notification_id"}
)
# (`before_id` of get_notifications bounds the user's own inbox, which is filtered to the allowed projects.)
# Valid values for the required arguments of each kind, to call a tool when only one argument varies.
FILLERS: dict[str, Any] = {
    "issue_key": "ORBIT-1",
    "description": "x",
    "content": "x",
    "project_key": "ORBIT",
    "repository": "orbit-android",
    "number": 1,
    "summary": "x",
    "issue_type": "Bug",
    "comment_id": 5500001,
    "document_id": "3ea04565cdadba2237b3285908419ea2",
    "query": "tile cache",
    "name": "x",
    "milestone": "Sprint 14",
    "title": "x",
    "branch": "feature/x",
    "path": "x.txt",
}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "c.sqlite3", **overrides)


@asynccontextmanager
async def connect(fake: FakeBacklog, settings: Settings) -> AsyncIterator[Client]:
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        yield client


async def listed(client: Client) -> list[dict[str, Any]]:
    result = await client.list_tools()
    tools: list[dict[str, Any]] = result.model_dump(by_alias=True, exclude_none=True, mode="json")["tools"]
    return tools


def tokens(value: object) -> int:
    return len(ENCODING.encode(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))


async def test_every_tool_has_a_title_and_all_four_hints(fake: FakeBacklog, tmp_path: Path) -> None:
    async with connect(fake, make_settings(tmp_path)) as client:
        tools = await listed(client)
    assert len(tools) == len(TOOLS)
    for tool in tools:
        assert tool.get("title"), tool["name"]
        hints = tool["annotations"]
        assert set(hints) >= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}, tool["name"]
        assert all(isinstance(hints[h], bool) for h in ("readOnlyHint", "destructiveHint", "idempotentHint"))
        if hints["readOnlyHint"]:
            assert hints["destructiveHint"] is False and hints["idempotentHint"] is True, tool["name"]
        spec = next(spec for spec in TOOLS if spec.name == tool["name"])
        assert hints["destructiveHint"] == (spec.kind is Kind.DESTRUCTIVE or spec.overwrites), tool["name"]
        assert "outputSchema" not in tool  # Markdown tools: clients would show the model only structured content
        schema = json.dumps(tool["inputSchema"])
        assert '{"type": "null"}' not in schema and '"default": null' not in schema
        # No per-property titles (an argument may be *named* title: its schema has none).
        assert all("title" not in prop for prop in tool["inputSchema"].get("properties", {}).values())
        assert "title" not in tool["inputSchema"]


async def test_tools_list_stays_within_its_token_budget(fake: FakeBacklog, tmp_path: Path) -> None:
    async with connect(fake, make_settings(tmp_path)) as client:
        tools = await listed(client)
    four = [tool for tool in tools if tool["name"] in TODAYS_FOUR]
    assert len(four) == 4
    assert tokens({"tools": four}) <= FOUR_TOOL_BUDGET
    assert tokens({"tools": tools}) <= SURFACE_BUDGET


async def test_read_only_lists_no_write_and_refuses_each_by_name(fake: FakeBacklog, tmp_path: Path) -> None:
    async with connect(fake, make_settings(tmp_path / "a")) as client:
        everything = await listed(client)
    writes = [tool for tool in everything if not tool["annotations"]["readOnlyHint"]]
    assert writes, "the seed's write tools exist, so read-only mode has something to hold back"
    async with connect(fake, make_settings(tmp_path / "b", read_only=True)) as client:
        offered = await listed(client)
        assert all(tool["annotations"]["readOnlyHint"] for tool in offered)
        assert {t["name"] for t in offered} == {t["name"] for t in everything} - {t["name"] for t in writes}
        for tool in writes:
            args = {name: FILLERS[name] for name in tool["inputSchema"].get("required", [])}
            result = await client.call_tool(tool["name"], args)
            assert result.is_error
            assert "read-only" in text_of(result) and "nothing was sent" in text_of(result)
        assert "read-only" in (client.instructions or "")
    assert all(request.method == "GET" for request in fake.requests)


async def test_the_client_sends_nothing_but_get_when_read_only(fake: FakeBacklog, tmp_path: Path) -> None:
    client = BacklogClient(make_settings(tmp_path, read_only=True), transport=httpx.ASGITransport(app=fake))
    try:
        with pytest.raises(ReadOnlyError):
            await client.add_comment("ORBIT-1", "hello")
        with pytest.raises(ReadOnlyError):
            await client.update_issue("ORBIT-1", {"description": "x"})
    finally:
        await client.aclose()
    assert [r.method for r in fake.requests if r.method != "GET"] == []


def _value(fake: FakeBacklog, value: Any) -> Any:
    issue = fake.space.issue_by_key("NOVA-1")
    assert issue is not None
    if value == "{NOVA-1 id}":
        return str(issue["id"])
    if value == ["{NOVA-1 id}"]:
        return [issue["id"]]
    if value == "{NOVA wiki id}":
        return next(w["id"] for w in fake.space.wikis.values() if w["projectId"] == 105)
    return value


def _normalised(text: str, *values: Any) -> str:
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            text = text.replace(str(item), "<X>")
    return text


async def test_allow_list_answers_as_for_a_missing_object(fake: FakeBacklog, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, projects=ALLOWED)
    async with connect(fake, settings) as client:
        tools = await listed(client)
        for tool in tools:
            spec = next(spec for spec in TOOLS if spec.name == tool["name"])
            accepted = [name for name in inspect.signature(spec.fn).parameters if name != "call"]  # hidden too
            addressing = [
                name
                for name in accepted
                if (name.endswith(("_key", "_id", "_ids")) or name in DENIED_VS_MISSING) and name not in NOT_ADDRESSES
            ]
            for name in addressing:
                assert name in DENIED_VS_MISSING, f"{tool['name']}.{name}: add a denied/missing pair for it"
                for denied, absent in DENIED_VS_MISSING[name]:
                    base = {arg: FILLERS[arg] for arg in tool["inputSchema"].get("required", []) if arg != name}
                    denied_value = _value(fake, denied)
                    fake.requests.clear()
                    denied_result = await client.call_tool(tool["name"], {**base, name: denied_value})
                    writes = [r for r in fake.requests if r.method != "GET"]
                    missing_result = await client.call_tool(tool["name"], {**base, name: absent})
                    assert denied_result.is_error == missing_result.is_error, (tool["name"], name)
                    assert _normalised(text_of(denied_result), denied_value) == _normalised(
                        text_of(missing_result), absent
                    ), (tool["name"], name)
                    assert "NOVA" not in text_of(denied_result) or "NOVA" in str(denied_value)
                    assert writes == [], (tool["name"], name)


async def test_allow_list_keeps_lists_to_the_allowed_projects(fake: FakeBacklog, tmp_path: Path) -> None:
    async with connect(fake, make_settings(tmp_path, projects=ALLOWED)) as client:
        result = await client.call_tool("get_user_issue_list", {"assignees": ["anyone"], "count": 100})
        text = text_of(result)
        assert "ORBIT-" in text and "NOVA-" not in text
        details = text_of(await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1"}))
        assert details.startswith("# ORBIT-1 ")
        watched = text_of(await client.call_tool("get_user_issue_list", {"watching": True, "count": 100}))
        assert "ORBIT-" in watched and "NOVA-" not in watched and " of " not in watched.split("\n")[0]
        assert "Only these projects are reachable: ORBIT." in (client.instructions or "")
    # NOVA was never asked for by key, id or list: the project list itself was filtered.
    assert not any("NOVA" in r.path for r in fake.requests)
    assert not any(r.path.endswith("/watchings/count") for r in fake.requests)  # it would count NOVA's too
    assert all(
        pair[1] == "104" for r in fake.requests if r.path == "/issues" for pair in r.query if pair[0] == "projectId[]"
    )


async def test_every_tool_rejects_bad_arguments_before_any_request(fake: FakeBacklog, tmp_path: Path) -> None:
    async with connect(fake, make_settings(tmp_path)) as client:
        for tool in await listed(client):
            required = {name: FILLERS[name] for name in tool["inputSchema"].get("required", [])}
            fake.requests.clear()
            unknown = await client.call_tool(tool["name"], {**required, "no_such_argument": 1})
            assert unknown.is_error and "no_such_argument" in text_of(unknown), tool["name"]
            for name, prop in tool["inputSchema"].get("properties", {}).items():
                wrong: Any = {"not": "valid"} if prop.get("type") != "object" else 1
                result = await client.call_tool(tool["name"], {**required, name: wrong})
                assert result.is_error, (tool["name"], name)
                assert text_of(result).startswith("Invalid arguments: " + name), (tool["name"], text_of(result))
            assert fake.requests == [], tool["name"]


async def test_timezone_is_said_once_and_still_taken_by_every_tool_that_shows_times(
    fake: FakeBacklog, tmp_path: Path
) -> None:
    takers = {spec.name for spec in TOOLS if "timezone" in inspect.signature(spec.fn).parameters}
    assert len(takers) >= 12
    async with connect(fake, make_settings(tmp_path)) as client:
        assert "`timezone`" in (client.instructions or "")
        for tool in await listed(client):
            assert "timezone" not in tool["inputSchema"].get("properties", {}), tool["name"]
            if tool["name"] not in takers:
                continue
            required = {name: FILLERS[name] for name in tool["inputSchema"].get("required", [])}
            fake.requests.clear()
            result = await client.call_tool(tool["name"], {**required, "timezone": "Mars/Olympus"})
            assert result.is_error and 'Unknown timezone "Mars/Olympus"' in text_of(result), tool["name"]
            assert fake.requests == [], tool["name"]


async def test_every_text_argument_of_every_tool_refuses_4mb_at_once(fake: FakeBacklog, tmp_path: Path) -> None:
    huge = "x" * (4 * 1024 * 1024)
    async with connect(fake, make_settings(tmp_path)) as client:
        for tool in await listed(client):
            required = {name: FILLERS[name] for name in tool["inputSchema"].get("required", [])}
            for name, prop in tool["inputSchema"].get("properties", {}).items():
                value: Any = [huge] if prop.get("type") == "array" else huge
                if prop.get("type") not in ("string", "array"):
                    continue
                began = time.perf_counter()
                result = await client.call_tool(tool["name"], {**required, name: value})
                assert time.perf_counter() - began < 1.0, (tool["name"], name)
                assert result.is_error and len(text_of(result)) < 1_000, (tool["name"], name)


async def test_toolsets_and_tool_names_filter_what_is_offered(fake: FakeBacklog, tmp_path: Path) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for toolset in TOOLSETS:
        async with connect(fake, make_settings(tmp_path / toolset, toolsets=frozenset({toolset}))) as client:
            tools = await listed(client)
            seen[toolset] = [{k: v for k, v in t.items() if k != "_meta"} for t in tools]  # tools/list, pinned
            instructions = client.instructions or ""
            for spec in TOOLS:
                assert (f"- {spec.name}:" in instructions) == (spec.toolset == toolset), spec.name
    assert seen == snapshot(
        {
            "space": [
                {
                    "name": "get_myself",
                    "title": "Who am I (connection check)",
                    "description": "Which Backlog user and space the API key belongs to: the connection check, and who `me` is.",
                    "inputSchema": {"type": "object", "properties": {}},
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_users_by_project",
                    "title": "People in a project or the space",
                    "description": "People: members of a project, or every user of the space, with login id and role.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {
                                "type": "string",
                                "description": "Members of this project; omit for the whole space",
                            },
                            "name": {"type": "string", "description": "Part of a name or login id"},
                            "include_email": {"type": "boolean"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "search_backlog",
                    "title": "Search the space",
                    "description": "Find words in issues and their comments, wiki pages, documents and pull requests, in one call.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "query": {"description": "Words to find", "type": "string"},
                            "projects": {
                                "items": {"type": "string"},
                                "type": "array",
                                "description": "Keys (default: all)",
                            },
                            "kinds": {
                                "items": {"enum": ["issues", "wiki", "documents", "pull_requests"], "type": "string"},
                                "type": "array",
                            },
                            "max_tokens": {"default": 6000, "type": "integer"},
                        },
                        "required": ["query"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_activity",
                    "title": "Recent activity",
                    "description": """\
What happened, newest first, grouped by day then by item: issues, comments, wiki, git, documents.

For stand-ups and "what changed since yesterday"; days in the shown zone.\
""",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string", "description": "Only this project"},
                            "user": {
                                "type": "string",
                                "description": "Only what this person did: name, login id or me",
                            },
                            "since": {"type": "string", "description": "From this day, YYYY-MM-DD"},
                            "until": {"type": "string", "description": "Up to this day, YYYY-MM-DD"},
                            "kinds": {
                                "items": {
                                    "enum": ["issues", "comments", "wiki", "files", "git", "documents", "project"],
                                    "type": "string",
                                },
                                "type": "array",
                            },
                            "before_id": {"type": "integer", "description": "Activity before this id (paging)"},
                            "max_tokens": {"type": "integer"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
            ],
            "projects": [
                {
                    "name": "get_projects",
                    "title": "List projects",
                    "description": "Projects this user can see: key, name, text format (Markdown or Backlog notation).",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"include_archived": {"type": "boolean"}},
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_project",
                    "title": "A project's set-up",
                    "description": "One project's set-up: statuses in workflow order, types, categories, milestones, custom fields, members.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"project_key": {"description": "Key or name, e.g. ORBIT", "type": "string"}},
                        "required": ["project_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "create_milestone",
                    "title": "Add a milestone",
                    "description": "Add a milestone (Backlog version) to a project, with its start and release due days.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "name": {"description": "Milestone name, e.g. Sprint 15", "type": "string"},
                            "description": {"type": "string"},
                            "start_date": {"type": "string"},
                            "due_date": {"type": "string"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "name"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "update_milestone",
                    "title": "Change a milestone",
                    "description": "Change a milestone found by name: name, description, start and due days, archived.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "milestone": {"description": "Its current name", "type": "string"},
                            "name": {"type": "string", "description": "New name"},
                            "description": {"type": "string"},
                            "start_date": {"type": "string"},
                            "due_date": {"type": "string"},
                            "archived": {"type": "boolean"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "milestone"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
            ],
            "issues": [
                {
                    "name": "get_issue_details",
                    "title": "Issue details with comments",
                    "description": """\
Everything about one issue in one call: all fields by name, parent and children, description, newest comments.

Older comments: get_issue_comments.\
""",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "comment_count": {
                                "default": 30,
                                "description": "Newest comments to include (0: none)",
                                "type": "integer",
                            },
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["issue_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_issue_comments",
                    "title": "Issue comments, paged",
                    "description": """\
A page of an issue's comments with their field changes, oldest first.

Without ids: the newest page.\
""",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "before_id": {"type": "integer", "description": "Comments before this comment id"},
                            "after_id": {"type": "integer", "description": "Comments after this comment id"},
                            "count": {"description": "1-100 (98 shown at most)", "type": "integer"},
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["issue_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_my_issues",
                    "title": "My open issues",
                    "description": "My open issues (the API key's owner), latest update first; filters: get_user_issue_list.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "offset": {"type": "integer"},
                            "count": {"type": "integer"},
                            "include_archived": {"type": "boolean"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_user_issue_list",
                    "title": "Find issues",
                    "description": """\
Find issues, as a table. Default: my issues not closed, latest update first.

Date filters take `YYYY-MM-DD..YYYY-MM-DD` (either end optional).\
""",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "projects": {"items": {"type": "string"}, "type": "array", "description": "Keys or names"},
                            "assignees": {
                                "items": {"type": "string"},
                                "type": "array",
                                "description": "Names, login ids, 'me' (default) or 'anyone'",
                            },
                            "statuses": {"items": {"type": "string"}, "type": "array"},
                            "include_closed": {"type": "boolean"},
                            "issue_types": {"items": {"type": "string"}, "type": "array"},
                            "priorities": {"items": {"type": "string"}, "type": "array"},
                            "categories": {"items": {"type": "string"}, "type": "array"},
                            "milestones": {"items": {"type": "string"}, "type": "array"},
                            "parent": {"type": "string", "description": "Children of this issue key"},
                            "keyword": {"type": "string"},
                            "created": {"type": "string"},
                            "updated": {"type": "string"},
                            "start_date": {"type": "string"},
                            "due_date": {"type": "string"},
                            "include_archived": {"type": "boolean"},
                            "watching": {
                                "description": "Issues I watch instead (no other filters)",
                                "type": "boolean",
                            },
                            "sort": {
                                "default": "updated",
                                "type": "string",
                            },
                            "order": {"default": "desc", "enum": ["asc", "desc"], "type": "string"},
                            "offset": {"type": "integer"},
                            "count": {"type": "integer"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_attachment",
                    "title": "An attachment",
                    "description": "One file on an issue, wiki page, document or pull request: images as images, text as text, else described.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "attachment": {
                                "type": "string",
                                "description": "File name or id; leave out to list the files",
                            },
                            "issue_key": {"type": "string", "description": "The issue it is attached to"},
                            "page_id": {"type": "integer", "description": "Or: the wiki page's id"},
                            "document_id": {"type": "string", "description": "Or: the document's id"},
                            "project_key": {
                                "type": "string",
                                "description": "Or, with repository and number: a pull request",
                            },
                            "repository": {"type": "string"},
                            "number": {"type": "integer"},
                            "max_tokens": {"type": "integer"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "create_issue",
                    "title": "Create an issue",
                    "description": "Create an issue; fields by name (get_project lists them). Returns the key and URL.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"description": "Project key, e.g. ORBIT", "type": "string"},
                            "summary": {"type": "string"},
                            "issue_type": {"description": "Issue type name, e.g. Bug", "type": "string"},
                            "description": {"type": "string", "description": "Markdown"},
                            "priority": {"default": "Normal", "type": "string"},
                            "assignee": {"type": "string"},
                            "categories": {"items": {"type": "string"}, "type": "array"},
                            "milestones": {"items": {"type": "string"}, "type": "array"},
                            "versions": {"items": {"type": "string"}, "type": "array"},
                            "parent": {"type": "string", "description": "Parent issue key"},
                            "start_date": {"type": "string"},
                            "due_date": {"type": "string"},
                            "estimated_hours": {"type": "number"},
                            "custom_fields": {
                                "additionalProperties": {
                                    "anyOf": [{"type": "string"}, {"items": {"type": "string"}, "type": "array"}]
                                },
                                "type": "object",
                                "description": 'By field name, e.g. {"Severity": "Major"}; list choices by name',
                            },
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "summary", "issue_type"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "update_issue",
                    "title": "Update an issue",
                    "description": "Change any fields of an issue by name, optionally with a comment. Shows each field old → new.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "summary": {"type": "string"},
                            "status": {"type": "string"},
                            "resolution": {"type": "string"},
                            "assignee": {"type": "string"},
                            "priority": {"type": "string"},
                            "issue_type": {"type": "string"},
                            "categories": {"items": {"type": "string"}, "type": "array"},
                            "milestones": {"items": {"type": "string"}, "type": "array"},
                            "versions": {"items": {"type": "string"}, "type": "array"},
                            "parent": {"type": "string", "description": "Parent issue key"},
                            "start_date": {"type": "string"},
                            "due_date": {"type": "string"},
                            "estimated_hours": {"type": "number"},
                            "actual_hours": {"type": "number"},
                            "custom_fields": {
                                "additionalProperties": {
                                    "anyOf": [{"type": "string"}, {"items": {"type": "string"}, "type": "array"}]
                                },
                                "type": "object",
                                "description": 'By field name, e.g. {"Severity": "Major"}; list choices by name',
                            },
                            "description": {"type": "string", "description": "Markdown; replaces the whole text"},
                            "clear": {
                                "items": {
                                    "enum": [
                                        "assignee",
                                        "categories",
                                        "milestones",
                                        "versions",
                                        "parent",
                                        "start_date",
                                        "due_date",
                                        "estimated_hours",
                                        "actual_hours",
                                        "resolution",
                                        "description",
                                    ],
                                    "type": "string",
                                },
                                "type": "array",
                                "description": "Fields to empty",
                            },
                            "comment": {"type": "string", "description": "Markdown comment saved with the change"},
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "update_issue_description",
                    "title": "Replace an issue's description",
                    "description": "Replace an issue's description.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "description": {
                                "description": "The whole new text in Markdown; empty clears it",
                                "type": "string",
                            },
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key", "description"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "add_issue_comment",
                    "title": "Comment on an issue",
                    "description": "Add a comment to an issue.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "content": {"description": "Comment in Markdown", "minLength": 1, "type": "string"},
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key", "content"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "update_issue_comment",
                    "title": "Edit your comment",
                    "description": "Edit one of your own comments on an issue.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "comment_id": {"description": "From get_issue_comments", "type": "integer"},
                            "content": {
                                "description": "The whole new text in Markdown",
                                "minLength": 1,
                                "type": "string",
                            },
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key", "comment_id", "content"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "watch_issue",
                    "title": "Watch an issue",
                    "description": "Watch an issue (changes then show in get_user_issue_list(watching=true)), or stop watching it.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "watch": {"default": True, "description": "false: stop watching", "type": "boolean"},
                            "note": {"type": "string", "description": "Why you watch it"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "upload_attachment",
                    "title": "Upload a file to an issue",
                    "description": "Attach a local file to an issue, optionally with a new comment.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "issue_key": {"type": "string"},
                            "path": {"description": "In the server's upload folders", "type": "string"},
                            "comment": {"type": "string"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["issue_key", "path"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
            ],
            "wiki": [
                {
                    "name": "get_wiki_pages",
                    "title": "Wiki pages of a project",
                    "description": "A project's wiki pages as a tree by name, with ids, tags and last update; searchable.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "keyword": {"type": "string", "description": "Words in page names or text"},
                            "tag": {"type": "string", "description": "Only pages with this tag"},
                            "offset": {"type": "integer"},
                        },
                        "required": ["project_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_wiki_page",
                    "title": "A wiki page",
                    "description": "One wiki page as Markdown (Backlog notation converted), with its tags, attachments and last update.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "page_id": {"type": "integer", "description": "Page id (from get_wiki_pages)"},
                            "project_key": {"type": "string", "description": "With name: the page's project"},
                            "name": {
                                "type": "string",
                                "description": "With project_key: the page's name, e.g. Release/Checklist",
                            },
                            "max_tokens": {"type": "integer"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "save_wiki_page",
                    "title": "Create or update a wiki page",
                    "description": "Create a wiki page, or update one (by id, or by project and name): content in Markdown, renaming.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "content": {"type": "string", "description": "The whole page in Markdown"},
                            "page_id": {"type": "integer", "description": "Update this page"},
                            "project_key": {
                                "type": "string",
                                "description": "With name: update that page, or create it",
                            },
                            "name": {"type": "string", "description": "Page name, e.g. Release/Checklist"},
                            "new_name": {"type": "string", "description": "Rename the page"},
                            "dry_run": {"type": "boolean"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
            ],
            "documents": [
                {
                    "name": "get_documents",
                    "title": "Documents of a project",
                    "description": "A project's documents as a tree (titles, ids, nesting), or those matching a keyword.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "keyword": {
                                "type": "string",
                                "description": "Words in titles or text; leave out for the tree",
                            },
                            "offset": {"type": "integer"},
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["project_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_document",
                    "title": "A document",
                    "description": "One document as text, with its tags, attachments and last update.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "document_id": {
                                "description": "Document id (32 hex characters, from get_documents)",
                                "type": "string",
                            },
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["document_id"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "add_document",
                    "title": "Add a document",
                    "description": "Add a document to a project (Backlog documents cannot be updated through its API).",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "title": {"description": "Document title", "type": "string"},
                            "content": {"description": "Markdown", "type": "string"},
                            "parent": {
                                "type": "string",
                                "description": "Under this document: title path (Specs/Maps) or id",
                            },
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "title", "content"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
            ],
            "git": [
                {
                    "name": "get_pull_requests",
                    "title": "Repositories and pull requests",
                    "description": "A project's Git repositories, or one repository's pull requests with branch, author and linked issue.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "repository": {"type": "string", "description": "Leave out to list the repositories"},
                            "status": {
                                "default": "open",
                                "enum": ["open", "closed", "merged", "all"],
                                "type": "string",
                            },
                            "assignee": {"type": "string"},
                            "issue_key": {"type": "string", "description": "Only pull requests linked to this issue"},
                            "offset": {"type": "integer"},
                            "count": {"type": "integer"},
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["project_key"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "get_pull_request",
                    "title": "A pull request",
                    "description": "One pull request: description, linked issue, branches, status, and its comments with changes.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "repository": {"description": "Repository name", "type": "string"},
                            "number": {"description": "Pull request number", "type": "integer"},
                            "comment_count": {
                                "default": 20,
                                "description": "Newest comments to include",
                                "type": "integer",
                            },
                            "before_id": {"type": "integer", "description": "Comments before this comment id"},
                            "max_tokens": {"type": "integer"},
                        },
                        "required": ["project_key", "repository", "number"],
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "add_pull_request_comment",
                    "title": "Comment on a pull request",
                    "description": "Comment on a pull request.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "repository": {"description": "Repository name", "type": "string"},
                            "number": {"description": "Pull request number", "type": "integer"},
                            "content": {"description": "Comment in Markdown", "minLength": 1, "type": "string"},
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "repository", "number", "content"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "create_pull_request",
                    "title": "Open a pull request",
                    "description": "Open a pull request from `branch` into `base`; assignee by name.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "repository": {"type": "string"},
                            "branch": {"type": "string"},
                            "summary": {"type": "string"},
                            "description": {"type": "string"},
                            "base": {"default": "main", "type": "string"},
                            "assignee": {"type": "string"},
                            "issue_key": {"description": "Linked issue", "type": "string"},
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "repository", "branch", "summary", "description"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "update_pull_request",
                    "title": "Change a pull request",
                    "description": "Change a pull request's summary, description, assignee or linked issue, and/or comment on it.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "project_key": {"type": "string"},
                            "repository": {"type": "string"},
                            "number": {"description": "Pull request number", "type": "integer"},
                            "summary": {"type": "string"},
                            "description": {"type": "string"},
                            "assignee": {"type": "string"},
                            "issue_key": {"description": "Linked issue", "type": "string"},
                            "comment": {"type": "string"},
                            "notify": {"items": {"type": "string"}, "type": "array"},
                            "dry_run": {"type": "boolean"},
                        },
                        "required": ["project_key", "repository", "number"],
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": True,
                        "idempotentHint": False,
                        "openWorldHint": False,
                    },
                },
            ],
            "notifications": [
                {
                    "name": "get_notifications",
                    "title": "My notifications",
                    "description": "My notifications: who did what on which issue (assigned, commented, mentioned…), unread first.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "count": {"description": "1-100", "type": "integer"},
                            "before_id": {"type": "integer", "description": "Notifications older than this id"},
                            "unread_only": {"type": "boolean"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": True,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
                {
                    "name": "mark_notifications_read",
                    "title": "Mark notifications read",
                    "description": "Mark one notification read, or all of them.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "notification_id": {
                                "type": "integer",
                                "description": "One notification (ids from get_notifications)",
                            },
                            "all": {
                                "description": "true: every notification (resets the unread count)",
                                "type": "boolean",
                            },
                            "dry_run": {"type": "boolean"},
                        },
                    },
                    "annotations": {
                        "readOnlyHint": False,
                        "destructiveHint": False,
                        "idempotentHint": True,
                        "openWorldHint": False,
                    },
                },
            ],
        }
    )
    settings = make_settings(tmp_path / "mix", toolsets=frozenset({"space"}), tools=frozenset({"get_issue_details"}))
    async with connect(fake, settings) as client:
        assert [t["name"] for t in await listed(client)] == [
            "get_myself",
            "get_users_by_project",
            "search_backlog",
            "get_activity",
            "get_issue_details",
        ]
        held = await client.call_tool("get_user_issue_list", {})
        assert held.is_error and "not enabled on this server" in text_of(held)


def test_unknown_tool_names_stop_the_server_with_the_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown tool 'get_issue'; valid tools: .*get_issue_details"):
        build_server(make_settings(tmp_path, tools=frozenset({"get_issue"})))


# -- the import graph ------------------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "backlog_mcp"
MCP_LAYER = (
    "backlog_mcp.server", "backlog_mcp.tools.registry", "backlog_mcp.mirrors", "backlog_mcp.http", "backlog_mcp.oauth",
    "backlog_mcp.oauth_consent",
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = found
    return graph


def test_only_the_top_layer_imports_mcp() -> None:
    for module, imported in _imports().items():
        uses_mcp = any(name == "mcp" or name.startswith("mcp.") for name in imported)
        assert uses_mcp == (module in MCP_LAYER), module


def test_the_import_graph_has_no_circle() -> None:
    graph = _imports()
    edges = {
        module: {
            target
            for target in imported
            if target in graph
            and target != module
            and not target.startswith(module + ".")
            and not module.startswith(target + ".")
        }  # a package and its own submodules are one unit
        for module, imported in graph.items()
    }
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in done:
            return
        for target in edges[module]:
            assert target not in path, " -> ".join((*path, module, target))
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


async def test_watched_issues_page_on_past_pages_the_allow_list_thinned(fake: FakeBacklog, tmp_path: Path) -> None:
    watched = next(iter(fake.space.watchings.values()))
    orbit = {w["issue"]["issueKey"] for w in watched if w["issue"]["issueKey"].startswith("ORBIT-")}
    seen: list[str] = []
    async with connect(fake, make_settings(tmp_path, projects=ALLOWED)) as client:
        args: dict[str, Any] = {"watching": True, "count": 3}
        for _ in range(20):
            text = text_of(await client.call_tool("get_user_issue_list", args))
            seen += [
                line.split(" | ")[0].removeprefix("| ").split(" ")[0]
                for line in text.split("\n")[4:]
                if line.startswith("| ")
            ]
            match = re.search(r"offset=(\d+)", text)
            if not match:
                break
            args = {"watching": True, "count": 3, "offset": int(match[1])}
    assert sorted(seen) == sorted(orbit) and len(seen) == len(set(seen))


def test_no_module_is_over_about_400_lines() -> None:
    """Small modules named for their job: the sample data aside, none grows past about 400 lines."""
    sizes = {
        _module_name(path): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
        if path.name != "dataset.py"
    }
    assert {name: size for name, size in sizes.items() if size > 420} == {}
