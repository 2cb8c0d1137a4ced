"""Helpers for the sign-in tests: the server over loopback with OAuth, and a browser that follows redirects."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from backlog_mcp.config import OAuthSettings, Settings
from backlog_mcp.fake import FakeBacklog, build_space
from backlog_mcp.http import http_app
from backlog_mcp.server import build_server
from tests.faulty_backlog import serve_on_loopback

APP_ID, APP_SECRET = "backlog-app-id", "backlog-app-secret"
CLIENT_REDIRECT = "http://127.0.0.1:33418/callback"  # the MCP client's own listener; never fetched


@dataclass
class Clock:
    """Wall time plus a skew the test moves: the fake's token lifetimes and the server's agree."""

    skew: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register_app(fake: FakeBacklog, public: str, clock: Clock) -> None:
    """The operator registered this server's callback with Backlog; the fake keeps the test's time."""
    fake.oauth.register(APP_ID, APP_SECRET, f"{public}/oauth/callback")
    fake.oauth.clock = clock


def backlog_with_app(consent: int | None) -> tuple[FakeBacklog, Clock, int]:
    """A fake Backlog where this server (to be served on the port returned) is a registered application, and
    `consent` is the user who approves on its consent page."""
    fake, clock, port = FakeBacklog(build_space()), Clock(), free_port()
    register_app(fake, f"http://127.0.0.1:{port}", clock)
    fake.oauth.consent = consent
    return fake, clock, port


@contextmanager
def oauth_server(
    backlog: str, port: int, clock: Clock, tmp_path: Path, *, public: str | None = None, store_url: str | None = None,
    state_key: str | None = None, name: str = "a",
) -> Iterator[str]:  # fmt: skip
    """The server with sign-in, served on `port`; yields its base URL (its public URL unless `public` says)."""
    base = f"http://127.0.0.1:{port}"
    oauth = OAuthSettings(APP_ID, APP_SECRET, public or base, state_key)
    settings = Settings(
        api_key="-", base_url=backlog, per_user_keys=True, oauth=oauth, store_url=store_url,
        cache_path=None if store_url else tmp_path / f"cache-{name}.sqlite3", audit_path=tmp_path / f"audit-{name}.jsonl",
    )  # fmt: skip
    server = build_server(settings, clock=clock)
    app = http_app(server, host="127.0.0.1", port=port, token=None, per_user_keys=True, public_url=oauth.public_url)
    with serve_on_loopback(app, port, lifespan="on") as url:
        yield url


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


CONSENT_FORM = re.compile(r'name="request" value="([^"]+)".*name="csrf" value="([^"]+)"', re.S)


async def follow(
    url: str,
    *,
    decision: str = "allow",
    stop: Callable[[str], bool] = lambda _location: False,
    browser: httpx.AsyncClient | None = None,
) -> httpx.Response:
    """A browser (its own cookies, or `browser`'s): follow redirects, answering this server's consent page with
    `decision`, until a redirect leaves for the client's own redirect URI or `stop(location)`, or a page answers."""
    if browser is None:
        async with httpx.AsyncClient() as own:
            return await follow(url, decision=decision, stop=stop, browser=own)
    answer = await browser.get(url)
    for _ in range(8):
        form = CONSENT_FORM.search(answer.text) if answer.status_code == 200 else None
        if form is not None:
            page = urlsplit(str(answer.url))
            data = {"request": form[1], "csrf": form[2], "decision": decision}
            answer = await browser.post(f"{page.scheme}://{page.netloc}/oauth/consent", data=data)
            continue
        location = answer.headers.get("location", "")
        if answer.status_code not in (302, 303, 307) or location.startswith(CLIENT_REDIRECT) or stop(location):
            return answer
        answer = await browser.get(location)
    raise AssertionError("too many redirects")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class SignIn:
    """One client's manual walk through registration, authorization and the token endpoint."""

    base: str
    client_id: str = ""
    verifier: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    async def register(self, http: httpx.AsyncClient, name: str = "t") -> None:
        answer = await http.post(
            f"{self.base}/register",
            json={"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none", "client_name": name},
        )
        assert answer.status_code == 201, answer.text
        self.client_id = answer.json()["client_id"]

    def authorize_url(self, *, redirect_uri: str = CLIENT_REDIRECT, challenge: str | None = None) -> str:
        self.verifier, made = pkce()
        query = httpx.QueryParams(
            response_type="code", client_id=self.client_id, redirect_uri=redirect_uri, state="client-state",
            code_challenge=challenge if challenge is not None else made, code_challenge_method="S256",
        )  # fmt: skip
        return f"{self.base}/authorize?{query}"

    async def code(self) -> str:
        answer = await follow(self.authorize_url())
        said = query_of(answer.headers["location"])
        assert said["state"] == "client-state", said
        return said["code"]

    async def token(self, http: httpx.AsyncClient, code: str, verifier: str | None = None) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT,
                "client_id": self.client_id, "code_verifier": self.verifier if verifier is None else verifier}  # fmt: skip
        return await http.post(f"{self.base}/token", data=form)

    async def sign_in(self, http: httpx.AsyncClient) -> str:
        if not self.client_id:
            await self.register(http)
        answer = await self.token(http, await self.code())
        assert answer.status_code == 200, answer.text
        self.tokens = answer.json()
        return self.tokens["access_token"]


LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


async def post_mcp(http: httpx.AsyncClient, base: str, token: str | None, body: dict[str, object]) -> httpx.Response:
    headers = {**HEADERS, **({"authorization": f"Bearer {token}"} if token else {})}
    return await http.post(f"{base}/mcp", json=body, headers=headers)


def text(answer: httpx.Response) -> str:
    result = answer.json()["result"]
    return "\n".join(block["text"] for block in result["content"] if block["type"] == "text")
