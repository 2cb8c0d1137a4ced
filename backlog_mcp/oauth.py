"""Sign-in for remote clients: the OAuth authorization server MCP clients talk to, Backlog's OAuth behind it.

The MCP SDK serves the protocol: RFC 8414 and RFC 9728 metadata, dynamic client registration, the
exact redirect-URI match, PKCE (S256) checked at the token endpoint, and the bearer check on `/mcp`
with its `WWW-Authenticate`. This module keeps the state the SDK asks for (`oauth_state`) and does
the Backlog half: `/authorize` leads to our consent page and on to Backlog's (`oauth_consent`),
whose return is traded for the user's Backlog tokens (a *grant*) and answered with a code of ours.
Each MCP token maps to one grant, refreshed with Backlog before it expires; no grant is shared.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from backlog_mcp.client import signin
from backlog_mcp.errors import BacklogError, KeyRefusedError
from backlog_mcp.oauth_state import VaultUnavailable

if TYPE_CHECKING:
    from backlog_mcp.app import AppState
    from backlog_mcp.config import OAuthSettings, Settings
    from backlog_mcp.oauth_state import Row, Vault

log = logging.getLogger(__name__)

PENDING_FOR = 600  # seconds a user has on Backlog's consent page
CODE_FOR = 300  # our authorization codes: short-lived, single use
UNUSED_CLIENT_FOR = 86400  # a registered client that never got a token
ACCESS_FOR = 3600  # our access tokens
REFRESH_FOR = 30 * 86400  # our refresh tokens, and a grant left unused
REFRESH_AHEAD = 300  # a Backlog token this near its expiry is refreshed before use
REUSE_GRACE = 30  # seconds a rotated refresh token still gets the pair it got (its answer may have been lost)


class SignedIn(AccessToken):
    """Our access token, as the bearer check hands it to a tool call: whose grant, and its Backlog token now."""

    grant: str = ""
    backlog_token: str = ""  # never rendered: the SDK shows none of this to the client


class Refresh(RefreshToken):
    grant: str = ""
    retried: bool = False  # presented again within `REUSE_GRACE`: answered with the pair it already got


class BacklogOAuth:
    """`OAuthAuthorizationServerProvider` for the SDK: clients, codes, tokens, and the grants behind them."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        assert settings.oauth is not None
        self.settings = settings
        self.oauth: OAuthSettings = settings.oauth
        self.clock = clock
        self._state: AppState | None = None
        self._vault: Vault | None = None

    def attach(self, state: AppState | None, vault: Vault | None) -> None:
        """Bound to the running server's state in its lifespan (None: stopped)."""
        self._state, self._vault = state, vault

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            raise TokenError("invalid_request", "the server is starting or stopping; try again")
        return self._vault

    # -- clients --------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        row = await self.vault.get("client in use", client_id) or await self.vault.get("client", client_id)
        return None if row is None else OAuthClientInformationFull.model_validate(row)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        """Keep a client (a day until it first gets a token, then `REFRESH_FOR` from each token it gets).

        Raises:
            RegistrationError: metadata too large, or a redirect URI that could leak a code.
        """
        check_registration(client_info)
        await self._keep_client(client_info, used=False)

    async def _keep_client(self, client: OAuthClientInformationFull, *, used: bool) -> None:
        """Unused clients are one kind, clients that got a token another: a flood of the first evicts none of these.
        A client's unused row is left to run out (an older instance may still read it)."""
        kind, ttl = ("client in use", REFRESH_FOR) if used else ("client", UNUSED_CLIENT_FOR)
        await self.vault.put(kind, client.client_id or "", client.model_dump(mode="json"), ttl)

    # -- sign-in --------------------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """Our consent page for this request (`oauth_consent`), which then sends the user on to Backlog's."""
        if params.resource is not None and params.resource.rstrip("/") != self.oauth.resource:
            raise AuthorizeError("invalid_target", f"this server's resource is {self.oauth.resource}")
        request = secrets.token_urlsafe(32)
        pending = {
            "client_id": client.client_id, "client": client.client_name or client.client_id,
            "params": params.model_dump(mode="json"),
        }  # fmt: skip
        await self.vault.put("pending", request, pending, PENDING_FOR)
        return f"{self.oauth.public_url}/oauth/consent?{urlencode({'request': request})}"

    def backlog_consent_url(self, request: str) -> str:
        """Backlog's consent page; `request` comes back as its state."""
        query = {"response_type": "code", "client_id": self.oauth.client_id, "redirect_uri": self.oauth.callback}
        return f"{self.settings.base_url}/OAuth2AccessRequest.action?{urlencode({**query, 'state': request})}"

    async def new_grant(self, form: dict[str, str]) -> str:
        """Backlog's tokens for a code, kept as a new grant; its id."""
        tokens = await signin.exchange(self._client(), self.oauth, **form)
        user = await signin.myself(self._client(), tokens.access)
        grant = secrets.token_urlsafe(24)
        await self.vault.put("grant", grant, self._grant_row(int(user["id"]), tokens), REFRESH_FOR)
        log.info("user %s signed in", user["id"])
        return grant

    def _grant_row(self, user_id: int, tokens: signin.Tokens) -> Row:
        expires = self.clock() + tokens.expires_in
        return {"user": user_id, "access": tokens.access, "refresh": tokens.refresh, "expires": expires}

    def _client(self) -> Any:
        if self._state is None:
            raise TokenError("invalid_request", "the server is starting or stopping; try again")
        return self._state.client

    # -- codes and tokens -----------------------------------------------------------------------

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        row = await self.vault.get("code", authorization_code)
        if row is not None:
            return AuthorizationCode.model_validate(row)
        used = await self.vault.take("used", authorization_code)
        if used is not None:  # a code presented twice: whoever holds its tokens may not be the user (RFC 6749 §4.1.2)
            log.warning("an authorization code was used twice; its sign-in is revoked")
            await self.vault.drop("grant", str(used["grant"]))
        return None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        if await self.vault.take("code", authorization_code.code) is None:
            raise TokenError("invalid_grant", "authorization code already used")  # another request won the race
        grant = authorization_code.subject or ""
        await self.vault.put("used", authorization_code.code, {"grant": grant}, CODE_FOR)
        await self._keep_client(client, used=True)
        return await self._issue(client.client_id or "", authorization_code.scopes, grant)

    async def _issue(self, client_id: str, scopes: list[str], grant: str) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        shared = {"client_id": client_id, "scopes": scopes, "grant": grant}
        await self.vault.put("access", access, {**shared, "expires": now + ACCESS_FOR}, ACCESS_FOR)
        await self.vault.put(
            "refresh", refresh, {**shared, "access": access, "expires": now + REFRESH_FOR}, REFRESH_FOR
        )
        scope = " ".join(scopes) or None
        return OAuthToken(access_token=access, expires_in=ACCESS_FOR, refresh_token=refresh, scope=scope)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> Refresh | None:
        row = await self.vault.get("refresh", refresh_token)
        if row is None:
            spent = await self.vault.get("spent", refresh_token)
            if spent is not None and self.clock() < float(spent["until"]):
                # The client asking again because the answer never reached it: the same answer, not a sign-out.
                return Refresh(
                    token=refresh_token, client_id=spent["client_id"], scopes=spent["scopes"],
                    resource=self.oauth.resource, grant=spent["grant"], retried=True,
                )  # fmt: skip
            if spent is not None:  # a rotated token presented again later: stolen or replayed, so the sign-in ends
                log.warning("a spent refresh token was presented again; its sign-in is revoked")
                await self.vault.drop("spent", refresh_token)
                await self.vault.drop("grant", str(spent["grant"]))
            return None
        if await self.vault.get("grant", str(row["grant"])) is None:
            return None
        return Refresh(
            token=refresh_token, client_id=row["client_id"], scopes=row["scopes"], expires_at=int(row["expires"]),
            resource=self.oauth.resource, grant=row["grant"],
        )  # fmt: skip

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: Refresh, scopes: list[str]
    ) -> OAuthToken:
        if refresh_token.retried:
            spent = await self.vault.get("spent", refresh_token.token)
            if spent is None or await self.vault.get("grant", refresh_token.grant) is None:
                raise TokenError("invalid_grant", "refresh token already used")
            return OAuthToken.model_validate(spent["pair"])
        row = await self.vault.take("refresh", refresh_token.token)  # rotated: each refresh token works once
        if row is None:
            raise TokenError("invalid_grant", "refresh token already used")
        await self.vault.drop("access", str(row["access"]))
        await self._keep_client(client, used=True)
        pair = await self._issue(refresh_token.client_id, scopes, refresh_token.grant)
        spent = {"grant": refresh_token.grant, "client_id": refresh_token.client_id, "scopes": scopes,
                 "until": self.clock() + REUSE_GRACE, "pair": pair.model_dump(mode="json")}  # fmt: skip
        await self.vault.put("spent", refresh_token.token, spent, REFRESH_FOR)
        return pair

    async def load_access_token(self, token: str) -> SignedIn | None:
        """The token's grant with a Backlog token good for a while; None (a 401 for the client) when it has none."""
        row = await self.vault.get("access", token)
        if row is None or float(row["expires"]) <= self.clock():
            return None
        grant = await self._fresh(str(row["grant"]))
        if grant is None:
            return None
        return SignedIn(
            token=token, client_id=row["client_id"], scopes=row["scopes"], expires_at=int(row["expires"]),
            resource=self.oauth.resource, subject=str(grant["user"]), grant=row["grant"], backlog_token=grant["access"],
        )  # fmt: skip

    async def _fresh(self, grant_id: str) -> Row | None:
        """The grant, its Backlog token refreshed first when near its expiry or just refused by Backlog."""
        grant = await self.vault.get("grant", grant_id)
        if grant is None or not self._stale(grant):
            return grant
        async with self.vault.lock(grant_id):  # one refresh per grant across instances: the refresh token rotates
            grant = await self.vault.get("grant", grant_id)
            if grant is None or not self._stale(grant):
                return grant  # another request or instance refreshed it meanwhile
            try:
                tokens = await signin.exchange(self._client(), self.oauth, **refresh_grant(str(grant["refresh"])))
            except signin.SignInRefused:
                now = await self.vault.get("grant", grant_id)
                if now is not None and now["refresh"] != grant["refresh"]:
                    return now  # refreshed meanwhile (a lock outlived): that refresh stands
                log.info("Backlog no longer accepts user %s's sign-in; they must sign in again", grant["user"])
                await self.vault.drop("grant", grant_id)
                return None
            except BacklogError as exc:
                if isinstance(exc, signin.TokenDeclined) and float(grant["expires"]) <= self.clock():
                    # Declined, and nothing left to serve with: signing in again beats failing every call.
                    log.info("Backlog declined to refresh user %s's expired sign-in (%s)", grant["user"], exc.message)
                    await self.vault.drop("grant", grant_id)
                    return None
                log.warning("could not refresh a Backlog token (%s); using the current one", exc.message)
                return grant
            fresh = self._grant_row(int(grant["user"]), tokens)
            await self._keep_grant(grant_id, fresh)
            return fresh

    async def _keep_grant(self, grant_id: str, fresh: Row) -> None:
        """Write a refreshed grant, trying a little longer: Backlog already rotated the refresh token it replaces."""
        deadline = time.monotonic() + 5  # within the bearer check, under the grant's lock: not for long
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(0.25 * attempt)
            try:
                await self.vault.put("grant", grant_id, fresh, REFRESH_FOR)
                return
            except VaultUnavailable:
                if time.monotonic() > deadline:
                    break
        log.error("a refreshed sign-in could not be kept (the shared store does not answer); user %s will have to "
                  "sign in again", fresh["user"])  # fmt: skip

    def _stale(self, grant: Row) -> bool:
        users = self._state.users if self._state is not None else None
        refused = users is not None and users.refused(str(grant["access"]))
        return refused or float(grant["expires"]) - self.clock() < REFRESH_AHEAD

    async def revoke_token(self, token: SignedIn | Refresh) -> None:
        """Sign out: the grant (the user's Backlog tokens here) and both our tokens go."""
        await self.vault.drop("grant", token.grant)
        await self.vault.drop("access" if isinstance(token, SignedIn) else "refresh", token.token)


