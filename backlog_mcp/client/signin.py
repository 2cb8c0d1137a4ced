"""Backlog's OAuth token endpoint and the signed-in user (backlog-api.md §2.2), over the shared pool.

Not through `_request`: these calls carry the application's secret or a token just issued, never an
API key, and are neither cached nor retried (a code works once; a refresh token may rotate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backlog_mcp.errors import BacklogError, TransportError

if TYPE_CHECKING:
    from backlog_mcp.client.transport import Transport
    from backlog_mcp.config import OAuthSettings

TOKEN_PATH = "oauth2/token"


class SignInRefused(BacklogError):
    """Backlog's token endpoint said `invalid_grant`: the code or refresh token is unknown, used, expired or revoked.

    Anything else (a 429, a 5xx, `invalid_client` after the app's secret changed) is a `TransportError`:
    the user's sign-in stands, and is tried again later."""


class TokenDeclined(TransportError):
    """A 400, 401 or 403 without `invalid_grant`: Backlog's documented errors are OAuth's, so this may be a
    refusal worded otherwise; the sign-in stands while its token lives."""


@dataclass(frozen=True)
class Tokens:
    """A user's Backlog tokens, as the token endpoint answered."""

    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_in: float


async def exchange(transport: Transport, oauth: OAuthSettings, **grant: str) -> Tokens:
    """`POST /api/v2/oauth2/token` with the application's credentials and `grant`.

    Raises:
        SignInRefused: Backlog refused the grant (4xx).
        TransportError: no usable answer (network, 5xx, a body that is not a token).
    """
    import httpx

    form = {**grant, "client_id": oauth.client_id, "client_secret": oauth.client_secret}
    try:
        response = await transport.pool.post(TOKEN_PATH, data=form)
    except httpx.HTTPError as exc:
        raise TransportError(f"POST /oauth2/token: cannot reach Backlog ({type(exc).__name__})") from None
    body = _json(response)
    said = str(body.get("error") or f"HTTP {response.status_code}")[:40]
    if response.status_code in (400, 401) and said == "invalid_grant":
        raise SignInRefused(f"POST /oauth2/token: Backlog refused the grant ({said})", method="POST", path=TOKEN_PATH)
    if said == "invalid_client":
        raise TransportError(
            "POST /oauth2/token: Backlog refused this server's application (invalid_client): check "
            "BACKLOG_OAUTH_CLIENT_ID and BACKLOG_OAUTH_CLIENT_SECRET against Backlog's developer site"
        )
    if response.status_code in (400, 401, 403):
        raise TokenDeclined(f"POST /oauth2/token: Backlog did not issue a token ({said})")
    if response.status_code >= 400:
        raise TransportError(f"POST /oauth2/token: Backlog did not issue a token ({said})")
    access, refresh, expires = body.get("access_token"), body.get("refresh_token"), body.get("expires_in")
    if response.status_code != 200 or not isinstance(access, str) or not isinstance(refresh, str):
        raise TransportError(f"POST /oauth2/token: no token in Backlog's answer (HTTP {response.status_code})")
    return Tokens(access, refresh, float(expires) if isinstance(expires, int | float) else 3600.0)


async def myself(transport: Transport, access: str) -> dict[str, Any]:
    """The user a fresh access token acts as (`GET /users/myself`).

    Raises:
        TransportError: no usable answer.
    """
    import httpx

    try:
        response = await transport.pool.get("users/myself", headers={"Authorization": f"Bearer {access}"})
    except httpx.HTTPError as exc:
        raise TransportError(f"GET /users/myself: cannot reach Backlog ({type(exc).__name__})") from None
    body = _json(response)
    if response.status_code != 200 or not isinstance(body.get("id"), int):
        raise TransportError(
            f"GET /users/myself: Backlog did not name the signed-in user (HTTP {response.status_code})"
        )
    return body


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
