"""Project tools: the projects the user can see, and one project's whole set-up."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from backlog_mcp.args import Text
from backlog_mcp.lookup import CATEGORY, CUSTOM_FIELD, ISSUE_TYPE, STATUS, VERSION, gather
from backlog_mcp.render.project import render_project, render_projects
from backlog_mcp.tools.declare import Call, ToolSpec, format_call
from backlog_mcp.tools.space import get_users_by_project


async def get_projects(call: Call, include_archived: bool = False) -> str:
    """Projects this user can see: key, name, text format (Markdown or Backlog notation)."""
    projects = await call.app.client.projects()
    shown_projects = projects if include_archived else [p for p in projects if not p.get("archived")]
    return render_projects(shown_projects, archived_shown=include_archived)


async def get_project(call: Call, project_key: Annotated[Text, Field(description="Key or name, e.g. ORBIT")]) -> str:
    """One project's set-up: statuses in workflow order, types, categories, milestones, custom fields, members."""
    client = call.app.client
    project = await call.app.lookup.project(project_key)
    key = project["projectKey"]
    statuses, types, categories, versions, fields, members, view = await gather(
        *(client.project_list(key, kind.endpoint) for kind in (STATUS, ISSUE_TYPE, CATEGORY, VERSION, CUSTOM_FIELD)),
        client.project_list(key, "users"),
        call.app.view(None),
    )
    return render_project(
        project,
        statuses=statuses,
        issue_types=types,
        categories=categories,
        versions=versions,
        custom_fields=fields,
        members=members,
        view=view,
        more_members=lambda: format_call(get_users_by_project, {"project_key": key}),
    )


TOOLS = (
    ToolSpec(get_projects, "List projects", "projects"),
    ToolSpec(get_project, "A project's set-up", "projects"),
)
