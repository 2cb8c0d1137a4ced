"""Resources, prompts and completions mirror the tools: same rendering, same access checks."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from backlog_mcp.config import Settings
from backlog_mcp.demo import demo_settings, demo_today, demo_transport
from backlog_mcp.prompts import PROMPTS
from backlog_mcp.server import build_server
from backlog_mcp.tools.registry import BacklogServer
from tests.conftest import text_of

pytestmark = pytest.mark.anyio


def demo_server(**changes: Any) -> BacklogServer:
    server = build_server(dataclasses.replace(demo_settings(), **changes), transport=demo_transport(), now=demo_today)
    assert isinstance(server, BacklogServer)
    return server


@pytest.fixture
async def demo() -> AsyncIterator[Client]:
    async with Client(demo_server()) as client:
        yield client


async def test_resources_read_exactly_what_the_tools_answer(demo: Client) -> None:
    templates = (await demo.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [
        "backlog://issue/{key}",
        "backlog://project/{key}",
        "backlog://wiki/{id}",
        "backlog://document/{id}",
    ]
    assert all(t.mime_type == "text/markdown" and t.title for t in templates)
    for uri, tool, args in (
        ("backlog://issue/ORBIT-3", "get_issue_details", {"issue_key": "ORBIT-3"}),
        ("backlog://project/NOVA", "get_project", {"project_key": "NOVA"}),
        ("backlog://wiki/3300002", "get_wiki_page", {"page_id": 3300002}),
        ("backlog://document/7ed9787dd2c4775adc68badc2fb2bd14", "get_document", {"document_id": "7ed9787dd2c4775adc68badc2fb2bd14"}),
    ):  # fmt: skip
        read = (await demo.read_resource(uri)).contents[0]
        assert read.mime_type == "text/markdown"
        assert read.text == text_of(await demo.call_tool(tool, args)), uri  # type: ignore[union-attr]


async def test_resources_pass_the_same_access_checks() -> None:
    async with Client(demo_server(projects=frozenset({"ORBIT"}))) as client:
        assert (await client.read_resource("backlog://issue/ORBIT-1")).contents
        for uri in ("backlog://issue/NOVA-1", "backlog://issue/NOVA-99999"):
            with pytest.raises(Exception, match=r"does not exist") as caught:
                await client.read_resource(uri)
        denied = str(caught.value)
        assert "NOVA" in denied
    async with Client(demo_server(toolsets=frozenset({"space"}))) as client:
        assert (await client.list_resource_templates()).resource_templates == []  # no tool, no resource


def _calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for match in re.finditer(r"\b([a-z_]+)\(([^()]*)\)", text):
        source = match.group(0).replace("true", "True").replace("false", "False").replace("null", "None")
        node = ast.parse(source, mode="eval").body
        assert isinstance(node, ast.Call)
        found.append((match.group(1), {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}))
    return found


async def test_every_prompt_names_real_tools_with_valid_arguments(demo: Client) -> None:
    server = demo_server()
    listed = (await demo.list_prompts()).prompts
    assert [p.name for p in listed] == [spec.name for spec in PROMPTS]
    samples = {"issue_key": "ORBIT-12", "project_key": "ORBIT", "milestone": "Sprint 14"}
    for spec in PROMPTS:
        args = {name: samples[name] for name, _d, required in spec.arguments if required}
        text = (await demo.get_prompt(spec.name, args)).messages[0].content.text  # type: ignore[union-attr]
        calls = _calls(text)
        assert calls, spec.name
        for tool, arguments in calls:
            assert server.offers(tool), (spec.name, tool)
            server.entry(tool)._arguments(arguments)  # raises on an unknown or invalid argument
    standup = (await demo.get_prompt("standup", {})).messages[0].content.text  # type: ignore[union-attr]
    assert 'get_activity(user="me", since="2026-11-19")' in standup  # the demo's today is 2026-11-20
    with pytest.raises(Exception, match="issue_key"):
        await demo.get_prompt("triage_issue", {})


async def test_completions_from_the_lookup(demo: Client) -> None:
    async def values(ref: Any, name: str, value: str, context: dict[str, str] | None = None) -> list[str]:
        return list((await demo.complete(ref, {"name": name, "value": value}, context)).completion.values)

    triage = PromptReference(type="ref/prompt", name="triage_issue")
    release = PromptReference(type="ref/prompt", name="release_check")
    assert await values(release, "project_key", "or") == ["ORBIT"]
    assert await values(triage, "issue_key", "n") == ["NOVA-"]
    keys = await values(triage, "issue_key", "ORBIT-21")
    assert keys and all(k.startswith("ORBIT-21") for k in keys)
    assert await values(release, "milestone", "sprint", {"project_key": "ORBIT"}) == ["Sprint 14", "Sprint 15"]
    assert await values(release, "milestone", "x") == []  # no project chosen yet
    template = ResourceTemplateReference(type="ref/resource", uri="backlog://project/{key}")
    assert await values(template, "key", "") == ["ORBIT", "NOVA"]
    issue_template = ResourceTemplateReference(type="ref/resource", uri="backlog://issue/{key}")
    assert await values(issue_template, "key", "NOVA-1") == await values(triage, "issue_key", "NOVA-1")


async def test_the_demo_says_it_is_a_demo(demo: Client) -> None:
    assert "DEMO" in (demo.instructions or "") and "2026-11-20" in (demo.instructions or "")
    me = text_of(await demo.call_tool("get_myself", {}))
    assert me.startswith("**Demo:** this is backlog-mcp's bundled sample space, not a real Backlog")
    assert "https://demo.backlog.invalid" in me


async def test_demo_writes_land_in_memory_and_reset_per_run() -> None:
    async with Client(demo_server()) as first:
        created = text_of(
            await first.call_tool(
                "create_issue", {"project_key": "NOVA", "summary": "Demo write", "issue_type": "Task"}
            )
        )
        assert created.startswith("Created NOVA-220:")
    async with Client(demo_server()) as second:
        again = text_of(
            await second.call_tool(
                "create_issue", {"project_key": "NOVA", "summary": "Demo write", "issue_type": "Task"}
            )
        )
        assert again.startswith("Created NOVA-220:")  # a fresh copy: the first run's issue is gone


def test_demo_settings_carry_the_access_flags() -> None:
    base = Settings(api_key="x", base_url="https://x", read_only=True, projects=frozenset({"ORBIT"}))
    settings = demo_settings(base)
    assert settings.demo and settings.read_only and settings.projects == frozenset({"ORBIT"})
    assert settings.cache_path is None and settings.audit_path is None


async def test_prompts_never_name_a_tool_that_is_off() -> None:
    async with Client(demo_server(toolsets=frozenset({"space"}))) as client:
        assert (await client.list_prompts()).prompts == []
    async with Client(demo_server(read_only=True)) as client:
        triage = (await client.get_prompt("triage_issue", {"issue_key": "ORBIT-12"})).messages[0].content.text  # type: ignore[union-attr]
        assert "update_issue" not in triage and "cannot change Backlog" in triage
    async with Client(demo_server()) as client:
        other = (await client.get_prompt("standup", {"user": "kenji"})).messages[0].content.text  # type: ignore[union-attr]
        assert 'get_activity(user="kenji"' in other and 'get_user_issue_list(assignees=["kenji"]' in other
        people = await client.complete(
            PromptReference(type="ref/prompt", name="standup"), {"name": "user", "value": "ta"}
        )
        assert "Tanaka Yuki" in people.completion.values


def test_the_demo_reads_no_env_file_and_no_backlog_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BACKLOG_DOMAIN=https://real.backlog.com\nBACKLOG_API_KEY=real-key-123456\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BACKLOG_ENV_FILE": str(tmp_path / "missing.env"),
           "BACKLOG_API_KEY": "real-key-123456", "BACKLOG_DOMAIN": "real.backlog.com"}  # fmt: skip
    script = (
        "import asyncio, sys\n"
        "from mcp import Client, StdioServerParameters\n"
        "async def main():\n"
        f"    server = StdioServerParameters(command={sys.executable!r}, args=['-m', 'backlog_mcp', '--demo'], "
        f"cwd={str(tmp_path)!r}, env={env!r})\n"
        "    async with Client(server) as c:\n"
        "        print((await c.call_tool('get_myself', {})).content[0].text)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "demo.backlog.invalid" in done.stdout and "real.backlog.com" not in done.stdout
    assert list(tmp_path.iterdir()) == [tmp_path / ".env"]  # no cache, no audit log written
    cleared = subprocess.run(
        [sys.executable, "-m", "backlog_mcp", "--demo", "--clear-cache"], capture_output=True, text=True, timeout=60,
        env=env, check=False,
    )  # fmt: skip
    assert cleared.returncode == 0 and "nothing to clear" in cleared.stdout
