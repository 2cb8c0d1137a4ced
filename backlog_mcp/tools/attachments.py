"""Attachments of issues, wiki pages and pull requests: images as images, text as text, else described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import anyio
from pydantic import Field

from backlog_mcp.args import MaxTokens, Text, Timezone, zone
from backlog_mcp.client import JSONObject, segment
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.images import check_image
from backlog_mcp.lookup import gather
from backlog_mcp.matching import resolve
from backlog_mcp.render.attachment import (
    as_text,
    describe,
    image_type,
    named_text,
    render_attachments,
    render_text_file,
)
from backlog_mcp.render.text import fmt_size, inline, url_part
from backlog_mcp.tools.declare import Answer, Call, Image, ToolSpec, format_call
from backlog_mcp.tools.documents import document_ref, get_documents
from backlog_mcp.tools.git import get_pull_requests, repository_name
from backlog_mcp.tools.issues import key_arg, missing
from backlog_mcp.tools.wiki import get_wiki_pages

# Clients cap an image at 5 MB of base64 (Claude's API does): 3.75 MB of bytes before encoding.
MAX_IMAGE_BYTES = 5 * 2**20 * 3 // 4


@dataclass(frozen=True)
class Owner:
    """What the attachments hang on: its name in answers, its page in Backlog, its files' download path."""

    name: str
    url: str
    files: str  # the download path, to which "/<id>" is added
    attachments: list[JSONObject]


async def _owner(
    call: Call,
    issue_key: str | None,
    page_id: int | None,
    project_key: str | None,
    repository: str | None,
    number: int | None,
    document_id: str | None = None,
) -> Owner:
    app = call.app
    base = app.settings.base_url
    given = [
        issue_key is not None,
        page_id is not None,
        document_id is not None,
        repository is not None or number is not None,
    ]
    if sum(given) != 1:
        raise UsageError(
            "Name one owner: issue_key (an issue), page_id (a wiki page), document_id (a document), or "
            "project_key, repository and number (a pull request)."
        )
    if document_id is not None:
        wanted = document_ref(document_id)
        try:
            document = await app.client.document(wanted)
        except NotFoundError:
            raise UsageError(
                f"Document {wanted} does not exist or is not allowed; find documents with "
                + format_call(get_documents, {"project_key": "..."})
            ) from None
        project = await app.client.project(int(document["projectId"]))
        return Owner(
            f"document {inline(document.get('title'))}",
            f"{base}/document/{project['projectKey']}/{wanted}",
            f"/documents/{wanted}/attachments",
            document.get("attachments") or [],
        )
    if issue_key is not None:
        key = key_arg(issue_key)
        try:
            issue = await app.client.issue(key, child_summary=True)  # the form get_issue_details cached
        except NotFoundError:
            raise missing(key, app) from None
        real = str(issue["issueKey"])
        return Owner(
            real, f"{base}/view/{real}", f"/issues/{segment(real)}/attachments", issue.get("attachments") or []
        )
    if page_id is not None:
        try:
            page = await app.client.wiki(page_id)
        except NotFoundError:
            raise UsageError(
                f"Wiki page {page_id} does not exist or is not allowed; find pages with "
                + format_call(get_wiki_pages, {"project_key": "..."})
            ) from None
        return Owner(
            f"wiki page {inline(page.get('name'))}",
            f"{base}/alias/wiki/{page_id}",
            f"/wikis/{page_id}/attachments",
            page.get("attachments") or [],
        )
    if not (project_key and repository and number):
        raise UsageError("A pull request needs project_key, repository and number, e.g. ORBIT, orbit-ios, 12.")
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    repo_id, repo = await repository_name(call, key, repository)
    try:
        pr = await app.client.pull_request(key, repo_id, number)
    except NotFoundError:
        raise UsageError(
            f"Pull request {number} does not exist in {key}/{inline(repo)}; list them with "
            + format_call(get_pull_requests, {"project_key": key, "repository": repo, "status": "all"})
        ) from None
    path = f"/projects/{segment(key)}/git/repositories/{repo_id}/pullRequests/{number}"
    return Owner(
        f"pull request {key}/{inline(repo)}#{number}",
        f"{base}/git/{key}/{url_part(repo)}/pullRequests/{number}",
        f"{path}/attachments",
        pr.get("attachments") or [],
    )


async def get_attachment(
    call: Call,
    attachment: Annotated[Text | None, Field(description="File name or id; leave out to list the files")] = None,
    issue_key: Annotated[Text | None, Field(description="The issue it is attached to")] = None,
    page_id: Annotated[int | None, Field(ge=1, description="Or: the wiki page's id")] = None,
    document_id: Annotated[Text | None, Field(description="Or: the document's id")] = None,
    project_key: Annotated[Text | None, Field(description="Or, with repository and number: a pull request")] = None,
    repository: Text | None = None,
    number: Annotated[int | None, Field(ge=1)] = None,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> Answer:
    """One file on an issue, wiki page, document or pull request: images as images, text as text, else described."""
    tz = zone(timezone)
    # The view (the space's zone) in the same round trip as the owner: it is on the path of every answer.
    owner, view = await gather(
        _owner(call, issue_key, page_id, project_key, repository, number, document_id), call.app.view(tz)
    )
    if attachment is None:
        return render_attachments(owner.attachments, owner=owner.name, view=view)
    if not owner.attachments:
        raise UsageError(f"{owner.name} has no attachments.")
    wanted = attachment.strip()
    by_id = [int(a["id"]) for a in owner.attachments if str(a.get("id")) == wanted]
    options: dict[str, set[int]] = {}
    for a in owner.attachments:
        options.setdefault(str(a.get("name")), set()).add(int(a["id"]))
    # By id, or by name; the newest of a repeated name.
    chosen = by_id[0] if by_id else max(resolve("attachment", wanted, options, owner.name))
    found = next(a for a in owner.attachments if int(a["id"]) == chosen)
    cap = call.app.settings.attachment_cap
    size = found.get("size")
    name = str(found.get("name") or "")
    if isinstance(size, int) and size > cap and not named_text(name):
        # Only a text file is worth its first part; anything else that big is described unread.
        return describe(found, owner=owner.name, url=owner.url, view=view, why=_too_big(cap))
    download = await call.app.client.download(f"{owner.files}/{chosen}")
    mime = image_type(download.body[:16])
    if mime is not None:
        if not download.complete or len(download.body) > MAX_IMAGE_BYTES:
            why = _too_big(min(cap, MAX_IMAGE_BYTES))
            return describe(found, owner=owner.name, url=owner.url, view=view, why=why)
        checked = await anyio.to_thread.run_sync(check_image, download.body)  # decoding takes a while
        if checked.problem is not None or checked.mime is None:
            return describe(found, owner=owner.name, url=owner.url, view=view, why=checked.problem or "")
        why = f"The image ({checked.width}×{checked.height} pixels) follows."
        line = describe(found, owner=owner.name, url=owner.url, view=view, why=why)
        return [line, Image(download.body, checked.mime)]
    text = as_text(download.body, download.complete, named_text=named_text(name))
    if text is not None:
        return render_text_file(found, text, owner=owner.name, complete=download.complete, budget=max_tokens)
    return describe(found, owner=owner.name, url=owner.url, view=view, why="It is neither an image nor text.")


def _too_big(cap: int) -> str:
    return f"It is bigger than this server's download cap ({fmt_size(cap)}, BACKLOG_ATTACHMENT_MAX_BYTES)."


TOOLS = (ToolSpec(get_attachment, "An attachment", "issues"),)
