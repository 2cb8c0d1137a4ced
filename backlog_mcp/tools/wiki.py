"""Wiki tools: a project's pages as a tree, and one page as Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import MaxTokens, Offset, ProjectKey, Text, Timezone, zone
from backlog_mcp.errors import MissingError, NotFoundError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.matching import norm, resolve
from backlog_mcp.render.text import inline, plural
from backlog_mcp.render.wiki import render_wiki_page, render_wiki_pages
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.writing import Body, DryRun, converted, unconfirmed_is_unknown


async def get_wiki_pages(
    call: Call,
    project_key: ProjectKey,
    keyword: Annotated[Text | None, Field(description="Words in page names or text")] = None,
    tag: Annotated[Text | None, Field(description="Only pages with this tag")] = None,
    offset: Offset = 0,
    timezone: Timezone = None,
) -> str:
    """A project's wiki pages as a tree by name, with ids, tags and last update; searchable."""
    tz = zone(timezone)
    project = await call.app.lookup.project(project_key)
    pages, view = await gather(call.app.client.wikis(project["projectKey"], keyword or None), call.app.view(tz))
    scope = f"Wiki of {inline(project['projectKey'])}"
    if keyword:
        scope += f' matching "{inline(keyword)}"'
    if tag:
        options: dict[str, set[int]] = {}
        for page in pages:
            for page_tag in page.get("tags") or []:
                options.setdefault(str(page_tag.get("name")), set()).add(int(page_tag["id"]))
        ids = resolve("tag", tag, options, f"the wiki of {project['projectKey']}")
        pages = [p for p in pages if any(int(t["id"]) in ids for t in p.get("tags") or [])]
        scope += f" tagged {inline(tag)}"
    if pages and offset >= len(pages):
        raise UsageError(
            f"offset={offset} is past the end: {scope} has {plural(len(pages), 'page')} "
            f"(offsets 0 to {len(pages) - 1})."
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
    timezone: Timezone = None,
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
        raise MissingError(f"Wiki page {page_id} does not exist or is not allowed. Find pages with {find}.") from None
    project, view = await gather(client.project(int(page["projectId"])), call.app.view(tz))
    url = f"{call.app.settings.base_url}/alias/wiki/{int(page['id'])}"
    rule = str(project.get("textFormattingRule", "markdown"))
    return render_wiki_page(page, rule=rule, view=view, url=url, budget=max_tokens)


async def save_wiki_page(
    call: Call,
    content: Annotated[Body | None, Field(description="The whole page in Markdown")] = None,
    page_id: Annotated[int | None, Field(ge=1, description="Update this page")] = None,
    project_key: Annotated[Text | None, Field(description="With name: update that page, or create it")] = None,
    name: Annotated[Text | None, Field(description="Page name, e.g. Release/Checklist")] = None,
    new_name: Annotated[Text | None, Field(description="Rename the page")] = None,
    dry_run: DryRun = None,
) -> str:
    """Create a wiki page, or update one (by id, or by project and name): content in Markdown, renaming."""
    client = call.app.client
    if page_id is not None and (project_key or name):
        raise UsageError("Pass page_id alone, or project_key and name, not both.")
    if page_id is None and not (project_key and name and name.strip()):
        raise UsageError("Pass page_id (to update), or project_key and name (to update that page, or create it).")
    page: dict[str, Any] | None = None
    if page_id is not None:
        try:
            page = await client.wiki(page_id)
        except NotFoundError:
            find = format_call(get_wiki_pages, {"project_key": "..."})
            raise MissingError(
                f"Wiki page {page_id} does not exist or is not allowed. Find pages with {find}."
            ) from None
        project = await client.project(int(page["projectId"]))
    else:
        project = await call.app.lookup.project(str(project_key))
        wanted = norm(str(name))
        found = [p for p in await client.wikis(str(project["projectKey"])) if norm(str(p.get("name"))) == wanted]
        page = await client.wiki(int(found[0]["id"])) if found else None
    key = str(project["projectKey"])
    client.require(key, "write")  # dry runs too
    rule = str(project.get("textFormattingRule", "markdown"))
    text = converted(content, rule) if content is not None else None
    form: dict[str, Any] = {}
    rows: list[tuple[str, str, str]] = []
    if page is None:
        if not text or not text.strip():
            raise UsageError(f'There is no page "{inline(name)}" in {key}; to create it, pass its content.')
        if new_name:
            raise UsageError("new_name renames an existing page; to create one, pass its name only.")
        rows = [("Name", "", str(name).strip()), ("Content", "", plural(len(text), "character"))]
    else:
        if text is not None:
            if not text.strip():
                raise UsageError("content is empty; a wiki page cannot be emptied (pass the new text).")
            old = str(page.get("content") or "")
            form["content"] = text
            rows.append(("Content", plural(len(old), "character"), plural(len(text), "character")))
        if new_name is not None and not new_name.strip():
            raise UsageError("new_name is empty; a wiki page needs a name.")
        if new_name and new_name.strip() != page.get("name"):
            form["name"] = new_name.strip()
            rows.append(("Name", str(page.get("name")), new_name.strip()))
        if not form:
            raise UsageError("Nothing to change: pass content and/or new_name.")
    target = f"wiki {page['id']}" if page else f"new wiki page in {key}"
    call.note(project=key, target=target, fields=[r[0] for r in rows], texts={"content": content or ""})
    texts = [("Content", text)] if text else []
    base = call.app.settings.base_url
    if dry_run:
        head = f"Would update wiki page {page['id']} of {key}:" if page else f"Would create a wiki page in {key}:"
        return render_change(head=head, rows=rows, dry_run=True, texts=texts)
    check = format_call(get_wiki_pages, {"project_key": key, "keyword": str(new_name or name or "")[:40] or None})
    if page is None:
        with unconfirmed_is_unknown(f"the new wiki page in {key}", check):
            saved = await client.create_wiki(project, str(name).strip(), text or "")
        head = f"Created wiki page {saved.get('id')} in {key}:"
    else:
        with unconfirmed_is_unknown(f"the change to wiki page {page['id']}", check):
            saved = await client.update_wiki(project, int(page["id"]), form)
        head = f"Updated wiki page {page['id']} of {key}:"
    return render_change(head=head, rows=rows, dry_run=False, url=f"{base}/alias/wiki/{saved.get('id', page_id)}")


def _check_wiki(args: Mapping[str, Any]) -> str:
    if args.get("page_id"):
        return format_call(get_wiki_page, {"page_id": args["page_id"]})
    return format_call(get_wiki_pages, {"project_key": args.get("project_key"), "keyword": args.get("name")})


TOOLS = (
    ToolSpec(get_wiki_pages, "Wiki pages of a project", "wiki"),
    ToolSpec(get_wiki_page, "A wiki page", "wiki"),
    ToolSpec(
        save_wiki_page,
        "Create or update a wiki page",
        "wiki",
        Kind.WRITE,
        idempotent=True,  # saving the same text again changes nothing
        overwrites=True,  # an update replaces the page's text
        verify=_check_wiki,
    ),
)
