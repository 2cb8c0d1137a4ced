"""Wiki tools: a project's pages as a tree, and one page as Markdown."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from backlog_mcp.args import MaxTokens, Offset, Text, Timezone, zone
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.matching import resolve
from backlog_mcp.render.text import item
from backlog_mcp.render.wiki import render_wiki_page, render_wiki_pages
from backlog_mcp.tools.declare import Call, ToolSpec, format_call

ProjectKey = Annotated[Text, Field(description="Project key (or name), e.g. ORBIT")]


async def get_wiki_pages(
    call: Call,
    project_key: ProjectKey,
    keyword: Annotated[Text | None, Field(description="Words in page names or text")] = None,
    tag: Annotated[Text | None, Field(description="Only pages with this tag")] = None,
    offset: Offset = 0,
    timezone: Timezone = "UTC",
) -> str:
    """A project's wiki pages as a tree by name, with ids, tags and last update; searchable."""
    tz = zone(timezone)
    project = await call.app.lookup.project(project_key)
    pages, view = await gather(call.app.client.wikis(project["projectKey"], keyword or None), call.app.view(tz))
    scope = f"Wiki of {item(project['projectKey'])}"
    if keyword:
        scope += f' matching "{item(keyword)}"'
    if tag:
        options: dict[str, set[int]] = {}
        for page in pages:
            for page_tag in page.get("tags") or []:
                options.setdefault(str(page_tag.get("name")), set()).add(int(page_tag["id"]))
        ids = resolve("tag", tag, options, f"the wiki of {project['projectKey']}")
        pages = [p for p in pages if any(int(t["id"]) in ids for t in p.get("tags") or [])]
        scope += f" tagged {item(tag)}"
    if pages and offset >= len(pages):
        raise UsageError(
            f"offset={offset} is past the end: {scope} has {len(pages)} pages (offsets 0 to {len(pages) - 1})."
        )
    return render_wiki_pages(
        pages,
        scope=scope,
        offset=offset,
        view=view,
        next_call=lambda next_offset: call.again(offset=next_offset),
    )


async def get_wiki_page(
    call: Call,
    page_id: Annotated[int | None, Field(ge=1, description="Page id (from get_wiki_pages)")] = None,
    project_key: Annotated[Text | None, Field(description="With name: the page's project")] = None,
    name: Annotated[Text | None, Field(description="With project_key: the page's name, e.g. Release/Checklist")] = None,
    timezone: Timezone = "UTC",
    max_tokens: MaxTokens = 10000,
) -> str:
    """One wiki page as Markdown (Backlog notation converted), with its tags, attachments and last update."""
    tz = zone(timezone)
    client = call.app.client
    if page_id is not None and (project_key or name):
        raise UsageError("Pass page_id alone, or project_key and name, not both.")
    if page_id is None:
        if not (project_key and name):
            raise UsageError("Pass page_id, or project_key and name; find pages with get_wiki_pages(project_key=...).")
        project = await call.app.lookup.project(project_key)
        pages = await client.wikis(project["projectKey"])
        options = {str(p.get("name")): {int(p["id"])} for p in pages}
        page_id = min(resolve("wiki page", name, options, f"the wiki of {project['projectKey']}"))
    try:
        page = await client.wiki(page_id)
    except NotFoundError:
        find = format_call(get_wiki_pages, {"project_key": "..."})
        raise UsageError(f"Wiki page {page_id} does not exist or is not allowed. Find pages with {find}.") from None
    project, view = await gather(client.project(int(page["projectId"])), call.app.view(tz))
    url = f"{call.app.settings.base_url}/alias/wiki/{int(page['id'])}"
    rule = str(project.get("textFormattingRule", "markdown"))
    return render_wiki_page(page, rule=rule, view=view, url=url, budget=max_tokens)


TOOLS = (
    ToolSpec(get_wiki_pages, "Wiki pages of a project", "wiki"),
    ToolSpec(get_wiki_page, "A wiki page", "wiki"),
)
