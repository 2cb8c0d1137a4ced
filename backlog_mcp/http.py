"""Streamable HTTP for teams: stateless, Host and Origin checked, a bearer token beyond loopback.

Stateless (no session state in the process), so several instances can sit behind any load
balancer. `BACKLOG_HTTP_TOKEN` is required when bound beyond loopback; with per-user keys
(`BACKLOG_HTTP_PER_USER_KEYS`), each request brings its own Backlog API key in `X-Backlog-Api-Key`;
with OAuth (`BACKLOG_OAUTH_CLIENT_ID`), users sign in with Backlog and bring our token (`oauth.py`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from backlog_mcp.asgi import ASGIApp, Receive, Scope, Send, answer, refuse, send_body
from backlog_mcp.config import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from backlog_mcp.app import AppState
    from backlog_mcp.client import BacklogClient

log = logging.getLogger(__name__)


KEY_HEADER = "x-backlog-api-key"
READY_FOR = 10.0  # seconds a readiness answer is reused


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MIN_TOKEN = 16
WILDCARDS = ("0.0.0.0", "::", "[::]")


def check_binding(
    host: str,
    port: int,
    token: str | None,
    extra_hosts: Sequence[str],
    extra_origins: Sequence[str],
    *,
    oauth: bool = False,
) -> None:
    """Refuse what would expose the key or answer nobody.

    Raises:
        ConfigError: reachable beyond loopback (or through a proxy: extra hosts or origins) without a
            bearer token of at least 16 ASCII characters; bound to every address without the names
            clients will use (their Host header would be refused); port 0.
    """
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a port clients can be given; use e.g. --port 8000")
    exposed = not is_loopback(host) or bool(extra_hosts) or bool(extra_origins)
    if exposed and not token and not oauth:  # with OAuth, every user signs in
        raise ConfigError(
            f"--host {host} (or BACKLOG_HTTP_ALLOWED_HOSTS/ORIGINS) makes this server reachable from elsewhere, and "
            "BACKLOG_HTTP_TOKEN is not set: anyone who can reach the port could act with your Backlog key. Set "
            "BACKLOG_HTTP_TOKEN to a long random secret (clients send it as 'Authorization: Bearer <token>'), "
            "or bind to 127.0.0.1."
        )
    if token is not None and (len(token) < MIN_TOKEN or not token.isascii() or not token.isprintable()):
        raise ConfigError(
            f"BACKLOG_HTTP_TOKEN must be at least {MIN_TOKEN} printable ASCII characters; e.g. openssl rand -hex 24"
        )
    if host in WILDCARDS and not extra_hosts:
        raise ConfigError(
            f"--host {host} listens on every address, but clients' Host headers are checked (DNS rebinding): "
            "set BACKLOG_HTTP_ALLOWED_HOSTS to the names they use, e.g. BACKLOG_HTTP_ALLOWED_HOSTS=mcp.example.com:8000"
        )


def allowed(
    host: str, port: int, extra_hosts: Sequence[str], extra_origins: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Host headers and Origins accepted (DNS-rebinding protection): this address, loopback names, and extras."""
    bound = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host  # an IPv6 Host header is bracketed
    hosts = {f"{bound}:{port}", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", *extra_hosts}
    origins = {"http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *extra_origins}
    return sorted(hosts), sorted(origins)


class Guard:
    """ASGI middleware: the bearer token (when set) and, in per-user mode, a key header on every request.

    `/healthz` (the process is up) and `/readyz` (`ready()`: the store and Backlog answer) are open and
    say nothing more than their status; `/metrics` is behind the token.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        per_user_keys: bool,
        ready: Callable[[], Awaitable[bool]] | None = None,
        oauth: bool = False,
    ) -> None:
        self.app, self.token, self.per_user_keys, self.ready = app, token, per_user_keys, ready
        self.oauth = oauth  # the SDK checks /mcp's tokens and serves sign-in; the token here guards /metrics
        self._checked: tuple[float, bool] = (-READY_FOR, False)  # when readiness was last asked, and the answer

    async def _is_ready(self) -> bool:
        """`ready()` at most once per READY_FOR seconds: probes are unauthenticated and must not spend the key."""
        import time

        when, answer = self._checked
        if self.ready is None:
            return True
        if time.monotonic() - when >= READY_FOR:
            answer = await self.ready()
            self._checked = (time.monotonic(), answer)
        return answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path"), scope.get("method")
        if path in ("/healthz", "/readyz") and method in ("GET", "HEAD"):
            # For a load balancer or an orchestrator: unauthenticated, saying nothing but the status.
            ok = path == "/healthz" or await self._is_ready()
            await answer(
                send, 200 if ok else 503, {"status": "ok" if ok else "not ready"}, {"cache-control": "no-store"}
            )
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        # With OAuth, the SDK checks /mcp's tokens: ours guards /metrics only (closed when unset).
        guarded = path == "/metrics" if self.oauth else self.token is not None
        if guarded and not _bearer_is(headers.get("authorization", ""), self.token):
            await refuse(send, 401, "missing or wrong bearer token", {"www-authenticate": "Bearer"})
            return
        if path == "/metrics" and method == "GET":
            from backlog_mcp import metrics

            await send_body(send, 200, metrics.exposition(), metrics.CONTENT_TYPE, {"cache-control": "no-store"})
            return
        if method == "GET" and (path == "/mcp" or not self.oauth):
            # Stateless: there is no stream to resume or listen on; an open GET would only tie up a connection.
            await refuse(send, 405, "this server is stateless: POST MCP messages to it", {"allow": "POST"})
            return
        if self.per_user_keys and not self.oauth and not headers.get(KEY_HEADER, "").strip():
            await refuse(send, 401, "this server needs your Backlog API key in the X-Backlog-Api-Key header", {})
            return
        await self.app(scope, receive, send)


def _bearer_is(authorization: str, token: str | None) -> bool:
    scheme, _, given = authorization.partition(" ")
    return (
        token is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode("latin-1"), token.encode())
    )


def http_app(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    per_user_keys: bool,
    extra_hosts: Sequence[str] = (),
    extra_origins: Sequence[str] = (),
    public_url: str | None = None,
) -> ASGIApp:
    """The MCP endpoint at /mcp, stateless and JSON-answering, behind the guard; `public_url`: sign-in is on."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts, origins = allowed(host, port, extra_hosts, extra_origins)
    security = TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)
    app = server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security, host=host)
    from backlog_mcp import metrics

    metrics.enable()  # served at /metrics: count from the start
    inner: ASGIApp = app
    if public_url is not None:  # sign-in: its endpoints' own rules, inside the general ones
        from backlog_mcp.oauth_guard import SignInGuard

        inner = SignInGuard(app, public_url)
    oauth = public_url is not None
    return Guard(inner, token=token, per_user_keys=per_user_keys, ready=lambda: ready(server), oauth=oauth)


