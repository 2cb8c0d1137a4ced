"""Sign-in for remote clients (issue 18): the MCP authorization flow, Backlog's OAuth behind it, the refusals.

The server runs on loopback with sign-in on; the fake Backlog (also on loopback) serves the consent
page and the token endpoint. A real MCP client (the SDK's) registers, authorizes with PKCE and calls
tools; the refusals are walked by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from backlog_mcp.cli import clear_cache, clear_store
from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space
from tests.conftest import text_of
from tests.faulty_backlog import serve_on_loopback
from tests.oauth_flow import (
    CLIENT_REDIRECT,
    LIST,
    Clock,
    SignIn,
    backlog_with_app,
    call,
    follow,
    free_port,
    oauth_server,
    post_mcp,
    query_of,
    register_app,
    text,
)
from tests.store_server import StoreServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HANA, BOB = 1073925001, 1073925008


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def sdk_client(base: str, storage: Memory) -> OAuthClientProvider:
    """The SDK's OAuth client, with a browser that follows every redirect and hands back the code."""
    landed: dict[str, str] = {}

    async def open_browser(url: str) -> None:
        answer = await follow(url)
        landed.update(query_of(answer.headers["location"]))

    async def come_back() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=landed["code"], state=landed.get("state"))

    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl(CLIENT_REDIRECT)], client_name="test client")
    return OAuthClientProvider(f"{base}/mcp", metadata, storage, open_browser, come_back)


async def signed_in_session(base: str, storage: Memory) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(auth=sdk_client(base, storage)) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_a_client_signs_in_with_backlog_and_calls_tools_as_that_user(tmp_path: Path) -> None:
    fake, clock, port = backlog_with_app(HANA)
    storage = Memory()
    with serve_on_loopback(fake) as backlog, oauth_server(backlog, port, clock, tmp_path) as base:
        async for client in signed_in_session(base, storage):
            me = text_of(await client.call_tool("get_myself", {}))
            assert "Hana Sato" in me
            assert fake.oauth.grants == ["authorization_code"]
            assert {r.user_id for r in fake.requests} == {HANA}  # as the user who signed in, with their token
            assert storage.tokens is not None and storage.tokens.refresh_token
            # Backlog's token is refreshed before it expires (an hour), with no sign-in again.
            clock.skew = 3500
            fake.requests.clear()
            issue = await client.call_tool("get_issue_details", {"issue_key": "ORBIT-1"})
            assert not issue.is_error and fake.oauth.grants == ["authorization_code", "refresh_token"]
            assert {r.user_id for r in fake.requests} == {HANA}
        async with httpx.AsyncClient() as http:
            resource = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
            assert resource["resource"] == f"{base}/mcp" and resource["authorization_servers"] == [base]
            server = (await http.get(f"{base}/.well-known/oauth-authorization-server")).json()
            assert server["code_challenge_methods_supported"] == ["S256"]
            assert server["registration_endpoint"] == f"{base}/register"
            # Our refresh token rotates: a new pair works, the old refresh token is spent.
            assert storage.tokens is not None and storage.client is not None
            form = {"grant_type": "refresh_token", "refresh_token": storage.tokens.refresh_token or "",
                    "client_id": storage.client.client_id or ""}  # fmt: skip
            if storage.client.client_secret:  # the SDK registers as a confidential client
                form["client_secret"] = storage.client.client_secret
            fresh = await http.post(f"{base}/token", data=form)
            assert fresh.status_code == 200, fresh.text
            listed = await post_mcp(http, base, fresh.json()["access_token"], LIST)
            assert listed.status_code == 200 and "get_issue_details" in listed.text
            # Asked again at once (the answer may have been lost): the same pair, not a sign-out.
            again = await http.post(f"{base}/token", data=form)
            assert again.status_code == 200 and again.json() == fresh.json()
            # Presented again later, a spent refresh token was stolen or replayed: the sign-in it belongs to ends.
            clock.skew += 60
            replayed = await http.post(f"{base}/token", data=form)
            assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
            assert (await post_mcp(http, base, fresh.json()["access_token"], LIST)).status_code == 401


