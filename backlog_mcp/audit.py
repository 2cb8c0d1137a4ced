"""The audit log: one JSON line per write attempt (done, dry run, refused, failed, unknown).

Never the key, never the text of a description or comment: only its length and a hash, so a line
says what was changed and lets the text be matched later without keeping it. The file is created
0600 (its folder 0700) and only ever appended to.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def fingerprint(text: str) -> dict[str, Any]:
    """What the log keeps of a text: its length and a short SHA-256."""
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}


class AuditLog:
    """Appends lines to one file; a failure to write is logged (to stderr), never raised into a tool call."""

    def __init__(self, path: Path) -> None:
        self.path = path

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
    ) -> None:
        """`user`: per-user HTTP mode, a short hash of whose key made the attempt (never the key)."""
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            **({"user": user} if user else {}),
            "tool": tool,
            "outcome": outcome,
            "project": project,
            "object": target,
            "fields": list(fields),
        }
        if texts:
            line["texts"] = {name: fingerprint(text) for name, text in texts.items()}
        if detail:
            line["detail"] = detail[:300]
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.warning("could not append to the audit log %s: %s", self.path, exc.strerror or exc)
