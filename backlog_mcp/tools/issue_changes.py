"""Create and update issues with every field by name; a dry run shows the change and sends nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from backlog_mcp.app import AppState
from backlog_mcp.args import MAX_ITEMS, IssueKey, Names, Person, Text, day
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.lookup import CATEGORY, ISSUE_TYPE, MILESTONE, STATUS, VERSION, Lookup
from backlog_mcp.lookup import Kind as Kind_
from backlog_mcp.render.text import fmt_number, plural
from backlog_mcp.render.writes import Row, listed, render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.issue_fields import LISTED, current_value, custom_shown, landed, name_of, names_of
from backlog_mcp.tools.issues import get_issue_details, get_user_issue_list, key_arg, missing
from backlog_mcp.tools.writing import (
    Body,
    CustomValues,
    DryRun,
    Notify,
    converted,
    custom_form,
    missing_required,
    notified,
    notify_row,
    one,
    unconfirmed_is_unknown,
)

Hours = Annotated[float | None, Field(ge=0, le=100_000)]
Day = Text | None  # YYYY-MM-DD, as the instructions say for every day
Clearable = Literal[
    "assignee", "categories", "milestones", "versions", "parent", "start_date", "due_date",
    "estimated_hours", "actual_hours", "resolution", "description",
]  # fmt: skip
# What clearing sends (Backlog clears a field given an empty value), and the field's label. A list
# field is cleared by one empty value of `name[]`: the client adds the `[]` to any list it sends.
_CLEAR: dict[str, tuple[str, str]] = {
    "assignee": ("assigneeId", "Assignee"),
    "categories": ("categoryId", "Category"),
    "milestones": ("milestoneId", "Milestone"),
    "versions": ("versionId", "Version"),
    "parent": ("parentIssueId", "Parent"),
    "start_date": ("startDate", "Start date"),
    "due_date": ("dueDate", "Due date"),
    "estimated_hours": ("estimatedHours", "Estimated hours"),
    "actual_hours": ("actualHours", "Actual hours"),
    "resolution": ("resolutionId", "Resolution"),
    "description": ("description", "Description"),
}


class _Form:
    """The form to send and the rows to show, built field by field."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.rows: list[Row] = []
        self.texts: list[tuple[str, str]] = []
        self.custom = range(0)  # the positions of custom fields' rows

    def set(self, key: str, value: Any, label: str, old: str, new: str) -> None:
        self.data[key] = value
        if old != new or old == "":
            self.rows.append((label, old, new))


async def _named_id(lookup: Lookup, kind: Kind_, wanted: str, project: JSONObject) -> tuple[int, str]:
    """One per-project item (status, issue type…) by name: its id and its name as Backlog spells it."""
    found = one(kind.label, await lookup.ids(kind, [wanted], [project]), wanted)
    return found, next(str(i["name"]) for _p, i in await lookup.per_project([project], kind) if int(i["id"]) == found)


async def _parent(app: AppState, raw: str, project: JSONObject) -> JSONObject:
    key = key_arg(raw)
    try:
        parent = await app.client.issue(key, child_summary=True)
    except NotFoundError:
        raise missing(key, app) from None
    if int(parent["projectId"]) != int(project["id"]):
        raise UsageError(
            f"Parent {parent['issueKey']} is in another project; a parent must be in {project['projectKey']}."
        )
    if parent.get("parentIssueId"):
        raise UsageError(f"{parent['issueKey']} is itself a child issue, and cannot be a parent.")
    return parent


