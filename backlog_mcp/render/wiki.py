"""Wiki pages: a project's pages as a tree by name, and one page as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backlog_mcp.render.notation import LinkContext, to_markdown
from backlog_mcp.render.text import (
    View,
    approx_tokens,
    fit,
    fmt_time,
    inline,
    item,
    plural,
    quoted_page,
    user_name,
)

JSON = dict[str, Any]


def _tags(page: JSON) -> str:
    tags = ", ".join(item(tag.get("name")) for tag in page.get("tags") or [])
    return f" [{tags}]" if tags else ""


def page_line(page: JSON, view: View) -> str:
    """One page of the tree: its last name part indented under its parents, id, tags, last update."""
    parts = str(page.get("name") or "").split("/")
    indent = "  " * (len(parts) - 1)
    return (
        f"{indent}- {inline(parts[-1])} (id {inline(page.get('id'))}){_tags(page)} · "
        f"updated {fmt_time(page.get('updated'), view)[:10]} by {user_name(page.get('updatedUser'))}"
    )


def _tree(pages: Sequence[JSON], view: View) -> list[str]:
    """Page lines, each under its parent; a parent that is no page of its own shows as a folder line.

    A folder line and the page after it are one item, so a budget cut never leaves a folder alone.
    """
    names = {str(p.get("name") or "") for p in pages}
    shown: set[str] = set()
    out: list[str] = []
    for page in pages:
        parts = str(page.get("name") or "").split("/")
        folders = []
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix not in names and prefix not in shown:
                shown.add(prefix)
                folders.append(f"{'  ' * (depth - 1)}- {inline(parts[depth - 1])}/")
        out.append("\n".join([*folders, page_line(page, view)]))
    return out


def render_wiki_pages(
    pages: Sequence[JSON], *, scope: str, offset: int, view: View, next_call: Callable[[int], str], budget: int = 10_000
) -> str:
    """Pages sorted by name, so each sits under its parent ("Release/Checklist" under "Release")."""
    if not pages:
        return f"No wiki pages: {scope}."
    ordered = sorted(pages, key=lambda p: str(p.get("name") or "").split("/"))
    head = f"{scope}: {plural(len(ordered), 'page')} (dates {view.tz_name}). Open one by its id."
    lines = fit(_tree(ordered[offset:], view), budget - approx_tokens(head) - 60)
    tail = []
    shown_to = offset + len(lines.items)
    if shown_to < len(ordered):
        tail = ["", f"{len(ordered) - shown_to} more. Next page: {next_call(shown_to)}"]
    return "\n".join([head, "", *lines.items, *tail])


def render_wiki_page(page: JSON, *, rule: str, view: View, url: str, budget: int = 10_000) -> str:
    """One page: its name, tags, attachments and last update, then its content as Markdown (quoted)."""
    attachments = page.get("attachments") or []
    links = LinkContext(attachments=tuple((str(a.get("id")), str(a.get("name"))) for a in attachments))
    head = [
        f"# {inline(page.get('name'))}",
        f"Wiki page {inline(page.get('id'))}{_tags(page)} · updated {fmt_time(page.get('updated'), view)} "
        f"by {user_name(page.get('updatedUser'))} (times {view.tz_name}) · {url}",
    ]
    if attachments:
        head.append("Attachments: " + ", ".join(item(a.get("name")) for a in attachments))
    content = to_markdown(page.get("content"), rule, links)
    return quoted_page(head, content, what="page", url=url, budget=budget)
