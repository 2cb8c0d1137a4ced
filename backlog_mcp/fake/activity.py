"""The activity timeline of the fake space ("recent updates"), and the routes that serve it.

Shapes as Backlog sends them (backlog-js `entity.ts`, Nulab's fixtures): `{id, project, type,
content, notifications: [], createdUser, created}` with a snake_case `content` per type. Built from
the dataset, so the timeline tells the same story as the issues, wikis, pull requests and documents;
the fake's writes append to it.
"""

from __future__ import annotations

from typing import Any

from backlog_mcp.fake.dataset import RESOLUTIONS, Project, Space, ts
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, id_window, ids, missing

ISSUE_CREATED, ISSUE_UPDATED, ISSUE_COMMENTED = 1, 2, 3
WIKI_CREATED, WIKI_UPDATED = 5, 6
GIT_PUSHED = 12
PROJECT_USER_ADDED = 15
PR_ADDED, PR_UPDATED, PR_COMMENTED = 18, 19, 20
MILESTONE_CREATED = 22
DOCUMENT_CREATED = 36
KNOWN_TYPES = frozenset({*range(1, 27), 34, 35, 36, 37, 38, *range(40, 49)})
_ID_VALUED = ("status", "resolution")  # the timeline sends these as ids, the comment changeLog as names


def issue_content(issue: JSON) -> JSON:
    return {
        "id": issue["id"],
        "key_id": issue["keyId"],
        "summary": issue["summary"],
        "description": issue["description"],
    }


def comment_activity(space: Space, issue: JSON, comment: JSON) -> tuple[int, JSON]:
    """The type and content of an issue update or comment, from the comment Backlog stored."""
    project = space.projects[issue["projectId"]]
    changes = []
    for entry in comment["changeLog"]:
        old, new = entry.get("originalValue"), entry.get("newValue")
        if entry["field"] in _ID_VALUED:
            old, new = _status_id(project, entry["field"], old), _status_id(project, entry["field"], new)
        changes.append({"field": entry["field"], "new_value": new or "", "old_value": old or "", "type": "standard"})
    content = {
        **issue_content(issue),
        "comment": {"id": comment["id"], "content": comment["content"]},
        "changes": changes,
        "attachments": [],
        "shared_files": [],
        "external_file_links": [],
    }
    return (ISSUE_UPDATED if changes else ISSUE_COMMENTED), content


def _status_id(project: Project, field_name: str, name: Any) -> str | None:
    if not name:
        return None
    pool = project.statuses if field_name == "status" else RESOLUTIONS
    return next((str(s["id"]) for s in pool if s["name"] == name), str(name))


