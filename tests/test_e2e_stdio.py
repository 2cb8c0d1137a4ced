"""End to end: `backlog-mcp` spawned over stdio against the fake Backlog on a real loopback socket."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space
from backlog_mcp.tools import TOOLS
from tests.conftest import text_of
from tests.faulty_backlog import serve_on_loopback

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def loopback() -> Iterator[tuple[FakeBacklog, str]]:
    fake = FakeBacklog(build_space())
    with serve_on_loopback(fake) as url:
        yield fake, url


def params(url: str, cache: Path, *extra: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "backlog_mcp", "-vv", *extra],
        env={
            "BACKLOG_API_KEY": DEFAULT_API_KEY,
            "BACKLOG_DOMAIN": url,
            "BACKLOG_CACHE_PATH": str(cache),
            "BACKLOG_AUDIT_LOG": str(cache.parent / "audit.jsonl"),
            **env,
        },
    )


async def test_stdio_lists_tools_calls_caches_and_clears(loopback: tuple[FakeBacklog, str], tmp_path: Path) -> None:
    fake, url = loopback
    cache = tmp_path / "cache.sqlite3"
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as err:
        async with (
            stdio_client(params(url, cache), errlog=err) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            tools = await client.list_tools()
            assert [t.name for t in tools.tools] == [spec.name for spec in TOOLS]
            # At start the server asks what nearly every first call needs, once, before any call.
            for _ in range(200):
                if len(fake.requests) >= 3:
                    break
                await anyio.sleep(0.02)
            assert sorted(r.path.removeprefix("/api/v2") for r in fake.requests) == [
                "/projects", "/space", "/users/myself",
            ]  # fmt: skip
            sent = len(fake.requests)
            first = await client.call_tool("get_myself", {})
            assert not first.is_error
            assert "as **Hana Sato** (login hana.sato," in text_of(first)
            assert len(fake.requests) == sent  # both of its requests were asked at start
            second = await client.call_tool("get_myself", {})
            assert text_of(second) == text_of(first)
            assert len(fake.requests) == sent  # served from the cache: zero requests

            cleared = subprocess.run(
                [sys.executable, "-m", "backlog_mcp", "--clear-cache", "--cache-path", str(cache)],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            assert cleared.stdout.startswith("Removed 3 cached entries")
            third = await client.call_tool("get_myself", {})
            assert text_of(third) == text_of(first)
            assert len(fake.requests) == sent + 2  # the cache was emptied under the running server
    assert DEFAULT_API_KEY not in errlog.read_text()


async def test_stdio_issue_tools(loopback: tuple[FakeBacklog, str], tmp_path: Path) -> None:
    fake, url = loopback
    with (tmp_path / "stderr.log").open("w") as err:
        async with (
            stdio_client(params(url, tmp_path / "c.sqlite3"), errlog=err) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            details = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1", "timezone": "Asia/Tokyo"})
            assert not details.is_error
            text = text_of(details)
            assert text.startswith("# ORBIT-1 地図画面を回転するとクラッシュする\nBug · In Progress")
            assert "## Comments (30)" in text
            listing = await client.call_tool("get_user_issue_list", {"projects": ["NOVA"], "statuses": ["Open"]})
            assert not listing.is_error
            assert text_of(listing).startswith("Issues assigned to Hana Sato, in NOVA, status Open")
            bad = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1?x=1"})
            assert bad.is_error
            assert "is not an issue key" in text_of(bad)
    assert not any("?" in r.path or "x=1" in r.path for r in fake.requests)


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--read-only", "--toolsets", "issues", "--tools", "get_myself", "--projects", "ORBIT"], {}),
        (
            [],
            {
                "BACKLOG_READ_ONLY": "1",
                "BACKLOG_TOOLSETS": "issues",
                "BACKLOG_TOOLS": "get_myself",
                "BACKLOG_PROJECTS": "ORBIT",
            },
        ),
    ],
    ids=["flags", "env"],
)
async def test_stdio_access_controls_from_flags_and_env(
    loopback: tuple[FakeBacklog, str], tmp_path: Path, flags: list[str], env: dict[str, str]
) -> None:
    fake, url = loopback
    with (tmp_path / "stderr.log").open("w") as err:
        async with (
            stdio_client(params(url, tmp_path / "c.sqlite3", *flags, **env), errlog=err) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            names = [t.name for t in (await client.list_tools()).tools]
            assert names == [
                "get_myself",
                "get_issue_details",
                "get_issue_comments",
                "get_my_issues",
                "get_user_issue_list",
                "get_attachment",
            ]
            refused = await client.call_tool("add_issue_comment", {"issue_key": "ORBIT-1", "content": "hi"})
            assert refused.is_error and "read-only" in text_of(refused)
            denied = await client.call_tool("get_issue_details", {"issue_key": "NOVA-1"})
            assert denied.is_error and "Issue NOVA-1 does not exist" in text_of(denied)
    assert all(r.method == "GET" for r in fake.requests)
    assert not any("NOVA" in r.path for r in fake.requests)


def test_unknown_toolset_or_tool_exits_2_with_the_valid_names(tmp_path: Path) -> None:
    env = {"BACKLOG_API_KEY": DEFAULT_API_KEY, "BACKLOG_DOMAIN": "http://127.0.0.1:9", "HOME": str(tmp_path)}
    for extra, expected in (
        (["--toolsets", "issue"], "valid toolsets: space, projects, issues, wiki, documents, git, notifications"),
        (
            ["--tools", "get_issue"],
            "valid tools: add_document, add_issue_comment, add_pull_request_comment, create_issue",
        ),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "backlog_mcp", "--no-cache", *extra],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and done.stdout == ""