def signin_grant(code: str, redirect_uri: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}


def refresh_grant(refresh: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh}


def signed_in(app: AppState) -> AppState:
    """The state for the user whose OAuth access token this request carries (the bearer check passed it)."""
    from mcp.server.auth.middleware.auth_context import get_access_token
    from mcp.server.mcpserver.exceptions import ToolError

    token = get_access_token()
    if not isinstance(token, SignedIn) or not token.backlog_token:  # the bearer check refuses such requests first
        raise ToolError("Sign in first: this server serves users who signed in with Backlog through their client.")
    try:
        return app.for_key(token.backlog_token, token.subject)
    except KeyRefusedError as exc:
        raise ToolError(exc.message) from None


def server_options(provider: BacklogOAuth) -> dict[str, Any]:
    """What `MCPServer` takes to serve the authorization server and check bearer tokens on `/mcp`."""
    from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions

    oauth = provider.oauth
    auth = AuthSettings(
        issuer_url=oauth.public_url, resource_server_url=oauth.resource, validate_token_resource=True,  # type: ignore[arg-type]
        client_registration_options=ClientRegistrationOptions(enabled=True),
        revocation_options=RevocationOptions(enabled=True),
    )  # fmt: skip
    return {"auth": auth, "auth_server_provider": provider}


