"""Operating the HTTP server (issue 18): health, readiness and Prometheus metrics, in a child process."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from backlog_mcp import logs
from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space
from tests.conftest import text_of
from tests.faulty_backlog import serve_on_loopback
from tests.test_http import JSON_HEADERS, LIST, connect, free_port, serving

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TOKEN = "operate-token-0123456789"


async def test_ready_and_metrics_when_backlog_answers(tmp_path: Path) -> None:
    fake = FakeBacklog(build_space())
    with serve_on_loopback(fake) as backlog:
        env = {
            "BACKLOG_DOMAIN": backlog,
            "BACKLOG_API_KEY": DEFAULT_API_KEY,
            "BACKLOG_HTTP_TOKEN": TOKEN,
            "BACKLOG_CACHE_PATH": str(tmp_path / "c.sqlite3"),
            "HOME": str(tmp_path),
        }
        with serving(env=env, log=tmp_path / "err.log") as url:
            base = url.removesuffix("/mcp")
            async with httpx.AsyncClient() as http:
                ready = await http.get(base + "/readyz")
                assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
                assert (await http.get(base + "/metrics")).status_code == 401  # behind the token
            async with connect(url, authorization=f"Bearer {TOKEN}") as client:
                assert "Hana Sato" in text_of(await client.call_tool("get_myself", {}))
                assert (await client.call_tool("get_issue_details", {"issue_key": "NOPE-1"})).is_error
                await client.call_tool("get_myself", {})  # from the cache now
            async with httpx.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}) as http:
                metrics = await http.get(base + "/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'backlog_mcp_tool_calls_total{outcome="ok",tool="get_myself"} 2.0' in text
    assert 'backlog_mcp_tool_calls_total{outcome="error",tool="get_issue_details"} 1.0' in text
    assert 'backlog_mcp_tool_seconds_count{tool="get_myself"} 2.0' in text
    assert 'backlog_mcp_backlog_requests_total{bucket="read",method="GET",status="200"}' in text
    assert 'backlog_mcp_cache_lookups_total{result="hit"}' in text
    assert 'backlog_mcp_rate_remaining{bucket="read"}' in text
    assert DEFAULT_API_KEY not in text and "Hana" not in text


async def test_not_ready_while_backlog_is_unreachable(tmp_path: Path) -> None:
    env = {
        "BACKLOG_DOMAIN": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "BACKLOG_API_KEY": DEFAULT_API_KEY,
        "BACKLOG_HTTP_TOKEN": TOKEN,
        "BACKLOG_CACHE_PATH": str(tmp_path / "c.sqlite3"),
        "BACKLOG_TIMEOUT": "2",
        "BACKLOG_LOG_FORMAT": "json",
        "HOME": str(tmp_path),
    }
    with serving(env=env, log=tmp_path / "err.log") as url:
        base = url.removesuffix("/mcp")
        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(base + "/healthz")
            ready = await http.get(base + "/readyz")
            again = await http.get(base + "/readyz")  # within 10 s: the answer is reused, Backlog not asked
            mcp = await http.post(url, json=LIST, headers=JSON_HEADERS)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (503, {"status": "not ready"})  # nothing about why
    assert mcp.status_code == 401
    lines = [json.loads(line) for line in (tmp_path / "err.log").read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])  # every line is one JSON object
    assert again.status_code == 503
    assert [line["message"] for line in lines].count("not ready: Backlog does not answer (TransportError)") == 1


def test_json_lines_carry_the_call_and_never_the_key() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JSONLines())
    handler.addFilter(logs.RedactFilter(DEFAULT_API_KEY))
    log = logging.getLogger("backlog_mcp.test_operate")
    log.addHandler(handler)
    try:
        log.warning("outside any call")
        with logs.tool_call("get_issue_details"):
            log.warning("GET /issues?apiKey=%s failed\nsecond line", DEFAULT_API_KEY)
        with logs.tool_call("get_myself"):
            log.warning("another call")
    finally:
        log.removeHandler(handler)
    first, inside, other = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "request_id" not in first and first["level"] == "WARNING" and first["time"].endswith("+00:00")
    assert inside["tool"] == "get_issue_details" and len(inside["request_id"]) == 12
    assert inside["message"] == "GET /issues?apiKey=*** failed\\x0asecond line"  # one line, key scrubbed
    assert other["request_id"] != inside["request_id"] and other["tool"] == "get_myself"
