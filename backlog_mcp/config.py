"""Settings: read once from the environment and `.env` files into a frozen object.

Precedence, highest first: real environment variables, the file named by `--env-file`
or `BACKLOG_ENV_FILE`, then `.env` in the working directory. An explicit file beats the
working directory's `.env` because MCP clients start servers in arbitrary directories.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_ISSUE_TTL = 60.0
DEFAULT_METADATA_TTL = 3600.0
DEFAULT_STALE_GRACE = 86400.0
DEFAULT_TIMEOUT = 15.0
DEFAULT_TOOL_DEADLINE = 60.0
DEFAULT_MAX_CONCURRENCY = 8  # requests in flight at once: a cold call fans out to about 6-8
DEFAULT_ATTACHMENT_CAP = 4 * 2**20  # bytes; an image's base64 must stay under clients' 5 MB limits
DEFAULT_UPLOAD_CAP = 10 * 2**20  # bytes of one upload (BACKLOG_UPLOAD_MAX_BYTES); Backlog's own limit is per plan

_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
_IPV6_RE = re.compile(r"^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PROJECT_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,24}$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

# Backlog's areas; every tool belongs to one (`BACKLOG_TOOLSETS` picks among them).
TOOLSETS = ("space", "projects", "issues", "wiki", "documents", "git", "notifications")


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable and the fix."""


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
    demo: bool = False  # the bundled sample space, served in-process (`--demo`)
    per_user_keys: bool = False  # HTTP: each request brings its own Backlog key (X-Backlog-Api-Key)
    http_token: str | None = field(default=None, repr=False)  # HTTP: the bearer token clients must send
    http_open: bool = False  # HTTP: `BACKLOG_HTTP_TOKEN=off`, no token on loopback (else one is made per run)
    http_hosts: tuple[str, ...] = ()  # HTTP: extra Host headers accepted (a load balancer's name)
    http_origins: tuple[str, ...] = ()  # HTTP: extra Origins accepted

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


def _masked(raw: str) -> str:
    """A configured URL as an error may repeat it: user info, query and fragment hidden (they may hold secrets)."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "", raw
    host_part, slash, path = rest.partition("/")
    if "@" in host_part:  # user info, with or without a scheme: everything up to the last "@"
        host_part = "***@" + host_part.rpartition("@")[2]
    text = (f"{scheme}://" if sep else "") + host_part + slash + path
    return repr(re.sub(r"[?#].*", "?***", text, flags=re.S)[:200])


def normalise_domain(raw: str) -> str:
    """Turn `space.backlog.com`, `https://space.backlog.jp/` or a full URL into one base URL.

    Raises:
        ConfigError: the value has no usable host, an unsupported scheme, a bad port, or control characters.
    """
    value = raw.strip()
    hint = "use e.g. BACKLOG_DOMAIN=yourspace.backlog.com or a full URL such as http://127.0.0.1:8123"
    if not value:
        raise ConfigError(f"BACKLOG_DOMAIN is empty; {hint}")
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in value):
        # Never strip them: urlsplit would, and `acme.backlog.com\n.evil.com` would become another host.
        raise ConfigError(f"BACKLOG_DOMAIN={_masked(raw)} contains spaces or control characters; {hint}")
    if "://" not in value:
        value = f"https://{value}"
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ConfigError(f"BACKLOG_DOMAIN={_masked(raw)} is not a host name or http(s) URL; {hint}") from None
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"BACKLOG_DOMAIN={_masked(raw)} must not carry credentials, a query or a fragment; {hint}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    host_ok = bool(parts.hostname) and (_HOST_RE.match(parts.netloc) or _IPV6_RE.match(parts.netloc))
    if parts.scheme not in ("http", "https") or not host_ok or port == -1 or port == 0:
        raise ConfigError(f"BACKLOG_DOMAIN={_masked(raw)} is not a host name or http(s) URL; {hint}")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/api/v2")
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0, unit: str = "seconds") -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of {unit}; e.g. {name}={default:g}") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum:g}; e.g. {name}={default:g}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} must be 1 or 0 (true/false); e.g. {name}=1")


def name_list(raw: str | None) -> frozenset[str] | None:
    """`a, b,c` as a set; None when the value is absent or blank (no filter)."""
    names = frozenset(part.strip() for part in (raw or "").split(",") if part.strip())
    return names or None


WRITE_LEVELS = ("read", "comment", "write")  # each allows what the ones before it do


def _projects(raw: str | None, source: str) -> tuple[frozenset[str] | None, dict[str, str]]:
    """The allowed keys, and each key's write level (`KEY:comment`); a bare key may write."""
    if raw is None:
        return None, {}
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    if not entries:
        # Set but empty (",", " "): a mistake, never "every project" (which would make all of them writable).
        raise ConfigError(
            f"{source} is set but names no project; list the keys, e.g. {source}=ORBIT,NOVA, "
            "or remove it to allow every project"
        )
    levels: dict[str, str] = {}
    for entry in entries:
        key, _, level = entry.partition(":")
        key, level = key.strip().upper(), level.strip().lower() or "write"
        if key in levels:
            raise ConfigError(f"{source} names {key[:40]} twice; give each project once, e.g. {source}={key}:comment")
        if not _PROJECT_KEY_RE.match(key):
            raise ConfigError(f"{source} has {key[:40]!r}, which is not a project key; e.g. {source}=ORBIT,NOVA")
        if level not in WRITE_LEVELS:
            raise ConfigError(
                f"{source} gives {key} the level {level[:20]!r}; valid levels: {', '.join(WRITE_LEVELS)}, "
                f"e.g. {source}={key}:comment"
            )
        levels[key] = level
    return frozenset(levels), levels


