"""Streamable HTTP for teams: stateless, Host and Origin checked, a bearer token beyond loopback.

Stateless (no session state in the process), so several instances can sit behind any load
balancer. `BACKLOG_HTTP_TOKEN` is required when bound beyond loopback; with per-user keys
(`BACKLOG_HTTP_PER_USER_KEYS`), each request brings its own Backlog API key in `X-Backlog-Api-Key`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from backlog_mcp.config import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_HEADER = "x-backlog-api-key"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Raises ConfigError: bound beyond loopback without a bearer token, anyone who can reach it could use the key."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"--host {host} is reachable from other machines, and BACKLOG_HTTP_TOKEN is not set: anyone who can "
            "reach the port could act with your Backlog key. Set BACKLOG_HTTP_TOKEN to a long random secret "
            "(clients send it as 'Authorization: Bearer <token>'), or bind to 127.0.0.1."
        )


def allowed(
    host: str, port: int, extra_hosts: Sequence[str], extra_origins: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Host headers and Origins accepted (DNS-rebinding protection): this address, loopback names, and extras."""
    hosts = {f"{host}:{port}", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", *extra_hosts}
    origins = {"http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *extra_origins}
    return sorted(hosts), sorted(origins)


class Guard:
    """ASGI middleware: the bearer token (when set) and, in per-user mode, a key header on every request."""

    def __init__(self, app: ASGIApp, *, token: str | None, per_user_keys: bool) -> None:
        self.app, self.token, self.per_user_keys = app, token, per_user_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.token is not None:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                await _refuse(send, 401, "missing or wrong bearer token", {"www-authenticate": "Bearer"})
                return
        if self.per_user_keys and not headers.get(KEY_HEADER, "").strip():
            await _refuse(send, 401, "this server needs your Backlog API key in the X-Backlog-Api-Key header", {})
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in extra.items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def http_app(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    per_user_keys: bool,
    extra_hosts: Sequence[str] = (),
    extra_origins: Sequence[str] = (),
) -> ASGIApp:
    """The MCP endpoint at /mcp, stateless and JSON-answering, behind the guard."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts, origins = allowed(host, port, extra_hosts, extra_origins)
    security = TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)
    app = server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security, host=host)
    return Guard(app, token=token, per_user_keys=per_user_keys)


async def serve(app: ASGIApp, host: str, port: int) -> None:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    await uvicorn.Server(config).serve()
