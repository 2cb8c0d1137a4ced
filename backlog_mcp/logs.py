"""Logging to stderr only: one line per record, with the API key scrubbed as a last line of defence.

`BACKLOG_LOG_FORMAT=json` makes each line a JSON object; lines logged during a tool call carry that
call's request id and tool name, so one call's lines can be found among many.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
_request_id: ContextVar[str] = ContextVar("request_id", default="")
_tool: ContextVar[str] = ContextVar("tool", default="")

# Loggers that print request URLs (which carry `apiKey`) at INFO: never let them below WARNING.
NOISY = ("httpx", "httpcore", "httpx2", "httpcore2")
# Loggers that echo every SQL statement with its parameters (cached bodies) at DEBUG.
CHATTY = ("aiosqlite",)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127] if c != 9} | {
    0x85: "\\x85",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def one_line(text: str) -> str:
    """Control characters and line separators escaped: a value from upstream cannot start a log line."""
    return text.translate(_CONTROL)


class RedactFilter(logging.Filter):
    """Secrets out of, and line breaks escaped in, the final message; on handlers, so every logger is covered."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = one_line(record.getMessage())
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if any(secret in text for secret in self.secrets):
                record.exc_info, record.exc_text = None, None
        return True


class JSONLines(logging.Formatter):
    """One JSON object a record: time (UTC), level, logger, message, and the tool call's request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request := _request_id.get():
            entry |= {"request_id": request, "tool": _tool.get()}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


@contextmanager
def tool_call(tool: str) -> Iterator[None]:
    """Lines logged inside carry a fresh request id and the tool's name (JSON format)."""
    request, name = _request_id.set(secrets.token_hex(6)), _tool.set(tool)
    try:
        yield
    finally:
        _request_id.reset(request)
        _tool.reset(name)


def configure(verbosity: int, log_format: str = "text") -> logging.Handler:
    """Send logs to stderr at WARNING (`-v` INFO, `-vv` DEBUG), as text or JSON lines; return the handler."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JSONLines() if log_format == "json" else text)
    handler.addFilter(RedactFilter())  # one line per record even before the key is known
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for name in (*NOISY, *CHATTY):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def redact(handler: logging.Handler, *secrets: str) -> None:
    handler.addFilter(RedactFilter(*secrets))


def forget(secret: str) -> None:
    """Stop redacting a secret `protect` added (a user's key dropped long enough ago)."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactFilter) and secret in found.secrets:
                found.secrets.remove(secret)


def protect(secret: str) -> None:
    """Keep a secret learnt while running (a user's own key over HTTP) out of every log handler's output."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactFilter) and secret and secret not in found.secrets:
                found.secrets.append(secret)
                break
