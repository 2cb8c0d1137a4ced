"""Tool declarations apart from MCP: selection by toolset, name and read-only mode; lean schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from backlog_mcp.config import Settings
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call, select
from backlog_mcp.tools.registry import compact_schema


async def read_tool(call: Call) -> str:
    """Reads."""
    return ""


async def write_tool(call: Call) -> str:
    """Writes."""
    return ""


async def delete_tool(call: Call) -> str:
    """Deletes."""
    return ""


SPECS = (
    ToolSpec(read_tool, "Read", "issues"),
    ToolSpec(write_tool, "Write", "issues", Kind.WRITE, idempotent=False),
    ToolSpec(delete_tool, "Delete", "wiki", Kind.DESTRUCTIVE, idempotent=False),
)


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(api_key="k" * 20, base_url="https://a.backlog.com", cache_path=tmp_path / "c", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "offered"),
    [
        ({}, ["read_tool", "write_tool"]),  # default: everything but what deletes
        ({"read_only": True}, ["read_tool"]),
        ({"toolsets": frozenset({"wiki"})}, []),  # a toolset never switches a destructive tool on
        ({"tools": frozenset({"delete_tool"})}, ["delete_tool"]),  # naming it does
        (
            {"toolsets": frozenset({"issues"}), "tools": frozenset({"delete_tool"})},
            ["read_tool", "write_tool", "delete_tool"],
        ),
        ({"tools": frozenset({"delete_tool"}), "read_only": True}, []),  # read-only wins
    ],
)
def test_select(tmp_path: Path, values: dict[str, object], offered: list[str]) -> None:
    chosen, held = select(SPECS, settings(tmp_path, **values))
    assert [spec.name for spec in chosen] == offered
    assert set(held) == {spec.name for spec in SPECS} - set(offered)
    if values.get("read_only"):
        assert "read-only" in held["write_tool"]


def test_a_spec_must_name_a_real_toolset() -> None:
    with pytest.raises(ValueError, match="unknown toolset 'issue'"):
        ToolSpec(read_tool, "Read", "issue")


def test_compact_schema_keeps_types_and_drops_noise() -> None:
    schema = {
        "type": "object",
        "title": "argsModel",
        "properties": {
            "key": {"title": "Key", "type": "string", "maxLength": 200, "description": "Issue key"},
            "names": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None},
            "count": {"type": "integer", "default": 20, "minimum": 1, "maximum": 100, "title": "Count"},
            "offset": {"type": "integer", "default": 5},
            "flag": {"type": "boolean", "default": False},
            "mode": {"anyOf": [{"type": "string"}, {"type": "integer"}], "title": "Mode"},
            "old": {"type": "integer"},
        },
        "required": ["key", "old"],
    }
    assert compact_schema(schema, frozenset({"old"})) == {
        "type": "object",
        "properties": {
            "key": {"type": "string", "description": "Issue key"},
            "names": {"type": "array", "items": {"type": "string"}},
            "count": {"type": "integer"},  # 20: the default the instructions state once
            "offset": {"type": "integer", "default": 5},  # not the stated one: published
            "flag": {"type": "boolean"},  # flags default to false, as the instructions say
            "mode": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["key"],
    }


def test_format_call_writes_json_values_and_leaves_out_none() -> None:
    assert format_call(read_tool, {"a": "x", "b": None, "c": ["日本"], "d": 2}) == 'read_tool(a="x", c=["日本"], d=2)'
