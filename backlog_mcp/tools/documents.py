"""Document tools: a project's document tree or search hits, and one document as text."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from backlog_mcp.args import MaxTokens, Offset, ProjectKey, Text, Timezone, zone
from backlog_mcp.client import Params
from backlog_mcp.errors import MissingError, NotFoundError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.matching import shown
from backlog_mcp.render.documents import render_document, render_document_hits, render_document_tree
from backlog_mcp.render.text import inline
from backlog_mcp.tools.declare import Call, ToolSpec, format_call

_DOCUMENT_ID = re.compile(r"[0-9a-f]{32}")
PAGE = 20


async def get_documents(
    call: Call,
    project_key: ProjectKey,
    keyword: Annotated[Text | None, Field(description="Words in titles or text; leave out for the tree")] = None,
    offset: Offset = 0,
    timezone: Timezone = "",
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
    timezone: Timezone = "",
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


TOOLS = (
    ToolSpec(get_documents, "Documents of a project", "documents"),
    ToolSpec(get_document, "A document", "documents"),
)
