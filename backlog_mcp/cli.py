"""`backlog-mcp`: serve MCP over stdio, or manage the response cache."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from backlog_mcp import __version__, logs

if TYPE_CHECKING:
    import httpx
from backlog_mcp.config import (
    ConfigError,
    Settings,
    default_cache_path,
    load_settings,
    read_environment,
    settings_from_env,
)
from backlog_mcp.env_values import store_url


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="backlog-mcp",
        description=(
            "MCP server for Nulab Backlog over stdio (or Streamable HTTP). Configure with BACKLOG_API_KEY and "
            "BACKLOG_DOMAIN, or try it with --demo (a bundled sample space: no account needed)."
        ),
    )
    parser.add_argument("--demo", action="store_true", help="serve the bundled sample space: no account, no key")
    parser.add_argument(
        "--transport", choices=("stdio", "http"), default="stdio", help="stdio (default) or Streamable HTTP at /mcp"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP: address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP: port (default 8000)")
    parser.add_argument("--env-file", metavar="PATH", help="read settings from this .env file too")
    parser.add_argument("--cache-path", metavar="PATH", type=Path, help="SQLite cache file to use")
    parser.add_argument("--no-cache", action="store_true", help="do not cache Backlog responses")
    parser.add_argument("--clear-cache", action="store_true", help="empty the response cache and exit")
    parser.add_argument(
        "--read-only", action="store_true", help="offer no write tools and send nothing but reads (BACKLOG_READ_ONLY)"
    )
    parser.add_argument("--projects", metavar="KEYS", help="only these projects, e.g. ORBIT,NOVA (BACKLOG_PROJECTS)")
    parser.add_argument("--toolsets", metavar="NAMES", help="only these toolsets, e.g. issues,space (BACKLOG_TOOLSETS)")
    parser.add_argument("--tools", metavar="NAMES", help="these tools too, e.g. get_myself (BACKLOG_TOOLS)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr (-vv: debug)")
    parser.add_argument("--version", action="version", version=f"backlog-mcp {__version__}")
    return parser.parse_args(argv)


async def clear_cache(path: Path) -> int:
    from backlog_mcp.cache import ResponseCache

    cache = await ResponseCache.open(path)
    try:
        if not cache.enabled:
            raise ConfigError(f"cannot open the cache at {path}; check the path and its permissions")
        return await cache.clear()
    finally:
        await cache.close()


async def clear_store(url: str) -> int:
    from backlog_mcp.store import Store, StoreCache

    store = Store.connect(url)
    try:
        if not await store.ready():
            raise ConfigError(f"cannot reach the shared store at {store.url_shown}; check BACKLOG_STORE_URL")
        return await StoreCache(store).clear()
    finally:
        await store.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log_format = os.environ.get("BACKLOG_LOG_FORMAT", "").strip().lower() or "text"
    handler = logs.configure(args.verbose, log_format)
    try:
        if log_format not in logs.LOG_FORMATS:
            raise ConfigError(f"BACKLOG_LOG_FORMAT={log_format!r} must be text or json")
        if args.clear_cache and args.demo:
            sys.stdout.write("The demo keeps no cache: nothing to clear.\n")
            return 0
        if args.clear_cache:
            env = read_environment(os.environ, args.env_file)
            shared = store_url(env.get("BACKLOG_STORE_URL"))
            if shared:
                removed = asyncio.run(clear_store(shared))
                sys.stdout.write(f"Removed {removed} cached entries from the shared store\n")
                return 0
            raw = env.get("BACKLOG_CACHE_PATH", "").strip()
            path = args.cache_path or (Path(raw).expanduser() if raw else default_cache_path(env))
            removed = asyncio.run(clear_cache(path))
            sys.stdout.write(f"Removed {removed} cached entries from {path}\n")
            return 0
        transport: httpx.AsyncBaseTransport | None = None
        now: Callable[[], datetime] | None = None
        if args.demo:
            from backlog_mcp.demo import DEMO_URL, demo_settings, demo_today, demo_transport

            # No account, no key, no .env: the access flags come from the command line, and only how to
            # serve HTTP (token, allowed hosts) from the environment.
            http_env = {
                k: v
                for k, v in os.environ.items()
                if k.startswith("BACKLOG_HTTP_") and k != "BACKLOG_HTTP_PER_USER_KEYS"
            }
            flags = settings_from_env(
                {"BACKLOG_API_KEY": "demo", "BACKLOG_DOMAIN": DEMO_URL, **http_env},
                no_cache=True,
                read_only=args.read_only,
                projects=args.projects,
                toolsets=args.toolsets,
                tools=args.tools,
            )
            settings = demo_settings(flags)
            transport, now = demo_transport(), demo_today
        else:
            settings = load_settings(
                args.env_file,
                cache_path=args.cache_path,
                no_cache=args.no_cache,
                read_only=args.read_only,
                projects=args.projects,
                toolsets=args.toolsets,
                tools=args.tools,
            )
        if not settings.per_user_keys:  # per-user keys are protected as they arrive; "-" is a placeholder
            logs.redact(handler, settings.api_key, *(space.api_key for space in settings.spaces))
        if settings.oauth is not None:
            logs.redact(handler, settings.oauth.client_secret, *filter(None, [settings.oauth.state_key]))
        if args.transport == "http":
            from backlog_mcp.http import check_binding

            check_binding(
                args.host, args.port, settings.http_token, public_hosts(settings), settings.http_origins,
                oauth=settings.oauth is not None,
            )  # fmt: skip
        elif settings.oauth is not None:
            raise ConfigError("BACKLOG_OAUTH_CLIENT_ID (sign-in for remote clients) works only with --transport http")
        elif settings.per_user_keys:
            raise ConfigError("BACKLOG_HTTP_PER_USER_KEYS works only with --transport http")
        for space in settings.spaces or (settings,):
            if space.insecure:
                logging.getLogger("backlog_mcp").warning(
                    "%s uses plain http: the API key travels unencrypted; use https:// unless this is a test server",
                    f"BACKLOG_SPACE_{space.space.upper()}_DOMAIN" if space.space else "BACKLOG_DOMAIN",
                )

        from backlog_mcp.server import build_server  # the MCP SDK is slow to import: only when serving

        server = (
            build_server(settings, transport=transport, now=now, prefetch=True)
            if now
            else build_server(settings, prefetch=True)
        )
    except ConfigError as exc:
        sys.stderr.write(f"backlog-mcp: {exc}\n")
        return 2
    if args.transport == "http":
        import anyio

        from backlog_mcp.http import http_app, serve

        token = settings.http_token
        if token is None and not (settings.http_open or settings.demo or settings.per_user_keys):
            # Loopback is not private: any local user could act with this server's key. A token per run,
            # unless the operator says `off` (per-user keys and the demo hold no key of the operator's).
            token = secrets.token_urlsafe(24)
            sys.stderr.write(
                f"backlog-mcp: serving MCP at http://{args.host}:{args.port}/mcp; BACKLOG_HTTP_TOKEN is not set, "
                f"so clients must send this run's token:\n  Authorization: Bearer {token}\n"
                "Set BACKLOG_HTTP_TOKEN to keep one across restarts, or BACKLOG_HTTP_TOKEN=off to serve loopback "
                "without one.\n"
            )
        app = http_app(
            server,
            host=args.host,
            port=args.port,
            token=token,
            per_user_keys=settings.per_user_keys,
            extra_hosts=public_hosts(settings),
            extra_origins=settings.http_origins,
            public_url=settings.oauth.public_url if settings.oauth is not None else None,
        )
        logging.getLogger("backlog_mcp").info("serving MCP at http://%s:%d/mcp", args.host, args.port)
        anyio.run(serve, app, args.host, args.port)
        return 0
    server.run()
    return 0


def public_hosts(settings: Settings) -> tuple[str, ...]:
    """Host headers accepted beyond the bound address: the configured ones, and OAuth's public address."""
    if settings.oauth is None:
        return settings.http_hosts
    from urllib.parse import urlsplit

    url = urlsplit(settings.oauth.public_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return tuple(sorted({*settings.http_hosts, url.netloc, f"{url.hostname}:{port}"}))
