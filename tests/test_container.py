"""The container a team runs (issue 18): built where Docker runs, its shape checked everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_image_is_pinned_small_and_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base) for base in bases)  # pinned versions
    assert re.search(r"^USER backlog$", text, re.M) and "--uid 10001" in text
    assert "/healthz" in text and 'CMD ["--transport", "http"' in text
    assert "COPY migrations" in text  # the cache schema ships with the package


def test_compose_runs_the_server_on_valkey() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "image: valkey/valkey:" in text and "BACKLOG_STORE_URL: redis://valkey:6379/0" in text
    assert "condition: service_healthy" in text and "BACKLOG_HTTP_TOKEN: ${BACKLOG_HTTP_TOKEN:?" in text
    assert "BACKLOG_API_KEY" not in text  # each member brings their own key


def test_docker_build_succeeds_where_docker_runs() -> None:
    if shutil.which("docker") is None:
        pytest.skip("Docker is not installed here")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        pytest.skip("Docker is installed but no daemon runs here")
    base = re.findall(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M)[-1]
    present = subprocess.run(["docker", "image", "inspect", base], capture_output=True, timeout=30, check=False)
    if present.returncode != 0:
        pulled = subprocess.run(["docker", "pull", base], capture_output=True, timeout=300, check=False)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {base} cannot be pulled here (no registry access)")
    built = subprocess.run(
        ["docker", "build", "-q", "-t", "backlog-mcp:test", str(ROOT)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "backlog-mcp:test", "-u"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert user.stdout.strip() == "10001"


def _environment(path: Path, given: dict[str, str]) -> dict[str, str]:
    """The server's environment block of a compose file, with `${VAR:?…}` and `${VAR:-default}` filled from `given`."""
    block = (ROOT / path).read_text().split("  backlog-mcp:", 1)[1].split("    environment:", 1)[1]
    found: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        match = re.fullmatch(r"      (\w+): (.*?)(\s+#.*)?", line)
        if match is None:
            break
        value = match[2].strip('"')
        variable = re.fullmatch(r"\$\{(\w+):([?-])(.*)\}", value)
        if variable is not None:
            assert variable[1] in given or variable[2] == "-", f"{path}: {variable[1]} must be set"
            value = given.get(variable[1], variable[3])
        found[match[1]] = value
    return found


def test_the_oauth_override_yields_a_sign_in_deployment() -> None:
    from cryptography.fernet import Fernet

    from backlog_mcp.config import settings_from_env

    given = {"BACKLOG_DOMAIN": "acme.backlog.com", "BACKLOG_HTTP_TOKEN": "t" * 24, "BACKLOG_OAUTH_CLIENT_ID": "app",
             "BACKLOG_OAUTH_CLIENT_SECRET": "s3cret", "BACKLOG_PUBLIC_URL": "https://mcp.example.com",
             "BACKLOG_OAUTH_STATE_KEY": Fernet.generate_key().decode()}  # fmt: skip
    merged = {**_environment(Path("compose.yaml"), given), **_environment(Path("compose.oauth.yaml"), given)}
    settings = settings_from_env(merged)  # the two files together are a configuration the server accepts
    assert settings.oauth is not None and settings.store_url == "redis://valkey:6379/0"
    assert settings.oauth.state_key == given["BACKLOG_OAUTH_STATE_KEY"] and settings.api_key == "-"
    keys_only = settings_from_env(_environment(Path("compose.yaml"), given))
    assert keys_only.oauth is None and keys_only.per_user_keys