async def test_the_refusals(tmp_path: Path) -> None:
    fake, clock, port = backlog_with_app(HANA)
    with serve_on_loopback(fake) as backlog, oauth_server(backlog, port, clock, tmp_path) as base:
        async with httpx.AsyncClient() as http:
            bare = await post_mcp(http, base, None, LIST)
            assert bare.status_code == 401
            said = bare.headers["www-authenticate"]
            assert (
                said.startswith("Bearer")
                and f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in said
            )
            # Health is open; metrics stay behind BACKLOG_HTTP_TOKEN, and with none set, closed.
            assert (await http.get(f"{base}/healthz")).json() == {"status": "ok"}
            assert (
                await http.get(f"{base}/metrics", headers={"authorization": f"Bearer {'x' * 20}"})
            ).status_code == 401
            walk = SignIn(base)
            await walk.register(http)
            # A redirect URI the client did not register: an error page, never a redirect there.
            elsewhere = await follow(walk.authorize_url(redirect_uri="http://127.0.0.1:9/steal"))
            assert elsewhere.status_code == 400 and "not registered" in elsewhere.text
            # PKCE: a wrong verifier and a missing one are refused; the right one works once.
            code = await walk.code()
            wrong = await walk.token(http, code, verifier="x" * 50)
            assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
            missing = await walk.token(http, code, verifier="")
            assert missing.status_code == 400
            elsewhere_token = await http.post(f"{base}/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": CLIENT_REDIRECT,
                "client_id": walk.client_id, "code_verifier": walk.verifier, "resource": "https://attacker.example/api"})  # fmt: skip
            assert (elsewhere_token.status_code, elsewhere_token.json()["error"]) == (400, "invalid_target")
            multipart = await http.post(f"{base}/token", files={"resource": (None, "https://attacker.example/api")},
                                        data={"grant_type": "authorization_code", "code": code})  # fmt: skip
            assert (multipart.status_code, multipart.json()["error"]) == (400, "invalid_request")
            twice = await http.post(f"{base}/token", content=b"grant_type=authorization_code", headers=[
                ("content-type", "multipart/form-data; boundary=B"), ("content-type", "application/x-www-form-urlencoded")])  # fmt: skip
            assert (twice.status_code, twice.json()["error"]) == (400, "invalid_request")
            good = await walk.token(http, code)
            assert good.status_code == 200, good.text
            token = good.json()["access_token"]
            assert (await post_mcp(http, base, token, LIST)).status_code == 200
            # The code again: refused, and the sign-in it made is revoked (whoever replays it may not be the user).
            replay = await walk.token(http, code)
            assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
            revoked = await post_mcp(http, base, token, LIST)
            assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["www-authenticate"]
            # Signing out (revocation) ends a token at once; an expired one is refused the same way.
            token = await walk.sign_in(http)
            out = await http.post(
                f"{base}/revoke", data={"token": token, "client_id": walk.client_id, "client_secret": ""}
            )
            assert out.status_code == 200
            assert (await post_mcp(http, base, token, LIST)).status_code == 401
            token = await walk.sign_in(http)
            clock.skew = 3700
            expired = await post_mcp(http, base, token, LIST)
            assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]
            # The user declines on Backlog's page: the client hears access_denied, with its state.
            fake.oauth.consent = None
            declined = query_of((await follow(walk.authorize_url())).headers["location"])
            assert declined["error"] == "access_denied" and declined["state"] == "client-state"
            # Backlog revokes the app: the call in flight fails saying so, the next request is a 401.
            fake.oauth.consent = HANA
            token = await walk.sign_in(http)
            fake.oauth.revoke(HANA)
            failed = await post_mcp(http, base, token, call("get_myself", {}))
            assert failed.json()["result"]["isError"] and "Sign in again" in text(failed)
            after = await post_mcp(http, base, token, LIST)
            assert after.status_code == 401
            # A callback nobody started: refused, nothing exchanged.
            stray = await http.get(f"{base}/oauth/callback", params={"state": "made-up", "code": "x"})
            assert stray.status_code == 400 and "Start again from your MCP client" in stray.text
    assert "refresh_token" in fake.oauth.grants  # the revoked user's refresh was tried, and refused


