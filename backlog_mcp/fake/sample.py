"""The whole sample space: the dataset, then what is built from it (git, documents, the timeline)."""

from __future__ import annotations

from backlog_mcp.fake.activity import build_activities
from backlog_mcp.fake.dataset import Space, build_base
from backlog_mcp.fake.documents import build_documents
from backlog_mcp.fake.git import build_git


def build_space(
    seed: int = 7,
    issues_per_project: int = 220,
    long_thread_comments: int = 120,
    scale_project_issues: int = 0,
) -> Space:
    """The seeded space; same arguments, same data, byte for byte.

    `scale_project_issues` > 0 adds project SCALE with that many issues.
    """
    space = build_base(seed, issues_per_project, long_thread_comments, scale_project_issues)
    active = [space.projects[104], space.projects[105]]  # ORBIT and NOVA; OLD is archived
    build_git(space, active)
    build_documents(space, active)
    build_activities(space, active)
    return space
