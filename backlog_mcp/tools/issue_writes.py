"""Issue text and attention: replace a description, comment, edit one's own comment, watch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import IssueKey, Text
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.render.text import plural, user_name
from backlog_mcp.render.writes import render_change, render_comment_added, render_description_set
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.issues import get_issue_comments, get_issue_details, get_user_issue_list, key_arg, missing
from backlog_mcp.tools.writing import Body, DryRun, Notify, converted, notified, notify_row, unconfirmed_is_unknown


async def writable_issue(call: Call, key: str, need: str) -> tuple[JSONObject, JSONObject]:
    """The issue (its cached detailed form) and its project, checked against the write level `need`."""
    try:
        issue = await call.app.client.issue(key, child_summary=True)
    except NotFoundError:
        raise missing(key, call.app) from None
    project = await call.app.client.project(int(issue["projectId"]))
    call.note(project=str(project["projectKey"]), target=str(issue["issueKey"]))
    call.app.client.require(str(project["projectKey"]), need)  # dry runs too
    return issue, project


async def update_issue_description(
    call: Call,
    issue_key: IssueKey,
    description: Annotated[Body, Field(description="The whole new text in Markdown; empty clears it")],
    dry_run: DryRun = None,
) -> str:
    """Replace an issue's description."""
    key = key_arg(issue_key)
    before, project = await writable_issue(call, key, "write")
    key = str(before["issueKey"])
    text = converted(description, str(project.get("textFormattingRule", "markdown")))
    call.note(fields=["description"], texts={"description": description})
    old = str(before.get("description") or "")
    if dry_run:
        rows = [("Description", plural(len(old), "character"), plural(len(text), "character") if text else "")]
        url = f"{call.app.settings.base_url}/view/{key}"
        return render_change(
            head=f"Would replace the description of {key}:",
            rows=rows,
            dry_run=True,
            texts=[("Description", text)],
            url=url,
        )
    with unconfirmed_is_unknown(f"the new description of {key}", _check_description({"issue_key": key})):
        issue = await call.app.client.update_issue(key, {"description": text}, current=before)
    return render_description_set(issue, old, await call.app.view(None))


