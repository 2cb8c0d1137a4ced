"""Document tools: a project's document tree or search hits, and one document as text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import MaxTokens, Offset, ProjectKey, Text, Timezone, zone
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import MissingError, NotFoundError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.matching import resolve, shown
from backlog_mcp.render.documents import render_document, render_document_hits, render_document_tree
from backlog_mcp.render.text import inline, plural
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.writing import Body, DryRun, unconfirmed_is_unknown

_DOCUMENT_ID = re.compile(r"[0-9a-f]{32}")
PAGE = 20


async def get_documents(
    call: Call,
    project_key: ProjectKey,
    keyword: Annotated[Text | None, Field(description="Words in titles or text; leave out for the tree")] = None,
    offset: Offset = 0,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """A project's documents as a tree (titles, ids, nesting), or those matching a keyword."""
    tz = zone(timezone)
    app, client = call.app, call.app.client
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    keyword = (keyword or "").strip() or None
    if not keyword:
        tree = await client.document_tree(key)
        return render_document_tree(
            tree,
            project=key,
            offset=offset,
            budget=max_tokens,
            next_call=lambda next_offset: call.again(project_key=key, offset=next_offset),
        )
    params: Params = {
        "keyword": keyword.strip(),
        "offset": offset,
        "count": PAGE + 1,
        "sort": "updated",
        "order": "desc",
    }
    found, view = await gather(client.documents(key, params), app.view(tz))
    more = len(found) > PAGE
    if not found and offset:
        raise UsageError(f'offset={offset} is past the documents of {key} matching "{inline(keyword)}".')
    return render_document_hits(
        found[:PAGE],
        scope=f'Documents of {key} matching "{inline(keyword)}"',
        offset=offset,
        view=view,
        next_call=(lambda next_offset: call.again(project_key=key, offset=next_offset)) if more else None,
    )


def document_ref(raw: str) -> str:
    """A document id (32 hex characters), lower-cased.

    Raises:
        UsageError: anything else, with where to find ids.
    """
    wanted = raw.strip().lower()
    if not _DOCUMENT_ID.fullmatch(wanted):
        find = format_call(get_documents, {"project_key": "..."})
        raise UsageError(f'"{shown(raw)}" is not a document id (32 hex characters); find ids with {find}.')
    return wanted


async def get_document(
    call: Call,
    document_id: Annotated[Text, Field(description="Document id (32 hex characters, from get_documents)")],
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """One document as text, with its tags, attachments and last update."""
    tz = zone(timezone)
    wanted = document_ref(document_id)
    find = format_call(get_documents, {"project_key": "..."})
    app, client = call.app, call.app.client
    try:
        document, view = await gather(client.document(wanted), app.view(tz))
    except NotFoundError:
        raise MissingError(f"Document {wanted} does not exist or is not allowed; find documents with {find}.") from None
    project = await client.project(int(document["projectId"]))
    key = str(project["projectKey"])
    url = f"{app.settings.base_url}/document/{key}/{wanted}"
    return render_document(document, project=key, view=view, url=url, budget=max_tokens)


def _paths(nodes: list[JSONObject], prefix: str = "") -> list[tuple[str, str]]:
    """(title path, id) of every document in a tree, parents before their children."""
    out = []
    for node in nodes:
        path = f"{prefix}{node.get('name')}"
        out.append((path, str(node.get("id"))))
        out += _paths(node.get("children") or [], f"{path}/")
    return out


async def add_document(
    call: Call,
    project_key: ProjectKey,
    title: Annotated[Text, Field(description="Document title")],
    content: Annotated[Body, Field(description="Markdown")],
    parent: Annotated[Text | None, Field(description="Under this document: title path (Specs/Maps) or id")] = None,
    dry_run: DryRun = None,
) -> str:
    """Add a document to a project (Backlog documents cannot be updated through its API)."""
    if not title.strip():
        raise UsageError("title is empty; a document needs a title.")
    app, client = call.app, call.app.client
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    client.require(key, "write")  # dry runs too
    form: dict[str, Any] = {"title": title.strip(), "content": content}
    rows = [("Title", "", title.strip()), ("Content", "", plural(len(content), "character"))]
    if parent and parent.strip():
        tree = await client.document_tree(key)
        paths = _paths((tree.get("activeTree") or {}).get("children") or [])
        options: dict[str, set[int]] = {}
        for n, (path, _id) in enumerate(paths):  # titles may repeat: every document of a path is an option
            options.setdefault(path, set()).add(n)
        by_id = [n for n, (_path, doc_id) in enumerate(paths) if doc_id == parent.strip().lower()]
        chosen = by_id or sorted(resolve("document", parent.strip().strip("/"), options))
        if len(chosen) > 1:
            ids = ", ".join(f"{paths[n][0]} (id {paths[n][1]})" for n in chosen[:10])
            raise UsageError(f'Several documents are called "{inline(parent.strip())}": {ids}. Pass parent as its id.')
        form["parentId"] = paths[chosen[0]][1]
        rows.append(("Under", "", paths[chosen[0]][0]))
    call.note(project=key, target=f"new document in {key}", fields=[r[0] for r in rows], texts={"content": content})
    if dry_run:
        head = f"Would add a document to {key}:"
        return render_change(head=head, rows=rows, dry_run=True, texts=[("Content", content)])
    check = format_call(get_documents, {"project_key": key, "keyword": title.strip()[:40]})
    with unconfirmed_is_unknown(f"the new document in {key}", check):
        saved = await client.add_document(project, form)
    call.note(target=f"document {saved.get('id')} in {key}")
    url = f"{app.settings.base_url}/document/{key}/{saved.get('id')}"
    return render_change(head=f"Added document {saved.get('id')} to {key}:", rows=rows, dry_run=False, url=url)


def _check_document(args: Mapping[str, Any]) -> str:
    return format_call(get_documents, {"project_key": args.get("project_key"), "keyword": args.get("title")})


TOOLS = (
    ToolSpec(get_documents, "Documents of a project", "documents"),
    ToolSpec(get_document, "A document", "documents"),
    ToolSpec(add_document, "Add a document", "documents", Kind.WRITE, idempotent=False, verify=_check_document),
)