async def _fields(
    call: Call,
    form: _Form,
    project: JSONObject,
    current: JSONObject,
    *,
    priority: str | None,
    assignee: str | None,
    categories: list[str] | None,
    milestones: list[str] | None,
    versions: list[str] | None,
    parent: str | None,
    start_date: str | None,
    due_date: str | None,
    estimated_hours: float | None,
    cleared: frozenset[str] = frozenset(),
) -> None:
    """The fields create and update share, resolved by name against the project (`cleared`: emptied)."""
    lookup = call.app.lookup
    if priority:
        pid = one("priority", await lookup.priority_ids([priority]), priority)
        name = next(str(p["name"]) for p in await call.app.client.priorities() if int(p["id"]) == pid)
        form.set("priorityId", pid, "Priority", name_of(current.get("priority")), name)
    if assignee:
        uid, name = (await lookup.users([assignee], [project]))[0]
        form.set("assigneeId", uid, "Assignee", name_of(current.get("assignee")), name)
    for values, kind, key, field, label in (
        (categories, CATEGORY, "categoryId", "category", "Category"),
        (milestones, MILESTONE, "milestoneId", "milestone", "Milestone"),
        (versions, VERSION, "versionId", "versions", "Version"),
    ):
        if values:
            ids = await lookup.ids(kind, values, [project])
            pairs = await lookup.per_project([project], kind)
            names = listed(str(i["name"]) for _p, i in pairs if int(i["id"]) in ids)
            form.set(key, ids, label, names_of(current.get(field)), names)
    if parent:
        found = await _parent(call.app, parent, project)
        if int(found["id"]) == int(current.get("id") or 0):
            raise UsageError("An issue cannot be its own parent.")
        form.set("parentIssueId", int(found["id"]), "Parent", "", str(found["issueKey"]))
    start = day("start_date", start_date)
    due = day("due_date", due_date)
    if start:
        form.set("startDate", start, "Start date", str(current.get("startDate") or "")[:10], start)
    if due:
        form.set("dueDate", due, "Due date", str(current.get("dueDate") or "")[:10], due)
    effective_start = start or ("" if "start_date" in cleared else str(current.get("startDate") or "")[:10])
    effective_due = due or ("" if "due_date" in cleared else str(current.get("dueDate") or "")[:10])
    if effective_start and effective_due and effective_due < effective_start and (start or due):
        raise UsageError(f"due_date {effective_due} is before start_date {effective_start}; fix one of them.")
    if estimated_hours is not None:
        old = fmt_number(current.get("estimatedHours")) if current.get("estimatedHours") is not None else ""
        form.set("estimatedHours", f"{estimated_hours:g}", "Estimated hours", old, f"{estimated_hours:g}")