async def test_signed_in_users_never_see_each_others_cached_data(tmp_path: Path) -> None:
    fake, clock, port = backlog_with_app(None)
    with serve_on_loopback(fake) as backlog, oauth_server(backlog, port, clock, tmp_path) as base:
        async with httpx.AsyncClient() as http:
            fake.oauth.consent = HANA
            hana = await SignIn(base).sign_in(http)
            fake.oauth.consent = BOB
            bob = await SignIn(base).sign_in(http)
            seen = await post_mcp(http, base, hana, call("get_issue_details", {"issue_key": "ORBIT-1"}))
            assert text(seen).startswith("# ORBIT-1")  # cached now, for Hana
            denied = await post_mcp(http, base, bob, call("get_issue_details", {"issue_key": "ORBIT-1"}))
            assert "Issue ORBIT-1 does not exist" in text(denied)  # asked as Bob, not served Hana's copy
            assert "Bob Chen" in text(await post_mcp(http, base, bob, call("get_myself", {})))
            wrote = await post_mcp(
                http, base, hana, call("add_issue_comment", {"issue_key": "ORBIT-1", "content": "Hi"})
            )
            assert not wrote.json()["result"]["isError"], text(wrote)
            assert [r.user_id for r in fake.requests if r.method == "POST"] == [HANA]
    audit = [json.loads(line) for line in (tmp_path / "audit-a.jsonl").read_text().splitlines()]
    assert [(line["tool"], line["outcome"], len(line["user"])) for line in audit] == [("add_issue_comment", "done", 12)]
    log_text = "".join(p.read_text() for p in tmp_path.glob("audit-*.jsonl"))
    assert DEFAULT_API_KEY not in log_text


