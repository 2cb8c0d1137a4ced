"""One issue, its relatives and its comments as compact Markdown, within a token budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backlog_mcp.render.notation import LinkContext, to_markdown
from backlog_mcp.render.text import (
    View,
    approx_tokens,
    clip,
    fit,
    fit_blocks,
    fmt_date,
    fmt_due,
    fmt_number,
    fmt_size,
    fmt_time,
    inline,
    item,
    mid,
    plural,
    quote,
    user_name,
)

JSON = dict[str, Any]
CLOSED_STATUS_ID = 4
TEXTAREA = 2  # custom field type whose value is multi-line free text

# Backlog's changeLog uses legacy names for some fields.
FIELD_LABELS = {
    "status": "Status",
    "assigner": "Assignee",
    "limitDate": "Due date",
    "startDate": "Start date",
    "component": "Category",
    "version": "Version",
    "milestone": "Milestone",
    "issueType": "Type",
    "priority": "Priority",
    "resolution": "Resolution",
    "summary": "Summary",
    "description": "Description",
    "estimatedHours": "Estimated hours",
    "actualHours": "Actual hours",
    "parentIssue": "Parent issue",
    "notification": "Notified",
    "commit": "Commit",
    "hierarchyLevel": "Hierarchy level",
}
_DATE_FIELDS = {"limitDate", "startDate"}
_ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d\b")
_LONG_TEXT_FIELDS = {"description"}


@dataclass(frozen=True)
class Hints:
    """The follow-up calls an answer may point at, written by the tool layer (renderers name no tool)."""

    older_comments: Callable[[int | None], str]  # comments before this comment id (None: the newest)
    full_description: Callable[[], str] | None = None  # the description alone, with the largest budget


@dataclass(frozen=True)
class Thread:
    """Comments to show (oldest first) and how many exist in all."""

    comments: Sequence[JSON]
    total: int


def _value(entry: JSON, key: str, view: View) -> str:
    value = entry.get(key)
    if value in (None, ""):
        return "(none)"
    text = str(value)
    if entry.get("field") in _DATE_FIELDS:
        return fmt_date(text, view)
    return inline(text)


def change_line(entry: JSON, view: View) -> str:
    """One changeLog entry as `Field: old → new`, each value escaped (one line, no separators)."""
    name = str(entry.get("field") or "?")
    if name == "attachment":
        if entry.get("newValue"):
            return f"Attached {inline(entry['newValue'])}"
        return f"Removed attachment {inline(entry.get('originalValue') or '')}".rstrip()
    label = FIELD_LABELS.get(name) or inline(name)
    attribute = entry.get("attributeInfo") or {}
    if name in _LONG_TEXT_FIELDS or attribute.get("typeId") == TEXTAREA:
        return f"{label} edited"  # long free text: the current value is shown with the issue
    if entry.get("originalValue") in (None, "") and entry.get("newValue") not in (None, ""):
        return f"{label} set to {_value(entry, 'newValue', view)}"
    return f"{label}: {_value(entry, 'originalValue', view)} → {_value(entry, 'newValue', view)}"


def _head(comment: JSON, stamp: str) -> str:
    # When, then who: the stamp's fixed shape ends where the name begins (a name may end in digits),
    # and the escaped name cannot start structure; bold around it cost 2 tokens a comment.
    return f"{stamp} {user_name(comment.get('createdUser'))}"


def render_comment(comment: JSON, rule: str, view: View, links: LinkContext, stamp: str | None = None) -> str:
    """One comment: who, when (`stamp`, else the time of day), the field changes, the text quoted."""
    head = _head(comment, stamp if stamp is not None else fmt_time(comment.get("created"), view)[11:])
    changes = [change_line(e, view) for e in comment.get("changeLog") or []]
    if changes:
        head += " · " + " · ".join(changes)
    body = to_markdown(comment.get("content"), rule, links)
    return f"{head}\n{quote(body)}" if body else head


def _stamp(when: str, before: str) -> str:
    """`when` (YYYY-MM-DD HH:MM) as short as the comment before it allows: the time on the same day,
    the month and day in the same year, else whole."""
    if when[:10] == before[:10]:
        return when[11:]
    return when[5:] if when[:4] == before[:4] else when


def render_comments(
    comments: Sequence[JSON],
    *,
    rule: str,
    view: View,
    links: LinkContext,
    budget: int,
    older: int,
    older_call: Callable[[int | None], str],
    newer_call: str | None = None,
    since: str = "",
) -> tuple[str, int]:
    """The newest of `comments` (oldest first) that fit `budget` tokens; returns (markdown, shown).

    `older` counts comments before the first one given; -1 means "some, number unknown".
    `older_call(first_id)` is the call that fetches the comments before the first one shown.
    The first comment shown carries its whole date, each later one only what changed since the one
    before (a day heading per day cost more tokens than the date on the comment).
    """
    newest_first = list(reversed(comments))
    whens = [fmt_time(c.get("created"), view) for c in newest_first]
    stamped = (render_comment(c, rule, view, links, when) for c, when in zip(newest_first, whens, strict=True))
    fitted = fit(stamped, budget, overhead=2)
    texts = fitted.items
    if fitted.clipped_lines:  # one comment bigger than the whole budget
        texts = [texts[0] + f"\n>… ({plural(fitted.clipped_lines, 'more line')} of this comment not shown)"]
    shown = len(texts)
    rendered: list[str] = []
    # The first comment shown is dated against `since` (the issue's creation, shown above it): to the
    # day when the whole thread follows it, else (earlier comments between) month and day at least.
    # Each later one against the comment before it.
    before = since if not (older or len(comments) - shown) else since[:5]
    for comment, when, text in reversed(list(zip(newest_first[:shown], whens[:shown], texts, strict=True))):
        whole = _head(comment, when)
        rendered.append(_head(comment, _stamp(when, before)) + text[len(whole) :] if text.startswith(whole) else text)
        before = when
    dropped = len(comments) - shown
    parts = []
    if older or dropped:
        call = older_call(int(comments[dropped]["id"]) if shown else None)
        if older < 0:
            parts.append(f"_Earlier comments: {call}._")
        else:
            earlier = older + dropped
            parts.append(f"_{plural(earlier, 'earlier comment')}: {call}._")
    # A blank line ends a quoted text (so the next head is not read as part of it); a comment without
    # text (field changes only) is one line, and the next head follows it directly.
    if rendered:
        parts.append("".join(text + ("\n\n" if "\n" in text else "\n") for text in rendered[:-1]) + rendered[-1])
    if newer_call:
        parts.append(f"_Newer comments: {newer_call}._")
    return "\n\n".join(parts), shown


def _custom_value(field: JSON, view: View) -> str | None:
    value = field.get("value")
    type_id = field.get("fieldTypeId")
    text: str | None
    if value in (None, "", []):
        text = None
    elif type_id == 4:
        text = fmt_date(str(value), view)
    elif isinstance(value, list):
        text = _names([entry for entry in value if isinstance(entry, dict)])
    elif isinstance(value, dict):
        text = item(value.get("name"))
    else:
        text = fmt_number(value) if isinstance(value, int | float) else item(value)
    other = field.get("otherValue")
    if other:
        text = f"{text}, other: {item(other)}" if text else f"other: {item(other)}"
    return text


def _names(items: Sequence[JSON] | None) -> str:
    return ", ".join(item(entry.get("name")) for entry in items or [])


def _relative(issue: JSON) -> str:
    status = item((issue.get("status") or {}).get("name", "?"))
    assignee = issue.get("assignee")
    who = f", {user_name(assignee, listed=True)}" if assignee else ""
    return f"{item(issue.get('issueKey'))} {item(issue.get('summary', ''))} ({status}{who})"


def _last_comment_is_the_update(issue: JSON, thread: Thread | None) -> bool:
    """Whether the newest comment (always shown when any is) is the issue's last update: same time, same person."""
    if thread is None or not thread.comments:
        return False
    newest = thread.comments[-1]
    who = (newest.get("createdUser") or {}).get("id")
    return newest.get("created") == issue.get("updated") and who == (issue.get("updatedUser") or {}).get("id")