async def create_issue(
    call: Call,
    project_key: Annotated[Text, Field(description="Project key, e.g. ORBIT")],
    summary: Annotated[str, Field(max_length=255)],
    issue_type: Annotated[Text, Field(description="Issue type name, e.g. Bug")],
    description: Annotated[Body | None, Field(description="Markdown")] = None,
    priority: Text = "Normal",
    assignee: Person = None,
    categories: Names = None,
    milestones: Names = None,
    versions: Names = None,
    parent: Annotated[Text | None, Field(description="Parent issue key")] = None,
    start_date: Day = None,
    due_date: Day = None,
    estimated_hours: Hours = None,
    custom_fields: CustomValues = None,
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Create an issue; fields by name (get_project lists them). Returns the key and URL."""
    app, lookup = call.app, call.app.lookup
    if not summary.strip():
        raise UsageError("summary is empty; give the issue a title.")
    project = await lookup.project(project_key)
    key = str(project["projectKey"])
    app.client.require(key, "write")  # a dry run is refused too: it must show what a real call would do
    call.note(project=key, target=key, fields=["summary", "issue_type"])
    form = _Form()
    form.data.update(projectId=int(project["id"]), summary=summary.strip())
    form.rows.append(("Summary", "", summary.strip()))
    type_id = one("issue type", await lookup.ids(ISSUE_TYPE, [issue_type], [project]), issue_type)
    type_name = next(
        str(t["name"]) for _p, t in await lookup.per_project([project], ISSUE_TYPE) if int(t["id"]) == type_id
    )
    form.set("issueTypeId", type_id, "Type", "", type_name)
    await _fields(
        call, form, project, {},
        priority=priority or "Normal", assignee=assignee, categories=categories, milestones=milestones,
        versions=versions, parent=parent, start_date=start_date, due_date=due_date, estimated_hours=estimated_hours,
    )  # fmt: skip
    if custom_fields:
        extra, shown_values = await custom_form(lookup, project, dict(custom_fields), type_id)
        form.data.update(extra)
        form.custom = range(len(form.rows), len(form.rows) + len(shown_values))
        form.rows += [(name, "", value) for name, value in shown_values]
    absent = await missing_required(lookup, project, type_id, form.data)
    if absent:
        raise UsageError(f"Required custom fields left out: {'; '.join(absent)}. Pass them in custom_fields.")
    if description:
        text = converted(description, str(project.get("textFormattingRule", "markdown")))
        form.data["description"] = text
        form.rows.append(("Description", "", plural(len(text), "character")))
        form.texts.append(("Description", text))
        call.note(texts={"description": description})
    people = await notified(lookup, notify, project)
    form.data["notifiedUserId"] = [uid for uid, _ in people]
    form.rows += notify_row(people)
    call.note(fields=[row[0] for row in form.rows])
    if dry_run:
        return render_change(head=f"Would create an issue in {key}:", rows=form.rows, dry_run=True, texts=form.texts)
    check = format_call(
        get_user_issue_list, {"projects": [key], "keyword": summary.strip()[:40], "assignees": ["anyone"]}
    )
    with unconfirmed_is_unknown(f"the new issue in {key}", check):
        created = await app.client.create_issue(key, form.data)
    new_key = str(created.get("issueKey"))
    call.note(target=new_key)
    url = f"{app.settings.base_url}/view/{new_key}"
    rows, missed = landed(form.rows, created, form.data, form.custom)
    return render_change(head=f"Created {new_key}:", rows=rows, dry_run=False, url=url, missed=missed)


async def update_issue(
    call: Call,
    issue_key: IssueKey,
    summary: Annotated[str | None, Field(max_length=255)] = None,
    status: Text | None = None,
    resolution: Text | None = None,
    assignee: Person = None,
    priority: Text | None = None,
    issue_type: Text | None = None,
    categories: Names = None,
    milestones: Names = None,
    versions: Names = None,
    parent: Annotated[Text | None, Field(description="Parent issue key")] = None,
    start_date: Day = None,
    due_date: Day = None,
    estimated_hours: Hours = None,
    actual_hours: Hours = None,
    custom_fields: CustomValues = None,
    description: Annotated[Body | None, Field(description="Markdown; replaces the whole text")] = None,
    clear: Annotated[list[Clearable] | None, Field(max_length=MAX_ITEMS, description="Fields to empty")] = None,
    comment: Annotated[Body | None, Field(description="Markdown comment saved with the change")] = None,
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Change any fields of an issue by name, optionally with a comment. Shows each field old → new."""
    key = key_arg(issue_key)
    app, client, lookup = call.app, call.app.client, call.app.lookup
    try:
        current = await client.issue(key, child_summary=True)
    except NotFoundError:
        raise missing(key, app) from None
    key = str(current["issueKey"])
    project = await client.project(int(current["projectId"]))
    rule = str(project.get("textFormattingRule", "markdown"))
    call.note(project=str(project["projectKey"]), target=key)
    client.require(str(project["projectKey"]), "write")
    form = _Form()
    if summary is not None:
        if not summary.strip():
            raise UsageError("summary cannot be empty; leave it out to keep the current one.")
        form.set("summary", summary.strip(), "Summary", str(current.get("summary") or ""), summary.strip())
    if status:
        sid, name = await _named_id(lookup, STATUS, status, project)
        form.set("statusId", sid, "Status", name_of(current.get("status")), name)
    if resolution:
        rid = one("resolution", await lookup.resolution_ids([resolution]), resolution)
        name = next(str(r["name"]) for r in await client.resolutions() if int(r["id"]) == rid)
        form.set("resolutionId", rid, "Resolution", name_of(current.get("resolution")), name)
    type_id = int((current.get("issueType") or {}).get("id") or 0)
    if issue_type:
        type_id = one("issue type", await lookup.ids(ISSUE_TYPE, [issue_type], [project]), issue_type)
        name = next(
            str(t["name"]) for _p, t in await lookup.per_project([project], ISSUE_TYPE) if int(t["id"]) == type_id
        )
        form.set("issueTypeId", type_id, "Type", name_of(current.get("issueType")), name)
    await _fields(
        call, form, project, current,
        priority=priority, assignee=assignee, categories=categories, milestones=milestones, versions=versions,
        parent=parent, start_date=start_date, due_date=due_date, estimated_hours=estimated_hours,
        cleared=frozenset(clear or ()),
    )  # fmt: skip
    if actual_hours is not None:
        old = fmt_number(current.get("actualHours")) if current.get("actualHours") is not None else ""
        form.set("actualHours", f"{actual_hours:g}", "Actual hours", old, f"{actual_hours:g}")
    if custom_fields:
        extra, shown_values = await custom_form(lookup, project, dict(custom_fields), type_id)
        form.data.update(extra)
        olds = {str(f.get("name")): f for f in current.get("customFields") or []}
        form.custom = range(len(form.rows), len(form.rows) + len(shown_values))
        form.rows += [(name, custom_shown(olds.get(name)), value) for name, value in shown_values]
    if description is not None:
        text = converted(description, rule)
        old = str(current.get("description") or "")
        form.set("description", text, "Description", plural(len(old), "character"), plural(len(text), "character"))
        form.texts.append(("Description", text))
    for name in dict.fromkeys(clear or []):
        param, label = _CLEAR[name]
        if param in form.data:
            raise UsageError(f"{name} is both set and cleared; do one.")
        form.data[param] = [""] if label in LISTED else ""
        form.rows.append((label, current_value(current, label) or "(none)", ""))
    if comment and comment.strip():
        form.data["comment"] = converted(comment, rule)
        form.texts.append(("Comment", form.data["comment"]))
    if not form.data:
        raise UsageError("Nothing to change: pass a field to set, `clear`, or a `comment`.")
    if not form.rows and "comment" not in form.data:
        raise UsageError(f"Nothing to change: {key} already has those values.")
    people = await notified(lookup, notify, project)
    form.data["notifiedUserId"] = [uid for uid, _ in people]
    form.rows += notify_row(people)
    texts = {k: v for k, v in (("description", description), ("comment", comment)) if v}
    call.note(fields=[row[0] for row in form.rows] + (["comment"] if comment else []), texts=texts)
    url = f"{app.settings.base_url}/view/{key}"
    if comment:
        form.rows.append(("Comment", "", plural(len(form.data["comment"]), "character")))
    if dry_run:
        return render_change(head=f"Would update {key}:", rows=form.rows, dry_run=True, texts=form.texts, url=url)
    check = format_call(get_issue_details, {"issue_key": key, "comment_count": 1})
    with unconfirmed_is_unknown(f"the change to {key}", check):
        updated = await client.update_issue(key, form.data, current=current)
    rows, missed = landed(form.rows, updated, form.data, form.custom)
    return render_change(head=f"Updated {key}:", rows=rows, dry_run=False, url=url, missed=missed)


def _check_created(args: Mapping[str, Any]) -> str:
    keyword = str(args.get("summary") or "")[:40]
    return format_call(
        get_user_issue_list, {"projects": [args.get("project_key")], "keyword": keyword, "assignees": ["anyone"]}
    )


def _check_updated(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_details, {"issue_key": str(args.get("issue_key", "")).upper(), "comment_count": 1})


TOOLS = (
    ToolSpec(create_issue, "Create an issue", "issues", Kind.WRITE, idempotent=False, verify=_check_created),
    ToolSpec(
        update_issue,
        "Update an issue",
        "issues",
        Kind.WRITE,
        idempotent=False,  # a comment with the change is added each time
        overwrites=True,  # replaced values (a description) are gone but for the change log
        verify=_check_updated,
    ),
)
