"""A real third-party client: the MCP Inspector CLI drives `--demo` over stdio and over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backlog_mcp.tools import TOOLS
from tests.test_http import serving

pytestmark = pytest.mark.slow
INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"  # the newest that runs on Node 20
NPX = shutil.which("npx")
needs_node = pytest.mark.skipif(NPX is None, reason="Node.js (npx) is absent: the MCP Inspector check needs it")


def inspect(target: list[str], *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}  # 0.15.0 passes the environment on
    done = subprocess.run(
        [str(NPX), "-y", INSPECTOR, "--cli", *target, *args],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def check(target: list[str]) -> None:
    tools = inspect(target, "--method", "tools/list")["tools"]
    assert [t["name"] for t in tools] == [spec.name for spec in TOOLS]
    assert all(t["annotations"]["readOnlyHint"] in (True, False) for t in tools)
    called = inspect(target, "--method", "tools/call", "--tool-name", "get_project", "--tool-arg", "project_key=ORBIT")
    assert not called["isError"]
    assert called["content"][0]["text"].startswith("# ORBIT: Orbit Mobile App")
    templates = inspect(target, "--method", "resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in templates] == [
        f"backlog://{n}" for n in ("issue/{key}", "project/{key}", "wiki/{id}", "document/{id}")
    ]
    assert inspect(target, "--method", "resources/list")["resources"] == []  # everything is a template
    read = inspect(target, "--method", "resources/read", "--uri", "backlog://issue/ORBIT-3")["contents"][0]
    assert read["mimeType"] == "text/markdown" and read["text"].startswith("# ORBIT-3 ")
    prompts = inspect(target, "--method", "prompts/list")["prompts"]
    assert [p["name"] for p in prompts] == ["standup", "triage_issue", "project_status", "release_check"]


@needs_node
def test_the_inspector_over_stdio() -> None:
    check([sys.executable, "-m", "backlog_mcp", "--demo"])


@needs_node
def test_the_inspector_over_http(tmp_path: Path) -> None:
    with serving("--demo", log=tmp_path / "err.log") as url:
        check([url, "--transport", "http"])
