"""A project's set-up and the list of projects, as compact Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backlog_mcp.render.text import View, cell, fit, fmt_date, fmt_due, inline, item, mid, plural, user_name

JSON = dict[str, Any]
FIELD_TYPES = {
    1: "text",
    2: "multi-line text",
    3: "number",
    4: "date",
    5: "single choice",
    6: "multiple choice",
    7: "check boxes",
    8: "radio",
}
RULES = {"backlog": "Backlog notation", "markdown": "Markdown"}
MAX_CHOICES = 30  # a list field's choices shown; the rest are counted
# Token budgets of the long sections, so a project with thousands of members stays a short answer.
SECTION_BUDGET = {"versions": 1500, "fields": 2500, "members": 1500}


def render_projects(projects: Sequence[JSON], *, archived_shown: bool) -> str:
    if not projects:
        return "No projects: this user is not a member of any." if archived_shown else "No active projects."
    rows = [
        f"| {cell(p.get('projectKey'))} | {cell(p.get('name'))} | "
        f"{RULES.get(str(p.get('textFormattingRule')), cell(p.get('textFormattingRule')))} |"
        + (f" {'archived' if p.get('archived') else 'active'} |" if archived_shown else "")
        for p in projects
    ]
    columns = ["Key", "Name", "Text format", *(["State"] if archived_shown else [])]
    what = "Projects (archived ones too)" if archived_shown else "Active projects"
    return "\n".join(
        [f"{what}: {len(projects)}.", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns), *rows]
    )


def _field(definition: JSON, type_names: dict[int, str]) -> str:
    kind = FIELD_TYPES.get(int(definition.get("typeId") or 0), f"type {inline(definition.get('typeId'))}")
    extras = []
    applicable = [type_names.get(int(t), str(t)) for t in definition.get("applicableIssueTypes") or []]
    if applicable:
        extras.append("only for " + ", ".join(applicable))
    if definition.get("unit"):
        extras.append(f"unit {item(definition['unit'])}")
    items = sorted(definition.get("items") or [], key=_order)
    if items:
        more = f" and {len(items) - MAX_CHOICES} more" if len(items) > MAX_CHOICES else ""
        extras.append(", ".join(item(choice.get("name")) for choice in items[:MAX_CHOICES]) + more)
    if definition.get("allowInput"):
        extras.append("free text allowed")
    required = "required " if definition.get("required") else ""
    detail = f": {'; '.join(extras)}" if extras else ""
    return f"- {inline(definition.get('name'))} ({required}{kind}){detail}"


def _order(item: JSON) -> tuple[int, int]:
    return int(item.get("displayOrder") or 0), int(item.get("id") or 0)


def render_project(
    project: JSON,
    *,
    statuses: Sequence[JSON],
    issue_types: Sequence[JSON],
    categories: Sequence[JSON],
    versions: Sequence[JSON],
    custom_fields: Sequence[JSON],
    members: Sequence[JSON],
    view: View,
    more_members: Callable[[], str],
) -> str:
    """Everything an assistant needs to work in one project, in one answer (long sections budgeted)."""
    key = inline(project.get("projectKey"))
    rule = RULES.get(str(project.get("textFormattingRule")), inline(project.get("textFormattingRule")))
    state = " · archived" if project.get("archived") else ""
    out = [
        f"# {key}: {mid(project.get('name'))}",
        f"Text format: {rule}{state} · {view.base_url}/projects/{key}",
        "",
        "## Statuses (in workflow order)",
        " → ".join(inline(s.get("name")) for s in sorted(statuses, key=_order)) or "-",
        "",
        "## Issue types",
        ", ".join(item(t.get("name")) for t in sorted(issue_types, key=_order)) or "-",
        "",
        "## Categories",
        ", ".join(item(c.get("name")) for c in sorted(categories, key=_order)) or "-",
    ]
    out += ["", "## Milestones and versions"]
    if versions:
        # Open ones first: they are what work is planned against.
        ordered = sorted(versions, key=lambda v: (bool(v.get("archived")), *_order(v)))
        rows = fit((_version_row(v, view) for v in ordered), SECTION_BUDGET["versions"])
        out += ["| Name | Start | Release due | State |", "|---|---|---|---|", *rows.items]
        if rows.dropped:
            out.append(f"… and {len(versions) - len(rows.items)} more (archived ones last).")
    else:
        out.append("-")
    out += ["", "## Custom fields"]
    type_names = {int(t["id"]): item(t.get("name")) for t in issue_types}
    fields = fit((_field(f, type_names) for f in sorted(custom_fields, key=_order)), SECTION_BUDGET["fields"])
    out += fields.items or ["-"]
    if fields.dropped:
        out.append(f"- … and {plural(len(custom_fields) - len(fields.items), 'more field')}")
    out += ["", f"## Members ({len(members)})"]
    people = fit(
        (f"{user_name(m, listed=True)} ({item(m.get('userId') or '-')})" for m in sorted(members, key=_by_name)),
        SECTION_BUDGET["members"],
    )
    listed = ", ".join(people.items) or "-"
    if people.dropped:
        listed += f", … and {len(members) - len(people.items)} more: {more_members()}"
    out.append(listed)
    return "\n".join(out)


def _version_row(version: JSON, view: View) -> str:
    state = "archived" if version.get("archived") else "open"
    # Still open past its release date: overdue, as an issue would be.
    start, due = (
        fmt_date(version.get("startDate"), view),
        fmt_due(version.get("releaseDueDate"), bool(version.get("archived")), view),
    )
    return f"| {cell(version.get('name'))} | {start} | {due} | {state} |"


def _by_name(user: JSON) -> str:
    return str(user.get("name") or "")
