"""What a Backlog user's role may call, as Backlog documents it; the fake answers the rest with 403.

Roles (classic spaces): 1 Administrator, 2 Normal User, 3 Reporter, 4 Viewer, 5 Guest Reporter,
6 Guest Viewer (backlog-api.md §5.1). Pull-request and repository endpoints list Administrator and
Normal User only (§6.5); only administrators list the space's users; guests may not read another
user's activity;
`GET /projects?all=true` is for administrators; viewers write nothing but their own attention
(watching, notifications read), and reporters add issues, comments and files, but change nothing else.
"""

from __future__ import annotations

import re

from backlog_mcp.fake.protocol import HTTPFailure

ADMIN, NORMAL, REPORTER, VIEWER, GUEST_REPORTER, GUEST_VIEWER = 1, 2, 3, 4, 5, 6
GUESTS = (GUEST_REPORTER, GUEST_VIEWER)
_OWN_ATTENTION = re.compile(r"/(watchings(/[^/]+)?|notifications(/[^/]+)?/markAsRead)")
_REPORTER_ADDS = re.compile(r"/(issues|issues/[^/]+/comments|space/attachment)")
_OTHER_ACTIVITY = re.compile(r"/users/(\d+)/activities")


def refusal(role: int, user_id: int, method: str, path: str, query: list[tuple[str, str]]) -> HTTPFailure | None:
    """The 403 Backlog answers this role for this call, or None when it may."""
    why = _why(role, user_id, method, path, query)
    return HTTPFailure(403, f"You do not have permission to {why}.", 5) if why else None


def _why(role: int, user_id: int, method: str, path: str, query: list[tuple[str, str]]) -> str:
    if "/git/repositories" in path and role not in (ADMIN, NORMAL):
        return "use Git repositories and pull requests"
    if method == "GET":
        if path == "/users" and role != ADMIN:  # "Role: Administrator" (and project administrators)
            return "list the users of the space"
        if path == "/projects" and ("all", "true") in query and role != ADMIN:
            return "list every project of the space"
        other = _OTHER_ACTIVITY.fullmatch(path)
        if other and role in GUESTS and int(other[1]) != user_id:
            return "see other users' activity"
        return ""
    if _OWN_ATTENTION.fullmatch(path):
        return ""
    if role in (VIEWER, GUEST_VIEWER):
        return "change anything (this role may only view)"
    if role in (REPORTER, GUEST_REPORTER) and not (method == "POST" and _REPORTER_ADDS.fullmatch(path)):
        return "change this (this role may only add issues and comments)"
    return ""
