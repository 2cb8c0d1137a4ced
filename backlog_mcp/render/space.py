"""Rendering of the space and the current user."""

from __future__ import annotations

from typing import Any

ROLES = {
    1: "Administrator",
    2: "Normal User",
    3: "Reporter",
    4: "Viewer",
    5: "Guest Reporter",
    6: "Guest Viewer",
}


def render_myself(user: dict[str, Any], space: dict[str, Any], base_url: str) -> str:
    role = ROLES.get(user.get("roleType", 0), f"role {user.get('roleType')}")
    lines = [
        f"Connected to Backlog space **{space.get('name', '?')}** ({space.get('spaceKey', '?')}, {base_url})",
        f"as **{user.get('name', '?')}** (login `{user.get('userId') or '-'}`, id {user.get('id')}, {role}).",
        f"Space timezone: {space.get('timezone') or 'UTC'}; "
        f"default text formatting: {space.get('textFormattingRule', 'markdown')}.",
    ]
    return "\n".join(lines)
