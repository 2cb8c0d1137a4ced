"""Prompt texts: each names the tools to call, with the arguments filled in (no MCP here).

They show up as slash commands in Claude Code. Calls are written by `format_call`, so a renamed
argument breaks a test rather than a prompt.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from backlog_mcp.args import MAX_TEXT, issue_ref
from backlog_mcp.errors import UsageError
from backlog_mcp.lookup import key_like
from backlog_mcp.matching import shown
from backlog_mcp.render.text import LINE_BREAKS
from backlog_mcp.tools.declare import format_call


def _one_line(name: str, value: str) -> str:
    """A name as the tools take it: any text on one line (no line breaks or control characters), capped."""
    if len(value) > MAX_TEXT or LINE_BREAKS.search(value) or any(unicodedata.category(c) == "Cc" for c in value):
        raise UsageError(f'{name} must be one line of at most {MAX_TEXT} characters (got "{shown(value)}").')
    return value


def _project(name: str, value: str) -> str:
    """A project key (upper-cased) or name, as the tools take it."""
    return key_like(value) or _one_line(name, value)


def _issue_key(name: str, value: str) -> str:
    """An issue key: a prompt names the issue's project by it, so a numeric id will not do."""
    key = issue_ref(value, "get_user_issue_list")
    if key.isdigit():
        raise UsageError(f'{name} "{shown(value)}" is an id; give the issue\'s key, such as "ORBIT-12".')
    return key


# Each prompt argument is checked as the tools check it, before it is written into a prompt.
_CHECKS: dict[str, Callable[[str, str], str]] = {
    "issue_key": _issue_key,
    "project_key": _project,
    "user": _one_line,
    "milestone": _one_line,
}


def checked(spec: PromptSpec, arguments: dict[str, str]) -> dict[str, str]:
    """The prompt's arguments, stripped and validated; blank ones left out.

    Raises:
        UsageError: an argument the prompt does not take, or a value its tool would refuse (a newline, a
            malformed key, more than 200 characters).
    """
    known = {name for name, _d, _r in spec.arguments}
    out: dict[str, str] = {}
    for name, raw in arguments.items():
        if name not in known:
            raise UsageError(
                f'Prompt {spec.name} has no argument "{shown(name)}"; it takes {", ".join(sorted(known))}.'
            )
        value = str(raw).strip()
        if value:
            out[name] = _CHECKS[name](name, value)
    return out


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str
    description: str
    arguments: tuple[tuple[str, str, bool], ...]  # (name, description, required)
    build: Callable[..., str]
    tools: tuple[str, ...]  # the tools it needs: without them, the prompt is not offered


def _anyone(projects: list[str]) -> dict[str, object]:
    return {"projects": projects, "assignees": ["anyone"]}


def standup(today: date, project_key: str | None = None, user: str | None = None, *, can_write: bool = True) -> str:
    since = (today - timedelta(days=3 if today.weekday() == 0 else 1)).isoformat()  # Monday: since Friday
    scope = {"project_key": project_key} if project_key else {}
    who = user or "me"
    whose = "my" if who == "me" else f"{who}'s"
    next_call = (
        format_call("get_my_issues", {"count": 20})
        if who == "me"
        else format_call("get_user_issue_list", {"assignees": [who], "count": 20})
    )
    return "\n".join(
        [
            f"Write {whose} stand-up report for {today.isoformat()}{f' in {project_key}' if project_key else ''}.",
            "",
            "1. What was done: call " + format_call("get_activity", {"user": who, **scope, "since": since}) + ".",
            "2. What is next: call " + next_call + "; due or overdue first (the table marks overdue issues).",
            "3. Blockers: anything waiting on others in the comments of the issues above "
            f"(open one with {format_call('get_issue_details', {'issue_key': '...'})} only if needed).",
            "",
            "Answer in three short sections: Yesterday, Today, Blockers. Use issue keys; no ids.",
        ]
    )


