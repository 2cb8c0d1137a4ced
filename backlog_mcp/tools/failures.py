"""How each failure is said to the model: one or two actionable sentences, never a URL with the key.

Text from upstream in them is one line, capped and escaped (`matching.shown`).
"""

from __future__ import annotations

from pydantic import ValidationError

from backlog_mcp.errors import (
    AuthenticationError,
    BacklogError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ReadOnlyError,
    ServerError,
    TransportError,
    UnconfirmedWriteError,
    WriteLevelError,
)
from backlog_mcp.matching import shown
from backlog_mcp.render.text import plural

# What the model reads when a bug of ours broke a call (the traceback is on stderr).
INTERNAL_ERROR = (
    "The server failed to build this answer (an internal error, logged on its stderr). "
    "Try again, or ask for something narrower."
)


def describe(exc: BacklogError, base_url: str, *, own_key: bool = False, signed_in: bool = False) -> str:
    """One actionable sentence or two for the model; never a URL with the key."""
    # Upstream text: one line, capped and escaped, so it can neither flood nor structure the answer.
    # A rejected write lists every field Backlog objected to: keep them all (within reason).
    backlog_says = f" Backlog says: {shown(exc.message.split(': ', 1)[-1], 450)}"
    match exc:
        case ReadOnlyError():
            return "This server runs read-only (BACKLOG_READ_ONLY), so nothing was sent to Backlog."
        case WriteLevelError():
            return exc.message
        case OutcomeUnknownError():
            return exc.message
        case UnconfirmedWriteError():
            return (
                "Backlog did not confirm the change, so it may or may not have been made. "
                "Read it again before retrying."
            )
        case AuthenticationError() if signed_in:
            return (
                "Backlog no longer accepts your sign-in (HTTP 401: the app was removed or the sign-in expired). "
                "Sign in again from your client (reconnect this server); nothing else was changed."
            )
        case AuthenticationError() if own_key:
            return (
                "Backlog rejected your API key (HTTP 401): the key in your X-Backlog-Api-Key header is wrong, "
                f"revoked, or belongs to another space than {base_url}. Fix it in your client's configuration."
            )
        case AuthenticationError():
            return (
                "Backlog rejected the API key (HTTP 401). The server's BACKLOG_API_KEY is wrong, revoked, "
                f"or belongs to another space than {base_url}; the user must fix the server configuration."
            )
        case ForbiddenError() if exc.code in (2, 3, 4, 12):
            why = {2: "the space's licence", 3: "an expired licence", 4: "an IP address restriction",
                   12: "two-step verification"}[exc.code]  # fmt: skip
            return f"Backlog refuses this because of {why} (HTTP 403).{backlog_says} A space administrator can help."
        case ForbiddenError():
            return (
                f"This Backlog user's role or project membership does not allow that (HTTP 403).{backlog_says} "
                "Ask a space or project administrator if it should."
            )
        case NotFoundError():
            return "Not found: it does not exist, or this server may not show it. Check the key, name or id."
        case BadRequestError():
            return f"Backlog rejected the request (HTTP 400).{backlog_says} Check the arguments and retry."
        case RateLimitedError():
            return (
                f"Backlog's rate limit for this API key is used up; it resets {exc.reset_text()}. "
                "Retry after that, and fetch less per call (smaller `count`)."
            )
        case ServerError():
            return "Backlog had an internal error and retries did not help; try again in a minute."
        case TransportError():
            return f"Cannot reach Backlog at {base_url} ({exc.message.split(': ', 1)[-1]}). Try again later."
        case BadResponseError():
            return f"Backlog sent an unexpected response ({exc.message.split(': ', 1)[-1]}). Try again later."
    return f"Backlog request failed: {exc.message}"


def age_text(seconds: float) -> str:
    if seconds < 120:
        return plural(round(seconds), "second")
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def invalid_text(exc: ValidationError) -> str:
    """Pydantic's findings as one line per argument, quoting at most a short piece of the input."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        got = error.get("input")
        # A short value is quoted back; a long one (a description, a comment) never is: it may be private.
        short = isinstance(got, int | float | bool) or (isinstance(got, str) and len(got) <= 200)
        quoted = f" (got {shown(repr(got))})" if short else ""
        parts.append(f"{where}: {error['msg'][:1].lower()}{error['msg'][1:]}{quoted}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "Invalid arguments: " + "; ".join(parts) + more + "."
