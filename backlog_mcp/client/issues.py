"""Issues and their comments: read, create, update, comment; each write names what it makes stale."""

from __future__ import annotations

from collections.abc import Sequence

from backlog_mcp.client.access import Scoped, is_id, issue_paths, project_of
from backlog_mcp.client.wire import JSONObject, Params, segment
from backlog_mcp.errors import BadResponseError

# What a parent issue shows of each child: an update to one of these makes the parent stale.
_PARENT_SHOWS = frozenset({"summary", "statusId", "assigneeId", "parentIssueId"})
CHILD_SUMMARY: Params = {"expand": ["childIssueSummary"]}  # the detailed form get_issue_details reads


class IssueEndpoints(Scoped):
    """Issues, comments and the writes on them."""

    async def issue(self, key: str | int, *, child_summary: bool = False) -> JSONObject:
        path = f"/issues/{segment(key)}"
        if isinstance(key, str) and not is_id(key) and not self.allows_key(project_of(key)):
            raise self._denied("issue", path)
        params = CHILD_SUMMARY if child_summary else None
        issue = await self.get_object(path, params, ttl=self._issue_ttl)
        self._check_issue(issue, path)
        self._learn_ids([issue])
        return issue

    async def issues(self, params: Params) -> list[JSONObject]:
        scoped = await self._scoped(params)
        if scoped is None:
            return []
        issues = await self.get_list("/issues", scoped, ttl=self._issue_ttl)
        issues = [i for i in issues if self.allows_key(project_of(str(i.get("issueKey", ""))))]
        self._learn_ids(issues)
        return issues

    async def count_issues(self, params: Params) -> int:
        scoped = await self._scoped(params)
        if scoped is None:
            return 0
        return await self.get_count("/issues/count", scoped, ttl=self._issue_ttl)

    async def comments(self, key: str | int, params: Params) -> list[JSONObject]:
        await self._check_issue_ref(key)
        return await self.get_list(f"/issues/{segment(key)}/comments", params, ttl=self._issue_ttl)

    async def count_comments(self, key: str | int) -> int:
        await self._check_issue_ref(key)
        return await self.get_count(f"/issues/{segment(key)}/comments/count", ttl=self._issue_ttl)

    async def child_issues(self, parent_id: int) -> list[JSONObject]:
        return await self.issues({"parentIssueId": [parent_id], "count": 100, "sort": "created", "order": "asc"})

    def _check_issue(self, issue: JSONObject, path: str) -> None:
        if not self.allows_key(project_of(str(issue.get("issueKey", "")))):
            raise self._denied("issue", path)

    async def _check_issue_ref(self, ref: str | int) -> None:
        """Refuse an issue outside the allow-list before asking for its comments or changing it."""
        if self.settings.projects is None:
            return
        if isinstance(ref, str) and not is_id(ref):
            if not self.allows_key(project_of(ref)):
                raise self._denied("issue", f"/issues/{segment(ref)}")
            return
        await self.issue(ref, child_summary=True)  # a numeric id: its project is known only from the issue

    async def _write_issue(
        self,
        method: str,
        path: str,
        key: str | int,
        form: Params,
        current: JSONObject | None = None,
        *,
        need: str = "write",
    ) -> JSONObject:
        # The issue itself first (usually cached; `current` when the caller has just read it): its project
        # is checked against the allow-list and its write level, and its key and id are both known, so rows
        # cached under either name (by any process) are dropped.
        current = current or await self.issue(key, child_summary=True)  # the form get_issue_details cached
        self.require(project_of(str(current.get("issueKey", ""))), need)
        stale = issue_paths(key, current.get("issueKey"), current.get("id")) + self._my_watch_paths()
        parent_id = current.get("parentIssueId")
        if parent_id and method == "PATCH" and _PARENT_SHOWS & set(form):
            # The parent lists this issue among its children, with its summary, status and assignee.
            stale += self._parent_paths(int(parent_id))
        new_parent = form.get("parentIssueId")
        if new_parent and str(new_parent).isdigit():
            stale += self._parent_paths(int(str(new_parent)))
        data = await self._request(method, path, data=form, stale=stale)
        if not isinstance(data, dict):
            raise BadResponseError(f"{method} {path}: expected a JSON object", method=method, path=path)
        return data

    def _parent_paths(self, parent_id: int) -> list[str]:
        parent_key = next((k for k, v in self.issue_ids.items() if v == parent_id), None)
        return [f"/issues/{segment(ref)}" for ref in (parent_id, parent_key) if ref]

    async def update_issue(self, key: str | int, form: Params, *, current: JSONObject | None = None) -> JSONObject:
        """`current`: the issue as `issue(key)` just returned it, so it is not fetched twice."""
        issue = await self._write_issue("PATCH", f"/issues/{segment(key)}", key, form, current)
        self._learn_ids([issue])
        return issue

    async def add_comment(
        self,
        key: str | int,
        content: str,
        notify: Sequence[int] = (),
        *,
        current: JSONObject | None = None,
        attachments: Sequence[int] = (),
    ) -> JSONObject:
        form: Params = {"content": content, "notifiedUserId": list(notify), "attachmentId": list(attachments)}
        path = f"/issues/{segment(key)}/comments"
        return await self._write_issue("POST", path, key, form, current, need="comment")

    async def comment(self, key: str | int, comment_id: int) -> JSONObject:
        await self._check_issue_ref(key)
        return await self.get_object(f"/issues/{segment(key)}/comments/{comment_id}", ttl=0)

    async def update_comment(self, key: str | int, comment_id: int, content: str) -> JSONObject:
        path = f"/issues/{segment(key)}/comments/{comment_id}"
        return await self._write_issue("PATCH", path, key, {"content": content}, need="comment")

    async def create_issue(self, project_key: str, form: Params) -> JSONObject:
        """A new issue in an allowed project at level `write`; lists (and a parent) become stale."""
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        self.require(project_key, "write")
        stale = ["/issues", "/issues/count"]
        parent = form.get("parentIssueId")
        if parent and str(parent).isdigit():
            stale += self._parent_paths(int(str(parent)))
        data = await self._request("POST", "/issues", data=form, stale=stale)
        if not isinstance(data, dict):
            raise BadResponseError("POST /issues: expected a JSON object", method="POST", path="/issues")
        self._learn_ids([data])
        if data.get("issueKey"):
            # Backlog answers a create with the whole issue: cached as the detailed read (a new issue has no
            # children), a comment or a look right after costs no request.
            detailed = {**data, "childIssueSummary": {"total": 0, "closed": 0}}
            await self.remember(
                f"/issues/{segment(str(data['issueKey']))}", CHILD_SUMMARY, detailed, ttl=self._issue_ttl
            )
        return data
