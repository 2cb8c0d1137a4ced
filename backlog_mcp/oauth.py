"""Sign-in for remote clients: the OAuth authorization server MCP clients talk to, Backlog's OAuth behind it.

The MCP SDK serves the protocol: RFC 8414 and RFC 9728 metadata, dynamic client registration, the
exact redirect-URI match, PKCE (S256) checked at the token endpoint, and the bearer check on `/mcp`
with its `WWW-Authenticate`. This module keeps the state the SDK asks for (`oauth_state`) and does
the Backlog half: `/authorize` sends the user to Backlog's consent page; `/oauth/callback` trades
Backlog's code for the user's Backlog tokens (a *grant*) and answers the client with a code of ours.
Each MCP token maps to one grant, refreshed with Backlog before it expires; no grant is shared.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from backlog_mcp.client import signin
from backlog_mcp.errors import BacklogError, KeyRefusedError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from backlog_mcp.app import AppState
    from backlog_mcp.config import OAuthSettings, Settings
    from backlog_mcp.oauth_state import Row, Vault

log = logging.getLogger(__name__)

PENDING_FOR = 600  # seconds a user has on Backlog's consent page
CODE_FOR = 300  # our authorization codes: short-lived, single use
ACCESS_FOR = 3600  # our access tokens
REFRESH_FOR = 30 * 86400  # our refresh tokens, and a grant left unused
REFRESH_AHEAD = 300  # a Backlog token this near its expiry is refreshed before use


class SignedIn(AccessToken):
    """Our access token, as the bearer check hands it to a tool call: whose grant, and its Backlog token now."""

    grant: str = ""
    backlog_token: str = ""  # never rendered: the SDK shows none of this to the client


class Refresh(RefreshToken):
    grant: str = ""


class BacklogOAuth:
    """`OAuthAuthorizationServerProvider` for the SDK, and the callback route Backlog returns users to."""

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
        row = await self.vault.get("client", client_id)
        return None if row is None else OAuthClientInformationFull.model_validate(row)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self.vault.put("client", client_info.client_id or "", client_info.model_dump(mode="json"), None)

    # -- sign-in --------------------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """Backlog's consent page, with a state of ours that brings the user back to this request."""
        if params.resource is not None and params.resource.rstrip("/") != self.oauth.resource:
            raise AuthorizeError("invalid_target", f"this server's resource is {self.oauth.resource}")
        state = secrets.token_urlsafe(32)
        pending = {"client_id": client.client_id, "params": params.model_dump(mode="json")}
        await self.vault.put("pending", state, pending, PENDING_FOR)
        query = {"response_type": "code", "client_id": self.oauth.client_id, "redirect_uri": self.oauth.callback}
        return f"{self.settings.base_url}/OAuth2AccessRequest.action?{urlencode({**query, 'state': state})}"

    async def callback(self, request: Request) -> Response:
        """`GET /oauth/callback`: Backlog's answer; the user goes back to their client with our code or an error."""
        from starlette.responses import PlainTextResponse, RedirectResponse

        state = request.query_params.get("state", "")
        pending = await self.vault.take("pending", state) if state else None
        if pending is None:
            return PlainTextResponse(
                "This sign-in is unknown or has expired (10 minutes). Start again from your MCP client.", 400
            )
        params = AuthorizationParams.model_validate(pending["params"])

        def back(**answer: str | None) -> Response:
            location = construct_redirect_uri(str(params.redirect_uri), **answer, state=params.state)
            return RedirectResponse(location, status_code=302, headers={"cache-control": "no-store"})

        code = request.query_params.get("code", "")
        if not code:
            declined = request.query_params.get("error") == "access_denied"
            said = "the user declined on Backlog" if declined else "Backlog did not sign the user in"
            return back(error="access_denied" if declined else "server_error", error_description=said)
        try:
            grant = await self._grant(signin_grant(code, self.oauth.callback))
        except BacklogError as exc:
            log.warning("sign-in failed: %s", exc.message)
            return back(error="server_error", error_description="Backlog did not complete the sign-in; try again")
        ours = AuthorizationCode(
            code=secrets.token_urlsafe(32), scopes=params.scopes or [], expires_at=self.clock() + CODE_FOR,
            client_id=str(pending["client_id"]), code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri, redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=self.oauth.resource, subject=grant,
        )  # fmt: skip
        await self.vault.put("code", ours.code, ours.model_dump(mode="json"), CODE_FOR)
        return back(code=ours.code)

    async def _grant(self, form: dict[str, str]) -> str:
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
        if row is None or await self.vault.get("grant", str(row["grant"])) is None:
            return None
        return Refresh(
            token=refresh_token, client_id=row["client_id"], scopes=row["scopes"], expires_at=int(row["expires"]),
            resource=self.oauth.resource, grant=row["grant"],
        )  # fmt: skip

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: Refresh, scopes: list[str]
    ) -> OAuthToken:
        row = await self.vault.take("refresh", refresh_token.token)  # rotated: each refresh token works once
        if row is None:
            raise TokenError("invalid_grant", "refresh token already used")
        await self.vault.drop("access", str(row["access"]))
        return await self._issue(refresh_token.client_id, scopes, refresh_token.grant)

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
                log.info("Backlog no longer accepts user %s's sign-in; they must sign in again", grant["user"])
                await self.vault.drop("grant", grant_id)
                return None
            except BacklogError as exc:
                log.warning("could not refresh a Backlog token (%s); using the current one", exc.message)
                return grant
            fresh = self._grant_row(int(grant["user"]), tokens)
            await self.vault.put("grant", grant_id, fresh, REFRESH_FOR)
            return fresh

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


def vault_for(state: AppState, clock: Callable[[], float]) -> Vault:
    """The shared store's (encrypted) when the server has one, else this instance's memory."""
    from backlog_mcp.oauth_state import MemoryVault, StoreVault
    from backlog_mcp.store import StoreCache

    oauth = state.settings.oauth
    if isinstance(state.cache, StoreCache) and oauth is not None and oauth.state_key:
        return StoreVault(state.cache.store, oauth.state_key)
    return MemoryVault(clock)
