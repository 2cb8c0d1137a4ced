from __future__ import annotations

from pathlib import Path

import pytest

from backlog_mcp.config import (
    ConfigError,
    load_settings,
    normalise_domain,
    read_environment,
    settings_from_env,
)

KEY = "abcdefghijklmnopqrstuvwxyz0123456789"


def env(**values: str) -> dict[str, str]:
    return {"BACKLOG_API_KEY": KEY, "BACKLOG_DOMAIN": "acme.backlog.com", "HOME": "/home/u", **values}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("space.backlog.com", "https://space.backlog.com"),
        ("https://space.backlog.jp", "https://space.backlog.jp"),
        ("https://space.backlog.jp/", "https://space.backlog.jp"),
        ("SPACE.backlogtool.com", "https://space.backlogtool.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("https://space.backlog.com/api/v2/", "https://space.backlog.com"),
        ("  https://backlog.example.org/tracker/ ", "https://backlog.example.org/tracker"),
    ],
)
def test_domain_is_normalised_to_one_base_url(raw: str, expected: str) -> None:
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"BACKLOG_API_KEY": ""},
            "BACKLOG_API_KEY is not set; create a key in Backlog under Personal Settings",
        ),
        ({"BACKLOG_API_KEY": "abc def"}, "BACKLOG_API_KEY contains spaces or non-ASCII characters"),
        ({"BACKLOG_DOMAIN": ""}, "BACKLOG_DOMAIN is empty; use e.g. BACKLOG_DOMAIN=yourspace.backlog.com"),
        (
            {"BACKLOG_DOMAIN": "ftp://x.backlog.com"},
            "BACKLOG_DOMAIN='ftp://x.backlog.com' is not a host name",
        ),
        ({"BACKLOG_DOMAIN": "my space"}, "BACKLOG_DOMAIN='my space' contains spaces or control characters"),
        ({"BACKLOG_DOMAIN": "my_space!"}, "BACKLOG_DOMAIN='my_space!' is not a host name"),
        ({"BACKLOG_DOMAIN": "https://u:p@x.backlog.com"}, "must not carry credentials"),
        ({"USER_ID": "hana sato"}, "USER_ID='hana sato' is neither a numeric user id nor a login id"),
        (
            {"BACKLOG_CACHE_TTL": "soon"},
            "BACKLOG_CACHE_TTL='soon' is not a number of seconds; e.g. BACKLOG_CACHE_TTL=60",
        ),
        ({"BACKLOG_METADATA_TTL": "-1"}, "BACKLOG_METADATA_TTL='-1' must be at least 0"),
        ({"BACKLOG_TOOL_DEADLINE": "nan"}, "BACKLOG_TOOL_DEADLINE='nan' is not a number of seconds"),
        ({"BACKLOG_CACHE_TTL": "inf"}, "BACKLOG_CACHE_TTL='inf' is not a number of seconds"),
        ({"BACKLOG_TIMEOUT": "0"}, "BACKLOG_TIMEOUT='0' must be at least 0.1"),
        ({"BACKLOG_MAX_CONCURRENCY": "0"}, "BACKLOG_MAX_CONCURRENCY='0' must be an integer from 1 to 32"),
    ],
)
def test_each_bad_value_names_the_variable_and_the_fix(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_env(env(**values))
    assert message in str(info.value)
    assert KEY not in str(info.value)


def test_missing_domain() -> None:
    with pytest.raises(ConfigError, match="BACKLOG_DOMAIN is not set; set it to your space's host"):
        settings_from_env({"BACKLOG_API_KEY": KEY})


def test_defaults_and_key_masked_in_repr() -> None:
    s = settings_from_env(env(XDG_CACHE_HOME="/xdg"))
    assert s.base_url == "https://acme.backlog.com"
    assert s.api_root == "https://acme.backlog.com/api/v2"
    assert s.cache_path == Path("/xdg/backlog-mcp/cache.sqlite3")
    assert (s.issue_ttl, s.metadata_ttl) == (60.0, 3600.0)
    assert s.user_id is None
    assert KEY not in repr(s) and KEY not in str(s)
    assert "***89" in repr(s)
    with pytest.raises(AttributeError):
        s.api_key = "other"  # type: ignore[misc]


def test_no_cache_and_explicit_cache_path() -> None:
    assert settings_from_env(env(), no_cache=True).cache_path is None
    assert settings_from_env(env(), cache_path=Path("/x.db")).cache_path == Path("/x.db")
    assert settings_from_env(env(BACKLOG_CACHE_PATH="/y.db")).cache_path == Path("/y.db")


def test_precedence_env_over_explicit_file_over_cwd_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BACKLOG_DOMAIN=cwd.backlog.com\nUSER_ID=cwd\nBACKLOG_CACHE_TTL=5\n")
    explicit = tmp_path / "explicit.env"
    explicit.write_text("BACKLOG_DOMAIN=file.backlog.jp\nUSER_ID=file\n")
    merged = read_environment({"USER_ID": "real", "BACKLOG_API_KEY": KEY}, str(explicit), cwd=tmp_path)
    assert merged["USER_ID"] == "real"
    assert merged["BACKLOG_DOMAIN"] == "file.backlog.jp"
    assert merged["BACKLOG_CACHE_TTL"] == "5"


def test_env_file_from_variable_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "b.env"
    f.write_text(f"BACKLOG_API_KEY={KEY}\nBACKLOG_DOMAIN=https://x.backlog.jp\n")
    s = load_settings(environ={"BACKLOG_ENV_FILE": str(f), "HOME": str(tmp_path)})
    assert s.base_url == "https://x.backlog.jp"
    with pytest.raises(ConfigError, match=r"--env-file '/nope\.env' does not exist"):
        load_settings("/nope.env", environ={})
    with pytest.raises(ConfigError, match=r"BACKLOG_ENV_FILE '/nope\.env' does not exist"):
        load_settings(environ={"BACKLOG_ENV_FILE": "/nope.env"})


def test_plain_http_is_flagged_unless_loopback() -> None:
    assert settings_from_env(env(BACKLOG_DOMAIN="http://backlog.intranet")).insecure
    assert not settings_from_env(env(BACKLOG_DOMAIN="http://127.0.0.1:8123")).insecure
    assert not settings_from_env(env()).insecure


def test_access_controls_from_env() -> None:
    s = settings_from_env(
        env(
            BACKLOG_READ_ONLY="true", BACKLOG_PROJECTS="orbit, NOVA", BACKLOG_TOOLSETS="issues,space", BACKLOG_TOOLS="x"
        )
    )
    assert s.read_only is True
    assert s.projects == frozenset({"ORBIT", "NOVA"})
    assert s.toolsets == frozenset({"issues", "space"})
    assert s.tools == frozenset({"x"})  # names are checked against the declared tools by build_server
    plain = settings_from_env(env(BACKLOG_READ_ONLY="0", BACKLOG_TOOLSETS=""))
    assert (plain.read_only, plain.projects, plain.toolsets, plain.tools) == (False, None, None, None)
    assert "projects=['NOVA', 'ORBIT']" in repr(s) and KEY not in repr(s)


def test_flags_beat_the_environment() -> None:
    s = settings_from_env(
        env(BACKLOG_READ_ONLY="0", BACKLOG_PROJECTS="NOVA", BACKLOG_TOOLSETS="wiki"),
        read_only=True,
        projects="ORBIT",
        toolsets="issues",
        tools="get_myself",
    )
    assert (s.read_only, s.projects, s.toolsets, s.tools) == (
        True,
        frozenset({"ORBIT"}),
        frozenset({"issues"}),
        frozenset({"get_myself"}),
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"BACKLOG_READ_ONLY": "maybe"}, "BACKLOG_READ_ONLY='maybe' must be 1 or 0"),
        ({"BACKLOG_PROJECTS": "ORBIT,no key!"}, "BACKLOG_PROJECTS has 'NO KEY!', which is not a project key"),
        ({"BACKLOG_TOOLSETS": "issues,wikis"}, "unknown toolset 'wikis'; valid toolsets: space, projects, issues"),
    ],
)
def test_bad_access_settings_name_the_fix(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_env(env(**values))
    assert message in str(caught.value)


def test_project_write_levels_and_the_audit_log() -> None:
    s = settings_from_env(env(BACKLOG_PROJECTS="orbit:comment, NOVA, OLD:read", XDG_CACHE_HOME="/xdg"))
    assert s.projects == frozenset({"ORBIT", "NOVA", "OLD"})
    assert [s.level(k) for k in ("ORBIT", "nova", "OLD", "OTHER")] == ["comment", "write", "read", "read"]
    assert s.audit_path == Path("/xdg/backlog-mcp/audit.jsonl")
    assert settings_from_env(env(BACKLOG_AUDIT_LOG="off")).audit_path is None
    assert settings_from_env(env(BACKLOG_AUDIT_LOG="/var/log/b.jsonl")).audit_path == Path("/var/log/b.jsonl")
    everything = settings_from_env(env())
    assert everything.level("ANY") == "write" and settings_from_env(env(), read_only=True).level("ANY") == "read"
    assert settings_from_env(env(), projects="ORBIT:write").levels == {"ORBIT": "write"}
    with pytest.raises(ConfigError, match=r"gives ORBIT the level 'admin'; valid levels: read, comment, write"):
        settings_from_env(env(BACKLOG_PROJECTS="ORBIT:admin"))


def test_a_project_named_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="names ORBIT twice"):
        settings_from_env(env(BACKLOG_PROJECTS="ORBIT:read,orbit"))


