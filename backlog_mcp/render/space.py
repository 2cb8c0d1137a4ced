"""Rendering of the space, the current user and lists of people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backlog_mcp.render.text import approx_tokens, cell, fit, inline, item, plural

ROLES = {
    1: "Administrator",
    2: "Normal User",
    3: "Reporter",
    4: "Viewer",
    5: "Guest Reporter",
    6: "Guest Viewer",
}


def render_myself(
    user: dict[str, Any], space: dict[str, Any], base_url: str, *, demo: str = "", spaces: Sequence[str] = ()
) -> str:
    """Who and where; `demo` (when set) says this is the bundled sample space, not a real one;
    `spaces`: every space this server serves (as `name (url)`), when several."""
    role = ROLES.get(user.get("roleType", 0), f"role {inline(user.get('roleType'))}")
    lines = [
        *([f"**Demo:** {demo}"] if demo else []),
        f"Connected to Backlog space **{inline(space.get('name', '?'))}** "
        f"({item(space.get('spaceKey', '?'))}, {base_url})",
        f"as **{inline(user.get('name', '?'))}** (login {item(user.get('userId') or '-')}, "
        f"id {item(user.get('id'))}, {role}).",
        f"Space timezone: {item(space.get('timezone') or 'UTC')}; "
        f"default text formatting: {inline(space.get('textFormattingRule', 'markdown'))}.",
    ]
    if spaces:
        lines.append(
            f"Spaces on this server (the first is the default; pass `space` for another): {'; '.join(spaces)}."
        )
    return "\n".join(lines)


def render_users(users: list[dict[str, Any]], *, scope: str, with_email: bool, budget: int = 10_000) -> str:
    """People as a table: name, login id, role (and e-mail only when asked for)."""
    if not users:
        return f"No users: {scope}."
    columns = ["Name", "Login", "Role", *(["E-mail"] if with_email else [])]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]

    def row(user: dict[str, Any]) -> str:
        cells = [
            cell(user.get("name")),
            cell(user.get("userId") or "-"),
            ROLES.get(user.get("roleType", 0), f"role {cell(user.get('roleType'))}"),
            *([cell(user.get("mailAddress") or "-")] if with_email else []),
        ]
        return "| " + " | ".join(cells) + " |"

    rows = fit((row(user) for user in users), budget - approx_tokens(scope) - 60)
    shown = len(rows.items)
    more = f" (showing {shown}; narrow with a name)" if shown < len(users) else ""
    return "\n".join([f"{scope}: {plural(len(users), 'user')}{more}.", "", *lines, *rows.items])
