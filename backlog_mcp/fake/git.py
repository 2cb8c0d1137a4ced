"""Git repositories and pull requests of the fake space, and the routes that serve them.

Shapes from backlog-api.md §6.5: GitRepository, PullRequest (status 1 Open, 2 Closed, 3 Merged),
PullRequestComment with a changeLog; lists filtered by `statusId[]`, `assigneeId[]`, `issueId[]`,
`createdUserId[]`, paged by `offset`/`count`; comments by `minId`/`maxId`/`order`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from backlog_mcp.fake.dataset import REFERENCE_NOW, Project, Space, ts
from backlog_mcp.fake.protocol import JSON, Answer, Request, id_window, ids, missing, paging

PR_STATUSES = {1: "Open", 2: "Closed", 3: "Merged"}
REPOSITORIES = {
    "ORBIT": (("orbit-android", "Android app"), ("orbit-ios", "iOS app")),
    "NOVA": (("nova-web", "Web front end and API"),),
}
BRANCH_WORDS = ("fix/rotation-crash", "feature/offline-maps", "fix/login-timeout", "chore/deps", "feature/dark-mode")
PR_SUMMARIES = (
    "回転時のクラッシュを修正",
    "Offline map tiles",
    "Fix login timeout on slow networks",
    "依存ライブラリの更新",
    "Dark mode for settings",
    "Retry uploads after a dropped connection",
)


def _sha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def build_git(space: Space, projects: list[Project]) -> None:
    """Repositories for ORBIT (two) and NOVA (one), each with pull requests in every status."""
    repo_id = 40
    pr_id = 880_000
    comment_id = 990_000
    for project in projects:
        key = project.data["projectKey"]
        issues = sorted(
            (i for i in space.issues.values() if i["projectId"] == project.data["id"]), key=lambda i: i["id"]
        )
        for r, (name, description) in enumerate(REPOSITORIES.get(key, ())):
            repo_id += 1
            owner = space.users[project.member_ids[r % len(project.member_ids)]]
            repo: JSON = {
                "id": repo_id,
                "projectId": project.data["id"],
                "name": name,
                "description": description,
                "hookUrl": None,
                "httpUrl": f"https://acme.backlog.com/git/{key}/{name}.git",
                "sshUrl": f"acme@acme.git.backlog.com:/{key}/{name}.git",
                "displayOrder": r,
                "pushedAt": ts(REFERENCE_NOW - timedelta(hours=2 + 5 * r)),
                "createdUser": owner,
                "created": ts(REFERENCE_NOW - timedelta(days=300)),
                "updatedUser": owner,
                "updated": ts(REFERENCE_NOW - timedelta(days=30)),
            }
            space.repositories[repo_id] = repo
            for number in range(1, 7 + 2 * (r == 0)):
                pr_id += 1
                status = 1 if number % 3 != 0 else (3 if number % 2 else 2)
                author = space.users[project.member_ids[(number + r) % len(project.member_ids)]]
                assignee = space.users[project.member_ids[(number + r + 2) % len(project.member_ids)]]
                issue = issues[(number * 5 + r) % len(issues)] if number % 4 else None
                created = REFERENCE_NOW - timedelta(days=40 - 4 * number, hours=r)
                updated = created + timedelta(days=1, hours=number)
                branch = f"{BRANCH_WORDS[(number + r) % len(BRANCH_WORDS)]}-{number}"
                summary = PR_SUMMARIES[(number + r) % len(PR_SUMMARIES)]
                pr: JSON = {
                    "id": pr_id,
                    "projectId": project.data["id"],
                    "repositoryId": repo_id,
                    "number": number,
                    "summary": summary,
                    "description": (
                        f"{issue['issueKey']} を修正します。\n\n- テストを追加\n- `MapView` の null チェック"
                        if issue
                        else "Housekeeping.\n\nNo linked issue."
                    )
                    + ("\n- Tile cache: evict the oldest tiles first" if "tiles" in summary else ""),
                    "base": "main" if number % 5 else "release/2.4",
                    "branch": branch,
                    "status": {"id": status, "name": PR_STATUSES[status]},
                    "assignee": assignee if number % 5 != 2 else None,
                    "issue": {k: v for k, v in issue.items() if k != "customFields"} if issue else None,
                    "baseCommit": _sha(repo_id, number, "base"),
                    "branchCommit": _sha(repo_id, number, "branch"),
                    "mergeCommit": _sha(repo_id, number, "merge") if status == 3 else None,
                    "closeAt": ts(updated) if status in (2, 3) else None,
                    "mergeAt": ts(updated) if status == 3 else None,
                    "createdUser": author,
                    "created": ts(created),
                    "updatedUser": assignee,
                    "updated": ts(updated),
                    "attachments": [],
                    "stars": [],
                }
                if number == 1:
                    pr["attachments"] = [
                        _attachment(69_000 + repo_id * 10, "build.log", 2_310, author, created),
                        _attachment(69_001 + repo_id * 10, "coverage.zip", 48_211, author, created),
                    ]
                space.pull_requests[pr_id] = pr
                thread: list[JSON] = []
                for c in range(3 if number == 1 else number % 3):
                    comment_id += 1
                    who = space.users[project.member_ids[(number + c + 1) % len(project.member_ids)]]
                    change = (
                        [{"field": "status", "newValue": "Merged", "originalValue": "Open"}]
                        if status == 3 and c == 0
                        else []
                    )
                    thread.append(
                        {
                            "id": comment_id,
                            "content": ("LGTM 👍" if c else f"`{branch}` を確認しました。nullチェックは良さそうです。")
                            if not change
                            else "",
                            "changeLog": change,
                            "createdUser": who,
                            "created": ts(created + timedelta(hours=3 + c)),
                            "updated": ts(created + timedelta(hours=3 + c)),
                            "stars": [],
                            "notifications": [],
                        }
                    )
                space.pr_comments[pr_id] = thread


def _attachment(aid: int, name: str, size: int, user: JSON, when: Any) -> JSON:
    return {"id": aid, "name": name, "size": size, "createdUser": user, "created": ts(when)}


class GitRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_project`)."""

    space: Space

    def _project(self, req: Request, key: str) -> Project:
        raise NotImplementedError

    def _repository(self, req: Request, key: str, repo: str) -> JSON:
        project = self._project(req, key)
        for candidate in self.space.repositories.values():
            if candidate["projectId"] == project.data["id"] and repo in (candidate["name"], str(candidate["id"])):
                return candidate
        raise missing("repository")

    def _pull_requests(self, req: Request, key: str, repo: str) -> list[JSON]:
        repository = self._repository(req, key, repo)
        found = [p for p in self.space.pull_requests.values() if p["repositoryId"] == repository["id"]]
        filters: tuple[tuple[str, Callable[[JSON], Any]], ...] = (
            ("statusId", lambda p: p["status"]["id"]),
            ("assigneeId", lambda p: (p["assignee"] or {}).get("id")),
            ("issueId", lambda p: (p["issue"] or {}).get("id")),
            ("createdUserId", lambda p: p["createdUser"]["id"]),
        )
        for name, get in filters:
            wanted = ids(req.query, name)
            if wanted:
                found = [p for p in found if get(p) in wanted]
        return sorted(found, key=lambda p: p["number"], reverse=True)  # newest first, as Backlog lists them

    def get_repositories(self, req: Request, key: str) -> Answer:
        project = self._project(req, key)
        repos = [r for r in self.space.repositories.values() if r["projectId"] == project.data["id"]]
        return 200, sorted(repos, key=lambda r: r["displayOrder"]), []

    def get_repository(self, req: Request, key: str, repo: str) -> Answer:
        return 200, self._repository(req, key, repo), []

    def get_pull_requests(self, req: Request, key: str, repo: str) -> Answer:
        offset, count = paging(req.query)
        return 200, self._pull_requests(req, key, repo)[offset : offset + count], []

    def count_pull_requests(self, req: Request, key: str, repo: str) -> Answer:
        return 200, {"count": len(self._pull_requests(req, key, repo))}, []

    def _pull_request(self, req: Request, key: str, repo: str, number: str) -> JSON:
        repository = self._repository(req, key, repo)
        for pr in self.space.pull_requests.values():
            if pr["repositoryId"] == repository["id"] and str(pr["number"]) == number:
                return pr
        raise missing("pull request")

    def get_pull_request(self, req: Request, key: str, repo: str, number: str) -> Answer:
        return 200, self._pull_request(req, key, repo, number), []

    def get_pr_comments(self, req: Request, key: str, repo: str, number: str) -> Answer:
        pr = self._pull_request(req, key, repo, number)
        return 200, id_window(req.query, self.space.pr_comments[pr["id"]]), []

    def count_pr_comments(self, req: Request, key: str, repo: str, number: str) -> Answer:
        pr = self._pull_request(req, key, repo, number)
        return 200, {"count": len(self.space.pr_comments[pr["id"]])}, []

    def get_pr_attachments(self, req: Request, key: str, repo: str, number: str) -> Answer:
        return 200, self._pull_request(req, key, repo, number)["attachments"], []