async def add_issue_comment(
    call: Call,
    issue_key: IssueKey,
    content: Annotated[Body, Field(min_length=1, description="Comment in Markdown")],
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Add a comment to an issue."""
    key = key_arg(issue_key)
    if not content.strip():
        raise UsageError("content is empty; write the comment text.")
    issue, project = await writable_issue(call, key, "comment")
    key = str(issue["issueKey"])
    text = converted(content, str(project.get("textFormattingRule", "markdown")))
    people = await notified(call.app.lookup, notify, project)
    call.note(fields=["comment"] + (["notify"] if people else []), texts={"comment": content})
    if dry_run:
        rows = [("Comment", "", plural(len(text), "character")), *notify_row(people)]
        return render_change(head=f"Would comment on {key}:", rows=rows, dry_run=True, texts=[("Comment", text)])
    with unconfirmed_is_unknown(f"the comment on {key}", _check_comments({"issue_key": key})):
        comment = await call.app.client.add_comment(key, text, [uid for uid, _ in people], current=issue)
    return render_comment_added(comment, key, await call.app.view(None))


async def update_issue_comment(
    call: Call,
    issue_key: IssueKey,
    comment_id: Annotated[int, Field(ge=1, description="From get_issue_comments")],
    content: Annotated[Body, Field(min_length=1, description="The whole new text in Markdown")],
    dry_run: DryRun = None,
) -> str:
    """Edit one of your own comments on an issue."""
    key = key_arg(issue_key)
    if not content.strip():
        raise UsageError("content is empty; write the new text (comments cannot be emptied).")
    issue, project = await writable_issue(call, key, "comment")
    key = str(issue["issueKey"])
    client = call.app.client
    try:
        comment, me = await client.comment(key, comment_id), await client.myself()
    except NotFoundError:
        find = format_call(get_issue_comments, {"issue_key": key})
        raise UsageError(f"{key} has no comment {comment_id}; list its comments with {find}.") from None
    author = comment.get("createdUser") or {}
    if int(author.get("id") or 0) != int(me["id"]):
        raise UsageError(
            f"Comment {comment_id} on {key} was written by {user_name(author)}; only its author can edit it. "
            f"Add a new one with {format_call(add_issue_comment, {'issue_key': key, 'content': '...'})} instead."
        )
    text = converted(content, str(project.get("textFormattingRule", "markdown")))
    call.note(target=f"{key}#comment-{comment_id}", fields=["comment"], texts={"comment": content})
    old = str(comment.get("content") or "")
    rows = [("Comment", plural(len(old), "character"), plural(len(text), "character"))]
    url = f"{call.app.settings.base_url}/view/{key}#comment-{comment_id}"
    if dry_run:
        return render_change(
            head=f"Would edit comment {comment_id} on {key}:",
            rows=rows,
            dry_run=True,
            texts=[("Comment", text)],
            url=url,
        )
    check = format_call(get_issue_comments, {"issue_key": key, "after_id": comment_id - 1, "count": 1})
    with unconfirmed_is_unknown(f"the edit of comment {comment_id}", check):
        await client.update_comment(key, comment_id, text)
    return render_change(head=f"Edited comment {comment_id} on {key}:", rows=rows, dry_run=False, url=url)


async def watch_issue(
    call: Call,
    issue_key: IssueKey,
    watch: Annotated[bool, Field(description="false: stop watching")] = True,
    note: Annotated[Text | None, Field(description="Why you watch it")] = None,
    dry_run: DryRun = None,
) -> str:
    """Watch an issue (changes then show in get_user_issue_list(watching=true)), or stop watching it."""
    key = key_arg(issue_key)
    issue, _project = await writable_issue(call, key, "comment")
    key = str(issue["issueKey"])
    client = call.app.client
    me = await client.myself()
    current = await client.watching_of(int(me["id"]), int(issue["id"]))
    call.note(fields=["watching"] + (["note"] if note is not None else []))
    prefix = "Dry run, nothing was sent. Would: " if dry_run else ""
    check = format_call(get_user_issue_list, {"watching": True, "keyword": str(issue.get("summary") or "")[:40]})
    if not watch:
        if current is None:
            return f"You are not watching {key}; nothing to change."
        if not dry_run:
            with unconfirmed_is_unknown(f"stopping watching {key}", check):
                await client.unwatch(issue, int(current["id"]), int(me["id"]))
        return f"{prefix}Stopped watching {key}."
    if current is not None:
        if note is None or note == current.get("note"):
            return f"You already watch {key}; nothing to change."
        if not dry_run:
            with unconfirmed_is_unknown(f"the watching note of {key}", check):
                await client.update_watching(issue, int(current["id"]), int(me["id"]), note)
        return f"{prefix}Changed the note of your watching of {key}."
    if not dry_run:
        with unconfirmed_is_unknown(f"watching {key}", check):
            await client.watch(issue, int(me["id"]), note or "")
    return f"{prefix}Watching {key}; its changes show in {format_call(get_user_issue_list, {'watching': True})}."


def _check_description(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_details, {"issue_key": str(args.get("issue_key", "")).upper(), "comment_count": 0})


def _check_comments(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_comments, {"issue_key": str(args.get("issue_key", "")).upper(), "count": 5})


def _check_watching(args: Mapping[str, Any]) -> str:
    return format_call(get_user_issue_list, {"watching": True})


TOOLS = (
    ToolSpec(
        update_issue_description,
        "Replace an issue's description",
        "issues",
        Kind.WRITE,
        idempotent=False,  # each call adds a change-log comment
        overwrites=True,  # the old text is gone (Backlog keeps it only in the change log)
        verify=_check_description,
    ),
    ToolSpec(add_issue_comment, "Comment on an issue", "issues", Kind.WRITE, idempotent=False, verify=_check_comments),
    ToolSpec(
        update_issue_comment,
        "Edit your comment",
        "issues",
        Kind.WRITE,
        idempotent=True,
        overwrites=True,
        verify=_check_comments,
    ),
    ToolSpec(
        watch_issue,
        "Watch an issue",
        "issues",
        Kind.WRITE,
        idempotent=True,
        overwrites=True,  # watch=false removes the watching and its note
        verify=_check_watching,
    ),
)
