"""The activity timeline: grouped by day, then by the item it happened to, newest first.

Activity content comes in Backlog's snake_case per type; status and resolution changes arrive
as ids and are named by the caller (`names`) before rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backlog_mcp.render.issue import change_line
from backlog_mcp.render.notation import first_line, to_markdown
from backlog_mcp.render.text import (
    View,
    approx_tokens,
    clip,
    fit,
    fmt_time,
    inline,
    item,
    plural,
    quote,
    split_lines,
    user_name,
)

JSON = dict[str, Any]
KINDS: dict[str, tuple[int, ...]] = {
    "issues": (1, 2, 4, 14, 35, 47),
    "comments": (3,),
    "wiki": (5, 6, 7),
    "files": (8, 9, 10),
    "git": (11, 12, 13, 18, 19, 20, 21),
    "documents": (36, 37, 38, 40, 41, 42, 43, 44, 45, 46, 48),
    "project": (15, 16, 17, 22, 23, 24, 25, 26, 34),
}


@dataclass(frozen=True)
class Happening:
    """One activity, ready to show: the item it belongs to and what happened (a line, and a quoted comment)."""

    day: str
    item: str
    line: str


@dataclass(frozen=True)
class Said:
    """How a comment is shown: whole, within `cap` tokens; past the cap, cut with `rest` (the call for it)."""

    cap: int = 10_000
    rest: Callable[[JSON], str | None] = lambda activity: None


WHOLE = Said()


def _first_line(text: object, rule: str = "markdown", limit: int = 100) -> str:
    """A comment's (or commit message's) first line, notation converted as everywhere, escaped for our line."""
    first = first_line(str(text or ""), rule, limit)
    return f': "{inline(first)}"' if first else ""


def _comment(activity: JSON, text: object, rule: str, said: Said) -> tuple[str, str]:
    """(for the event's line, under it): a comment quoted whole, indented into the event's list item.

    Only a comment bigger than `said.cap` is cut; the event's own line (not the quote, which holds
    what users wrote) then says so and where the whole comment is.
    """
    body = "\n".join(split_lines(to_markdown(str(text or ""), rule))).strip("\n")
    if not body.strip():
        return "", ""
    shown, cut = clip(body, said.cap)
    note = ""
    if cut:
        rest = said.rest(activity)
        note = f" ({plural(cut, 'line')} cut for size; whole: {rest or 'in Backlog'})"
    return note, "\n" + "\n".join(f"  {line}" for line in quote(shown).split("\n"))


def _changes(content: JSON, view: View) -> str:
    entries = content.get("changes") or []
    lines = [
        change_line(
            {"field": c.get("field"), "newValue": c.get("new_value"), "originalValue": c.get("old_value")}, view
        )
        for c in entries
    ]
    return (" · " + " · ".join(lines)) if lines else ""


def _issue_item(project: str, content: JSON) -> str:
    key = f"{project}-{content.get('key_id')}" if content.get("key_id") else f"{project} issue {content.get('id')}"
    summary = f" {inline(content['summary'])}" if content.get("summary") else ""
    return f"{inline(key)}{summary}"


def describe(activity: JSON, view: View, keep: Said = WHOLE) -> tuple[str, str]:
    """(item heading, what happened) for one activity of any type; a long comment quoted on lines below."""
    kind = int(activity.get("type") or 0)
    content = activity.get("content") or {}
    project = str((activity.get("project") or {}).get("projectKey") or "?")
    comment = (content.get("comment") or {}) if isinstance(content.get("comment"), dict) else {}
    rule = str((activity.get("project") or {}).get("textFormattingRule") or "markdown")
    cut, said = _comment(activity, comment.get("content"), rule, keep)
    repo = inline((content.get("repository") or {}).get("name", "?"))
    pr = f"{project}/{repo}#{inline(content.get('number'))} {inline(content.get('summary') or '')}".rstrip()
    match kind:
        case 1:
            return _issue_item(project, content), "created it"
        case 2:
            return _issue_item(project, content), "updated it" + cut + _changes(content, view) + said
        case 3:
            return _issue_item(project, content), "commented" + cut + _changes(content, view) + said
        case 4:
            return _issue_item(project, content), "deleted it"
        case 14 | 47:
            links = content.get("link") or []
            keys = ", ".join(item(f"{project}-{link.get('key_id')}") for link in links[:10])
            verb = "updated" if kind == 14 else "created"
            what = f"{verb} {plural(len(links), 'issue')} ({keys})"
            return f"{project}: several issues", what + _changes(content, view)
        case 5 | 6 | 7:
            verb = {5: "created", 6: "edited", 7: "deleted"}[kind]
            return f"{project} wiki {inline(content.get('name'))} (id {inline(content.get('id'))})", f"{verb} the page"
        case 8 | 9 | 10:
            verb = {8: "added", 9: "updated", 10: "deleted"}[kind]
            path = str(content.get("dir") or "") + str(content.get("name") or "")
            return f"{project} files", f"{verb} {inline(path)}"
        case 11:
            said = _first_line(content.get("comment"))
            return f"{project} Subversion", f"committed r{inline(content.get('rev'))}{said}"
        case 12:
            revisions = content.get("revisions") or []
            ref = str(content.get("ref") or "").removeprefix("refs/heads/")
            first = _first_line(revisions[0].get("comment")) if revisions else ""
            count = int(content.get("revision_count") or len(revisions))
            commits = "1 commit" if count == 1 else f"{count} commits"
            return f"{project}/{repo}", f"pushed {commits} to {inline(ref)}{first}"
        case 13:
            return f"{project}/{repo}", "created the repository"
        case 18:
            return pr, "opened it"
        case 19:
            return pr, "updated it" + cut + _changes(content, view) + said
        case 20:
            return pr, "commented" + cut + said
        case 21:
            return pr, "merged it"
        case 15 | 16:
            people = ", ".join(user_name(u, listed=True) for u in content.get("users") or [])
            return f"{project} members", ("added " if kind == 15 else "removed ") + people
        case 22 | 23 | 24:
            verb = {22: "created", 23: "updated", 24: "deleted"}[kind]
            return f"{project} milestone {inline(content.get('name'))}", f"{verb} it" + _changes(content, view)
        case 36 | 37 | 38 | 46:
            verb = {36: "created it", 37: "deleted it", 38: "renamed it", 46: "attached a file"}[kind]
            return f"Document {inline(content.get('title') or '')} (id {inline(content.get('id'))})", verb
        case 40 | 41 | 42 | 43 | 44 | 45:
            verb = "commented" if kind in (40, 43) else "edited a comment" if kind in (41, 44) else "deleted a comment"
            return f"Document {inline(content.get('title') or '')} (id {inline(content.get('id'))})", verb
        case 48:
            titles = ", ".join(item(d.get("title")) for d in content.get("documents") or [])
            return f"{project} documents", f"created {titles}"
    return f"{project}", f"activity of type {kind}"


def happening(activity: JSON, view: View, keep: Said = WHOLE) -> Happening:
    when = fmt_time(activity.get("created"), view)
    heading, what = describe(activity, view, keep)
    return Happening(when[:10], heading, f"- {when[11:]} {user_name(activity.get('createdUser'))} {what}")


def render_activity(
    activities: Sequence[JSON],
    *,
    scope: str,
    view: View,
    budget: int,
    older_call: Callable[[int], str],
    more: bool,
    scanned_to: int | None = None,
    rest_of_comment: Callable[[JSON], str | None] = lambda activity: None,
) -> str:
    """Newest first; a day heading, then each item once with its lines under it.

    `older_call(before_id)`: the call for what comes before an activity id; `more`: Backlog has older
    activity in range than `activities`; `scanned_to`: the oldest id already looked at (the next page
    starts below it, so filtered-out activity is not scanned twice); `rest_of_comment(activity)`: the call
    that shows a comment cut for size whole.
    """
    head = f"{scope} (times {view.tz_name}), newest first."
    if not activities:
        return f"No activity: {scope}."
    # A comment is kept whole unless it alone could not fit the answer.
    keep = Said(cap=max(budget - approx_tokens(head) - 300, 200), rest=rest_of_comment)
    events = [happening(a, view, keep) for a in activities]
    # One block per (day, item), in order of the item's newest event that day; budgeted whole.
    blocks: dict[tuple[str, str], list[str]] = {}
    members: dict[tuple[str, str], list[int]] = {}
    for activity, event in zip(activities, events, strict=True):
        key = (event.day, event.item)
        blocks.setdefault(key, []).append(event.line)
        members.setdefault(key, []).append(int(activity["id"]))
    texts = []
    day = ""
    for (block_day, heading), lines in blocks.items():
        prefix = f"## {block_day}\n" if block_day != day else ""
        day = block_day
        texts.append(f"{prefix}**{heading}**\n" + "\n".join(lines))
    fitted = fit(texts, budget - approx_tokens(head) - 80)
    out = [head, "", "\n\n".join(fitted.items)]
    keys = list(blocks)
    left_out = [i for key in keys[len(fitted.items) :] for i in members[key]]
    if fitted.clipped_lines:
        # The first block alone was too big and was cut: everything after its first line may be unseen.
        left_out += members[keys[0]][1:]
    if left_out:
        # Blocks interleave in time: page on from the newest activity left out (some shown ones may repeat).
        out += ["", f"_More activity was left out for size; continue with {older_call(max(left_out) + 1)}._"]
    elif more:
        oldest = int(activities[-1]["id"])
        out += ["", f"_Older activity: {older_call(min(oldest, scanned_to or oldest))}._"]
    return "\n".join(out)