def triage(today: date, issue_key: str, *, can_write: bool = True) -> str:
    key = issue_key.strip().upper()
    project = key.rsplit("-", 1)[0]
    return "\n".join(
        [
            f"Triage {key}.",
            "",
            f"1. Read it: {format_call('get_issue_details', {'issue_key': key})}.",
            f"2. Know the project's options: {format_call('get_project', {'project_key': project})}.",
            "3. Look for duplicates: "
            + format_call(
                "get_user_issue_list",
                {"projects": [project], "keyword": "<2-3 words from the summary>", "assignees": ["anyone"]},
            )
            + ".",
            "4. Propose issue type, priority, category, milestone and assignee, each with one line of why.",
            (
                "5. Preview the change with "
                + format_call("update_issue", {"issue_key": key, "priority": "...", "assignee": "...", "dry_run": True})
                + ", show it to me, and apply it only after I agree."
            )
            if can_write
            else "5. This server cannot change Backlog: list the changes for me to make.",
        ]
    )


def project_status(today: date, project_key: str, *, can_write: bool = True) -> str:
    key = project_key.strip()
    week_ago = (today - timedelta(days=7)).isoformat()
    return "\n".join(
        [
            f"Summarise the status of project {key} as of {today.isoformat()}.",
            "",
            f"1. {format_call('get_project', {'project_key': key})}: statuses, milestones and their dates.",
            "2. Open work: "
            + format_call("get_user_issue_list", {**_anyone([key]), "count": 100})
            + " (the header gives the total).",
            "3. Overdue: "
            + format_call(
                "get_user_issue_list",
                {"projects": [key], "assignees": ["anyone"], "due_date": f"..{today.isoformat()}"},
            )
            + ".",
            f"4. The last week: {format_call('get_activity', {'project_key': key, 'since': week_ago})}.",
            f"5. Code in review: {format_call('get_pull_requests', {'project_key': key})}.",
            "",
            "Answer with: overall health in one line, progress per milestone, risks (overdue, unassigned, "
            "blocked), and what changed this week.",
        ]
    )


def release_check(today: date, project_key: str, milestone: str, *, can_write: bool = True) -> str:
    key = project_key.strip()
    return "\n".join(
        [
            f"Check whether milestone {milestone!r} of {key} is ready to release (today is {today.isoformat()}).",
            "",
            f"1. Its dates: {format_call('get_project', {'project_key': key})}.",
            "2. What is not closed yet: "
            + format_call(
                "get_user_issue_list",
                {"projects": [key], "milestones": [milestone], "assignees": ["anyone"], "count": 100},
            )
            + ".",
            "3. What is done: "
            + format_call(
                "get_user_issue_list",
                {
                    "projects": [key],
                    "milestones": [milestone],
                    "statuses": ["Closed", "Resolved"],
                    "assignees": ["anyone"],
                    "count": 100,
                },
            )
            + ".",
            f"4. Open pull requests: {format_call('get_pull_requests', {'project_key': key})}, then each repository's.",
            "",
            "Answer with a go / no-go, the blocking issues (key, summary, assignee, why), and what to cut or move.",
        ]
    )


PROMPTS = (
    PromptSpec(
        "standup",
        "Stand-up report",
        "What I did since the last working day and what is next, from my activity and my issues.",
        (("project_key", "Only this project (optional)", False), ("user", "Whose (default: me)", False)),
        standup,
        ("get_activity", "get_my_issues", "get_user_issue_list"),
    ),
    PromptSpec(
        "triage_issue",
        "Triage an issue",
        "Read an issue, find duplicates, and propose its type, priority, assignee and milestone.",
        (("issue_key", "The issue, e.g. ORBIT-12", True),),
        triage,
        ("get_issue_details", "get_project", "get_user_issue_list"),
    ),
    PromptSpec(
        "project_status",
        "Project status",
        "A project's health: open and overdue work, milestones, the last week's activity, reviews.",
        (("project_key", "The project, e.g. ORBIT", True),),
        project_status,
        ("get_project", "get_user_issue_list", "get_activity", "get_pull_requests"),
    ),
    PromptSpec(
        "release_check",
        "Release check",
        "Whether a milestone is ready: what is still open, what is done, open pull requests.",
        (("project_key", "The project, e.g. ORBIT", True), ("milestone", "Milestone or version name", True)),
        release_check,
        ("get_project", "get_user_issue_list", "get_pull_requests"),
    ),
)
