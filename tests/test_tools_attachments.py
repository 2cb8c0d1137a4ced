"""get_attachment: images arrive as image content, text as fenced text, anything else described."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from inline_snapshot import snapshot
from mcp import Client
from mcp.types import ImageContent, TextContent

from backlog_mcp.config import Settings
from backlog_mcp.fake.files import file_bytes
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


async def test_a_screenshot_arrives_as_an_image_a_client_can_show(mcp: Client, fake: FaultyBacklog) -> None:
    result = await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "screenshot"})
    assert not result.is_error
    text, image = result.content
    assert isinstance(text, TextContent) and isinstance(image, ImageContent)
    assert image.mime_type == "image/png"
    assert base64.b64decode(image.data) == file_bytes("screenshot.png", 182_044)  # every byte, as Backlog sent it
    assert text.text.startswith("screenshot.png (id 66121) on ORBIT-1: 178 KB, attached by 伊藤 健二")
    assert [r.path for r in fake.requests if "/attachments/" in r.path] == ["/issues/ORBIT-1/attachments/66121"]


async def test_the_attachments_of_an_issue_are_listed_without_a_name(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_attachment", {"issue_key": "orbit-1"}))
    assert text == snapshot("""\
ORBIT-1: 2 attachments. Open one by its name or id.

- stacktrace.txt (id 66120) · 4.7 KB · 伊藤 健二, 2026-10-31
- screenshot.png (id 66121) · 178 KB · 伊藤 健二, 2026-10-31\
""")


async def test_a_log_is_text_fenced_and_clipped_to_the_budget(mcp: Client) -> None:
    text = text_of(
        await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "66120", "max_tokens": 1000})
    )
    head, body, note = text.split("\n\n")
    assert head == "stacktrace.txt (id 66120, 4.7 KB) on ORBIT-1:"
    assert body.startswith(">```\n># stacktrace.txt\n>2026-11-18 09:12:03.114 E/AndroidRuntime: FATAL EXCEPTION")
    assert body.endswith("\n>```")
    assert note == "_Only the start of the file is shown; it is 4.7 KB in all._"
    whole = text_of(await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "stacktrace.txt"}))
    assert "Only the start" not in whole and whole.count("D/Trace: frame") > body.count("D/Trace: frame")


async def test_a_binary_file_is_described_with_where_to_open_it(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_attachment", {"page_id": 3300002, "attachment": "runbook"}))
    assert text == snapshot(
        "runbook.pdf (id 68021) on wiki page Deployment: 50 KB, attached by 伊藤 健二 on 2026-06-24 18:00 (Asia/Tokyo). It is neither an image nor text. Open it in Backlog: https://acme.backlog.com/alias/wiki/3300002"
    )


async def test_a_pull_request_attachment_by_repository_and_number(mcp: Client) -> None:
    text = text_of(
        await mcp.call_tool(
            "get_attachment",
            {"project_key": "ORBIT", "repository": "android", "number": 1, "attachment": "build.log"},
        )
    )
    assert text.startswith("build.log (id 69410, 2.3 KB) on pull request ORBIT/orbit-android#1:\n\n>```\n")


async def test_unknown_names_and_owners_say_what_is_valid(mcp: Client, fake: FaultyBacklog) -> None:
    wrong = await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "screenshot.jpg"})
    assert wrong.is_error and text_of(wrong) == snapshot(
        'Unknown attachment "screenshot.jpg" in ORBIT-1. Valid values, closest first: "screenshot.png", "stacktrace.txt".'
    )
    fake.requests.clear()
    both = await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-1", "page_id": 3300002})
    assert both.is_error and "Name one owner" in text_of(both)
    none = await mcp.call_tool("get_attachment", {"attachment": "x"})
    assert none.is_error and "Name one owner" in text_of(none)
    assert fake.requests == []
    bare = await mcp.call_tool("get_attachment", {"issue_key": "ORBIT-2", "attachment": "x"})
    assert bare.is_error and text_of(bare) == "ORBIT-2 has no attachments."


@pytest.fixture
async def capped(fake: FaultyBacklog, settings: Settings) -> AsyncIterator[Client]:
    small = dataclasses.replace(settings, attachment_cap=4096)
    server = build_server(small, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    async with Client(server, raise_exceptions=True) as client:
        yield client


async def test_files_over_the_cap_are_described_or_shown_in_part(capped: Client, fake: FaultyBacklog) -> None:
    image = await capped.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "screenshot.png"})
    assert [c.type for c in image.content] == ["text"]
    assert "bigger than this server's download cap (4.0 KB, BACKLOG_ATTACHMENT_MAX_BYTES)" in text_of(image)
    assert not any("/attachments/" in r.path for r in fake.requests)  # its size said enough: nothing downloaded
    log = text_of(await capped.call_tool("get_attachment", {"issue_key": "ORBIT-1", "attachment": "stacktrace.txt"}))
    assert log.endswith("_Only the start of the file is shown; it is 4.7 KB in all._")


async def test_a_download_stops_at_the_cap(fake: FaultyBacklog, settings: Settings, tmp_path: Path) -> None:
    from backlog_mcp.client import BacklogClient

    client = BacklogClient(dataclasses.replace(settings, attachment_cap=1024), transport=httpx.ASGITransport(app=fake))
    try:
        got = await client.download("/issues/ORBIT-1/attachments/66121")
    finally:
        await client.aclose()
    assert len(got.body) == 1024 and not got.complete and got.content_type == "image/png"
    assert got.body == file_bytes("screenshot.png", 182_044)[:1024]


async def test_a_key_straddling_the_cap_is_blanked_whole(
    fake: FaultyBacklog, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backlog_mcp.client import BacklogClient
    from backlog_mcp.fake import files as fake_files

    body = ("x" * 1014 + settings.api_key + "y" * 200).encode()
    monkeypatch.setattr(fake_files, "file_bytes", lambda name, size: body)
    client = BacklogClient(dataclasses.replace(settings, attachment_cap=1024), transport=httpx.ASGITransport(app=fake))
    try:
        got = await client.download("/issues/ORBIT-1/attachments/66120")
    finally:
        await client.aclose()
    assert got.body == b"x" * 1014 + b"*" * 10 and settings.api_key[:4].encode() not in got.body


async def test_a_document_attachment_is_an_image_too(mcp: Client, fake: FaultyBacklog) -> None:
    architecture = next(
        d for d in fake.space.documents.values() if d["title"] == "Architecture" and d["projectId"] == 104
    )
    listed = text_of(await mcp.call_tool("get_attachment", {"document_id": architecture["id"]}))
    assert listed.startswith("document Architecture: 1 attachment.") and "overview.png" in listed
    result = await mcp.call_tool(
        "get_attachment", {"document_id": architecture["id"].upper(), "attachment": "overview"}
    )
    assert [block.type for block in result.content] == ["text", "image"]
    assert isinstance(result.content[1], ImageContent)
    assert base64.b64decode(result.content[1].data) == file_bytes("overview.png", 12_288)
    bad = await mcp.call_tool("get_attachment", {"document_id": "nope"})
    assert bad.is_error and "is not a document id" in text_of(bad)
