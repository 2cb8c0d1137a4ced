"""The tools, one module per Backlog area; each module declares its tools in `TOOLS`."""

from __future__ import annotations

from backlog_mcp.tools import (
    activity,
    attachments,
    documents,
    git,
    git_writes,
    issue_changes,
    issue_writes,
    issues,
    milestones,
    notifications,
    projects,
    search,
    space,
    uploads,
    wiki,
)
from backlog_mcp.tools.declare import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (
    *space.TOOLS,
    *search.TOOLS,
    *activity.TOOLS,
    *projects.TOOLS,
    *milestones.TOOLS,
    *issues.TOOLS,
    *attachments.TOOLS,
    *issue_changes.TOOLS,
    *issue_writes.TOOLS,
    *uploads.TOOLS,
    *wiki.TOOLS,
    *documents.TOOLS,
    *git.TOOLS,
    *git_writes.TOOLS,
    *notifications.TOOLS,
)
