"""Space-level tools: the connection check and the people in the space or a project."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from backlog_mcp.args import Text
from backlog_mcp.client import JSONObject
from backlog_mcp.errors import ForbiddenError
from backlog_mcp.lookup import gather
from backlog_mcp.matching import norm
from backlog_mcp.render.space import render_myself, render_users
from backlog_mcp.render.text import inline, item
from backlog_mcp.tools.declare import Call, ToolSpec

DEMO_NOTE = (
    "this is backlog-mcp's bundled sample space, not a real Backlog; its today is 2026-11-20, and "
    "writes change an in-memory copy that resets when the server stops."
)


async def get_myself(call: Call) -> str:
    """Which Backlog user and space the API key belongs to: the connection check, and who `me` is."""
    app = call.app
    user, space = await gather(app.client.myself(), app.client.space())
    spaces = [f"{s.space} ({s.base_url})" for s in app.settings.spaces]
    demo = DEMO_NOTE if app.settings.demo else ""
    return render_myself(user, space, app.settings.base_url, demo=demo, spaces=spaces)


async def get_users_by_project(
    call: Call,
    project_key: Annotated[Text | None, Field(description="Members of this project; omit for the whole space")] = None,
    name: Annotated[Text | None, Field(description="Part of a name or login id")] = None,
    include_email: bool = False,
) -> str:
    """People: members of a project, or every user of the space, with login id and role."""
    client = call.app.client
    if project_key:
        project = await call.app.lookup.project(project_key)
        users = await client.project_list(project["projectKey"], "users")
        scope = f"Members of {inline(project['projectKey'])}"
    elif call.app.settings.projects is not None:
        # Limited to some projects: the people of those projects, not the whole space.
        projects = await client.projects()
        lists = await gather(*(client.project_list(p["projectKey"], "users") for p in projects))
        users = list({int(u["id"]): u for members in lists for u in members}.values())
        scope = "Members of " + ", ".join(item(p["projectKey"]) for p in projects)
    else:
        try:
            users = await client.users()
            scope = "Users of the space"
        except ForbiddenError:
            # Backlog keeps the space's user list from guests: the people of the projects they can see.
            projects = await client.projects()
            lists = await gather(*(client.project_list(p["projectKey"], "users") for p in projects))
            users = list({int(u["id"]): u for members in lists for u in members}.values())
            scope = "Members of the projects this user can see (this Backlog role may not list the whole space)"
    if name and name.strip():
        wanted = norm(name)
        users = [u for u in users if wanted in norm(str(u.get("name", ""))) or wanted in norm(str(u.get("userId", "")))]
        scope += f' matching "{inline(name.strip())}"'
    ordered = sorted(users, key=_by_name)
    return render_users(ordered, scope=scope, with_email=include_email)


def _by_name(user: JSONObject) -> str:
    return norm(str(user.get("name", "")))


TOOLS = (
    ToolSpec(get_myself, "Who am I (connection check)", "space"),
    ToolSpec(get_users_by_project, "People in a project or the space", "space"),
)