async def test_instances_share_sign_ins_through_the_store_encrypted(store: StoreServer, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet
    from redis.asyncio import Redis

    fake, clock, key = FakeBacklog(build_space()), Clock(), Fernet.generate_key().decode()
    port_a, port_b = free_port(), free_port()
    public = f"http://127.0.0.1:{port_a}"  # behind one name, as a load balancer would put them
    register_app(fake, public, clock)
    fake.oauth.consent = HANA
    shared = {"store_url": store.url, "state_key": key, "public": public}
    with (
        serve_on_loopback(fake) as backlog,
        oauth_server(backlog, port_a, clock, tmp_path, name="a", **shared) as a,
        oauth_server(backlog, port_b, clock, tmp_path, name="b", **shared) as b,
    ):
        async with httpx.AsyncClient() as http:
            walk = SignIn(a)
            token = await walk.sign_in(http)  # signed in through A, served by B
            assert "Hana Sato" in text(await post_mcp(http, b, token, call("get_myself", {})))
            # Both instances find Backlog's token near its expiry at once: one refreshes, the other uses its result.
            clock.skew = 3500
            both = await asyncio.gather(*(post_mcp(http, base, token, LIST) for base in (a, b, a, b)))
            assert [answer.status_code for answer in both] == [200] * 4
            assert fake.oauth.grants.count("refresh_token") == 1
            # At rest, nothing in the store signs anyone in or names them.
            redis = Redis.from_url(store.url, decode_responses=True)
            try:
                names = [name async for name in redis.scan_iter(match="backlog-mcp:oauth:*")]
                rows = " ".join([*names, *[str(await redis.get(name)) for name in names if ":lock:" not in name]])
            finally:
                await redis.aclose()
            secrets_held = [token, walk.tokens["refresh_token"], walk.client_id, *fake.oauth._access]
            assert len(names) >= 4 and not [s for s in secrets_held if s in rows] and "Hana" not in rows
            # Clearing the cache signs nobody out; signing out through B ends the token on A.
            assert await clear_store(store.url) >= 0
            assert (await post_mcp(http, a, token, LIST)).status_code == 200
            out = await http.post(
                f"{b}/revoke", data={"token": token, "client_id": walk.client_id, "client_secret": ""}
            )
            assert out.status_code == 200 and (await post_mcp(http, a, token, LIST)).status_code == 401


async def test_a_consent_link_handed_to_someone_else_signs_nobody_in(tmp_path: Path) -> None:
    """The confused deputy: a stranger's client starts a sign-in and sends the link to a user."""
    # The user would approve on Backlog's page: it names this server's application.
    fake, clock, port = backlog_with_app(HANA)
    with serve_on_loopback(fake) as backlog, oauth_server(backlog, port, clock, tmp_path) as base:
        async with httpx.AsyncClient() as http:
            stranger = SignIn(base)
            await stranger.register(http, name="<b>Helpful</b> assistant")
            # Backlog's consent link, taken from the stranger's own browser, opened by the user: refused on return.
            theirs = await follow(stranger.authorize_url(), stop=lambda location: "OAuth2AccessRequest" in location)
            landed = await follow(theirs.headers["location"])
            assert landed.status_code == 400 and "not started in this browser" in landed.text
            assert "location" not in landed.headers and fake.oauth.grants == []  # no code of Backlog's was used
            # The stranger approves their own consent page, then has the user's browser open it (setting the
            # user's cookie) before sending it on to Backlog: the page is the stranger's, and so is the approval.
            to_backlog = (await follow(stranger.authorize_url(), stop=lambda loc: "OAuth2AccessRequest" in loc)).headers
            request = query_of(to_backlog["location"])["state"]
            async with httpx.AsyncClient() as user:
                reopened = await user.get(f"{base}/oauth/consent", params={"request": request})
                assert reopened.status_code == 400 and "not started in this browser" in reopened.text
                returned = await follow(to_backlog["location"], browser=user)
                assert returned.status_code == 400 and "location" not in returned.headers
            # Whoever learns a sign-in's state cannot end it: the right browser still finishes.
            walk = SignIn(base, client_id=stranger.client_id)
            async with httpx.AsyncClient() as own:
                at_backlog = await follow(
                    walk.authorize_url(), stop=lambda loc: "OAuth2AccessRequest" in loc, browser=own
                )
                state = query_of(at_backlog.headers["location"])["state"]
                meddled = await http.get(f"{base}/oauth/callback", params={"state": state, "code": "made-up"})
                assert meddled.status_code == 400
                done = await follow(at_backlog.headers["location"], browser=own)
                assert "code" in query_of(done.headers["location"])
            # Our consent link instead: the user sees who asks and where the answer goes, escaped.
            async with httpx.AsyncClient() as browser:
                page = await browser.get((await http.get(stranger.authorize_url())).headers["location"])
            assert page.status_code == 200 and "&lt;b&gt;Helpful&lt;/b&gt; assistant" in page.text
            assert "<b>http://127.0.0.1:33418</b>" in page.text and "<b>Helpful" not in page.text
            assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
                "content-security-policy"]  # fmt: skip
            # Denied there: the client hears access_denied with its state, and Backlog is never asked.
            denied = query_of((await follow(stranger.authorize_url(), decision="deny")).headers["location"])
            assert denied == {"error": "access_denied", "error_description": "the user denied access",
                              "state": "client-state"}  # fmt: skip
            # A malformed request (no PKCE) from a client whose redirect URI is anyone's: a page, not a redirect.
            bad = await http.get(f"{base}/authorize", params={"client_id": stranger.client_id, "response_type": "code",
                                                               "redirect_uri": CLIENT_REDIRECT})  # fmt: skip
            assert bad.status_code == 400 and "location" not in bad.headers and "code_challenge" in bad.text
            assert f'href="{CLIENT_REDIRECT}?error=invalid_request' in bad.text  # the user may still choose to go
            # A forged answer (no cookie from the page) is refused.
            forged = await http.post(f"{base}/oauth/consent", data={"request": "x", "csrf": "y", "decision": "allow"})
            assert forged.status_code == 400
            # Registration: no plain-http redirect off loopback, no oversized metadata.
            for metadata in ({"redirect_uris": ["http://evil.example/cb"]},
                             {"redirect_uris": [CLIENT_REDIRECT], "client_name": "x" * 5000}):  # fmt: skip
                refused = await http.post(f"{base}/register", json=metadata)
                assert refused.status_code == 400, refused.text
            for uri in ("https://claude.ai@evil.example/cb", "intent://evil.example/cb", "https://a.example/cb#x",
                        "microsoft-edge:https://evil.example/cb", "mailto:me@evil.example"):  # fmt: skip
                refused = await http.post(f"{base}/register", json={"redirect_uris": [uri]})
                assert (refused.status_code, refused.json()["error"]) == (400, "invalid_redirect_uri"), uri
            for uri in ("cursor://anysphere.cursor-retrieval/oauth/user-backlog/callback",
                        "https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:33418/", "https://vscode.dev/redirect"):  # fmt: skip
                assert (await http.post(f"{base}/register", json={"redirect_uris": [uri]})).status_code == 201, uri
            # Registering takes no credentials: each address has a budget (30 at once, then one per 10 s).
            statuses = [(await http.post(f"{base}/register", json={"redirect_uris": [CLIENT_REDIRECT]})).status_code
                        for _ in range(30)]  # fmt: skip
            assert statuses[-1] == 429 and set(statuses) == {201, 429}