def _toolsets(raw: str | None, source: str) -> frozenset[str] | None:
    names = name_list(raw)
    if names is None:
        return None
    unknown = sorted(names - set(TOOLSETS))
    if unknown:
        raise ConfigError(f"{source} names unknown toolset {unknown[0][:40]!r}; valid toolsets: {', '.join(TOOLSETS)}")
    return names


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


def _upload_roots(raw: str | None) -> tuple[Path, ...]:
    """`BACKLOG_UPLOAD_ROOTS` (colon-separated folders) as resolved real paths; each must be a folder."""
    roots = []
    for part in (raw or "").split(":"):
        if not part.strip():
            continue
        root = Path(part.strip()).expanduser()
        if not root.is_absolute() or not root.is_dir():
            raise ConfigError(f"BACKLOG_UPLOAD_ROOTS: {part.strip()!r} is not an absolute path to a folder")
        roots.append(root.resolve())
    return tuple(roots)


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

    Raises:
        ConfigError: the first missing or malformed variable.
    """
    api_key = env.get("BACKLOG_API_KEY", "").strip()
    per_user_keys = _flag(env, "BACKLOG_HTTP_PER_USER_KEYS")
    if not api_key and per_user_keys:
        api_key = "-"  # never sent: every request brings its own key (the server refuses one without)
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
        _projects(projects, "--projects")
        if projects is not None
        else _projects(env.get("BACKLOG_PROJECTS"), "BACKLOG_PROJECTS")
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
        issue_ttl=_number(env, "BACKLOG_CACHE_TTL", DEFAULT_ISSUE_TTL),
        metadata_ttl=_number(env, "BACKLOG_METADATA_TTL", DEFAULT_METADATA_TTL),
        stale_grace=_number(env, "BACKLOG_STALE_GRACE", DEFAULT_STALE_GRACE),
        timeout=_number(env, "BACKLOG_TIMEOUT", DEFAULT_TIMEOUT, minimum=0.1),
        tool_deadline=_number(env, "BACKLOG_TOOL_DEADLINE", DEFAULT_TOOL_DEADLINE, minimum=1.0),
        max_concurrency=int(concurrency_raw),
        attachment_cap=int(
            _number(env, "BACKLOG_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_CAP, minimum=1024, unit="bytes")
        ),
        upload_roots=_upload_roots(env.get("BACKLOG_UPLOAD_ROOTS")),
        upload_cap=int(_number(env, "BACKLOG_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_CAP, minimum=1, unit="bytes")),
        read_only=read_only or _flag(env, "BACKLOG_READ_ONLY"),
        projects=allowed,
        levels=levels,
        audit_path=_audit_path(env),
        per_user_keys=per_user_keys,
        http_token=None if http_open else env.get("BACKLOG_HTTP_TOKEN", "").strip() or None,
        http_open=http_open,
        http_hosts=tuple(sorted(name_list(env.get("BACKLOG_HTTP_ALLOWED_HOSTS")) or ())),
        http_origins=tuple(sorted(name_list(env.get("BACKLOG_HTTP_ALLOWED_ORIGINS")) or ())),
        toolsets=_toolsets(toolsets, "--toolsets")
        if toolsets
        else _toolsets(env.get("BACKLOG_TOOLSETS"), "BACKLOG_TOOLSETS"),
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
