"""Milestone writes: add one to a project, or change one found by name (Backlog calls them versions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import ProjectKey, Text, day
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import UsageError
from backlog_mcp.lookup import MILESTONE
from backlog_mcp.render.text import View, fmt_date, plural
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.projects import get_project
from backlog_mcp.tools.writing import DryRun, unconfirmed_is_unknown

MAX_DESCRIPTION = 10_000

Day = Text | None  # YYYY-MM-DD, as the instructions say for every day
Description = Annotated[str | None, Field(max_length=MAX_DESCRIPTION)]


def _days(form: dict[str, Any], start_date: str | None, due_date: str | None) -> None:
    first, last = day("start_date", start_date), day("due_date", due_date)
    if first and last and last < first:
        raise UsageError(f'due_date="{last}" is before start_date="{first}"; the release is due after the start.')
    if first:
        form["startDate"] = first
    if last:
        form["releaseDueDate"] = last


def _saved_rows(saved: JSONObject, view: View) -> list[tuple[str, str, str]]:
    return [
        ("Name", "", str(saved.get("name") or "")),
        ("Start", "", fmt_date(saved.get("startDate"), view)),
        ("Due", "", fmt_date(saved.get("releaseDueDate"), view)),
    ]


async def create_milestone(
    call: Call,
    project_key: ProjectKey,
    name: Annotated[Text, Field(description="Milestone name, e.g. Sprint 15")],
    description: Description = None,
    start_date: Day = None,
    due_date: Day = None,
    dry_run: DryRun = None,
) -> str:
    """Add a milestone (Backlog version) to a project, with its start and release due days."""
    if not name.strip():
        raise UsageError("name is empty; a milestone needs a name.")
    form: dict[str, Any] = {"name": name.strip()}
    _days(form, start_date, due_date)
    if description:
        form["description"] = description
    app, client = call.app, call.app.client
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    client.require(key, "write")  # dry runs too
    existing = [str(v.get("name")) for _p, v in await app.lookup.per_project([project], MILESTONE)]
    if form["name"] in existing:
        raise UsageError(f'{key} already has a milestone "{name.strip()}"; change it with update_milestone.')
    rows = [("Name", "", name.strip())]
    rows += [(label, "", str(form[field])) for label, field in (("Start", "startDate"), ("Due", "releaseDueDate"))
             if field in form]  # fmt: skip
    if description:
        rows.append(("Description", "", plural(len(description), "character")))
    call.note(project=key, target=f"new milestone {name.strip()} in {key}", fields=[r[0] for r in rows])
    if dry_run:
        return render_change(head=f"Would add a milestone to {key}:", rows=rows, dry_run=True)
    with unconfirmed_is_unknown(f"the new milestone in {key}", format_call(get_project, {"project_key": key})):
        saved = await client.create_milestone(key, form)
    call.note(target=f"milestone {saved.get('id')} ({name.strip()}) in {key}")
    view = await app.view(None)
    return render_change(
        head=f"Added milestone {saved.get('id')} to {key}:", rows=_saved_rows(saved, view), dry_run=False
    )


async def update_milestone(
    call: Call,
    project_key: ProjectKey,
    milestone: Annotated[Text, Field(description="Its current name")],
    name: Annotated[Text | None, Field(description="New name")] = None,
    description: Description = None,
    start_date: Day = None,
    due_date: Day = None,
    archived: bool | None = None,
    dry_run: DryRun = None,
) -> str:
    """Change a milestone found by name: name, description, start and due days, archived."""
    app, client = call.app, call.app.client
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    client.require(key, "write")  # dry runs too
    (wanted,) = await app.lookup.ids(MILESTONE, [milestone], [project])
    # Fresh, not the cached list: the name is sent back with every update, and a stale one would undo a rename.
    current = next((v for v in await client.milestones_now(key) if int(v["id"]) == wanted), None)
    if current is None:
        raise UsageError(f'Milestone "{milestone}" of {key} is gone; list them with get_project(project_key="{key}").')
    view = await app.view(None)
    # Backlog's update needs the name even when it does not change.
    form: dict[str, Any] = {"name": (name or "").strip() or str(current["name"])}
    _days(form, start_date, due_date)
    rows: list[tuple[str, str, str]] = []
    if form["name"] != current["name"]:
        rows.append(("Name", str(current["name"]), str(form["name"])))
    for label, field in (("Start", "startDate"), ("Due", "releaseDueDate")):
        if field in form and str(form[field]) != fmt_date(current.get(field), view):
            rows.append((label, fmt_date(current.get(field), view), str(form[field])))
    if description is not None and description != (current.get("description") or ""):
        form["description"] = description
        old = str(current.get("description") or "")
        rows.append(("Description", plural(len(old), "character"), plural(len(description), "character")))
    if archived is not None and archived != bool(current.get("archived")):
        form["archived"] = archived
        rows.append(("Archived", "yes" if current.get("archived") else "no", "yes" if archived else "no"))
    if not rows:
        raise UsageError(f'Nothing to change: milestone "{current["name"]}" of {key} already has those values.')
    call.note(project=key, target=f"milestone {wanted}", fields=[r[0] for r in rows])
    head = f'milestone "{current["name"]}" of {key}'
    if dry_run:
        return render_change(head=f"Would change {head}:", rows=rows, dry_run=True)
    with unconfirmed_is_unknown(f"the change to {head}", format_call(get_project, {"project_key": key})):
        saved = await client.update_milestone(key, wanted, form)
    shown = [(label, old, _now(saved, label, view)) for label, old, _new in rows]
    return render_change(head=f"Changed {head}:", rows=shown, dry_run=False)


def _now(saved: JSONObject, label: str, view: View) -> str:
    """A changed field as Backlog saved it."""
    field = {"Name": "name", "Start": "startDate", "Due": "releaseDueDate"}.get(label)
    if label == "Archived":
        return "yes" if saved.get("archived") else "no"
    if label == "Description":
        return plural(len(str(saved.get("description") or "")), "character")
    value = saved.get(field or "")
    return fmt_date(value, view) if label in ("Start", "Due") else str(value or "")


def _check(args: Mapping[str, Any]) -> str:
    return format_call(get_project, {"project_key": args.get("project_key")})


TOOLS = (
    ToolSpec(create_milestone, "Add a milestone", "projects", Kind.WRITE, idempotent=False, verify=_check),
    ToolSpec(update_milestone, "Change a milestone", "projects", Kind.WRITE, overwrites=True, verify=_check),
)
