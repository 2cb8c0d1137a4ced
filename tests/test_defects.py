"""Regressions for the defects found trying the server as a new user would and under attack (one test each)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


def connect(fake: FaultyBacklog, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Client:
    server = build_server(
        settings, transport=transport or httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    return Client(server)


@pytest.fixture
async def tools(fake: FaultyBacklog, settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    audited = dataclasses.replace(settings, audit_path=tmp_path / "audit" / "audit.jsonl")
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


# -- 1. clearing list fields, and answers from what Backlog returned ------------------------------------


async def test_clearing_milestones_and_categories_clears_them(tools: Client, fake: FaultyBacklog) -> None:
    issue = fake.space.issue_by_key("ORBIT-1")
    assert issue is not None and issue["milestone"] and issue["category"]
    said = await ok(tools, "update_issue", issue_key="ORBIT-1", clear=["milestones", "categories", "versions"])
    assert issue["milestone"] == [] and issue["category"] == [] and issue["versions"] == []
    assert "- Milestone: Sprint 14 → (none)" in said
    assert "did not save" not in said
    sent = [r for r in fake.requests if r.method == "PATCH"][-1]
    assert ("milestoneId[]", "") in sent.form and not any(k.endswith("[][]") for k, _ in sent.form)


class DropsField(httpx.AsyncBaseTransport):
    """Passes requests to the fake with one form field removed: a Backlog that ignores it."""

    def __init__(self, fake: FaultyBacklog, field: str) -> None:
        self.inner, self.field = httpx.ASGITransport(app=fake), field

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            form = [(k, v) for k, v in parse_qsl(request.content.decode(), keep_blank_values=True) if k != self.field]
            body = urlencode(form).encode()
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request(request.method, request.url, headers=headers, content=body)
        return await self.inner.handle_async_request(request)


async def test_a_write_answers_what_backlog_saved_not_the_plan(fake: FaultyBacklog, settings: Settings) -> None:
    async with connect(fake, settings, DropsField(fake, "milestoneId[]")) as client:
        said = await ok(client, "update_issue", issue_key="ORBIT-1", clear=["milestones"], summary="Renamed")
    assert "- Milestone: Sprint 14 → Sprint 14" in said
    assert "**Backlog did not save Milestone as asked**" in said
    assert "- Summary: " in said and "→ Renamed" in said
