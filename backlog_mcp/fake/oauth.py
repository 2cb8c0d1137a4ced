"""Backlog's OAuth 2.0 in the fake (backlog-api.md §2.2): the consent page, the token endpoint, bearer tokens.

The consent is scripted: `consent` names the user who signs in and approves (None: they decline).
Access tokens live an hour by `clock`, which tests move; refresh tokens rotate on use; `revoke`
stands for a user removing the app in Backlog: none of their tokens works after it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from backlog_mcp.fake.protocol import Answer

AUTHORIZE_PATH = "/OAuth2AccessRequest.action"
TOKEN_PATH = "/api/v2/oauth2/token"
ACCESS_FOR = 3600  # seconds (Backlog: one hour)
CODE_FOR = 600


@dataclass(frozen=True)
class App:
    """An application registered on Backlog's developer site."""

    secret: str
    redirect_uri: str


def _error(status: int, error: str, description: str) -> Answer:
    return status, {"error": error, "error_description": description}, []


class FakeOAuth:
    """The authorization and token endpoints, and who each bearer token is."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.apps: dict[str, App] = {}
        self.consent: int | None = None  # the user who approves on the consent page; None: they decline
        self.grants: list[str] = []  # grant types asked for at the token endpoint, in order
        self.outage: int | None = None  # a status the token endpoint answers instead (429, 503), for tests
        self._codes: dict[str, tuple[str, str, int, float]] = {}  # code -> client, redirect URI, user, expiry
        self._access: dict[str, tuple[int, float]] = {}  # token -> user, expiry
        self._refresh: dict[str, tuple[str, int]] = {}  # token -> client, user

    def register(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.apps[client_id] = App(secret, redirect_uri)

    def user_of(self, token: str) -> int | None:
        """The user a live access token acts as."""
        found = self._access.get(token)
        return found[0] if found is not None and found[1] > self.clock() else None

    def revoke(self, user_id: int) -> None:
        """The user removed the app: every token of theirs stops working."""
        self._access = {t: v for t, v in self._access.items() if v[0] != user_id}
        self._refresh = {t: v for t, v in self._refresh.items() if v[1] != user_id}

    def authorize(self, query: list[tuple[str, str]]) -> Answer:
        """The consent page: a redirect back with a code, or an error page for a request it cannot trust."""
        params = dict(query)
        app = self.apps.get(params.get("client_id", ""))
        if app is None or params.get("redirect_uri") != app.redirect_uri:
            # Never redirect to an address the app did not register (RFC 6749 §4.1.2.1).
            return _error(400, "invalid_request", "unknown client_id or redirect_uri not registered")
        if params.get("response_type") != "code":
            return self._back(app.redirect_uri, {"error": "unsupported_response_type"}, params)
        if self.consent is None:
            return self._back(app.redirect_uri, {"error": "access_denied"}, params)
        code = secrets.token_urlsafe(24)
        self._codes[code] = (params["client_id"], app.redirect_uri, self.consent, self.clock() + CODE_FOR)
        return self._back(app.redirect_uri, {"code": code}, params)

    @staticmethod
    def _back(redirect_uri: str, answer: dict[str, str], params: dict[str, str]) -> Answer:
        if "state" in params:
            answer["state"] = params["state"]
        return 302, None, [(b"location", f"{redirect_uri}?{urlencode(answer)}".encode())]

    def token(self, form: list[tuple[str, str]]) -> Answer:
        """`POST /api/v2/oauth2/token`: a code or a refresh token for a new pair."""
        params = dict(form)
        grant = params.get("grant_type", "")
        self.grants.append(grant)
        if self.outage is not None:
            return self.outage, {"errors": [{"message": "Unavailable.", "code": 13, "moreInfo": ""}]}, []
        app = self.apps.get(params.get("client_id", ""))
        if app is None or not secrets.compare_digest(params.get("client_secret", ""), app.secret):
            return _error(401, "invalid_client", "client authentication failed")
        if grant == "authorization_code":
            found = self._codes.pop(params.get("code", ""), None)
            if found is None or found[0] != params["client_id"] or found[3] <= self.clock():
                return _error(400, "invalid_grant", "the code is unknown, used or expired")
            if params.get("redirect_uri") != found[1]:
                return _error(400, "invalid_grant", "redirect_uri does not match")
            return self._issue(params["client_id"], found[2])
        if grant == "refresh_token":
            held = self._refresh.pop(params.get("refresh_token", ""), None)
            if held is None or held[0] != params["client_id"]:
                return _error(400, "invalid_grant", "the refresh token is unknown or revoked")
            return self._issue(held[0], held[1])
        return _error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _issue(self, client_id: str, user_id: int) -> Answer:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = (user_id, self.clock() + ACCESS_FOR)
        self._refresh[refresh] = (client_id, user_id)
        payload = {"access_token": access, "token_type": "Bearer", "expires_in": ACCESS_FOR, "refresh_token": refresh}
        return 200, payload, [(b"cache-control", b"no-store")]
