"""The sign-in endpoints' own rules, between the general HTTP guard and the SDK's app.

- Registering and starting a sign-in take no credentials: each client address has a budget, behind
  one for the whole instance.
- `/authorize` never sends a browser anywhere but to our consent page: the SDK redirects its errors
  to the client's redirect URI, which anyone may have registered (RFC 9700 §4.11.2), so such an
  answer becomes a page that names the error and lets the user choose to follow.
- `/token` refuses a `resource` other than this server's (RFC 8707 §2.2), which the SDK lets pass.
- A store that stops answering is a 503, never the framework's 500 or a 401.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs, parse_qsl, urlsplit

from backlog_mcp.asgi import ASGIApp, Message, Receive, Scope, Send, answer, refuse, send_body
from backlog_mcp.oauth_pages import HEADERS, message_page
from backlog_mcp.oauth_state import VaultUnavailable

log = logging.getLogger(__name__)

UNAVAILABLE = "sign-ins cannot be checked just now (the shared store does not answer); retry shortly"
MAX_FORM = 64 * 1024  # bytes of a token request read here before the SDK reads them again


class PerAddress:
    """Token buckets by client address (`burst` at once, then `per_second`), for the newest 10,000 addresses."""

    KEPT = 10_000

    def __init__(self, burst: float, per_second: float, clock: Callable[[], float] | None = None) -> None:
        from collections import OrderedDict

        self.burst, self.per_second, self.clock = burst, per_second, clock or time.monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (left, when)

    def take(self, address: str) -> bool:
        now = self.clock()
        left, when = self._buckets.pop(address, (self.burst, now))
        left = min(self.burst, left + (now - when) * self.per_second)
        self._buckets[address] = (left - 1 if left >= 1 else left, now)  # a refusal keeps what has refilled
        while len(self._buckets) > self.KEPT:
            self._buckets.popitem(last=False)
        return left >= 1


def client_address(scope: Scope) -> str:
    """Who a budget is charged to: the client's IPv4 address, or its IPv6 /64 (one host's usual share)."""
    host = str((scope.get("client") or ("?",))[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return str(ipaddress.ip_network(f"{host}/64", strict=False)) if address.version == 6 else host


class SignInGuard:
    """ASGI middleware for the sign-in endpoints; everything else passes through (with the store's 503)."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.consent = f"{public_url}/oauth/consent"
        self.resource = f"{public_url}/mcp"
        # (behind a proxy, uvicorn takes the address from X-Forwarded-For when FORWARDED_ALLOW_IPS trusts it)
        self.limits = {"/register": PerAddress(30, 0.1), "/authorize": PerAddress(60, 1.0)}
        self.overall = {"/register": PerAddress(300, 2.0), "/authorize": PerAddress(600, 10.0)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path") or "")
        limit = self.limits.get(path)
        if limit is not None and not (limit.take(client_address(scope)) and self.overall[path].take("*")):
            await refuse(send, 429, "too many sign-ins from this address; retry in a minute", {"retry-after": "60"})
            return
        if path == "/authorize":
            send = self._only_to_consent(send)
        elif path == "/token" and scope.get("method") == "POST":
            kinds = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"content-type"]
            # Exactly one, form-encoded: with two, this check and the SDK's parser could each read another.
            if len(kinds) != 1 or kinds[0].split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
                said = {"error": "invalid_request", "error_description": "send the form as x-www-form-urlencoded"}
                await answer(send, 400, said, {"cache-control": "no-store"})  # RFC 6749 §3.2: nothing else
                return
            body = await _read(receive)
            if body is None:
                await refuse(send, 413, "a token request is at most 64 KB", {})
                return
            if body is _GONE:
                return  # the client left mid-request: nothing is acted on
            resource = dict(parse_qsl(body.decode("latin-1"))).get("resource")
            if resource is not None and resource.rstrip("/") != self.resource:
                said = {"error": "invalid_target", "error_description": f"this server's resource is {self.resource}"}
                await answer(send, 400, said, {"cache-control": "no-store"})
                return
            receive = _replay(body, receive)
        await self._store_answers(scope, receive, send)

    def _only_to_consent(self, send: Send) -> Send:
        """A redirect from `/authorize` elsewhere than our consent page becomes a page the user decides on."""
        replaced = False

        async def guarded(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the body of the redirect we replaced
            if message["type"] == "http.response.start" and message.get("status") in (302, 303, 307):
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                location = headers.get("location", "")
                if not location.startswith(self.consent + "?"):
                    replaced = True
                    await send_body(send, 400, _refused_page(location), "text/html; charset=utf-8", HEADERS)
                    return
            await send(message)

        return guarded

    async def _store_answers(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with a store that does not answer turned into a 503, not the framework's 500: "later",
        never "unknown token" (a client told that drops its token and makes its user sign in again)."""
        held: list[Message] = []  # a 500, kept until we know whether the store caused it
        passed = False  # an answer (not a held 500) has begun: nothing else may be sent

        async def holding(message: Message) -> None:
            nonlocal passed
            if held or (message["type"] == "http.response.start" and message.get("status") == 500 and not passed):
                held.append(message)
            else:
                passed = True
                await send(message)

        try:
            await self.app(scope, receive, holding)
        except VaultUnavailable:
            if passed:
                raise
            log.warning("a request could not be served: the shared store holding sign-ins does not answer")
            await refuse(send, 503, UNAVAILABLE, {"retry-after": "5"})
            return
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)


def _refused_page(location: str) -> bytes:
    """The error the SDK would have redirected with, and a link the user may choose to follow."""
    said = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    text = (
        f"The application's sign-in request was refused ({said.get('error', 'invalid request')}: "
        f"{said.get('error_description', 'no reason given')}). Nothing was shared. Tell the application's developer."
    )
    link = f'<p><a href="{escape(location)}">Return to the application anyway</a></p></body>'
    return message_page("Sign-in cannot go on", text).replace("</body>", link).encode()


_GONE = b"\x00gone"  # the client disconnected before the body was whole


async def _read(receive: Receive) -> bytes | None:
    """The whole request body, None past `MAX_FORM`, or `_GONE` when the client left before it was whole."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _GONE
        body += bytes(message.get("body", b""))
        if len(body) > MAX_FORM:
            return None
        if not message.get("more_body"):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then whatever comes next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
