"""Argument types shared by the tools, and the validators that give them meaning.

The `Annotated` types carry the published description and the hard limits (validated before any
work, so no argument can stall the server); the validators turn strings into what the client
needs and raise `UsageError` with the valid form and an example.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from backlog_mcp.errors import UsageError
from backlog_mcp.matching import shown

MAX_TEXT = 200  # characters of a name, keyword or key argument
MAX_ITEMS = 50  # entries of a list argument

_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]{0,9}", re.ASCII)
_ID = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Text = Annotated[str, Field(max_length=MAX_TEXT)]
IssueKey = Annotated[str, Field(max_length=MAX_TEXT)]  # e.g. PROJ-123: the name says it
Names = Annotated[list[Text] | None, Field(max_length=MAX_ITEMS)]
# Described once in the server instructions, not in every tool's schema (the tool list is paid per request).
Timezone = Annotated[str | None, Field(max_length=64)]  # None: the space's zone
Count = Annotated[int, Field(ge=1, le=100)]  # 1-100: validated, not published (an error says so)
Offset = Annotated[int, Field(ge=0, le=1_000_000)]
MaxTokens = Annotated[int, Field(ge=1000, le=20000)]
DayRange = Annotated[str | None, Field(max_length=40)]
ProjectKey = Annotated[str, Field(max_length=MAX_TEXT)]  # a key or a name: said once in the instructions
Person = Annotated[str | None, Field(max_length=MAX_TEXT)]  # name, login id or me: said in the instructions


def issue_ref(raw: str, find: str = "") -> str:
    """An issue key (upper-cased) or numeric id, safe to put in a URL; `find` says how to find keys.

    Raises:
        UsageError: neither a key like PROJ-123 nor a numeric id.
    """
    value = raw.strip().replace("\\_", "_")  # as copied from an answer where "_" was escaped
    if _ID.fullmatch(value):
        return value
    # ASCII before upper-casing: "ı".upper() is "I", and "４２" is not an id.
    if value.isascii() and _KEY.fullmatch(value.upper()):
        return value.upper()
    tail = f"; find keys with {find}" if find else ""
    raise UsageError(
        f'"{shown(value)}" is not an issue key. Use PROJECT-NUMBER such as "ORBIT-12" (or a numeric id){tail}.'
    )


def zone(name: str | None) -> ZoneInfo | None:
    """The zone named, None for "" (the space's own, known once the space is read); UsageError for others."""
    if not name:
        return None
    try:
        if len(name) > 64:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f'Unknown timezone "{shown(name)}". Use an IANA name such as "Asia/Tokyo", "Europe/London" or "UTC".'
        ) from None


def day(name: str, value: str | None) -> str | None:
    """A `YYYY-MM-DD` day as given, or None.

    Raises:
        UsageError: not a real calendar day in that form.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
    except ValueError:
        raise UsageError(f'{name}="{shown(text)}" is not a date; use YYYY-MM-DD, e.g. "2026-11-30".') from None
    return text


def day_range(name: str, value: str | None) -> tuple[str | None, str | None]:
    """`A..B`, `A..` or `..B` (or one day `A`) as (since, until), both inclusive.

    Raises:
        UsageError: an end that is not a day, or an end before the start.
    """
    if value is None or not value.strip():
        return None, None
    text = value.strip()
    since_text, sep, until_text = text.partition("..")
    if not sep:
        until_text = since_text
    since, until = day(name, since_text), day(name, until_text)
    if since is None and until is None:
        raise UsageError(
            f'{name}="{shown(text)}" has no day; use "2026-11-01..2026-11-30", "2026-11-01.." or "..2026-11-30".'
        )
    if since and until and since > until:
        raise UsageError(f'{name}="{shown(text)}" ends before it starts; write the earlier day first.')
    return since, until
