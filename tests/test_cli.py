from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backlog_mcp import __version__
from backlog_mcp.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd or os.environ["HOME"])}
    return subprocess.run(
        [sys.executable, "-m", "backlog_mcp", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_missing_key_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    result = run_cli(env={"BACKLOG_DOMAIN": "acme.backlog.com"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("backlog-mcp: BACKLOG_API_KEY is not set; create a key in Backlog")


def test_malformed_domain_exits_2(tmp_path: Path) -> None:
    result = run_cli(env={"BACKLOG_API_KEY": "k" * 20, "BACKLOG_DOMAIN": "ftp://x"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "backlog-mcp: BACKLOG_DOMAIN='ftp://x' is not a host name or http(s) URL; use e.g. "
        "BACKLOG_DOMAIN=yourspace.backlog.com or a full URL such as http://127.0.0.1:8123"
    ]


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"backlog-mcp {__version__}"


def test_clear_cache_reports_count_without_api_key(tmp_path: Path) -> None:
    import asyncio

    from backlog_mcp.cache import ResponseCache

    path = tmp_path / "c.sqlite3"

    async def fill() -> None:
        cache = await ResponseCache.open(path)
        for n in range(3):
            await cache.put(f"k{n}", scope="s", path="/p", body="{}", ttl=60, grace=0)
        await cache.close()

    asyncio.run(fill())
    result = run_cli("--clear-cache", "--cache-path", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Removed 3 cached entries from {path}\n"
    again = run_cli("--clear-cache", env={"BACKLOG_CACHE_PATH": str(path)}, cwd=tmp_path)
    assert again.stdout == f"Removed 0 cached entries from {path}\n"


@pytest.mark.slow
def test_wheel_contains_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("backlog_mcp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    sql = sorted(n for n in names if n.startswith("backlog_mcp/migrations/"))
    assert sql == sorted(f"backlog_mcp/migrations/{p.name}" for p in (ROOT / "migrations").glob("*.sql"))
    assert "backlog_mcp/fake/app.py" in names


def test_the_per_user_placeholder_key_is_not_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from backlog_mcp import cli

    handlers = list(logging.getLogger().handlers)
    monkeypatch.setenv("BACKLOG_HTTP_PER_USER_KEYS", "1")
    monkeypatch.setenv("BACKLOG_DOMAIN", "acme.backlog.com")
    monkeypatch.delenv("BACKLOG_API_KEY", raising=False)
    assert cli.main(["--no-cache"]) == 2  # per-user keys need HTTP: refused after logging was set up
    added = [h for h in logging.getLogger().handlers if h not in handlers]
    try:
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "ORBIT-12 on 2026-11-20", None, None)
        assert all(h.filter(record) for h in added)  # runs every filter on the handler
        assert record.getMessage() == "ORBIT-12 on 2026-11-20"
    finally:
        for handler in added:
            logging.getLogger().removeHandler(handler)


def test_every_spaces_key_is_redacted_from_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from backlog_mcp import cli

    handlers = list(logging.getLogger().handlers)
    spaces = {"BACKLOG_SPACES": "acme,client", "BACKLOG_SPACE_ACME_DOMAIN": "acme.backlog.com",
              "BACKLOG_SPACE_ACME_API_KEY": "acme-key-0123456789abcdef", "BACKLOG_SPACE_CLIENT_DOMAIN": "c.backlog.jp",
              "BACKLOG_SPACE_CLIENT_API_KEY": "client-key-0123456789abcdef"}  # fmt: skip
    for name, value in spaces.items():
        monkeypatch.setenv(name, value)
    # Refused after logging is set up (beyond loopback without a token): the filters are in place by then.
    assert cli.main(["--no-cache", "--transport", "http", "--host", "0.0.0.0"]) == 2
    added = [h for h in logging.getLogger().handlers if h not in handlers]
    try:
        record = logging.LogRecord(
            "x", logging.WARNING, __file__, 1, "GET ?apiKey=client-key-0123456789abcdef", None, None
        )
        assert all(h.filter(record) for h in added)
        assert "client-key-0123456789abcdef" not in record.getMessage()
    finally:
        for handler in added:
            logging.getLogger().removeHandler(handler)


def test_sign_in_serves_only_http_and_its_public_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from backlog_mcp import cli
    from backlog_mcp.config import settings_from_env
    from backlog_mcp.http import check_binding

    handlers = list(logging.getLogger().handlers)
    values = {"BACKLOG_DOMAIN": "acme.backlog.com", "BACKLOG_OAUTH_CLIENT_ID": "app",
              "BACKLOG_OAUTH_CLIENT_SECRET": "secret-xyz", "BACKLOG_PUBLIC_URL": "https://mcp.example.com"}  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BACKLOG_API_KEY", raising=False)
    try:
        assert cli.main(["--no-cache"]) == 2
    finally:
        for handler in [h for h in logging.getLogger().handlers if h not in handlers]:
            logging.getLogger().removeHandler(handler)
    assert (
        "BACKLOG_OAUTH_CLIENT_ID (sign-in for remote clients) works only with --transport http"
        in capsys.readouterr().err
    )
    settings = settings_from_env(values)
    hosts = cli.public_hosts(settings)
    assert hosts == ("mcp.example.com", "mcp.example.com:443")
    # Every address, no token: fine with sign-in (each user signs in), and the public name is an accepted Host.
    check_binding("0.0.0.0", 8000, None, hosts, (), oauth=True)
    with pytest.raises(ConfigError):
        check_binding("0.0.0.0", 8000, None, hosts, ())
