"""The sdist and wheel build, install into a fresh virtualenv, and answer --version, --help and a demo tools/list."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from backlog_mcp import __version__
from backlog_mcp.tools import TOOLS

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*args: str | Path, timeout: int = 600) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_build_install_and_run_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", dist, ROOT)
    wheel = next(dist.glob("backlog_mcp-*.whl"))
    sdist = next(dist.glob("backlog_mcp-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("migrations/0001_responses.sql") for n in names)
    assert any(n.endswith("backlog_mcp/fake/dataset.py") for n in names)
    with zipfile.ZipFile(wheel) as archive:
        assert "backlog_mcp/migrations/0001_responses.sql" in archive.namelist()

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    assert run(env_dir / "bin" / "backlog-mcp", "--version").strip() == f"backlog-mcp {__version__}"
    assert "--demo" in run(env_dir / "bin" / "backlog-mcp", "--help")
    script = textwrap.dedent(
        """
        import asyncio, sys
        from mcp import Client, StdioServerParameters
        async def main():
            server = StdioServerParameters(command=sys.argv[1], args=["--demo"])
            async with Client(server) as client:
                tools = (await client.list_tools()).tools
                me = await client.call_tool("get_myself", {})
                assert "Demo" in me.content[0].text, me
                print(len(tools))
        asyncio.run(main())
        """
    )
    listed = run(python, "-c", script, env_dir / "bin" / "backlog-mcp", timeout=120)
    assert listed.strip() == str(len(TOOLS))
