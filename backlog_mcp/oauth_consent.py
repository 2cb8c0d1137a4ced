"""The browser's part of sign-in: this server's consent page, then Backlog's, then back to the client.

Anyone can register a client and start a sign-in, and Backlog's own page trusts this server's
application whichever client is behind it. So before Backlog is asked, the user sees here which
client wants to act as them and where the code will go, and approves (the MCP spec's defence against
a confused deputy). The consent page sets a cookie bound to that one sign-in; the callback refuses a
return without it, so a Backlog consent link handed to someone else signs nobody in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationCode, AuthorizationParams, construct_redirect_uri

from backlog_mcp.errors import BacklogError
from backlog_mcp.oauth import CODE_FOR, PENDING_FOR, BacklogOAuth, signin_grant
from backlog_mcp.oauth_pages import HEADERS, consent_page, message_page

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)

COOKIE = "backlog_mcp_signin_"  # + a short hash of the sign-in: several may run in one browser
STARTED_ELSEWHERE = (
    "This sign-in was not started in this browser, its page was shown again (approve on the newest one), or it has "
    "expired (10 minutes). Start again from your MCP client."
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class BrowserFlow:
    """`/oauth/consent` (GET: the page; POST: the answer) and `/oauth/callback` (Backlog's answer)."""

    def __init__(self, provider: BacklogOAuth) -> None:
        self.provider = provider

    async def consent(self, request: Request) -> Response:
        return await (self._ask(request) if request.method == "GET" else self._answer(request))

    async def _ask(self, request: Request) -> Response:
        """The page. The first browser to open it owns the sign-in (its cookie); others are refused, a reload is not.

        Every showing withdraws an earlier approval: what the user approves is what this page shows now.
        """
        from starlette.responses import HTMLResponse

        key = request.query_params.get("request", "")
        pending = await self.provider.vault.get("pending", key) if key else None
        if pending is None or (pending.get("nonce") and not self._same_browser(request, key, pending)):
            return _message(STARTED_ELSEWHERE)
        nonce = request.cookies.get(self._cookie(key)) if pending.get("nonce") else None
        nonce, csrf = nonce or secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        shown = {**pending, "nonce": _digest(nonce), "csrf": csrf, "approved": None}
        await self.provider.vault.put("pending", key, shown, PENDING_FOR)
        page = consent_page(
            client=str(pending["client"]), returns_to=returns_to(str(AuthorizationParams.model_validate(
                pending["params"]).redirect_uri)), request=key, csrf=csrf,
            space=urlsplit(self.provider.settings.base_url).netloc,
        )  # fmt: skip
        response = HTMLResponse(page, headers=HEADERS)
        response.set_cookie(
            self._cookie(key), nonce, max_age=PENDING_FOR, path="/", secure=self._secure, httponly=True,
            samesite="lax",
        )  # fmt: skip
        return response

    @property
    def _secure(self) -> bool:
        return self.provider.oauth.public_url.startswith("https://")

    def _cookie(self, key: str) -> str:
        """The sign-in's cookie: `__Host-` over https, so no other host (a sibling subdomain) can plant one."""
        return ("__Host-" if self._secure else "") + COOKIE + _digest(key)[:12]

    async def _answer(self, request: Request) -> Response:
        from starlette.responses import RedirectResponse

        form = await request.form()
        key, csrf = str(form.get("request") or ""), str(form.get("csrf") or "")
        pending = await self.provider.vault.get("pending", key) if key else None
        if pending is None or not self._same_browser(request, key, pending):
            return _message(STARTED_ELSEWHERE)
        if not hmac.compare_digest(csrf.encode(), str(pending.get("csrf") or "").encode()):
            return _message(STARTED_ELSEWHERE)
        if form.get("decision") != "allow":
            await self.provider.vault.drop("pending", key)
            return _back(pending, error="access_denied", error_description="the user denied access")
        # Approved by this browser's cookie: the callback accepts exactly that one.
        await self.provider.vault.put("pending", key, {**pending, "approved": pending["nonce"]}, PENDING_FOR)
        return RedirectResponse(self.provider.backlog_consent_url(key), 303, headers={"cache-control": "no-store"})

    async def callback(self, request: Request) -> Response:
        """Backlog's answer: the user goes back to their client with our code, or with an error."""
        key = request.query_params.get("state", "")
        pending = await self.provider.vault.get("pending", key) if key else None
        if pending is None or not pending.get("approved") or not self._same_browser(request, key, pending, "approved"):
            return _message(STARTED_ELSEWHERE)  # and the sign-in stays: whoever knew the state cannot end it
        if await self.provider.vault.take("pending", key) is None:
            return _message(STARTED_ELSEWHERE)  # the same return twice: only the first goes on
        code = request.query_params.get("code", "")
        if not code:
            declined = request.query_params.get("error") == "access_denied"
            said = "the user declined on Backlog" if declined else "Backlog did not sign the user in"
            return _back(pending, error="access_denied" if declined else "server_error", error_description=said)
        try:
            grant = await self.provider.new_grant(signin_grant(code, self.provider.oauth.callback))
        except BacklogError as exc:
            log.warning("sign-in failed: %s", exc.message)
            return _back(pending, error="server_error", error_description="Backlog did not complete the sign-in")
        params = AuthorizationParams.model_validate(pending["params"])
        ours = AuthorizationCode(
            code=secrets.token_urlsafe(32), scopes=params.scopes or [], expires_at=self.provider.clock() + CODE_FOR,
            client_id=str(pending["client_id"]), code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri, redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=self.provider.oauth.resource, subject=grant,
        )  # fmt: skip
        await self.provider.vault.put("code", ours.code, ours.model_dump(mode="json"), CODE_FOR)
        response = _back(pending, code=ours.code)
        response.delete_cookie(self._cookie(key), path="/", secure=self._secure, httponly=True, samesite="lax")
        return response

    def _same_browser(self, request: Request, key: str, pending: dict[str, Any], field: str = "nonce") -> bool:
        """The request carries the cookie of the browser that opened (`nonce`) or approved (`approved`) the sign-in."""
        cookie = request.cookies.get(self._cookie(key), "")
        return bool(cookie) and hmac.compare_digest(_digest(cookie), str(pending.get(field) or ""))


def returns_to(redirect_uri: str) -> str:
    """Where the code goes, as the consent page shows it: a web address's scheme, host and port; any other
    scheme's whole address (without its query), since what follows the scheme is what opens."""
    target = urlsplit(redirect_uri)
    if target.scheme in ("http", "https"):
        return f"{target.scheme}://{target.hostname}{f':{target.port}' if target.port else ''}"
    return redirect_uri.split("?", 1)[0]


def _back(pending: dict[str, Any], **answer: str | None) -> Response:
    """To the client's redirect URI (registered, matched exactly by the SDK) with `answer` and its own state."""
    from starlette.responses import RedirectResponse

    params = AuthorizationParams.model_validate(pending["params"])
    location = construct_redirect_uri(str(params.redirect_uri), **answer, state=params.state)
    return RedirectResponse(location, status_code=302, headers={"cache-control": "no-store"})


def _message(text: str) -> Response:
    from starlette.responses import HTMLResponse

    return HTMLResponse(message_page("Sign-in cannot go on", text), status_code=400, headers=HEADERS)
