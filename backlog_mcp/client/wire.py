"""What requests and answers look like on the wire: parameters, shapes, bodies, errors, the key's mask.

Pure helpers below the transport: nothing here sends anything.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from backlog_mcp.errors import APIError, BacklogError, BadResponseError, RateLimitedError, api_error_class

if TYPE_CHECKING:
    import httpx

ParamValue = str | int | float | bool | None | Sequence[str | int]
Params = Mapping[str, ParamValue]
JSONObject = dict[str, Any]

MAX_BODY_BYTES = 32 * 1024 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
Shape = Literal["object", "array of objects"] | None  # what a GET must answer to be served or cached


def fits(data: Any, shape: Shape) -> bool:
    if shape == "object":
        return isinstance(data, dict)
    if shape == "array of objects":
        return isinstance(data, list) and all(isinstance(item, dict) for item in data)
    return True


class Secret:
    """The API key, masked wherever it turns up in parsed upstream data: as sent or percent-encoded in any case.

    JSON escapes (`\\u0066…`) are gone once the body is parsed, so strings are scrubbed after parsing;
    lone surrogates (`\\ud83d` alone) become U+FFFD there too, since nothing downstream can store them.
    """

    def __init__(self, key: str) -> None:
        hexed = "".join(f"(?:{re.escape(c)}|%{ord(c):02x})" for c in key) if key else "(?!)"
        self._pattern = re.compile(hexed, re.IGNORECASE)
        self._length = max(1, len(key))

    def may_hide_in(self, text: str) -> bool:
        """Whether the raw body can hold the key (or a surrogate): only then is the parsed data walked."""
        return "\\u" in text or self._pattern.search(text) is not None

    def blank(self, data: bytes) -> bytes:
        """Bytes with every ASCII occurrence of the key (as sent or percent-encoded) overwritten."""
        text = data.decode("latin-1")  # one char per byte: lengths and offsets stay the same
        if self._pattern.search(text) is None:
            return data
        return self._pattern.sub(lambda m: "*" * len(m.group()), text).encode("latin-1")

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _SURROGATE.sub("\ufffd", value)
            return value if len(value) < self._length else self._pattern.sub("***", value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        return value


@dataclass(frozen=True)
class Page:
    """A page of a list, within the allow-list, and the page as Backlog sent it (for paging on)."""

    items: list[JSONObject]
    sent: list[JSONObject]


@dataclass(frozen=True)
class Download:
    """A file's first bytes, at most the cap: `complete` says whether that was all of it."""

    body: bytes
    complete: bool
    content_type: str


def segment(value: str | int) -> str:
    """Quote one path segment so that no value can add segments, a query or a fragment."""
    return quote(str(value), safe="")


def encode_params(params: Params | None) -> list[tuple[str, str]]:
    """Flatten params the way Backlog wants them: lists as `key[]=v`, booleans as true/false."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            pairs.append((name, str(value)))
        else:
            pairs.extend((f"{name}[]", str(item)) for item in value)
    return pairs


def reset_time(raw: str | None) -> float | None:
    """An `X-RateLimit-Reset` epoch second, if it is one: finite and within an hour of now."""
    try:
        value = float(raw or "")
    except ValueError:
        return None
    now = time.time()
    return value if math.isfinite(value) and now - 3600 <= value <= now + 3600 else None


def group_form(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    grouped: dict[str, str | list[str]] = {}
    for name, value in form:
        if name.endswith("[]"):
            existing = grouped.setdefault(name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            grouped[name] = value
    return grouped


async def read_limited(response: httpx.Response, limit: int = MAX_BODY_BYTES, *, cut: bool = False) -> bytes:
    """The body, read in chunks up to `limit` bytes; beyond it an error, or with `cut` the bytes so far."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        chunks.append(chunk)
        if size >= limit:
            if cut:
                break
            if size > limit:
                raise BadResponseError(f"Backlog sent more than {limit // 2**20} MB; narrow the request")
    return b"".join(chunks)[:limit] if cut else b"".join(chunks)


def api_error(method: str, path: str, status: int, data: Any, headers: httpx.Headers) -> BacklogError:
    message, code, more_info = "", None, ""
    try:
        errors = data["errors"]
        first = errors[0]
        # All of them: a 400 on a write lists every field Backlog rejected.
        message = " / ".join(str(e.get("message", "")) for e in errors[:10] if isinstance(e, dict))
        code = first.get("code") if isinstance(first.get("code"), int) else None
        more_info = str(first.get("moreInfo") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    detail = f"{message} (Backlog error code {code})" if message else f"HTTP {status}"
    text = f"{method} {path}: {detail}"
    if status == 429:
        reset_at = reset_time(headers.get("X-RateLimit-Reset"))
        return RateLimitedError(text, reset_at=reset_at, code=code, more_info=more_info, method=method, path=path)
    cls: type[APIError] = api_error_class(status)
    return cls(text, status=status, code=code, more_info=more_info, method=method, path=path)


@dataclass(frozen=True)
class Upload:
    """A file to send as multipart form data: its name, bytes and media type."""

    name: str
    content: bytes = field(repr=False)
    kind: str


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; tests shrink the delays."""

    attempts: int = 3
    base_delay: float = 0.4
    max_delay: float = 4.0
    max_rate_wait: float = 10.0  # wait for a 429 reset only when it is this near
