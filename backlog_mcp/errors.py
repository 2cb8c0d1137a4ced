"""Typed failures below the tool layer; nothing above the client sees an httpx type.

    UsageError                  bad arguments from the caller (what was wrong, what is valid)
    └── MissingError            what they named does not exist (or may not be shown)
    BacklogError
    ├── TransportError          network failure or timeout after retries
    ├── BadResponseError        a 2xx body that is not the JSON we expect
    ├── ReadOnlyError           a write refused before sending: the server runs read-only
    ├── UnconfirmedWriteError   a write was sent, and Backlog's answer never came (or was garbled)
    ├── OutcomeUnknownError     the same, worded for the model with the read that checks it
    └── APIError                Backlog answered with an error status
        ├── BadRequestError     400 (code 7: invalid parameters)
        ├── AuthenticationError 401 (code 11)
        ├── ForbiddenError      403 (codes 2-5, 12)
        ├── NotFoundError       404 (code 6), or an object outside BACKLOG_PROJECTS
        ├── RateLimitedError    429 (code 13), carries the reset time
        └── ServerError         5xx

Messages name the method and path only, never a URL with its `apiKey`. The tool layer turns
each of these into one `ToolError` in exactly one place.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class UsageError(Exception):
    """The caller's arguments are wrong; the message says what is valid and what to call."""


class MissingError(UsageError):
    """What the caller named does not exist, or may not be shown (a resource read answers "not found")."""


class BacklogError(Exception):
    """Base of every failure talking to Backlog."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path


class TransportError(BacklogError):
    """Backlog could not be reached, or did not answer in time."""


class BadResponseError(BacklogError):
    """Backlog answered 2xx with a body that is not the expected JSON."""


class ReadOnlyError(BacklogError):
    """A write was refused before anything was sent, because the server runs read-only."""


class KeyRefusedError(BacklogError):
    """A per-user key refused before any request: Backlog rejected it moments ago, or too many new keys arrive."""


class WriteLevelError(BacklogError):
    """A write was refused before anything was sent: the project's level (`BACKLOG_PROJECTS`) is below it."""


class UnconfirmedWriteError(BacklogError):
    """A write left this client but its outcome is unknown: a timeout, a cut connection, a 5xx, a garbled reply."""


class OutcomeUnknownError(BacklogError):
    """A write was sent but not confirmed (timeout, cut connection, 5xx); the message says how to check."""


class APIError(BacklogError):
    """Backlog answered with an error status and (usually) its errors envelope."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        more_info: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status = status
        self.code = code
        self.more_info = more_info


class BadRequestError(APIError):
    """400: Backlog rejected the parameters."""


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or revoked."""


class ForbiddenError(APIError):
    """403: the key's user may not do this."""


class NotFoundError(APIError):
    """404: no such resource (or not visible to this user)."""


class ServerError(APIError):
    """5xx: trouble inside Backlog."""


class RateLimitedError(APIError):
    """429: the per-minute budget of this request's bucket is spent."""

    def __init__(
        self,
        message: str,
        *,
        reset_at: float | None,
        status: int = 429,
        code: int | None = 13,
        more_info: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, status=status, code=code, more_info=more_info, method=method, path=path)
        self.reset_at = reset_at

    def retry_after(self, now: float | None = None) -> float | None:
        if self.reset_at is None:
            return None
        return max(0.0, self.reset_at - (time.time() if now is None else now))

    def reset_text(self) -> str:
        if self.reset_at is None:
            return "in about a minute"
        at = datetime.fromtimestamp(self.reset_at, UTC).strftime("%H:%M:%S UTC")
        wait = self.retry_after() or 0.0
        return f"at {at} (in {wait:.0f} s)"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
}


def api_error_class(status: int) -> type[APIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
