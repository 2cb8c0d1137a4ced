"""What every write tool shares: argument types, the unknown-outcome rule, names → ids for fields."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import MAX_ITEMS, Text
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import OutcomeUnknownError, UnconfirmedWriteError, UsageError
from backlog_mcp.lookup import Lookup
from backlog_mcp.matching import shown
from backlog_mcp.render.backlog_writer import NotationError, for_project
from backlog_mcp.render.writes import listed

MAX_BODY = 100_000  # characters of a description or comment

Body = Annotated[str, Field(max_length=MAX_BODY)]
DryRun = (
    bool | None
)  # None: not a dry run; described once, in the server's instructions (the tool list is paid for on every request)
Notify = Annotated[list[Text] | None, Field(max_length=MAX_ITEMS)]  # people: named as the instructions say
CustomValues = Annotated[
    dict[Text, Text | list[Text]] | None,
    Field(max_length=MAX_ITEMS, description='By field name, e.g. {"Severity": "Major"}; list choices by name'),
]


def converted(markdown: str, rule: str) -> str:
    """Markdown as the project stores text (Backlog notation for `backlog` projects).

    Raises:
        UsageError: the text holds what Backlog notation cannot carry.
    """
    try:
        return for_project(markdown, rule)
    except NotationError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def unconfirmed_is_unknown(what: str, check: str) -> Iterator[None]:
    """A write Backlog did not confirm is said to be of unknown outcome, with the read that checks it."""
    try:
        yield
    except UnconfirmedWriteError as exc:
        raise OutcomeUnknownError(
            f"Backlog did not confirm {what} ({type(exc.__cause__).__name__}); it may or may not have been saved. "
            f"Check with {check} before trying again, or it may be applied twice."
        ) from None


async def notified(lookup: Lookup, names: Sequence[str] | None, project: JSONObject) -> list[tuple[int, str]]:
    """The people to notify, each (id, name as Backlog spells it), once each."""
    found = await lookup.users(list(names), [project]) if names else []
    return list(dict.fromkeys(found))


def notify_row(people: Sequence[tuple[int, str]]) -> list[tuple[str, str, str]]:
    """The `Notify` row of a write's answer: who, by name (none: no row)."""
    return [("Notify", "", listed(name for _uid, name in people))] if people else []


def one(kind: str, ids: list[int], wanted: str) -> int:
    if len(ids) != 1:
        raise UsageError(f'{kind} "{shown(wanted)}" names {len(ids)} things; use the full name.')
    return ids[0]


async def custom_form(
    lookup: Lookup, project: JSONObject, values: dict[str, str | list[str]], issue_type_id: int | None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """`customField_{id}` form entries for values given by field and choice names, and (field, shown value).

    Raises:
        UsageError: an unknown field or choice, a number or date that is not one, a field that does
            not apply to the issue type.
    """
    from backlog_mcp.args import day

    form: dict[str, Any] = {}
    shown_values: list[tuple[str, str]] = []
    for name, raw in values.items():
        field = await lookup.custom_field(name, [project])
        applies = field.get("applicableIssueTypes") or []
        if issue_type_id is not None and applies and issue_type_id not in applies:
            raise UsageError(f'Custom field "{shown(str(field["name"]))}" does not apply to this issue type.')
        type_id = int(field.get("typeId") or 1)
        key = f"customField_{field['id']}"
        texts = raw if isinstance(raw, list) else [raw]
        if type_id >= 5:
            if type_id in (5, 8) and len(texts) > 1:
                raise UsageError(f'Custom field "{shown(str(field["name"]))}" takes one choice, not {len(texts)}.')
            ids = lookup.custom_item_ids(field, [t for t in texts if t]) if any(texts) else []
            # An empty list would send nothing at all: Backlog clears a list given one empty value.
            form[key] = (ids or [""]) if type_id in (6, 7) else (ids[0] if ids else "")
            # Shown as Backlog spells the choices, in its order (what the saved issue will say).
            texts = [str(i.get("name")) for i in field.get("items") or [] if int(i["id"]) in ids]
        else:
            if len(texts) != 1:
                raise UsageError(f'Custom field "{shown(str(field["name"]))}" takes one value.')
            text = texts[0].strip()
            if type_id == 3 and text:
                try:
                    if not math.isfinite(float(text)):
                        raise ValueError(text)
                except ValueError:
                    raise UsageError(
                        f'Custom field "{shown(str(field["name"]))}" takes a number, not "{shown(text)}".'
                    ) from None
            if type_id == 4 and text:
                text = day(str(field["name"]), text) or ""
            form[key] = texts[0] = text
        # Several choices are a list; one choice, a number, a date or a text is one value.
        shown_values.append((str(field["name"]), listed(texts) if type_id in (6, 7) else "".join(texts[:1])))
    return form, shown_values


async def missing_required(lookup: Lookup, project: JSONObject, issue_type_id: int, given: dict[str, Any]) -> list[str]:
    """Required custom fields of the project (for this issue type) that `given` leaves empty."""
    from backlog_mcp.lookup import CUSTOM_FIELD

    out = []
    for _p, field in await lookup.per_project([project], CUSTOM_FIELD):
        applies = field.get("applicableIssueTypes") or []
        if not field.get("required") or (applies and issue_type_id not in applies):
            continue
        if given.get(f"customField_{field['id']}") in (None, "", []):
            choices = ", ".join(f'"{shown(str(i.get("name")))}"' for i in field.get("items") or [])
            out.append(f'"{shown(str(field["name"]))}"' + (f" (one of {choices})" if choices else ""))
    return out