FERNET_KEY = "bAc9RrBEUf7t6m0Vh0jV6kZ2bq1u0J3n8w6sO0pYx1A="  # 32 url-safe base64 bytes
SIGN_IN = {"BACKLOG_OAUTH_CLIENT_ID": "app", "BACKLOG_OAUTH_CLIENT_SECRET": "secret-xyz",
           "BACKLOG_PUBLIC_URL": "https://mcp.example.com/"}  # fmt: skip


def test_sign_in_needs_no_key_and_keeps_its_secrets_out_of_repr() -> None:
    values = {k: v for k, v in env(**SIGN_IN).items() if k != "BACKLOG_API_KEY"}
    settings = settings_from_env(values)
    assert settings.oauth is not None and settings.per_user_keys and settings.api_key == "-"
    assert settings.oauth.callback == "https://mcp.example.com/oauth/callback"
    assert settings.oauth.resource == "https://mcp.example.com/mcp"
    assert "secret-xyz" not in repr(settings.oauth) and "secret-xyz" not in repr(settings)
    loopback = settings_from_env(env(**{**SIGN_IN, "BACKLOG_PUBLIC_URL": "http://127.0.0.1:8000"}))
    assert loopback.oauth is not None and loopback.oauth.public_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"BACKLOG_OAUTH_CLIENT_SECRET": ""},
            "OAuth needs both BACKLOG_OAUTH_CLIENT_ID and BACKLOG_OAUTH_CLIENT_SECRET",
        ),
        ({"BACKLOG_PUBLIC_URL": ""}, "OAuth needs BACKLOG_PUBLIC_URL"),
        ({"BACKLOG_PUBLIC_URL": "http://mcp.example.com"}, "http only on loopback"),
        ({"BACKLOG_PUBLIC_URL": "https://mcp.example.com/?x=1"}, "no path, query or fragment"),
        ({"BACKLOG_PUBLIC_URL": "https://example.com/mcp-proxy"}, "a host of its own with no path"),
        ({"BACKLOG_STORE_URL": "redis://valkey:6379/0"}, "set BACKLOG_OAUTH_STATE_KEY to a Fernet key"),
        ({"BACKLOG_OAUTH_STATE_KEY": "not-a-key"}, "BACKLOG_OAUTH_STATE_KEY is not a Fernet key"),
        (
            {"BACKLOG_HTTP_PER_USER_KEYS": "1"},
            "BACKLOG_OAUTH_CLIENT_ID and BACKLOG_HTTP_PER_USER_KEYS cannot be combined",
        ),
        ({"BACKLOG_SPACES": "a,b"}, "it cannot be combined with BACKLOG_HTTP_PER_USER_KEYS or BACKLOG_OAUTH_CLIENT_ID"),
    ],
)
def test_bad_sign_in_settings_name_the_fix(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_env(env(**{**SIGN_IN, **values}))
    assert message in str(caught.value) and "secret-xyz" not in str(caught.value)


def test_the_store_holds_sign_ins_only_with_a_key() -> None:
    settings = settings_from_env(
        env(**SIGN_IN, BACKLOG_STORE_URL="redis://valkey:6379/0", BACKLOG_OAUTH_STATE_KEY=FERNET_KEY)
    )
    assert settings.oauth is not None and settings.oauth.state_key == FERNET_KEY
