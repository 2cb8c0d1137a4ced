"""README.md stays true: its tools table matches `tools/list`, its quick start is two commands."""

from __future__ import annotations

import re
from pathlib import Path

from backlog_mcp.tools import TOOLS
from backlog_mcp.tools.declare import Kind

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_tools_table_lists_every_tool_in_order_with_its_toolset_and_kind() -> None:
    section = README.split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| (read|write) \| (.+) \|$", section, re.M)
    assert [name for _set, name, _kind, _what in rows] == [spec.name for spec in TOOLS]
    for (toolset, name, kind, what), spec in zip(rows, TOOLS, strict=True):
        assert toolset == spec.toolset, name
        assert kind == ("read" if spec.kind is Kind.READ else "write"), name
        assert what.strip(), name


def test_the_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["mise run mcp", "mise run test"]
