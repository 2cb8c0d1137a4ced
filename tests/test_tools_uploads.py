"""upload_attachment: only files under BACKLOG_UPLOAD_ROOTS, checked before any request; Backlog's two steps."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import ConfigError, Settings, settings_from_env
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(b"%PDF-1.7 " + b"x" * 2000)
    (tmp_path / "secret.txt").write_text("outside")
    return folder


@pytest.fixture
async def uploader(fake: FaultyBacklog, settings: Settings, roots: Path, tmp_path: Path) -> AsyncIterator[Client]:
    allowed = dataclasses.replace(
        settings, upload_roots=(roots.resolve(),), upload_cap=4096, audit_path=tmp_path / "audit.jsonl"
    )
    server = build_server(allowed, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        yield client


def writes(fake: FaultyBacklog) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


async def test_a_file_is_uploaded_then_attached(uploader: Client, fake: FaultyBacklog, roots: Path) -> None:
    args = {"issue_key": "ORBIT-7", "path": str(roots / "report.pdf")}
    preview = text_of(await uploader.call_tool("upload_attachment", {**args, "dry_run": True}))
    assert "- File: report.pdf\n- Size: 2.0 KB\n- Type: application/pdf" in preview and writes(fake) == []
    done = text_of(await uploader.call_tool("upload_attachment", args))
    assert done.startswith("Attached to ORBIT-7:")
    assert writes(fake) == ["POST /space/attachment", "PATCH /issues/ORBIT-7"]
    upload = next(r for r in fake.requests if r.path == "/space/attachment")
    assert upload.files == [("file", "report.pdf", (roots / "report.pdf").read_bytes())]
    issue = text_of(await uploader.call_tool("get_issue_details", {"issue_key": "ORBIT-7"}))
    assert "report.pdf (2.0 KB)" in issue  # the cached issue was dropped


async def test_with_a_comment_the_file_rides_on_the_comment(uploader: Client, fake: FaultyBacklog) -> None:
    args = {"issue_key": "ORBIT-7", "path": "report.pdf", "comment": "The **report**."}  # relative: in the folder
    assert not (await uploader.call_tool("upload_attachment", args)).is_error
    assert writes(fake) == ["POST /space/attachment", "POST /issues/ORBIT-7/comments"]
    thread = text_of(await uploader.call_tool("get_issue_comments", {"issue_key": "ORBIT-7", "count": 1}))
    assert "Attached report.pdf" in thread and "The **report**." in thread


@pytest.mark.parametrize("escape", ["../secret.txt", "{tmp}/secret.txt", "link", "big.bin", "fifo", "."])
async def test_anything_but_a_small_regular_file_in_the_folders_is_refused_before_any_request(
    uploader: Client, fake: FaultyBacklog, roots: Path, tmp_path: Path, escape: str
) -> None:
    (roots / "link").symlink_to(tmp_path / "secret.txt")
    (roots / "big.bin").write_bytes(b"0" * 5000)
    os.mkfifo(roots / "fifo")
    path = escape.replace("{tmp}", str(tmp_path))
    result = await uploader.call_tool("upload_attachment", {"issue_key": "ORBIT-7", "path": path, "dry_run": True})
    assert result.is_error, path
    said = text_of(result)
    assert any(why in said for why in ("outside the folders", "capped at", "not a regular file")), said
    assert writes(fake) == []
    line = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (line["tool"], line["outcome"]) == ("upload_attachment", "refused")


async def test_without_roots_uploads_are_off(mcp: Client, fake: FaultyBacklog) -> None:
    result = await mcp.call_tool("upload_attachment", {"issue_key": "ORBIT-7", "path": "/etc/hostname"})
    assert result.is_error and "BACKLOG_UPLOAD_ROOTS" in text_of(result) and writes(fake) == []


def test_roots_must_be_absolute_folders(tmp_path: Path) -> None:
    env = {"BACKLOG_API_KEY": "k" * 20, "BACKLOG_DOMAIN": "acme.backlog.com"}
    assert settings_from_env({**env, "BACKLOG_UPLOAD_ROOTS": f"{tmp_path}:{tmp_path}"}).upload_roots == (
        tmp_path.resolve(),
        tmp_path.resolve(),
    )
    for bad in ("relative/dir", str(tmp_path / "missing")):
        with pytest.raises(ConfigError, match="BACKLOG_UPLOAD_ROOTS"):
            settings_from_env({**env, "BACKLOG_UPLOAD_ROOTS": bad})


async def test_hard_links_secrets_and_nul_are_refused(
    uploader: Client, fake: FaultyBacklog, roots: Path, tmp_path: Path
) -> None:
    os.link(tmp_path / "secret.txt", roots / "linked.txt")  # a hard link names the outside file's bytes
    (roots / ".env").write_text("BACKLOG_API_KEY=secret")
    for path, why in (("linked.txt", "hard links"), (".env", "outside the folders"), ("a\x00b", "NUL")):
        result = await uploader.call_tool("upload_attachment", {"issue_key": "ORBIT-7", "path": path})
        assert result.is_error and why in text_of(result), (path, text_of(result))
    assert fake.requests == []  # refused before any request, not only before any write


async def test_the_audit_line_names_the_file_that_left(uploader: Client, tmp_path: Path) -> None:
    assert not (await uploader.call_tool("upload_attachment", {"issue_key": "ORBIT-7", "path": "report.pdf"})).is_error
    line = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert (line["outcome"], line["object"]) == ("done", "ORBIT-7 file report.pdf (2009 bytes)")


async def test_progress_is_reported_when_the_client_asks(uploader: Client, roots: Path, mcp: Client) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def heard(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    args = {"issue_key": "ORBIT-7", "path": str(roots / "report.pdf")}
    assert not (await uploader.call_tool("upload_attachment", args, progress_callback=heard)).is_error
    assert seen == [
        (0, 2, "uploading report.pdf"),
        (1, 2, "attaching report.pdf to ORBIT-7"),
        (2, 2, "attached report.pdf to ORBIT-7"),
    ]
    seen.clear()  # a long activity scan says how far it got, page by page
    scan = {"project_key": "ORBIT", "user": "田中 美咲", "since": "2026-01-01"}
    assert not (await mcp.call_tool("get_activity", scan, progress_callback=heard)).is_error
    assert len(seen) >= 2 and [p for p, *_ in seen] == sorted({p for p, *_ in seen})
    assert all(total == 5 and message and message.startswith("read ") for _p, total, message in seen)
