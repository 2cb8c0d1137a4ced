"""Git repositories and pull requests, and comments on them."""

from __future__ import annotations

from collections.abc import Sequence

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import JSONObject, Params, segment


class GitEndpoints(Scoped):
    """Repositories and pull requests."""

    async def repositories(self, project_key: str) -> list[JSONObject]:
        return await self.project_list(project_key, "git/repositories")

    def _repo_path(self, project_key: str, repository: str) -> str:
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        return f"/projects/{segment(project_key)}/git/repositories/{segment(repository)}"

    async def pull_requests(self, project_key: str, repository: str, params: Params) -> list[JSONObject]:
        path = self._repo_path(project_key, repository) + "/pullRequests"
        return await self.get_list(path, params, ttl=self._issue_ttl)

    async def count_pull_requests(self, project_key: str, repository: str, params: Params) -> int:
        path = self._repo_path(project_key, repository) + "/pullRequests/count"
        return await self.get_count(path, params, ttl=self._issue_ttl)

    async def pull_request(self, project_key: str, repository: str, number: int) -> JSONObject:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}"
        return await self.get_object(path, ttl=self._issue_ttl)

    async def pull_request_comments(
        self, project_key: str, repository: str, number: int, params: Params
    ) -> list[JSONObject]:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}/comments"
        return await self.get_list(path, params, ttl=self._issue_ttl)

    async def count_pull_request_comments(self, project_key: str, repository: str, number: int) -> int:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}/comments/count"
        return await self.get_count(path, ttl=self._issue_ttl)

    async def add_pull_request_comment(
        self, project_key: str, repository: str, number: int, content: str, notify: Sequence[int] = ()
    ) -> JSONObject:
        self.require(project_key, "comment")
        lists = f"{self._repo_path(project_key, repository)}/pullRequests"
        path = f"{lists}/{number}"
        form: Params = {"content": content, "notifiedUserId": list(notify)}
        stale = (f"{path}/*", lists, f"{lists}/count")  # the list shows when each was last updated
        data = await self._request("POST", f"{path}/comments", data=form, stale=stale)
        return data if isinstance(data, dict) else {}

    async def create_pull_request(self, project_key: str, repository: str, form: Params) -> JSONObject:
        """Open a pull request (level `write`); the repository's lists go stale."""
        self.require(project_key, "write")
        lists = f"{self._repo_path(project_key, repository)}/pullRequests"
        data = await self._request("POST", lists, data=form, stale=(lists, f"{lists}/count"))
        return data if isinstance(data, dict) else {}

    async def update_pull_request(
        self, project_key: str, repository: str, number: int, form: Params, *, need: str
    ) -> JSONObject:
        """Change a pull request (`need`: "comment" for a comment alone, else "write"); it and the lists go stale."""
        self.require(project_key, need)
        lists = f"{self._repo_path(project_key, repository)}/pullRequests"
        path = f"{lists}/{number}"
        data = await self._request("PATCH", path, data=form, stale=(f"{path}/*", lists, f"{lists}/count"))
        return data if isinstance(data, dict) else {}