async def open_vault(state: AppState, clock: Callable[[], float]) -> Vault:
    """The shared store's when the server has one, else its cache file's (both encrypted), else its memory."""
    from backlog_mcp.cache import ResponseCache
    from backlog_mcp.oauth_state import MemoryVault, SqliteVault, StoreVault, derived_key
    from backlog_mcp.store import StoreCache

    oauth = state.settings.oauth
    if isinstance(state.cache, StoreCache) and oauth is not None and oauth.state_key:
        return StoreVault(state.cache.store, oauth.state_key, lock_for=2 * state.settings.timeout + 5)
    cache = state.cache
    if isinstance(cache, ResponseCache) and cache.enabled and cache.path is not None and oauth is not None:
        try:
            key = oauth.state_key or derived_key(oauth.client_secret)
            return await SqliteVault.open(cache.path, key, clock, lock_for=2 * state.settings.timeout + 5)
        except VaultUnavailable as exc:
            log.warning("sign-ins kept in memory only: %s", exc)
    return MemoryVault(clock)


def check_registration(client: OAuthClientInformationFull) -> None:
    """Bounded metadata, and redirect URIs that cannot leak a code: https, http on loopback, or an app's own scheme.

    Raises:
        RegistrationError: the first thing wrong, said for the client's developer.
    """
    uris = [str(uri) for uri in client.redirect_uris or []]
    # Schemes that open something else than the client: a script, a file, a socket, or a browser at an address.
    refused = ("javascript", "data", "file", "vbscript", "ftp", "intent", "ws", "wss", "blob", "about", "http",
               "mailto", "tel", "sms", "microsoft-edge", "firefox", "googlechrome", "googlechromes", "opera-http",
               "opera-https", "x-safari-http", "x-safari-https", "brave", "vivaldi", "search-ms", "view-source",
               "jar")  # fmt: skip
    if len(client.model_dump_json()) > 8192 or len(uris) > 10 or len(client.client_name or "") > 200:
        raise RegistrationError(
            "invalid_client_metadata", "at most 8 KB of metadata, 10 redirect URIs, a 200-character name"
        )
    for uri in uris:
        parts = urlsplit(uri)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        # A user name before the host passes for another host on the consent page; a fragment is not allowed (RFC 6749).
        launcher = parts.scheme in refused or parts.scheme.startswith("ms-")  # ms-msdt:, ms-word: … open programs
        if (launcher and not (parts.scheme == "http" and loopback)) or parts.username or parts.fragment:
            raise RegistrationError(
                "invalid_redirect_uri", f"{uri[:100]}: use https, http on loopback, or the application's own scheme"
            )
