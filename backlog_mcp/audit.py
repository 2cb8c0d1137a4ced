"""The audit log: one JSON line per write attempt (done, dry run, refused, failed, unknown).

Never the key, never the text of a description or comment: only its length and an HMAC-SHA-256
under a per-install secret (`audit.key` beside the log, 0600), so a line lets the text be matched
later by whoever holds the secret, but a short text ("ok", "LGTM") cannot be found by hashing
guesses. The file is created 0600 (its folder 0700) and only ever appended to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def fingerprint(text: str, secret: bytes) -> dict[str, Any]:
    """What the log keeps of a text: its length and a keyed hash (HMAC-SHA-256, 24 hex digits)."""
    return {"length": len(text), "hmac": hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:24]}


def install_secret(path: Path) -> bytes:
    """The per-install secret at `path`, made (32 random bytes, 0600) the first time.

    Raises:
        OSError: it cannot be read or made.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as existing:
            found = existing.read(256).strip()
        if len(found) >= 32:
            return found
        raise OSError(f"{path} is not an audit secret (too short); remove it to make a new one") from None
    made = os.urandom(32).hex().encode()
    with os.fdopen(fd, "wb") as out:
        out.write(made + b"\n")
    return made


class AuditLog:
    """Appends lines to one file; a failure to write is logged (to stderr), never raised into a tool call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret_path = path.with_name(path.stem + ".key")
        self._secret: bytes | None = None

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = install_secret(self.secret_path)
        return self._secret

    def _fingerprints(self, texts: Mapping[str, str]) -> dict[str, Any]:
        try:
            key = self._key()
        except OSError as exc:  # the attempt is still recorded, with the texts' lengths only
            log.warning("no audit secret at %s (%s): texts logged by length only", self.secret_path, exc)
            return {name: {"length": len(text)} for name, text in texts.items()}
        return {name: fingerprint(text, key) for name, text in texts.items()}

    def append(
        self,
        *,
        tool: str,
        outcome: str,
        project: str | None = None,
        target: str | None = None,
        fields: Sequence[str] = (),
        texts: Mapping[str, str] | None = None,
        detail: str = "",
        user: str | None = None,
        space: str | None = None,
    ) -> None:
        """`user`: per-user HTTP mode, a short hash of whose key made the attempt (never the key);
        `space`: with several spaces configured, the one written to."""
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            **({"space": space} if space else {}),
            **({"user": user} if user else {}),
            "tool": tool,
            "outcome": outcome,
            "project": project,
            "object": target,
            "fields": list(fields),
        }
        if detail:
            line["detail"] = detail[:300]
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if texts:
                line["texts"] = self._fingerprints(texts)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.warning("could not append to the audit log %s: %s", self.path, exc.strerror or exc)
