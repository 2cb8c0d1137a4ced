"""Settings: read once from the environment and `.env` files into a frozen object.

Precedence, highest first: real environment variables, the file named by `--env-file`
or `BACKLOG_ENV_FILE`, then `.env` in the working directory. An explicit file beats the
working directory's `.env` because MCP clients start servers in arbitrary directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from backlog_mcp.env_values import (
    TOOLSETS,
    WRITE_LEVELS,
    ConfigError,
    OAuthSettings,
    flag,
    name_list,
    normalise_domain,
    number,
    oauth_settings,
    project_levels,
    store_url,
    toolset_names,
    upload_folders,
)

__all__ = [
    "TOOLSETS",
    "WRITE_LEVELS",
    "ConfigError",
    "OAuthSettings",
    "Settings",
    "default_cache_path",
    "load_settings",
    "normalise_domain",
    "read_environment",
    "settings_from_env",
]  # fmt: skip

DEFAULT_ISSUE_TTL = 60.0
DEFAULT_METADATA_TTL = 3600.0
DEFAULT_STALE_GRACE = 86400.0
DEFAULT_TIMEOUT = 15.0
DEFAULT_TOOL_DEADLINE = 60.0
DEFAULT_MAX_CONCURRENCY = 8  # requests in flight at once: a cold call fans out to about 6-8
DEFAULT_ATTACHMENT_CAP = 4 * 2**20  # bytes; an image's base64 must stay under clients' 5 MB limits
DEFAULT_UPLOAD_CAP = 10 * 2**20  # bytes of one upload (BACKLOG_UPLOAD_MAX_BYTES); Backlog's own limit is per plan


def _mask(secret: str) -> str:
    return f"***{secret[-2:]}" if len(secret) > 8 else "***"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to run, validated."""

    api_key: str = field(repr=False)
    base_url: str
    user_id: str | None = None
    cache_path: Path | None = None  # None: caching disabled
    issue_ttl: float = DEFAULT_ISSUE_TTL
    metadata_ttl: float = DEFAULT_METADATA_TTL
    stale_grace: float = DEFAULT_STALE_GRACE
    timeout: float = DEFAULT_TIMEOUT
    tool_deadline: float = DEFAULT_TOOL_DEADLINE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    read_only: bool = False  # write tools hidden and refused; the client sends nothing but GET
    projects: frozenset[str] | None = None  # the allow-list of project keys; None: every project
    toolsets: frozenset[str] | None = None  # None: every toolset
    tools: frozenset[str] | None = None  # tool names enabled on top of `toolsets`
    attachment_cap: int = DEFAULT_ATTACHMENT_CAP  # a download stops here: bigger files are described
    upload_roots: tuple[Path, ...] = ()  # folders files may be uploaded from (resolved); none: uploads off
    upload_cap: int = DEFAULT_UPLOAD_CAP  # bytes of one upload
    # Per-project write levels from `BACKLOG_PROJECTS=KEY:level`: read, comment or write (a bare key: write).
    levels: Mapping[str, str] = field(default_factory=dict)
    audit_path: Path | None = None  # one JSON line per write attempt; None: no audit log
    store_url: str | None = field(default=None, repr=False)  # Valkey/Redis shared by instances; None: SQLite
    demo: bool = False  # the bundled sample space, served in-process (`--demo`)
    per_user_keys: bool = False  # HTTP: each request brings its own Backlog key (X-Backlog-Api-Key) or OAuth token
    oauth: OAuthSettings | None = None  # HTTP: remote clients sign in with Backlog (per_user_keys is set too)
    http_token: str | None = field(default=None, repr=False)  # HTTP: the bearer token clients must send
    http_open: bool = False  # HTTP: `BACKLOG_HTTP_TOKEN=off`, no token on loopback (else one is made per run)
    http_hosts: tuple[str, ...] = ()  # HTTP: extra Host headers accepted (a load balancer's name)
    http_origins: tuple[str, ...] = ()  # HTTP: extra Origins accepted
    # Several spaces (`BACKLOG_SPACES`): this space's name, and every space's settings (this one first).
    space: str = ""
    spaces: tuple[Settings, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        return (
            f"Settings(api_key={_mask(self.api_key)!r}, base_url={self.base_url!r}, "
            f"user_id={self.user_id!r}, cache_path={self.cache_path!r}, read_only={self.read_only!r}, "
            f"projects={_sorted(self.projects)}, toolsets={_sorted(self.toolsets)}, tools={_sorted(self.tools)})"
        )

    __str__ = __repr__

    def level(self, project_key: str) -> str:
        """What this server may do in a project: read, comment or write."""
        if self.read_only:
            return "read"
        if self.projects is None:
            return "write"
        return self.levels.get(project_key.upper(), "read")

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def insecure(self) -> bool:
        """Plain http to a host other than this machine: the key would cross the network in clear."""
        host = urlsplit(self.base_url).hostname or ""
        return self.base_url.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1")


def _sorted(names: frozenset[str] | None) -> list[str] | None:
    return None if names is None else sorted(names)


def _audit_path(env: Mapping[str, str]) -> Path | None:
    """`BACKLOG_AUDIT_LOG`: a file, or `off`; by default `audit.jsonl` beside the default cache."""
    raw = env.get("BACKLOG_AUDIT_LOG", "").strip()
    if raw.lower() in ("off", "none", "false", "0"):
        return None
    return Path(raw).expanduser() if raw else default_cache_path(env).parent / "audit.jsonl"


def default_cache_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backlog-mcp" / "cache.sqlite3"


def read_environment(
    environ: Mapping[str, str], env_file: str | None = None, cwd: Path | None = None
) -> dict[str, str]:
    """Merge `.env` files under the real environment (see module docstring for precedence).

    Raises:
        ConfigError: an explicitly named env file does not exist.
    """
    merged: dict[str, str] = {}
    local = (cwd or Path.cwd()) / ".env"
    if local.is_file():
        merged.update({k: v for k, v in dotenv_values(local).items() if v is not None})
    explicit = env_file or environ.get("BACKLOG_ENV_FILE")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            source = "--env-file" if env_file else "BACKLOG_ENV_FILE"
            raise ConfigError(f"{source} {explicit!r} does not exist; pass the path of a readable .env file")
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(environ)
    return merged


_SPACE_NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")
_SPACE_VARIABLES = ("DOMAIN", "API_KEY", "PROJECTS", "READ_ONLY")


def settings_from_env(
    env: Mapping[str, str],
    *,
    cache_path: Path | None = None,
    no_cache: bool = False,
    read_only: bool = False,
    projects: str | None = None,
    toolsets: str | None = None,
    tools: str | None = None,
) -> Settings:
    """Validate the merged environment into `Settings`; command-line values beat the environment.

    With `BACKLOG_SPACES=acme,client`, each named space has its own `BACKLOG_SPACE_<NAME>_DOMAIN`,
    `_API_KEY`, and optionally `_PROJECTS` and `_READ_ONLY`; the answer is the default space's
    settings (`BACKLOG_DEFAULT_SPACE`, else the first), with every space in `spaces`.

    Raises:
        ConfigError: the first missing or malformed variable.
    """
    flags: dict[str, Any] = {
        "cache_path": cache_path, "no_cache": no_cache, "read_only": read_only, "toolsets": toolsets, "tools": tools
    }  # fmt: skip
    raw_names = env.get("BACKLOG_SPACES", "").strip()
    if not raw_names:
        return _one_space(env, projects=projects, **flags)
    names = [name.strip().lower() for name in raw_names.split(",") if name.strip()]
    bad = [name for name in names if not _SPACE_NAME.fullmatch(name)]
    if bad or len(set(names)) != len(names):
        raise ConfigError(
            f"BACKLOG_SPACES={raw_names!r}: names are distinct, lower-case letters, digits and _, e.g. acme,client"
        )
    if flag(env, "BACKLOG_HTTP_PER_USER_KEYS") or env.get("BACKLOG_OAUTH_CLIENT_ID", "").strip():
        raise ConfigError("BACKLOG_SPACES serves with the operator's keys: it cannot be combined with "
                          "BACKLOG_HTTP_PER_USER_KEYS or BACKLOG_OAUTH_CLIENT_ID; choose one")  # fmt: skip
    if projects is not None:
        raise ConfigError(
            "--projects names one space's projects; with BACKLOG_SPACES use BACKLOG_SPACE_<NAME>_PROJECTS"
        )
    known = {f"BACKLOG_SPACE_{n.upper()}_{suffix}" for n in names for suffix in _SPACE_VARIABLES}
    stray = sorted(k for k in env if k.startswith("BACKLOG_SPACE_") and k not in known)
    if stray:  # a misspelt allow-list must not silently open every project
        raise ConfigError(f"{stray[0]} is not a variable of BACKLOG_SPACES ({', '.join(names)}); "
                          f"each space takes {', '.join(_SPACE_VARIABLES)}")  # fmt: skip
    default = env.get("BACKLOG_DEFAULT_SPACE", "").strip().lower() or names[0]
    if default not in names:
        raise ConfigError(f"BACKLOG_DEFAULT_SPACE={default!r} is not one of BACKLOG_SPACES ({', '.join(names)})")
    spaces = []
    for name in [default, *(n for n in names if n != default)]:
        prefix = f"BACKLOG_SPACE_{name.upper()}_"
        own = {k: v for k, v in env.items() if k not in ("BACKLOG_DOMAIN", "BACKLOG_API_KEY", "BACKLOG_PROJECTS")}
        for var in ("DOMAIN", "API_KEY"):
            if not env.get(prefix + var, "").strip():
                raise ConfigError(f"{prefix}{var} is not set; space {name!r} of BACKLOG_SPACES needs it")
            own[f"BACKLOG_{var}"] = env[prefix + var]
        own_projects = env.get(prefix + "PROJECTS", env.get("BACKLOG_PROJECTS"))
        if own_projects is not None:
            own["BACKLOG_PROJECTS"] = own_projects
        if flag(env, prefix + "READ_ONLY"):
            own["BACKLOG_READ_ONLY"] = "1"
        try:
            one = _one_space(own, **flags)
        except ConfigError as exc:
            said = str(exc)
            for var in ("DOMAIN", "API_KEY", "PROJECTS", "READ_ONLY"):  # the variable the user actually set
                said = said.replace(f"BACKLOG_{var}", prefix + var)
            raise ConfigError(said) from None
        spaces.append(replace(one, space=name))
    if len(spaces) == 1:  # one space, however configured, is served exactly as BACKLOG_DOMAIN's would be
        return replace(spaces[0], space="")
    chosen = tuple(spaces)
    # Each space knows them all (its `get_myself` lists them); the default's list carries the linked ones.
    linked = tuple(replace(one, spaces=chosen) for one in chosen)
    return replace(linked[0], spaces=linked)


def _one_space(
    env: Mapping[str, str],
    *,
    cache_path: Path | None = None,
    no_cache: bool = False,
    read_only: bool = False,
    projects: str | None = None,
    toolsets: str | None = None,
    tools: str | None = None,
) -> Settings:
    """One space's settings from the environment."""
    api_key = env.get("BACKLOG_API_KEY", "").strip()
    per_user_keys = flag(env, "BACKLOG_HTTP_PER_USER_KEYS")
    shared = store_url(env.get("BACKLOG_STORE_URL"))
    oauth = oauth_settings(env, shared_store=shared is not None)
    if oauth is not None and per_user_keys:
        raise ConfigError("BACKLOG_OAUTH_CLIENT_ID and BACKLOG_HTTP_PER_USER_KEYS cannot be combined: with OAuth "
                          "each user signs in with Backlog; choose one")  # fmt: skip
    per_user_keys = per_user_keys or oauth is not None
    if not api_key and per_user_keys:
        api_key = "-"  # never sent: every request brings its own key or token (the server refuses one without)
    if not api_key:
        raise ConfigError(
            "BACKLOG_API_KEY is not set; create a key in Backlog under Personal Settings > API "
            "and set it in the environment, in .env, or in a file passed with --env-file; "
            "or try `backlog-mcp --demo` (`mise run demo`), a bundled sample space that needs no key"
        )
    if any(c.isspace() for c in api_key) or not api_key.isascii():
        raise ConfigError("BACKLOG_API_KEY contains spaces or non-ASCII characters; paste the key exactly")
    if "BACKLOG_DOMAIN" not in env:
        raise ConfigError(
            "BACKLOG_DOMAIN is not set; set it to your space's host, e.g. BACKLOG_DOMAIN=yourspace.backlog.com, "
            "or try `backlog-mcp --demo` (no account needed)"
        )
    base_url = normalise_domain(env["BACKLOG_DOMAIN"])
    user_id = env.get("USER_ID", "").strip() or None
    if user_id is not None and not re.fullmatch(r"[A-Za-z0-9_.@+-]+", user_id):
        raise ConfigError(f"USER_ID={user_id!r} is neither a numeric user id nor a login id; e.g. USER_ID=12345")
    path: Path | None = None
    if not no_cache:
        raw_path = env.get("BACKLOG_CACHE_PATH", "").strip()
        path = cache_path or (Path(raw_path).expanduser() if raw_path else default_cache_path(env))
    allowed, levels = (
        project_levels(projects, "--projects")
        if projects is not None
        else project_levels(env.get("BACKLOG_PROJECTS"), "BACKLOG_PROJECTS")
    )
    http_open = env.get("BACKLOG_HTTP_TOKEN", "").strip().lower() == "off"
    concurrency_raw = env.get("BACKLOG_MAX_CONCURRENCY", "").strip() or str(DEFAULT_MAX_CONCURRENCY)
    if not (concurrency_raw.isascii() and concurrency_raw.isdigit()) or not 1 <= int(concurrency_raw) <= 32:
        raise ConfigError(f"BACKLOG_MAX_CONCURRENCY={concurrency_raw!r} must be an integer from 1 to 32")
    return Settings(
        api_key=api_key,
        base_url=base_url,
        user_id=user_id,
        cache_path=path,
        issue_ttl=number(env, "BACKLOG_CACHE_TTL", DEFAULT_ISSUE_TTL),
        metadata_ttl=number(env, "BACKLOG_METADATA_TTL", DEFAULT_METADATA_TTL),
        stale_grace=number(env, "BACKLOG_STALE_GRACE", DEFAULT_STALE_GRACE),
        timeout=number(env, "BACKLOG_TIMEOUT", DEFAULT_TIMEOUT, minimum=0.1),
        tool_deadline=number(env, "BACKLOG_TOOL_DEADLINE", DEFAULT_TOOL_DEADLINE, minimum=1.0),
        max_concurrency=int(concurrency_raw),
        attachment_cap=int(
            number(env, "BACKLOG_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_CAP, minimum=1024, unit="bytes")
        ),
        upload_roots=upload_folders(env.get("BACKLOG_UPLOAD_ROOTS")),
        upload_cap=int(number(env, "BACKLOG_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_CAP, minimum=1, unit="bytes")),
        read_only=read_only or flag(env, "BACKLOG_READ_ONLY"),
        projects=allowed,
        levels=levels,
        audit_path=_audit_path(env),
        store_url=shared,
        per_user_keys=per_user_keys,
        oauth=oauth,
        http_token=None if http_open else env.get("BACKLOG_HTTP_TOKEN", "").strip() or None,
        http_open=http_open,
        http_hosts=tuple(sorted(name_list(env.get("BACKLOG_HTTP_ALLOWED_HOSTS")) or ())),
        http_origins=tuple(sorted(name_list(env.get("BACKLOG_HTTP_ALLOWED_ORIGINS")) or ())),
        toolsets=toolset_names(toolsets, "--toolsets")
        if toolsets
        else toolset_names(env.get("BACKLOG_TOOLSETS"), "BACKLOG_TOOLSETS"),
        tools=name_list(tools) or name_list(env.get("BACKLOG_TOOLS")),
    )


def load_settings(
    env_file: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cache_path: Path | None = None,
    no_cache: bool = False,
    read_only: bool = False,
    projects: str | None = None,
    toolsets: str | None = None,
    tools: str | None = None,
) -> Settings:
    """Read the process environment and `.env` files once (the only reader of `os.environ`).

    The other arguments are the command line's values (see `settings_from_env`).
    """
    merged = read_environment(os.environ if environ is None else environ, env_file)
    return settings_from_env(
        merged,
        cache_path=cache_path,
        no_cache=no_cache,
        read_only=read_only,
        projects=projects,
        toolsets=toolsets,
        tools=tools,
    )
