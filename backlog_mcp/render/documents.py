"""Documents: a project's document tree, search hits, and one document as text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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


def _titled(emoji: object, title: object) -> str:
    """An emoji and a title after a list marker: whichever comes first may not open a block."""
    shown = inline(emoji) if emoji else ""  # a blank emoji is no emoji: the title comes first then
    return f"{shown} {inline(title)}" if shown else inline(title)


def _tree_lines(nodes: Sequence[JSON], depth: int = 0) -> list[str]:
    lines = []
    for node in nodes:
        lines.append(f"{'  ' * depth}- {_titled(node.get('emoji'), node.get('name'))} (id {inline(node.get('id'))})")
        lines.extend(_tree_lines(node.get("children") or [], depth + 1))
    return lines


def render_document_tree(tree: JSON, *, project: str, offset: int, budget: int, next_call: Callable[[int], str]) -> str:
    """The active tree as nested lines, from line `offset`; cut for size, it ends with the call for the rest."""
    nodes = (tree.get("activeTree") or {}).get("children") or []
    if not nodes:
        return f"Project {inline(project)} has no documents."
    lines = _tree_lines(nodes)
    if offset >= len(lines):
        last = len(lines) - 1
        shape = f"the tree of {inline(project)} has {plural(len(lines), 'line')} (0 to {last})"
        return f"No documents at offset {offset}: {shape}."
    head = f"Documents of {inline(project)}: {len(lines)} (nested as in Backlog). Open one by its id."
    fitted = fit(lines[offset:], budget - approx_tokens(head) - 60)
    shown_to = offset + len(fitted.items)
    tail = [f"_{len(lines) - shown_to} more. Next: {next_call(shown_to)}_"] if shown_to < len(lines) else []
    trash = len((tree.get("trashTree") or {}).get("children") or [])
    if trash:
        tail.append(f"({trash} in the trash, not listed.)")
    return "\n".join([head, "", *fitted.items, *([""] if tail else []), *tail])


def document_line(document: JSON, view: View) -> str:
    return (
        f"- {_titled(document.get('emoji'), document.get('title'))} (id {inline(document.get('id'))}) · updated "
        f"{fmt_time(document.get('updated'), view)[:10]} by {user_name(document.get('updatedUser'))}"
    )


def render_document_hits(
    documents: Sequence[JSON], *, scope: str, offset: int, view: View, next_call: Callable[[int], str] | None
) -> str:
    if not documents:
        return f"No documents: {scope}."
    head = f"{scope}: {offset + 1}-{offset + len(documents)} (dates {view.tz_name}), newest update first."
    tail = ["", f"More may exist. Next page: {next_call(offset + len(documents))}"] if next_call else []
    return "\n".join([head, "", *(document_line(d, view) for d in documents), *tail])


def render_document(document: JSON, *, project: str, view: View, url: str, budget: int) -> str:
    """One document from its plain text (never the editor's JSON), quoted: it is not ours."""
    emoji = f"{inline(document['emoji'])} " if document.get("emoji") else ""
    tags = ", ".join(item(t.get("name")) for t in document.get("tags") or [])
    head = [
        f"# {emoji}{inline(document.get('title'))}",
        f"Document in {inline(project)}{f' [{tags}]' if tags else ''} · updated "
        f"{fmt_time(document.get('updated'), view)} by {user_name(document.get('updatedUser'))} "
        f"(times {view.tz_name}) · {url}",
    ]
    attachments = document.get("attachments") or []
    if attachments:
        head.append("Attachments: " + ", ".join(item(a.get("name")) for a in attachments))
    text = str(document.get("plain") or "").strip()
    return quoted_page(head, text, what="document", url=url, budget=budget)
