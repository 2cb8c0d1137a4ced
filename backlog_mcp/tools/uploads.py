"""upload_attachment: a local file onto an issue, in Backlog's two steps (upload, then attach by id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import IssueKey, Text
from backlog_mcp.client.wire import Upload
from backlog_mcp.errors import BacklogError, OutcomeUnknownError
from backlog_mcp.local_files import read_local
from backlog_mcp.render.text import fmt_size, plural
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.failures import describe
from backlog_mcp.tools.issue_writes import writable_issue
from backlog_mcp.tools.issues import get_issue_details, key_arg
from backlog_mcp.tools.writing import Body, DryRun, converted, unconfirmed_is_unknown


async def upload_attachment(
    call: Call,
    issue_key: IssueKey,
    path: Annotated[Text, Field(description="In the server's upload folders")],
    comment: Body | None = None,
    dry_run: DryRun = None,
) -> str:
    """Attach a local file to an issue, optionally with a new comment."""
    key = key_arg(issue_key)
    settings = call.app.settings
    comment = comment if comment and comment.strip() else None
    need = "comment" if comment else "write"
    # Before any request: the server's own files (cache, audit key) are never sent, even from inside a root.
    private = tuple(
        f
        for p in (settings.cache_path, settings.audit_path)
        if p is not None
        for f in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm"), p.with_name("audit.key"))
    )
    file = read_local(path, settings.upload_roots, settings.upload_cap, private)
    issue, project = await writable_issue(call, key, need)
    key = str(issue["issueKey"])
    rows = [("File", "", file.name), ("Size", "", fmt_size(file.size)), ("Type", "", file.kind)]
    text = (
        converted(comment, str(project.get("textFormattingRule", "markdown"))) if comment and need == "comment" else ""
    )
    if text:
        rows.append(("Comment", "", plural(len(text), "character")))
    call.note(target=f"{key} file {file.name} ({file.size} bytes)", fields=[r[0] for r in rows],
              texts={"comment": comment} if comment else None)  # fmt: skip
    url = f"{settings.base_url}/view/{key}"
    if dry_run:
        texts = [("Comment", text)] if text else []
        return render_change(head=f"Would attach to {key}:", rows=rows, dry_run=True, url=url, texts=texts)
    check = format_call(get_issue_details, {"issue_key": key, "comment_count": 1})
    client = call.app.client
    try:
        await call.progress(0, 2, f"uploading {file.name}")
        held = await client.upload(Upload(file.name, file.content, file.kind))  # held by Backlog, attached to nothing
        await call.progress(1, 2, f"attaching {file.name} to {key}")
    except BacklogError as exc:
        raise BacklogError(
            f"The upload of {file.name} did not complete ({describe(exc, settings.base_url)}); nothing is on "
            f"{key}, and calling again is safe."
        ) from None
    try:
        with unconfirmed_is_unknown(f"attaching {file.name} to {key}", check):
            if text:
                await client.add_comment(key, text, current=issue, attachments=[int(held["id"])])
            else:
                await client.update_issue(key, {"attachmentId": [int(held["id"])]}, current=issue)
    except BacklogError as exc:
        if isinstance(exc, OutcomeUnknownError):
            raise
        # Nothing is lost silently: the upload landed, the attaching did not.
        why = describe(exc, settings.base_url)
        raise BacklogError(
            f"{file.name} was uploaded but not attached to {key}: {why} Nothing is on the issue; "
            "calling again uploads it again."
        ) from None
    await call.progress(2, 2, f"attached {file.name} to {key}")
    return render_change(head=f"Attached to {key}:", rows=rows, dry_run=False, url=url)


def _check(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_details, {"issue_key": args.get("issue_key"), "comment_count": 1})


TOOLS = (
    ToolSpec(upload_attachment, "Upload a file to an issue", "issues", Kind.WRITE, idempotent=False, verify=_check),
)