def _facts(
    issue: JSON,
    view: View,
    parent: JSON | None,
    children: Sequence[JSON],
    child_total: int,
    *,
    created: str,
    said: bool,
) -> list[str]:
    """The issue's facts, a line each; `created`: its creation time as shown; `said`: its last update is the newest
    comment shown, so not repeated here."""
    closed = (issue.get("status") or {}).get("id") == CLOSED_STATUS_ID
    updated = (
        "" if said else f"; updated {fmt_time(issue.get('updated'), view)} by {user_name(issue.get('updatedUser'))}"
    )
    # The zone follows the first time shown: every later one is in it.
    facts = [f"Created {created} {view.tz_name} by {user_name(issue.get('createdUser'), listed=True)}{updated}"]
    # This year's dates as month and day: the creation above says which year, and it is this one.
    year = created[:4] if created[:4] == str(view.today.year) else None
    dates = []
    if issue.get("startDate"):
        dates.append(f"Start {_in_year(fmt_date(issue['startDate'], view), year)}")
    if issue.get("dueDate"):
        dates.append(f"Due {_in_year(fmt_due(issue['dueDate'], closed, view), year)}")
    if issue.get("estimatedHours") is not None:
        dates.append(f"Estimated {fmt_number(issue['estimatedHours'])} h")
    if issue.get("actualHours") is not None:
        dates.append(f"Actual {fmt_number(issue['actualHours'])} h")
    if dates:
        facts.append(" · ".join(dates))
    grouping = []
    for label, key in (("Category", "category"), ("Milestone", "milestone"), ("Version", "versions")):
        if issue.get(key):
            grouping.append(f"{label} {_names(issue[key])}")
    if issue.get("resolution"):
        grouping.append(f"Resolution {inline(issue['resolution'].get('name'))}")
    if grouping:
        facts.append(" · ".join(grouping))
    if parent is not None:
        facts.append(f"Parent: {_relative(parent)}")
    elif issue.get("parentIssueId"):
        facts.append(f"Parent: issue id {issue['parentIssueId']}")
    if children:
        more = f" (showing {len(children)} of {child_total})" if child_total > len(children) else ""
        facts.append(f"Children{more}: " + "; ".join(_relative(child) for child in children))
    elif child_total:
        facts.append(f"Children: {child_total} (could not be listed just now)")
    custom = []
    for field in issue.get("customFields") or []:
        if field.get("fieldTypeId") == TEXTAREA:
            continue  # shown as a quoted block of its own, line breaks kept
        text = _custom_value(field, view)
        if text is not None:
            custom.append(f"{inline(field.get('name'))}: {text}")
    if custom:
        facts.append("Custom fields: " + " · ".join(custom))
    if issue.get("attachments"):
        files = ", ".join(f"{item(a.get('name'))} ({fmt_size(a.get('size'))})" for a in issue["attachments"])
        facts.append(f"Attachments {files}")
    if issue.get("sharedFiles"):
        shared = ", ".join(
            f"{item(f.get('dir', ''))}{item(f.get('name'))} ({fmt_size(f.get('size'))})" for f in issue["sharedFiles"]
        )
        facts.append(f"Shared files {shared}")
    if issue.get("stars"):
        facts.append(f"Stars {len(issue['stars'])}")
    # A line each, like the header's: a fact starts with our label, every value in it escaped where it was put in.
    return facts


