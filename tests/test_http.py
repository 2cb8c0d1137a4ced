"""Streamable HTTP: the same tools on loopback, Host/Origin checks, the bearer token, per-user keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from backlog_mcp.fake import DEFAULT_API_KEY, OTHER_API_KEY, FakeBacklog, build_space
from backlog_mcp.tools import TOOLS
from tests.conftest import text_of
from tests.faulty_backlog import serve_on_loopback

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None, log: Path) -> Iterator[str]:
    """`backlog-mcp --transport http` in a child process; yields the endpoint URL once it answers."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}
    with log.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "backlog_mcp", "--transport", "http", "--port", str(port), *args],
            env={**base, **(env or {})}, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise RuntimeError(log.read_text()) from None
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            child.terminate()
            child.wait(timeout=10)


@asynccontextmanager
async def connect(url: str, **headers: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def test_the_demo_over_http_serves_the_same_tools(tmp_path: Path) -> None:
    with serving("--demo", log=tmp_path / "err.log") as url:
        async with connect(url) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            assert names == [spec.name for spec in TOOLS]
            me = text_of(await client.call_tool("get_myself", {}))
            assert me.startswith("**Demo:**") and "Hana Sato" in me
            assert [p.name for p in (await client.list_prompts()).prompts][:1] == ["standup"]
        async with httpx.AsyncClient() as http:
            foreign = await http.post(url, json=LIST, headers={**JSON_HEADERS, "origin": "http://evil.example"})
            assert foreign.status_code == 403
            rebound = await http.post(url, json=LIST, headers={**JSON_HEADERS, "host": "evil.example"})
            assert rebound.status_code == 421
            stream = await http.get(url, headers={"accept": "text/event-stream"})
            assert stream.status_code == 405  # stateless: no stream to hold open


async def test_a_token_is_required_when_set(tmp_path: Path) -> None:
    with serving("--demo", env={"BACKLOG_HTTP_TOKEN": "s3cret-token-0123456789"}, log=tmp_path / "err.log") as url:
        async with httpx.AsyncClient() as http:
            bare = await http.post(url, json=LIST, headers=JSON_HEADERS)
            assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
            wrong = await http.post(url, json=LIST, headers={**JSON_HEADERS, "authorization": "Bearer nope"})
            assert wrong.status_code == 401
            # Health needs no token and says nothing but that the process is up.
            health = await http.get(url.replace("/mcp", "/healthz"))
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
        async with connect(url, authorization="bearer s3cret-token-0123456789") as client:
            assert len((await client.list_tools()).tools) == len(TOOLS)


def test_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BACKLOG_")}
    done = subprocess.run(
        [sys.executable, "-m", "backlog_mcp", "--demo", "--transport", "http", "--host", "0.0.0.0", "--port", "9"],
        capture_output=True, text=True, timeout=60, env=base, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--host 0.0.0.0 (or BACKLOG_HTTP_ALLOWED_HOSTS/ORIGINS) makes this server reachable" in done.stderr
    assert "BACKLOG_HTTP_TOKEN is not set" in done.stderr
    wildcard = subprocess.run(
        [sys.executable, "-m", "backlog_mcp", "--demo", "--transport", "http", "--host", "0.0.0.0", "--port", "9"],
        capture_output=True, text=True, timeout=60, env={**base, "BACKLOG_HTTP_TOKEN": "t" * 20}, check=False,
    )  # fmt: skip
    assert wildcard.returncode == 2 and "set BACKLOG_HTTP_ALLOWED_HOSTS to the names they use" in wildcard.stderr
    short = subprocess.run(
        [sys.executable, "-m", "backlog_mcp", "--demo", "--transport", "http", "--port", "9"],
        capture_output=True, text=True, timeout=60, env={**base, "BACKLOG_HTTP_TOKEN": "short"}, check=False,
    )  # fmt: skip
    assert short.returncode == 2 and "at least 16 printable ASCII characters" in short.stderr


async def test_two_users_keys_never_see_each_others_data(tmp_path: Path) -> None:
    fake = FakeBacklog(build_space())
    with serve_on_loopback(fake) as backlog:
        env = {
            "BACKLOG_DOMAIN": backlog,
            "BACKLOG_HTTP_PER_USER_KEYS": "1",
            "BACKLOG_CACHE_PATH": str(tmp_path / "shared.sqlite3"),
            "HOME": str(tmp_path),
        }
        with serving(env=env, log=tmp_path / "err.log") as url:
            async with connect(url, **{"x-backlog-api-key": DEFAULT_API_KEY}) as hana:
                me = text_of(await hana.call_tool("get_myself", {}))
                orbit = await hana.call_tool("get_issue_details", {"issue_key": "ORBIT-1"})  # cached now
                assert "Hana Sato" in me and not orbit.is_error
            async with connect(url, **{"x-backlog-api-key": OTHER_API_KEY}) as bob:
                me = text_of(await bob.call_tool("get_myself", {}))
                denied = await bob.call_tool("get_issue_details", {"issue_key": "ORBIT-1"})
                assert "Bob Chen" in me and "Hana" not in me
                assert denied.is_error and "Issue ORBIT-1 does not exist" in text_of(denied)  # not Hana's cached copy
            async with connect(url, **{"x-backlog-api-key": "fake-key-nobody-000000000000"}) as stranger:
                wrong = await stranger.call_tool("get_myself", {})
                assert wrong.is_error and "your X-Backlog-Api-Key header is wrong" in text_of(wrong)
            async with httpx.AsyncClient() as http:
                keyless = await http.post(url, json=LIST, headers=JSON_HEADERS)
                assert keyless.status_code == 401 and "X-Backlog-Api-Key" in keyless.text
    users = {r.user_id for r in fake.requests if r.path == "/users/myself"}  # the stranger got a 401
    assert users == {1073925001, 1073925008}
    log = (tmp_path / "err.log").read_text()
    assert DEFAULT_API_KEY not in log and OTHER_API_KEY not in log
