"""One search across the space: hits grouped by kind, newest first, each one line with a marked snippet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backlog_mcp.render.text import View, approx_tokens, fit, fmt_time, inline, item, marked, plural

KIND_TITLES = {"issues": "Issues", "wiki": "Wiki pages", "documents": "Documents", "pull_requests": "Pull requests"}


@dataclass(frozen=True)
class Hit:
    """One thing found, as Backlog users wrote it (escaped here): `text` is where the snippet comes from."""

    ref: str  # ORBIT-4, orbit-ios#3, a wiki page's id: how to open it
    title: str
    project: str
    state: str  # a status, a pull request's state; "" for pages and documents
    updated: str | None
    text: str = ""  # plain text holding the match, when the title does not (description, comment, page)
    comment_by: str = ""  # the snippet is from a comment by this person
    note: str = ""  # ours, when there is no snippet: where the match is


@dataclass(frozen=True)
class Found:
    """The hits of one kind: the newest first, how many in all (None: unknown), and the call for more."""

    kind: str
    hits: Sequence[Hit]
    total: int | None
    more: str  # the call that shows more of this kind (given when some are left out)
    refused: bool = False  # Backlog refused every request of this kind (a role): not "none"


def _line(hit: Hit, words: Sequence[str], view: View) -> str:
    folded = hit.title.casefold()
    # A match in the title is marked there; a snippet only shows a match elsewhere.
    title = (
        marked(hit.title, words, len(hit.title)) if any(w.casefold() in folded for w in words) else inline(hit.title)
    )
    parts = [f"{inline(hit.ref)} {title}".rstrip(), inline(hit.project)]
    if hit.state:
        parts.append(inline(hit.state))
    if hit.updated:
        parts.append(fmt_time(hit.updated, view)[:10])
    if hit.text:
        snippet = marked(hit.text, words)
        parts.append(f"comment by {item(hit.comment_by)}: {snippet}" if hit.comment_by else snippet)
    elif hit.note:
        parts.append(f"({hit.note})")
    return "- " + " · ".join(parts)


def render_search(
    query: str,
    found: Sequence[Found],
    *,
    scope: str,
    view: View,
    budget: int,
    skipped: str = "",
) -> str:
    """Every kind searched, in order; each kind's lines fit a share of `budget`, then its call for more."""
    words = [query, *query.split()]
    total = sum(f.total if f.total is not None else len(f.hits) for f in found)
    plus = "+" if any(f.total is None for f in found) else ""
    hits = f"{total}{plus} hits" if plus else plural(total, "hit")
    head = f'Search for "{inline(query)}" in {scope} (dates {view.tz_name}), newest first: {hits}.'
    out = [head]
    share = max(200, (budget - approx_tokens(head) - 100) // max(1, len(found)))
    for kind in found:
        title = KIND_TITLES[kind.kind]
        if not kind.hits:
            out += ["", f"## {title}: " + ("Backlog refused them to this user (see below)" if kind.refused else "none")]
            continue
        lines = [_line(hit, words, view) for hit in kind.hits]
        fitted = fit(lines, share)
        shown = len(fitted.items)
        # No total: Backlog gives no count, and more exist than were asked for.
        count = f"{shown} of {kind.total if kind.total is not None else f'{len(kind.hits)}+'}"
        count = str(shown) if count == f"{shown} of {shown}" else count
        out += ["", f"## {title} ({count})", *fitted.items]
        if kind.more and (fitted.dropped or kind.total is None or kind.total > shown):
            out.append(f"More: {kind.more}")
    if skipped:
        out += ["", skipped]
    return "\n".join(out)
