"""What every route of the fake shares: the request, Backlog's error envelope, parameter parsing."""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

JSON = dict[str, Any]
Answer = tuple[int, Any, list[tuple[bytes, bytes]]]  # status, payload (JSON, or `Download`), extra headers


class HTTPFailure(Exception):
    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.messages = [message]  # a 400 on a write lists every rejected field


def bad(message: str) -> HTTPFailure:
    return HTTPFailure(400, message, 7)


def rejected(errors: list[str]) -> HTTPFailure:
    """A 400 listing every rejected field, as Backlog answers a write."""
    failure = bad(errors[0])
    failure.messages = errors
    return failure


def missing(what: str) -> HTTPFailure:
    return HTTPFailure(404, f"No {what}.", 6)


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]  # without apiKey
    form: list[tuple[str, str]]
    user_id: int
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # multipart: (field, file name, bytes)


def multipart(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str, bytes]]]:
    """A multipart/form-data body: its plain fields and its files."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    form: list[tuple[str, str]] = []
    files: list[tuple[str, str, bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if filename is not None:
            files.append((str(name), filename, payload))
        elif name is not None:
            form.append((str(name), payload.decode("utf-8", "replace")))
    return form, files


@dataclass(frozen=True)
class Download:
    """A binary answer: the bytes of a file, with its type and name."""

    body: bytes
    content_type: str
    name: str


def envelope(message: str, code: int, more: list[str] | None = None) -> JSON:
    return {"errors": [{"message": m, "code": code, "moreInfo": ""} for m in (more or [message])]}


def multi(pairs: list[tuple[str, str]], name: str) -> list[str]:
    """Values of `name[]`, `name[N]` or a repeated bare `name`."""
    pattern = re.compile(rf"{re.escape(name)}(\[\d*\])?")
    return [v for k, v in pairs if pattern.fullmatch(k)]


def single(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in pairs if k == name), None)


def ids(pairs: list[tuple[str, str]], name: str) -> set[int]:
    """The numeric values of `name[]`; a non-number is a 400, as Backlog answers."""
    values = multi(pairs, name)
    if any(not (v.isascii() and v.isdigit()) for v in values):
        raise bad(f"{name} must be numeric.")
    return {int(v) for v in values}


def number(pairs: list[tuple[str, str]], name: str) -> int | None:
    value = single(pairs, name)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise bad(f"{name} must be numeric.")
    return int(value)


def matches(keyword: str | None, text: str) -> bool:
    """Backlog's `keyword` filter as the fake plays it: every word of it in `text`, case-insensitively.

    Backlog's own is a full-text index (token-based); a substring per word finds at least what it does,
    Japanese text included.
    """
    folded = text.casefold()
    return all(word in folded for word in (keyword or "").casefold().split())


def paging(query: list[tuple[str, str]], with_offset: bool = True) -> tuple[int, int]:
    raw_count = single(query, "count") or "20"
    raw_offset = (single(query, "offset") or "0") if with_offset else "0"
    if not (raw_count.isascii() and raw_count.isdigit()) or not 1 <= int(raw_count) <= 100:
        raise bad("count must be between 1 and 100.")
    if not (raw_offset.isascii() and raw_offset.isdigit()):
        raise bad("offset must be a non-negative integer.")
    return int(raw_offset), int(raw_count)


def id_window(query: list[tuple[str, str]], items: list[JSON]) -> list[JSON]:
    """`minId`/`maxId` (inclusive), `order` (desc by default) and `count`: Backlog's id paging."""
    low, high = number(query, "minId"), number(query, "maxId")
    chosen = [i for i in items if (low is None or i["id"] >= low) and (high is None or i["id"] <= high)]
    order = single(query, "order") or "desc"
    if order not in ("asc", "desc"):
        raise bad("order must be asc or desc.")
    chosen.sort(key=lambda i: i["id"], reverse=order == "desc")
    _, count = paging(query, with_offset=False)
    return chosen[:count]
