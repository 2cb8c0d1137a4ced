from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from backlog_mcp import logs
from backlog_mcp.client import RetryPolicy
from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.fake.dataset import Space
from backlog_mcp.server import build_server
from tests.faulty_backlog import FaultyBacklog
from tests.store_server import StoreServer, server_binary

BASE_URL = "https://acme.backlog.com"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005, max_rate_wait=0.5)

_SPACE_CACHE: dict[str, Space] = {}


@pytest.fixture(scope="session", autouse=True)
def away_from_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test touches the user's home: the cache and audit log default there, for this process and its children."""
    home = tmp_path_factory.mktemp("home")
    saved = {name: os.environ.get(name) for name in ("HOME", "XDG_CACHE_HOME", "BACKLOG_AUDIT_LOG")}
    os.environ.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    os.environ.pop("BACKLOG_AUDIT_LOG", None)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreServer]:
    binary = server_binary()
    if binary is None:
        pytest.skip("no valkey-server or redis-server on this machine (.ci/run installs redis-server with apt)")
    server = StoreServer(binary, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FaultyBacklog:
    """The faithful fake, with fault knobs (all off) for the tests that turn one on."""
    return FaultyBacklog(build_space(), base_url=BASE_URL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(api_key=DEFAULT_API_KEY, base_url=BASE_URL, cache_path=tmp_path / "cache" / "cache.sqlite3")


@pytest.fixture
async def mcp(fake: FaultyBacklog, settings: Settings) -> AsyncIterator[Client]:
    # The sample data's today: overdue marks must not change with the day the tests run.
    server = build_server(
        settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server, raise_exceptions=True) as client:
        yield client


def text_of(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    assert len(content) == 1
    return str(content[0].text)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = logs.configure(2)  # as `backlog-mcp -vv` does: DEBUG everywhere we allow it
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)


_COMMENT_HEAD = re.compile(r"^(?:\d{4}-)?(?:\d\d-\d\d )?\d\d:\d\d \S.*$", re.M)


def comment_heads(text: str) -> list[str]:
    """The head line of each comment in a rendered thread (`[YYYY-][MM-DD ]HH:MM Name[ · changes]`)."""
    return _COMMENT_HEAD.findall(text)