def _in_year(day: str, year: str | None) -> str:
    """A date (YYYY-MM-DD…) as month and day when it falls in `year`; anything else as it is."""
    return day[5:] if year is not None and _ISO_DAY.match(day) and day[:4] == year else day


def issue_links(issue: JSON) -> LinkContext:
    attachments = tuple((str(a.get("id")), str(a.get("name"))) for a in issue.get("attachments") or [])
    return LinkContext(attachments=attachments)


def render_issue(
    issue: JSON,
    *,
    rule: str,
    view: View,
    thread: Thread | None,
    hints: Hints,
    parent: JSON | None = None,
    children: Sequence[JSON] = (),
    child_total: int = 0,
    budget: int = 10_000,
) -> str:
    """The whole issue as Markdown; comments (newest kept) fill what the budget leaves."""
    key = inline(issue.get("issueKey"))
    links = issue_links(issue)
    closed = (issue.get("status") or {}).get("id") == CLOSED_STATUS_ID
    assignee = issue.get("assignee")
    said = _last_comment_is_the_update(issue, thread)
    created = fmt_time(issue.get("created"), view)
    header = [
        f"# {key} {mid(issue.get('summary', ''))}",
        " · ".join(
            [
                inline((issue.get("issueType") or {}).get("name", "?")),
                inline((issue.get("status") or {}).get("name", "?")),
                f"Priority {inline((issue.get('priority') or {}).get('name', '?'))}",
                f"Assignee {user_name(assignee)}" if assignee else "Unassigned",
            ]
        )
        + (" · closed" if closed else ""),
        f"{view.base_url}/view/{key}",
        *_facts(issue, view, parent, children, child_total, created=created, said=said),
    ]
    out = "\n".join(header)
    for field in issue.get("customFields") or []:
        if field.get("fieldTypeId") == TEXTAREA and field.get("value"):
            value, cut = clip(str(field["value"]).strip(), max(100, budget // 10))
            more = f"\n>… ({plural(cut, 'more line')})" if cut else ""
            out += f"\n\n**{inline(field.get('name'))}** (custom field)\n" + quote(value) + more
    description = to_markdown(issue.get("description"), rule, links)
    # The description gets up to two thirds of what is left; comments get the rest.
    room = budget - approx_tokens(out)
    if description:
        fitted, shortened = fit_blocks(description, max(200, room * 2 // 3 if thread else room))
        out += "\n## Description\n" + quote(fitted)  # a heading needs no blank line before it
        if shortened:
            where = (
                f"call {hints.full_description()}"
                if hints.full_description is not None
                else f"the full text is on {view.base_url}/view/{key}"
            )
            out += f"\n\n_Description shortened (about {approx_tokens(description)} tokens in all); {where}._"
    else:
        out += "\n\n_No description._"
    if thread is not None:
        if thread.total == 0:
            out += "\n\n_No comments._"
        else:
            remaining = max(200, budget - approx_tokens(out) - 30)
            body, shown = render_comments(
                thread.comments,
                rule=rule,
                view=view,
                links=links,
                budget=remaining,
                older=thread.total - len(thread.comments),
                older_call=hints.older_comments,
                # With "updated …" shown after it, the creation is not the last date above: month and day at least.
                since=created if said else created[:5],
            )
            # Oldest first, as the dates show; the pointer to earlier ones comes first when some are left out.
            counted = str(shown) if shown == thread.total else f"{shown} of {thread.total}"
            out += f"\n## Comments ({counted})\n{body}"
    return out
