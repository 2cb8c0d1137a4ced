"""Completion values for prompt and resource arguments: project keys, issue keys, milestones, people.

All from the shared lookup and the cached client, within the allow-list; at most one request
beyond cached metadata (recent issues of the named project, for an issue key).
"""

from __future__ import annotations

from collections.abc import Mapping

from backlog_mcp.app import AppState
from backlog_mcp.lookup import MILESTONE
from backlog_mcp.matching import norm

LIMIT = 100


def _starting(values: list[str], typed: str) -> list[str]:
    """Those that start with what was typed (case- and width-insensitive), then those containing it."""
    wanted = norm(typed)
    first = [v for v in values if norm(v).startswith(wanted)]
    return first + [v for v in values if wanted in norm(v) and v not in first]


async def complete(app: AppState, name: str, typed: str, given: Mapping[str, str]) -> list[str]:
    """Values for the argument `name`, given what was typed and the arguments already chosen."""
    client, lookup = app.client, app.lookup
    if name == "project_key":
        projects = [p for p in await client.projects() if not p.get("archived")]
        return _starting([str(p["projectKey"]) for p in projects], typed)
    if name == "issue_key":
        prefix = typed.strip().upper()
        if "-" not in prefix:
            projects = [p for p in await client.projects() if not p.get("archived")]
            return _starting([f"{p['projectKey']}-" for p in projects], prefix)
        project_key = prefix.split("-", 1)[0]
        if not client.allows_key(project_key):
            return []
        project = await lookup.project(project_key)
        issues = await client.issues({"projectId": [int(project["id"])], "sort": "updated", "count": LIMIT})
        return [str(i["issueKey"]) for i in issues if str(i["issueKey"]).startswith(prefix)]
    if name == "milestone":
        key = (given.get("project_key") or "").strip()
        if not key:
            return []
        project = await lookup.project(key)
        versions = await client.project_list(str(project["projectKey"]), MILESTONE.endpoint)
        return _starting([str(v["name"]) for v in versions if not v.get("archived")], typed)
    if name in ("user", "assignee"):
        key = (given.get("project_key") or "").strip()
        projects = [await lookup.project(key)] if key else await client.projects()
        members = await lookup.members(projects)
        return _starting(sorted(str(u.get("name")) for u in members), typed)
    return []
