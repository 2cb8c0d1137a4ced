"""The fake's pull-request writes: opening one in a repository and updating it (with a comment), as Backlog does.

Backlog requires summary, description, base and branch to open one; an update takes summary,
description, issueId, assigneeId, notifiedUserId[] and a comment, which it records as a comment
whose change log lists what changed.
"""

from __future__ import annotations

from typing import Any

from backlog_mcp.fake.dataset import Project, Space, ts
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, rejected, single


class PullRequestRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space`, `_project`, `_repository`, `_pull_request`)."""

    space: Space

    def _project(self, req: Request, key: str) -> Project:
        raise NotImplementedError

    def _repository(self, req: Request, key: str, repo: str) -> JSON:
        raise NotImplementedError

    def _pull_request(self, req: Request, key: str, repo: str, number: str) -> JSON:
        raise NotImplementedError

    def add_pull_request(self, req: Request, key: str, repo: str) -> Answer:
        repository = self._repository(req, key, repo)
        project = self._project(req, key)
        missing = [f"{n} is required." for n in ("summary", "description", "base", "branch") if not single(req.form, n)]
        if missing:
            raise rejected(missing)
        base, branch = single(req.form, "base"), single(req.form, "branch")
        if base == branch:
            raise bad("base and branch must be different branches.")
        user, now = self.space.users[req.user_id], ts(self.space.clock())
        numbers = [p["number"] for p in self.space.pull_requests.values() if p["repositoryId"] == repository["id"]]
        pr_id = max(self.space.pull_requests, default=0) + 1
        pr: JSON = {
            "id": pr_id, "projectId": project.data["id"], "repositoryId": repository["id"],
            "number": max(numbers, default=0) + 1, "summary": single(req.form, "summary"),
            "description": single(req.form, "description"), "base": base, "branch": branch,
            "status": {"id": 1, "name": "Open"}, "assignee": self._member(project, single(req.form, "assigneeId")),
            "issue": self._linked(project, single(req.form, "issueId")), "baseCommit": None, "branchCommit": None,
            "mergeCommit": None, "closeAt": None, "mergeAt": None, "createdUser": user, "created": now,
            "updatedUser": user, "updated": now, "attachments": [], "stars": [],
        }  # fmt: skip
        self.space.pull_requests[pr_id] = pr
        self.space.pr_comments[pr_id] = []
        return 200, pr, []  # Backlog's docs: 200 OK

    def update_pull_request(self, req: Request, key: str, repo: str, number: str) -> Answer:
        pr = self._pull_request(req, key, repo, number)
        project = self._project(req, key)
        changes: list[JSON] = []
        for field, value in (
            ("summary", single(req.form, "summary")),
            ("description", single(req.form, "description")),
        ):
            if value is not None and value != pr[field]:
                changes.append({"field": field, "originalValue": pr[field], "newValue": value})
                pr[field] = value
        for field, form_name, found in (
            ("assignee", "assigneeId", self._member),
            ("issue", "issueId", self._linked),
        ):
            raw = single(req.form, form_name)
            if raw is None:
                continue
            value = found(project, raw)
            old = pr[field]
            if (old or {}).get("id") != (value or {}).get("id"):
                shown = "issueKey" if field == "issue" else "name"
                changes.append(
                    {
                        "field": "dependentIssue" if field == "issue" else field,
                        "originalValue": (old or {}).get(shown),
                        "newValue": (value or {}).get(shown),
                    }
                )
                pr[field] = value
        now = ts(self.space.clock())
        comment = single(req.form, "comment")
        if changes or comment:
            thread = self.space.pr_comments[pr["id"]]
            newest = max((c["id"] for cs in self.space.pr_comments.values() for c in cs), default=990_000)
            thread.append(
                {
                    "id": newest + 1, "content": comment or "", "changeLog": changes,
                    "createdUser": self.space.users[req.user_id], "created": now, "updated": now, "stars": [],
                    "notifications": [],
                }
            )  # fmt: skip
        pr["updated"], pr["updatedUser"] = now, self.space.users[req.user_id]
        return 200, pr, []

    def _member(self, project: Project, raw: str | None) -> Any:
        if not raw:
            return None
        if not raw.isdigit() or int(raw) not in project.member_ids:
            raise bad("assigneeId must be a member of the project.")
        return self.space.users[int(raw)]

    def _linked(self, project: Project, raw: str | None) -> Any:
        if not raw:
            return None
        issue = self.space.issues.get(int(raw)) if raw.isdigit() else None
        if issue is None or issue["projectId"] != project.data["id"]:
            raise bad("issueId must be an issue of the project.")
        return {k: v for k, v in issue.items() if k != "customFields"}
