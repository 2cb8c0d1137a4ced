"""Notifications: what needs the user's attention, unread first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import Timezone, zone
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import MissingError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.render.notifications import notification_line, render_notifications
from backlog_mcp.render.text import plural
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.writing import DryRun, unconfirmed_is_unknown


async def get_notifications(
    call: Call,
    count: Annotated[int, Field(ge=1, le=100, description="1-100")] = 20,
    before_id: Annotated[int | None, Field(ge=1, description="Notifications older than this id")] = None,
    unread_only: bool = False,
    timezone: Timezone = None,
) -> str:
    """My notifications: who did what on which issue (assigned, commented, mentioned…), unread first."""
    tz = zone(timezone)
    client = call.app.client
    # Ids are integers: `maxId` one below the bound is right whether Backlog's bound is inclusive or not.
    params: Params = {"count": count, "maxId": before_id - 1 if before_id else None, "order": "desc"}
    page, unread_total, view = await gather(
        client.notifications(params), client.count_notifications({"alreadyRead": False}), call.app.view(tz)
    )
    full = len(page.sent) == count  # Backlog's page, before the allow-list: older ones may exist
    lowest_sent = min((int(n["id"]) for n in page.sent), default=None)
    shown = [n for n in page.items if not n.get("alreadyRead")] if unread_only else page.items
    return render_notifications(
        shown,
        unread_total=unread_total,
        view=view,
        older_call=lambda oldest_shown: call.again(before_id=oldest_shown),
        lowest_sent=lowest_sent if full else None,
    )


async def mark_notifications_read(
    call: Call,
    notification_id: Annotated[
        int | None, Field(ge=1, description="One notification (ids from get_notifications)")
    ] = None,
    all: Annotated[bool, Field(description="true: every notification (resets the unread count)")] = False,
    dry_run: DryRun = None,
) -> str:
    """Mark one notification read, or all of them."""
    if (notification_id is None) == (not all):
        raise UsageError("Pass notification_id (one notification) or all=true, not both and not neither.")
    client = call.app.client
    call.note(target="all notifications" if all else f"notification {notification_id}", fields=["read"])
    prefix = "Dry run, nothing was sent. Would mark " if dry_run else "Marked "
    check = format_call(get_notifications, {"unread_only": True})
    if call.app.settings.projects is not None:
        return await _mark_allowed(call, notification_id, bool(dry_run), prefix, check)
    if notification_id is not None:
        if dry_run:
            return await _preview(call, notification_id)
        with unconfirmed_is_unknown(f"marking notification {notification_id} read", check):
            await client.mark_notifications_read([notification_id])
        return f"{prefix}notification {notification_id} read."
    unread = await client.count_notifications({"alreadyRead": False})
    if not dry_run:
        with unconfirmed_is_unknown("marking every notification read", check):
            await client.reset_unread_count()
    counted = f" ({unread} were unread)" if unread is not None else ""
    return f"{prefix}every notification read{counted}."


async def _mark_allowed(call: Call, notification_id: int | None, dry_run: bool, prefix: str, check: str) -> str:
    """Under an allow-list: only notifications of allowed projects, each marked by itself.

    Resetting the whole badge would touch other projects' notifications too, and marking an id
    unseen would tell whether it exists in a project this server may not show.
    """
    client = call.app.client
    page = await client.notifications({"count": 100, "order": "desc"})
    if notification_id is not None:
        known = next((n for n in page.items if int(n["id"]) == notification_id), None)
        if known is None:
            find = format_call(get_notifications, {})
            raise UsageError(
                f"Notification {notification_id} is not among your newest 100 in the projects this server may use; "
                f"list them with {find}."
            )
        if dry_run:
            return await _preview(call, notification_id, known)  # the page has it: no second request
        chosen = [notification_id]
    else:
        chosen = [int(n["id"]) for n in page.items if not n.get("alreadyRead")]
    if not dry_run:
        # The client checks the ids against the allow-list again (the same page, cached) before sending any.
        with unconfirmed_is_unknown("marking notifications read", check):
            await client.mark_notifications_read(chosen)
    if notification_id is not None:
        return f"{prefix}notification {notification_id} read."
    return f"{prefix}{plural(len(chosen), 'unread notification')} of the allowed projects read."


async def _preview(call: Call, notification_id: int, known: JSONObject | None = None) -> str:
    """A dry run for one notification (`known`: already fetched): it must exist, and be unread to change anything."""
    lookup = _given(known) if known is not None else call.app.client.notification(notification_id)
    found, view = await gather(lookup, call.app.view(None))
    if found is None:
        raise MissingError(
            f"Notification {notification_id} is unknown: not one of yours"
            + (" in the projects this server may use" if call.app.settings.projects is not None else "")
            + f"; list them with {format_call(get_notifications, {})}."
        )
    line = notification_line(found, view).removeprefix(f"- id {notification_id} · ")
    if found.get("alreadyRead"):
        return f"Dry run, nothing was sent. Notification {notification_id} is already read: {line}"
    return f"Dry run, nothing was sent. Would mark notification {notification_id} read: {line}"


async def _given(notification: JSONObject) -> JSONObject:
    return notification


def _check_inbox(args: Mapping[str, Any]) -> str:
    return format_call(get_notifications, {"unread_only": True})


TOOLS = (
    ToolSpec(get_notifications, "My notifications", "notifications"),
    ToolSpec(
        mark_notifications_read,
        "Mark notifications read",
        "notifications",
        Kind.WRITE,
        idempotent=True,
        verify=_check_inbox,
    ),
)
