"""Property tests: whatever the model sends, every call ends in a result or a clear ToolError.

Arbitrary strings, numbers and unicode go to every parameter of every tool; path tricks in keys
must be rejected before any URL is built (the fake must never see them).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog, build_space
from backlog_mcp.server import build_server
from backlog_mcp.tools.failures import INTERNAL_ERROR
from tests.conftest import BASE_URL, FAST_RETRY

FAKE = FakeBacklog(build_space(issues_per_project=40, long_thread_comments=30), base_url=BASE_URL)
SERVER = build_server(
    Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=None),
    transport=httpx.ASGITransport(app=FAKE),
    retry=FAST_RETRY,
    now=lambda: REFERENCE_NOW,
)
KNOWN_PATHS = (
    "/space", "/users/myself", "/users", "/projects", "/priorities", "/issues", "/issues/count", "/notifications",
    "/wikis", "/documents",
)  # fmt: skip

scalars = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(list("../?#%2F \\\x00ORBIT-1日本🙂")), max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))


def tool_schemas() -> dict[str, dict[str, Any]]:
    async def fetch() -> dict[str, dict[str, Any]]:
        async with Client(SERVER) as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    return anyio.run(fetch)


SCHEMAS = tool_schemas()


def call(name: str, args: dict[str, Any]) -> tuple[bool, str]:
    async def run() -> tuple[bool, str]:
        async with Client(SERVER) as client:
            with anyio.fail_after(20):
                result = await client.call_tool(name, args)
        return bool(result.is_error), result.content[0].text  # type: ignore[union-attr]

    return anyio.run(run)


def check(name: str, args: dict[str, Any]) -> None:
    FAKE.requests.clear()  # one failing example must not leave its requests to the next
    is_error, text = call(name, args)
    if is_error:
        # A clean error is our own sentence: neither the SDK's wrapper nor our internal-error answer.
        assert not text.startswith("Error executing tool"), text
        assert text != INTERNAL_ERROR, f"unexpected exception for {json.dumps(args, default=str)[:200]}"
    assert "Traceback" not in text
    for request in FAKE.requests:
        assert request.path.startswith(KNOWN_PATHS) or request.path.startswith(("/issues/", "/projects/")), request
        segments = request.path.split("/")
        assert ".." not in segments and "" not in segments[1:], request.path
    FAKE.requests.clear()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_arguments_end_in_result_or_tool_error(name: str, data: st.DataObject) -> None:
    properties = SCHEMAS[name].get("properties", {})
    chosen = data.draw(st.sets(st.sampled_from(sorted(properties))) if properties else st.just(set()))
    args = {key: data.draw(values, label=key) for key in sorted(chosen)}
    check(name, args)


@given(key=st.text(max_size=30))
@settings(max_examples=150, deadline=None)
def test_issue_keys_never_reach_a_url_unless_valid(key: str) -> None:
    is_error, text = call("get_issue_details", {"issue_key": key, "include_comments": False})
    stripped = key.strip()
    valid = stripped.isdigit() or bool(re.match(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,9}$", stripped.upper()))
    if not valid:
        assert is_error and "is not an issue key" in text
        assert FAKE.requests == []
    FAKE.requests.clear()


@pytest.mark.parametrize(
    "key", ["../users/myself", "ORBIT-1/../../space", "ORBIT-1?apiKey=x", "ORBIT-1#x", "ORBIT%2F1", "ORBIT 1", " ", ""]
)
def test_path_tricks_are_rejected_before_a_request(key: str) -> None:
    FAKE.requests.clear()
    is_error, text = call("get_issue_details", {"issue_key": key})
    assert is_error and "is not an issue key" in text
    assert FAKE.requests == []


def typed(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the schema's own type (so they pass validation and reach the tool's code)."""
    options = schema.get("anyOf", [schema])
    strategies: list[st.SearchStrategy[Any]] = []
    for option in options:
        kind = option.get("type")
        if kind == "string":
            choices = option.get("enum")
            strategies.append(
                st.sampled_from(choices)
                if choices
                else st.one_of(
                    st.text(max_size=30), st.sampled_from(["Open", "me", "ORBIT", "2026-02-30", "Asia/Tokyo", "anyone"])
                )
            )
        elif kind == "integer":
            low, high = option.get("minimum", -(2**40)), option.get("maximum", 2**40)
            strategies.append(st.integers(min_value=low, max_value=high))
        elif kind == "boolean":
            strategies.append(st.booleans())
        elif kind == "array":
            strategies.append(st.lists(typed(option.get("items", {"type": "string"})), max_size=3))
        elif kind == "null":
            strategies.append(st.none())
    return st.one_of(strategies) if strategies else st.none()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_well_typed_arguments_end_in_result_or_tool_error(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    optional = data.draw(
        st.sets(st.sampled_from(sorted(set(properties) - required))) if set(properties) - required else st.just(set())
    )
    args = {key: data.draw(typed(properties[key]), label=key) for key in sorted(required | optional)}
    is_error, text = call(name, args)
    assert not text.startswith("Input validation error"), (args, text)
    if is_error:
        assert text.strip() and not text.startswith("Error executing tool") and text != INTERNAL_ERROR, text
    for request in FAKE.requests:
        assert ".." not in request.path.split("/"), request.path
    FAKE.requests.clear()