async def ready(server: MCPServer[Any]) -> bool:
    """Serving, with the shared store (when configured) and Backlog answering; why not is logged, not told."""
    from backlog_mcp.store import StoreCache

    state: AppState | None = getattr(server, "running", None)  # `BacklogServer.running`, while serving
    if state is None:
        return False
    if isinstance(state.cache, StoreCache) and not await state.cache.store.ready():
        return False  # the store logs its outage
    return await backlog_answers(state.client)


async def serve(app: ASGIApp, host: str, port: int) -> None:
    import uvicorn

    # log_config=None: uvicorn's lines go through our handler (its format, and the key scrubbed).
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", log_config=None
    )
    await uvicorn.Server(config).serve()


async def backlog_answers(client: BacklogClient) -> bool:
    """The space answers the server's key (its `/space`, cached per TTL); with per-user keys, which the
    server does not hold, that its host takes a connection (no request: a probe must not spend a key)."""
    import asyncio
    from urllib.parse import urlsplit

    from backlog_mcp.errors import BacklogError

    try:
        if client.settings.per_user_keys:
            url = urlsplit(client.settings.base_url)
            port = url.port or (443 if url.scheme == "https" else 80)
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, port), timeout=3)
            writer.close()
            return True
        await asyncio.wait_for(client.space(), timeout=client.settings.timeout)
    except (BacklogError, OSError, TimeoutError) as exc:
        log.warning("not ready: Backlog does not answer (%s)", type(exc).__name__)
        return False
    return True