def build_activities(space: Space, projects: list[Project]) -> None:
    """Every event the dataset implies, in time order, numbered from 12,000,001."""
    events: list[tuple[str, int, JSON, JSON, JSON]] = []  # created, type, project, content, user

    def add(when: str, kind: int, project: Project, content: JSON, user: JSON) -> None:
        events.append((when, kind, project.data, content, user))

    for project in projects:
        pid = project.data["id"]
        for issue in (i for i in space.issues.values() if i["projectId"] == pid):
            add(issue["created"], ISSUE_CREATED, project, issue_content(issue), issue["createdUser"])
            thread = space.comments[issue["id"]]
            if not thread and issue["updated"] != issue["created"]:
                # An issue edited without a comment thread in the dataset: its last update, as Backlog logs it.
                status = str(issue["status"]["id"])
                changes = [] if status == "1" else [{"field": "status", "new_value": status, "old_value": "1"}]
                content = {**issue_content(issue), "comment": {"id": None, "content": ""}, "attachments": [],
                           "changes": [{**c, "type": "standard"} for c in changes], "shared_files": [],
                           "external_file_links": []}  # fmt: skip
                add(issue["updated"], ISSUE_UPDATED, project, content, issue["updatedUser"])
            for comment in thread:
                kind, content = comment_activity(space, issue, comment)
                add(comment["created"], kind, project, content, comment["createdUser"])
        for page in (w for w in space.wikis.values() if w["projectId"] == pid):
            content = {
                "id": page["id"],
                "name": page["name"],
                "content": page["content"],
                "diff": None,
                "version": None,
                "attachments": [{"id": a["id"], "name": a["name"], "size": a["size"]} for a in page["attachments"]],
                "shared_files": [],
            }
            add(page["created"], WIKI_CREATED, project, content, page["createdUser"])
            if page["updated"] != page["created"]:
                add(page["updated"], WIKI_UPDATED, project, content, page["updatedUser"])
        for repo in (r for r in space.repositories.values() if r["projectId"] == pid):
            short = {"id": repo["id"], "name": repo["name"], "description": repo["description"]}
            for pr in (p for p in space.pull_requests.values() if p["repositoryId"] == repo["id"]):
                linked = pr["issue"]
                content = {
                    "id": pr["id"],
                    "number": pr["number"],
                    "summary": pr["summary"],
                    "description": pr["description"],
                    "comment": None,
                    "changes": [],
                    "issue": issue_content(linked) if linked else None,
                    "repository": short,
                }
                add(pr["created"], PR_ADDED, project, content, pr["createdUser"])
                push = {
                    "repository": short,
                    "change_type": "update",
                    "revision_type": "commit",
                    "ref": f"refs/heads/{pr['branch']}",
                    "revision_count": 1,
                    "revisions": [{"rev": pr["branchCommit"], "comment": pr["summary"]}],
                }
                add(pr["created"], GIT_PUSHED, project, push, pr["createdUser"])
                for comment in space.pr_comments[pr["id"]]:
                    changes = [
                        {"field": c["field"], "new_value": c["newValue"], "old_value": c["originalValue"]}
                        for c in comment["changeLog"]
                    ]
                    kind = PR_UPDATED if changes else PR_COMMENTED
                    said = {**content, "comment": {"id": comment["id"], "content": comment["content"]}}
                    add(comment["created"], kind, project, {**said, "changes": changes}, comment["createdUser"])
        for document in (d for d in space.documents.values() if d["projectId"] == pid):
            add(document["created"], DOCUMENT_CREATED, project, {"id": document["id"], "title": document["title"]},
                document["createdUser"])  # fmt: skip
    events.sort(key=lambda e: (e[0], e[1]))
    space.activities = [
        _activity(12_000_001 + n, when, kind, project, content, user)
        for n, (when, kind, project, content, user) in enumerate(events)
    ][::-1]


def _activity(aid: int, when: str, kind: int, project: JSON, content: JSON, user: JSON) -> JSON:
    return {
        "id": aid,
        "project": project,
        "type": kind,
        "content": content,
        "notifications": [],
        "createdUser": user,
        "created": when,
    }


def record(space: Space, kind: int, project: Project, content: JSON, user: JSON) -> None:
    """Append an event the fake's API just caused (newest first)."""
    newest = space.activities[0]["id"] if space.activities else 12_000_000
    now = ts(space.clock())
    space.activities.insert(0, _activity(newest + 1, now, kind, project.data, content, user))


class ActivityRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_project`)."""

    space: Space

    def _project(self, req: Request, key: str) -> Project:
        raise NotImplementedError

    def _member_projects(self, user_id: int) -> list[int]:
        raise NotImplementedError

    def _activities(self, req: Request, keep: Any) -> Answer:
        kinds = ids(req.query, "activityTypeId")
        if kinds - KNOWN_TYPES:
            raise bad("activityTypeId must be an activity type.")
        visible = set(self._member_projects(req.user_id))
        found = [
            a
            for a in self.space.activities
            if a["project"]["id"] in visible and keep(a) and (not kinds or a["type"] in kinds)
        ]
        return 200, id_window(req.query, found), []

    def get_space_activities(self, req: Request) -> Answer:
        return self._activities(req, lambda a: True)

    def get_project_activities(self, req: Request, key: str) -> Answer:
        pid = self._project(req, key).data["id"]
        return self._activities(req, lambda a: a["project"]["id"] == pid)

    def get_user_activities(self, req: Request, uid: str) -> Answer:
        if not (uid.isascii() and uid.isdigit()) or int(uid) not in self.space.users:
            raise missing("user")
        return self._activities(req, lambda a: a["createdUser"]["id"] == int(uid))
