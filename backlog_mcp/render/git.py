"""Git repositories and pull requests: lists as rows, one pull request with its thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backlog_mcp.render.notation import LinkContext, to_markdown
from backlog_mcp.render.text import (
    View,
    approx_tokens,
    fit,
    fit_blocks,
    fmt_time,
    inline,
    item,
    mid,
    plural,
    quote,
    user_name,
)

JSON = dict[str, Any]


def repository_line(repo: JSON, open_count: int | None, view: View) -> str:
    pushed = fmt_time(repo.get("pushedAt"), view)[:10] if repo.get("pushedAt") else "never"
    line = f"- {inline(repo.get('name'))}"
    if repo.get("description"):
        line += f": {inline(repo.get('description'))}"
    line += f" · last push {pushed}"
    if open_count is not None:
        line += f" · {plural(open_count, 'open pull request')}"
    return line


def render_repositories(repos: Sequence[JSON], open_counts: Sequence[int | None], *, project: str, view: View) -> str:
    if not repos:
        return f"Project {inline(project)} has no Git repositories."
    lines = [repository_line(r, n, view) for r, n in zip(repos, open_counts, strict=True)]
    head = (
        f"Git repositories of {inline(project)} ({len(repos)}; dates {view.tz_name}). "
        "Name one to list its pull requests."
    )
    return "\n".join([head, "", *lines])


def _issue_key(pr: JSON) -> str:
    issue = pr.get("issue") or {}
    if issue.get("issueKey"):
        return inline(issue["issueKey"])
    return f"issue id {inline(issue['id'])}" if issue.get("id") else ""


def pull_request_row(pr: JSON, view: View) -> str:
    parts = [
        f"#{inline(pr.get('number'))} {mid(pr.get('summary'))}",
        inline((pr.get("status") or {}).get("name", "?")),
        f"{inline(pr.get('branch'))} → {inline(pr.get('base'))}",
        f"by {user_name(pr.get('createdUser'))}",
    ]
    if pr.get("assignee"):
        parts.append(f"assignee {user_name(pr.get('assignee'))}")
    if _issue_key(pr):
        parts.append(_issue_key(pr))
    parts.append(f"updated {fmt_time(pr.get('updated'), view)[:10]}")
    return "- " + " · ".join(parts)


def render_pull_requests(
    prs: Sequence[JSON],
    *,
    scope: str,
    total: int,
    offset: int,
    view: View,
    next_call: Callable[[int], str],
    budget: int,
) -> str:
    """A page of pull requests; whole rows within the budget, and the call for the rest from the first not shown."""
    if not prs:
        return f"No pull requests: {scope}."
    fitted = fit((pull_request_row(p, view) for p in prs), budget - 200)
    shown_to = offset + len(fitted.items)
    noun = "pull request" if total == 1 else "pull requests"
    head = f"{scope}: {total} {noun}, showing {offset + 1}-{shown_to} (dates {view.tz_name})."
    tail = ["", f"{total - shown_to} more. Next page: {next_call(shown_to)}"] if shown_to < total else []
    return "\n".join([head, "", *fitted.items, *tail])


def render_pull_request(
    pr: JSON, *, repo: str, project: str, rule: str, view: View, url: str, thread: str, budget: int
) -> str:
    """One pull request: facts, its linked issue, the description (quoted), then the comment thread."""
    status = inline((pr.get("status") or {}).get("name", "?"))
    facts = [
        f"# {inline(project)}/{inline(repo)}#{inline(pr.get('number'))} {inline(pr.get('summary'))}",
        f"{status} · {inline(pr.get('branch'))} → {inline(pr.get('base'))} · by {user_name(pr.get('createdUser'))} "
        f"on {fmt_time(pr.get('created'), view)} · assignee {user_name(pr.get('assignee'))} (times {view.tz_name})",
    ]
    issue = pr.get("issue") or {}
    if issue.get("issueKey"):
        state = inline((issue.get("status") or {}).get("name", ""))
        facts.append(f"Issue: {inline(issue['issueKey'])} {inline(issue.get('summary', ''))} ({state})")
    if pr.get("mergeAt"):
        facts.append(f"Merged {fmt_time(pr.get('mergeAt'), view)} · commit {inline(str(pr.get('mergeCommit'))[:10])}")
    elif pr.get("closeAt"):
        facts.append(f"Closed {fmt_time(pr.get('closeAt'), view)}")
    attachments = pr.get("attachments") or []
    if attachments:
        facts.append("Attachments: " + ", ".join(item(a.get("name")) for a in attachments))
    facts.append(url)
    description = to_markdown(pr.get("description"), rule, LinkContext())
    room = budget - approx_tokens("\n".join(facts)) - approx_tokens(thread) - 60
    parts = ["\n".join(facts)]
    if description:
        fitted, cut = fit_blocks(description, max(room, 300))
        parts.append("## Description\n" + quote(fitted) + ("\n\n_Description shortened._" if cut else ""))
    if thread:
        parts.append("## Comments\n" + thread)
    return "\n\n".join(parts)