async def test_backlog_failing_a_refresh_keeps_the_sign_in(tmp_path: Path) -> None:
    fake, clock, port = backlog_with_app(HANA)
    with serve_on_loopback(fake) as backlog, oauth_server(backlog, port, clock, tmp_path) as base:
        async with httpx.AsyncClient() as http:
            walk = SignIn(base)
            token = await walk.sign_in(http)
            clock.skew = 3500  # Backlog's token is near its end: refreshed before use
            for status in (429, 503, 400):
                fake.oauth.outage = status
                answer = await post_mcp(http, base, token, call("get_myself", {}))
                assert answer.status_code == 200 and "Hana Sato" in text(answer)  # the current token still serves
            fake.oauth.outage = None
            assert "Hana Sato" in text(await post_mcp(http, base, token, call("get_myself", {})))
            # Declined once Backlog's token has run out: nothing left to serve with, so the user signs in again.
            fake.oauth.outage, clock.skew = 400, 3500 + 3700
            form = {"grant_type": "refresh_token", "refresh_token": walk.tokens["refresh_token"],
                    "client_id": walk.client_id}  # fmt: skip
            walk.tokens = (await http.post(f"{base}/token", data=form)).json()  # ours, renewed: still valid
            expired = await post_mcp(http, base, walk.tokens["access_token"], LIST)
            assert expired.status_code == 401
    assert fake.oauth.grants == ["authorization_code", *["refresh_token"] * 5]


