"""Pull-request writes: open one, or change one (summary, description, assignee, linked issue, a comment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import IssueKey, ProjectKey, Text, issue_ref
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.lookup import REPOSITORIES
from backlog_mcp.render.text import inline, plural, url_part
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.git import get_pull_request, get_pull_requests, repository_name
from backlog_mcp.tools.writing import Body, DryRun, Notify, converted, notified, notify_row, unconfirmed_is_unknown

Repository = Text  # a name (or part of one) or an id, like the branch names: plain text


async def _issue(call: Call, key: str, project: JSONObject, issue_key: str) -> JSONObject:
    """The issue to link: of the pull request's own project (as Backlog requires)."""
    ref = issue_ref(issue_key)
    try:
        issue = await call.app.client.issue(ref, child_summary=True)
    except NotFoundError:
        raise UsageError(f"There is no issue {ref} to link (or it is not allowed).") from None
    if int(issue["projectId"]) != int(project["id"]):
        raise UsageError(f"{issue['issueKey']} is not an issue of {key}; a pull request links issues of its project.")
    return issue


async def _assignee(call: Call, assignee: str, project: JSONObject) -> tuple[int, str]:
    (person,) = await call.app.lookup.users([assignee], [project])
    return person


async def create_pull_request(
    call: Call,
    project_key: ProjectKey,
    repository: Repository,
    branch: Text,
    summary: Text,
    description: Body,
    base: Text = "main",
    assignee: Text | None = None,
    issue_key: Annotated[IssueKey | None, Field(description="Linked issue")] = None,
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Open a pull request from `branch` into `base`; assignee by name."""
    if not summary.strip() or not description.strip():
        raise UsageError("summary and description are required by Backlog; write both.")
    if branch.strip() == base.strip():
        raise UsageError(f'branch and base are both "{inline(base)}"; a pull request merges one branch into another.')
    app, client = call.app, call.app.client
    app.lookup.prefetch([project_key], REPOSITORIES)
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    client.require(key, "write")  # dry runs too
    repo_id, repo = await repository_name(call, key, repository)
    text = converted(description, str(project.get("textFormattingRule", "markdown")))
    form: dict[str, Any] = {
        "summary": summary.strip(),
        "description": text,
        "base": base.strip(),
        "branch": branch.strip(),
    }
    rows = [
        ("Branch", "", branch.strip()),
        ("Into", "", base.strip()),
        ("Summary", "", summary.strip()),
        ("Description", "", plural(len(text), "character")),
    ]
    if assignee:
        form["assigneeId"], name = await _assignee(call, assignee, project)
        rows.append(("Assignee", "", name))
    if issue_key:
        issue = await _issue(call, key, project, issue_key)
        form["issueId"] = int(issue["id"])
        rows.append(("Issue", "", str(issue["issueKey"])))
    people = await notified(app.lookup, notify, project)
    form["notifiedUserId"] = [uid for uid, _ in people]
    rows += notify_row(people)
    call.note(project=key, target=f"new pull request in {key}/{repo}", fields=[r[0] for r in rows],
              texts={"description": description})  # fmt: skip
    if dry_run:
        head = f"Would open a pull request in {key}/{inline(repo)}:"
        return render_change(head=head, rows=rows, dry_run=True, texts=[("Description", text)])
    check = format_call(get_pull_requests, {"project_key": key, "repository": repo_id, "status": "open"})
    with unconfirmed_is_unknown(f"the new pull request in {key}/{repo}", check):
        saved = await client.create_pull_request(key, repo_id, form)
    number = saved.get("number")
    call.note(target=f"{key}/{repo}#{number}")
    url = f"{app.settings.base_url}/git/{key}/{url_part(repo)}/pullRequests/{number}"
    return render_change(head=f"Opened {key}/{inline(repo)}#{number}:", rows=rows, dry_run=False, url=url)


async def update_pull_request(
    call: Call,
    project_key: ProjectKey,
    repository: Repository,
    number: Annotated[int, Field(ge=1, description="Pull request number")],
    summary: Text | None = None,
    description: Body | None = None,
    assignee: Text | None = None,
    issue_key: Annotated[IssueKey | None, Field(description="Linked issue")] = None,
    comment: Body | None = None,
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Change a pull request's summary, description, assignee or linked issue, and/or comment on it."""
    app, client = call.app, call.app.client
    app.lookup.prefetch([project_key], REPOSITORIES)
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    rule = str(project.get("textFormattingRule", "markdown"))
    summary = summary if summary and summary.strip() else None  # empty: nothing to change, not a change
    assignee = assignee if assignee and assignee.strip() else None
    issue_key = issue_key if issue_key and issue_key.strip() else None
    fields_given = any(v is not None for v in (summary, description, assignee, issue_key))
    client.require(key, "write" if fields_given else "comment")  # dry runs too
    if not fields_given and not (comment and comment.strip()):
        raise UsageError("Nothing to change: pass summary, description, assignee, issue_key and/or comment.")
    repo_id, repo = await repository_name(call, key, repository)
    try:
        pr = await client.pull_request(key, repo_id, number)
    except NotFoundError:
        find = format_call(get_pull_requests, {"project_key": key, "repository": repo_id, "status": "all"})
        raise UsageError(f"{key}/{repo} has no pull request {number}; list them with {find}.") from None
    form: dict[str, Any] = {}
    rows: list[tuple[str, str, str]] = []
    if summary is not None and summary.strip() and summary.strip() != pr.get("summary"):
        form["summary"] = summary.strip()
        rows.append(("Summary", str(pr.get("summary") or ""), summary.strip()))
    text = converted(description, rule) if description is not None else None
    if text is not None and text != (pr.get("description") or ""):
        form["description"] = text
        rows.append(
            ("Description", plural(len(pr.get("description") or ""), "character"), plural(len(text), "character"))
        )
    if assignee:
        uid, name = await _assignee(call, assignee, project)
        if uid != (pr.get("assignee") or {}).get("id"):
            form["assigneeId"] = uid
            rows.append(("Assignee", str((pr.get("assignee") or {}).get("name") or "(none)"), name))
    if issue_key:
        issue = await _issue(call, key, project, issue_key)
        if int(issue["id"]) != (pr.get("issue") or {}).get("id"):
            form["issueId"] = int(issue["id"])
            rows.append(("Issue", str((pr.get("issue") or {}).get("issueKey") or "(none)"), str(issue["issueKey"])))
    said = converted(comment, rule) if comment and comment.strip() else None
    if said:
        form["comment"] = said
        rows.append(("Comment", "", plural(len(said), "character")))
    if not form:
        raise UsageError(f"Nothing to change: {key}/{inline(repo)}#{number} already has those values.")
    people = await notified(app.lookup, notify, project)
    form["notifiedUserId"] = [uid for uid, _ in people]
    rows += notify_row(people)
    call.note(project=key, target=f"{key}/{repo}#{number}", fields=[r[0] for r in rows],
              texts={"description": description or "", "comment": comment or ""})  # fmt: skip
    url = f"{app.settings.base_url}/git/{key}/{url_part(repo)}/pullRequests/{number}"
    texts = [(label, value) for label, value in (("Description", text), ("Comment", said)) if value]
    if dry_run:
        head = f"Would change {key}/{inline(repo)}#{number}:"
        return render_change(head=head, rows=rows, dry_run=True, texts=texts, url=url)
    check = format_call(get_pull_request, {"project_key": key, "repository": repo_id, "number": number})
    need = "write" if set(form) - {"comment", "notifiedUserId"} else "comment"
    with unconfirmed_is_unknown(f"the change to {key}/{repo}#{number}", check):
        await client.update_pull_request(key, repo_id, number, form, need=need)
    return render_change(head=f"Changed {key}/{inline(repo)}#{number}:", rows=rows, dry_run=False, url=url)


def _check_list(args: Mapping[str, Any]) -> str:
    return format_call(
        get_pull_requests, {"project_key": args.get("project_key"), "repository": args.get("repository")}
    )


def _check_one(args: Mapping[str, Any]) -> str:
    where = {k: args.get(k) for k in ("project_key", "repository", "number")}
    return format_call(get_pull_request, where)


TOOLS = (
    ToolSpec(create_pull_request, "Open a pull request", "git", Kind.WRITE, idempotent=False, verify=_check_list),
    ToolSpec(
        update_pull_request,
        "Change a pull request",
        "git",
        Kind.WRITE,
        idempotent=False,
        overwrites=True,
        verify=_check_one,
    ),
)
