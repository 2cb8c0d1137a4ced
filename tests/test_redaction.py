"""The API key never reaches a log record, an error message, a cache key or a cache row."""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite
import httpx
import pytest
from mcp import Client

from backlog_mcp import logs
from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, build_space
from backlog_mcp.server import build_server
from tests.conftest import BASE_URL, FAST_RETRY, Capture
from tests.faulty_backlog import Faults, FaultyBacklog

pytestmark = pytest.mark.anyio


async def test_key_appears_in_no_log_error_or_cache_row(captured: Capture, tmp_path: Path) -> None:
    fake = FaultyBacklog(build_space(), faults=Faults(fail_next=[500, 500, 500, 503, 429]))
    cache_path = tmp_path / "cache.sqlite3"
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=cache_path)
    server = build_server(settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    texts: list[str] = []
    async with Client(server) as client:
        calls: list[tuple[str, dict[str, object]]] = [
            ("get_myself", {}),  # two concurrent GETs meet 5xx, 429: an error after retries
            ("get_myself", {}),
            ("get_myself", {}),  # the faults are spent: success
        ]
        for name, args in calls:
            result = await client.call_tool(name, args)
            texts.append(result.content[0].text)  # type: ignore[union-attr]
    wrong = Settings(api_key="wrong-key-" + DEFAULT_API_KEY, base_url=BASE_URL, cache_path=cache_path)
    async with Client(build_server(wrong, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)) as client:
        result = await client.call_tool("get_myself", {})
        assert result.is_error
        texts.append(result.content[0].text)  # type: ignore[union-attr]
    assert "Backlog rejected the API key (HTTP 401)" in texts[-1]
    assert texts[0].startswith("Backlog")
    assert "Hana Sato" in texts[2]
    assert fake.faults.fail_next == []
    assert len(captured.records) > 5  # the capture really saw the run
    for record in captured.records:
        rendered = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        assert DEFAULT_API_KEY not in rendered, record.name
    for text in texts:
        assert DEFAULT_API_KEY not in text
    async with aiosqlite.connect(cache_path) as db:
        rows = await db.execute_fetchall("SELECT * FROM responses")
    assert rows
    assert all(DEFAULT_API_KEY not in repr(tuple(row)) for row in rows)
    assert DEFAULT_API_KEY.encode() not in cache_path.read_bytes()


def test_redact_filter_scrubs_messages_and_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /x?apiKey=%s done", (DEFAULT_API_KEY,), None)
    logs.RedactFilter(DEFAULT_API_KEY).filter(record)
    assert record.getMessage() == "GET /x?apiKey=*** done"
