"""Rendering of the space and the current user."""

from __future__ import annotations

from typing import Any

from backlog_mcp.render.text import inline

ROLES = {
    1: "Administrator",
    2: "Normal User",
    3: "Reporter",
    4: "Viewer",
    5: "Guest Reporter",
    6: "Guest Viewer",
}


def render_myself(user: dict[str, Any], space: dict[str, Any], base_url: str) -> str:
    role = ROLES.get(user.get("roleType", 0), f"role {inline(user.get('roleType'))}")
    lines = [
        f"Connected to Backlog space **{inline(space.get('name', '?'))}** "
        f"({inline(space.get('spaceKey', '?'))}, {base_url})",
        f"as **{inline(user.get('name', '?'))}** (login {inline(user.get('userId') or '-')}, "
        f"id {inline(user.get('id'))}, {role}).",
        f"Space timezone: {inline(space.get('timezone') or 'UTC')}; "
        f"default text formatting: {inline(space.get('textFormattingRule', 'markdown'))}.",
    ]
    return "\n".join(lines)
