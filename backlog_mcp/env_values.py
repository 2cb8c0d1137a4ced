"""Values read from the environment, each validated: the domain, numbers, flags, name lists, project
levels, toolsets and upload folders. A malformed one is a `ConfigError` naming the variable and the fix."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")
_IPV6_RE = re.compile(r"^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PROJECT_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,24}$")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

# Backlog's areas; every tool belongs to one (`BACKLOG_TOOLSETS` picks among them).
TOOLSETS = ("space", "projects", "issues", "wiki", "documents", "git", "notifications")


class ConfigError(Exception):
    """A missing or malformed setting; the message names the variable and the fix."""


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


def number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0, unit: str = "seconds") -> float:
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


def flag(env: Mapping[str, str], name: str) -> bool:
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


def project_levels(raw: str | None, source: str) -> tuple[frozenset[str] | None, dict[str, str]]:
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


def toolset_names(raw: str | None, source: str) -> frozenset[str] | None:
    names = name_list(raw)
    if names is None:
        return None
    unknown = sorted(names - set(TOOLSETS))
    if unknown:
        raise ConfigError(f"{source} names unknown toolset {unknown[0][:40]!r}; valid toolsets: {', '.join(TOOLSETS)}")
    return names


def upload_folders(raw: str | None) -> tuple[Path, ...]:
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


def store_url(raw: str | None) -> str | None:
    """`BACKLOG_STORE_URL`: a Valkey or Redis URL (`redis://`, `rediss://` or `unix://`); unset: none.

    Raises:
        ConfigError: another scheme, or no host.
    """
    url = (raw or "").strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("redis", "rediss", "unix") or not sep or not rest.rpartition("@")[2].strip("/"):
        shown = f"{scheme}://…" if sep else "a value without a scheme"
        raise ConfigError(
            f"BACKLOG_STORE_URL is {shown}; give a Valkey or Redis URL such as redis://valkey:6379/0 "
            "(rediss:// for TLS, unix:///path/to/socket), or leave it unset for the embedded SQLite cache"
        )
    return url


@dataclass(frozen=True)
class OAuthSettings:
    """OAuth for remote clients: this server's public address and its application on Backlog's developer site."""

    client_id: str
    client_secret: str = field(repr=False)
    public_url: str  # e.g. https://mcp.example.com: the issuer; MCP is at /mcp, Backlog returns to /oauth/callback
    state_key: str | None = field(default=None, repr=False)  # Fernet key: OAuth state in the shared store, encrypted

    @property
    def callback(self) -> str:
        return f"{self.public_url}/oauth/callback"

    @property
    def resource(self) -> str:
        return f"{self.public_url}/mcp"


def oauth_settings(env: Mapping[str, str], shared_store: bool) -> OAuthSettings | None:
    """`BACKLOG_OAUTH_CLIENT_ID`, `_CLIENT_SECRET`, `BACKLOG_PUBLIC_URL` and `BACKLOG_OAUTH_STATE_KEY`; unset: no OAuth.

    Raises:
        ConfigError: a part missing or malformed, or the state key missing where the store would hold the state.
    """
    client_id = env.get("BACKLOG_OAUTH_CLIENT_ID", "").strip()
    secret = env.get("BACKLOG_OAUTH_CLIENT_SECRET", "").strip()
    if not client_id and not secret:
        return None
    if not client_id or not secret:
        raise ConfigError(
            "OAuth needs both BACKLOG_OAUTH_CLIENT_ID and BACKLOG_OAUTH_CLIENT_SECRET: the application's "
            "values from Backlog's developer site (https://backlog.com/developer/applications/)"
        )
    raw = env.get("BACKLOG_PUBLIC_URL", "").strip().rstrip("/")
    url = urlsplit(raw)
    loopback = url.hostname in ("localhost", "127.0.0.1", "::1")
    secure = url.scheme == "https" or (url.scheme == "http" and loopback)
    try:
        port_ok = "\\" not in raw and url.password is None and (url.port is None or url.port > 0)
    except ValueError:  # a port that is not a number
        port_ok = False
    # A host of its own: the sign-in pages, their cookie and the metadata sit at fixed paths from the root.
    if not url.hostname or url.path or url.query or url.fragment or url.username or not secure or not port_ok:
        raise ConfigError(
            "OAuth needs BACKLOG_PUBLIC_URL, the https address clients reach this server at (e.g. "
            "https://mcp.example.com; http only on loopback), a host of its own with no path, query or fragment; "
            "register <BACKLOG_PUBLIC_URL>/oauth/callback as the application's redirect URI in Backlog"
        )
    key = env.get("BACKLOG_OAUTH_STATE_KEY", "").strip() or None
    if key is not None:
        from cryptography.fernet import Fernet

        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                "BACKLOG_OAUTH_STATE_KEY is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    elif shared_store:
        raise ConfigError(
            "BACKLOG_STORE_URL with OAuth keeps sign-ins in the store, encrypted: set BACKLOG_OAUTH_STATE_KEY to a "
            "Fernet key, e.g. python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    return OAuthSettings(client_id, secret, raw, key)