async def test_a_store_outage_is_a_503_never_a_sign_out(store: StoreServer, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    fake, clock, port = backlog_with_app(HANA)
    key = Fernet.generate_key().decode()
    with (
        serve_on_loopback(fake) as backlog,
        oauth_server(backlog, port, clock, tmp_path, store_url=store.url, state_key=key) as base,
    ):
        async with httpx.AsyncClient() as http:
            token = await SignIn(base).sign_in(http)
            assert (await post_mcp(http, base, token, LIST)).status_code == 200
            store.stop()
            statuses = [(await post_mcp(http, base, token, LIST)).status_code for _ in range(3)]
            assert statuses == [503, 503, 503]  # "later", never "unknown token": the client keeps it


def test_the_consent_page_names_where_the_code_goes() -> None:
    from backlog_mcp.oauth_consent import returns_to

    assert returns_to("https://claude.ai/api/mcp/auth_callback?x=1") == "https://claude.ai"
    assert returns_to("http://127.0.0.1:33418/callback") == "http://127.0.0.1:33418"
    # Another scheme: its whole address, since what follows the scheme is what opens.
    assert returns_to("cursor://anysphere.cursor-retrieval/oauth/cb?state=1") == (
        "cursor://anysphere.cursor-retrieval/oauth/cb"
    )
    assert returns_to("com.example.app:/oauth2redirect") == "com.example.app:/oauth2redirect"


def test_budgets_per_address_refill_and_count_an_ipv6_host_once() -> None:
    from backlog_mcp.oauth_guard import PerAddress, client_address

    now = [0.0]
    budget = PerAddress(2, 0.2, clock=lambda: now[0])  # two at once, then one every 5 s
    assert budget.take("a") and budget.take("a") and not budget.take("a")
    took = []
    for _ in range(60):  # a caller retrying every second: refusals never spend what has refilled
        now[0] += 1
        took.append(budget.take("a"))
    assert took.count(True) == 12 and budget.take("b")  # one in five, as the rate says; others have their own
    assert client_address({"client": ("2001:db8::1", 1)}) == client_address({"client": ("2001:db8::ffff", 2)})
    assert client_address({"client": ("2001:db8:0:1::1", 1)}) != client_address({"client": ("2001:db8::1", 1)})
    assert client_address({"client": ("192.0.2.1", 1)}) == "192.0.2.1" and client_address({}) == "?"


async def test_a_restart_signs_nobody_out(tmp_path: Path) -> None:
    """One instance keeps sign-ins in its cache file, encrypted; clearing the cache leaves them."""
    fake, clock, port = backlog_with_app(HANA)
    with serve_on_loopback(fake) as backlog:
        async with httpx.AsyncClient() as http:
            with oauth_server(backlog, port, clock, tmp_path) as base:
                walk = SignIn(base)
                token = await walk.sign_in(http)
            file = tmp_path / "cache-a.sqlite3"
            stored = b"".join(p.read_bytes() for p in tmp_path.glob("cache-a.sqlite3*"))
            assert token.encode() not in stored and walk.client_id.encode() not in stored and b"Hana" not in stored
            assert await clear_cache(file) >= 0
            with oauth_server(backlog, port, clock, tmp_path) as base:
                assert "Hana Sato" in text(await post_mcp(http, base, token, call("get_myself", {})))
                again = await follow(walk.authorize_url())  # the client's registration is known still
                assert "code" in query_of(again.headers["location"])


async def test_the_state_file_stands_apart_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-ins in the cache file: their own connection, one lock across processes, single-use takes."""
    import sqlite3

    from backlog_mcp.cache import ResponseCache
    from backlog_mcp.oauth_state import SqliteVault, derived_key

    path = tmp_path / "cache.sqlite3"
    cache = await ResponseCache.open(path)
    one = await SqliteVault.open(path, derived_key("secret"))  # two processes' views of one file
    two = await SqliteVault.open(path, derived_key("secret"))
    try:
        await one.put("grant", "g", {"user": 1}, 60)
        await cache._disable(sqlite3.OperationalError("disk I/O error"))  # the cache gives up on a storage error
        assert await two.get("grant", "g") == {"user": 1}  # sign-ins carry on
        entered: list[str] = []

        async def second() -> None:
            async with two.lock("g"):
                entered.append("two")

        async with one.lock("g"):
            waiting = asyncio.ensure_future(second())
            await asyncio.sleep(0.3)
            assert entered == []  # held by the other process
        await waiting
        assert entered == ["two"]
        for version in ((3, 40, 1), (3, 26, 0)):  # with RETURNING, and without (older SQLite)
            monkeypatch.setattr(sqlite3, "sqlite_version_info", version)
            await one.put("code", "c", {"n": 1}, 60)
            taken = list(await asyncio.gather(one.take("code", "c"), two.take("code", "c")))
            assert sorted(taken, key=lambda row: row is None) == [{"n": 1}, None]  # one taker has it
    finally:
        await one.close()
        await two.close()
        await cache.close()
