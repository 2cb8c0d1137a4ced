"""Logging to stderr only, with the API key scrubbed from every record as a last line of defence."""

from __future__ import annotations

import logging
import sys

# Loggers that print request URLs (which carry `apiKey`) at INFO: never let them below WARNING.
NOISY = ("httpx", "httpcore", "httpx2", "httpcore2")
# Loggers that echo every SQL statement with its parameters (cached bodies) at DEBUG.
CHATTY = ("aiosqlite",)


class RedactFilter(logging.Filter):
    """Replace secrets in the final message; attach to handlers so every logger is covered."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if any(secret in text for secret in self.secrets):
                record.exc_info, record.exc_text = None, None
        return True


def configure(verbosity: int) -> logging.Handler:
    """Send logs to stderr at WARNING (`-v` INFO, `-vv` DEBUG); return the handler."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for name in (*NOISY, *CHATTY):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def redact(handler: logging.Handler, *secrets: str) -> None:
    handler.addFilter(RedactFilter(*secrets))
