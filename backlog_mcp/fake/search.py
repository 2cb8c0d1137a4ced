"""The fake's issue search: `GET /issues` and its count, with Backlog's filters, sorts and paging."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backlog_mcp.fake.dataset import Space
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, matches, multi, paging, single

SORT_KEYS = {
    "issueType",
    "category",
    "version",
    "milestone",
    "summary",
    "status",
    "priority",
    "attachment",
    "sharedFile",
    "created",
    "createdUser",
    "updated",
    "updatedUser",
    "assignee",
    "startDate",
    "dueDate",
    "estimatedHours",
    "actualHours",
    "childIssue",
}


class SearchRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_member_projects`)."""

    space: Space

    if TYPE_CHECKING:  # supplied by `FakeBacklog`

        def _member_projects(self, user_id: int) -> list[int]: ...

    def _filtered(self, req: Request) -> list[JSON]:
        q = req.query
        visible = set(self._member_projects(req.user_id))
        issues = [i for i in self.space.issues.values() if i["projectId"] in visible]

        def ids(name: str) -> set[int] | None:
            values = multi(q, name)
            if not values:
                return None
            try:
                return {int(v) for v in values}
            except ValueError:
                raise bad(f"{name} must be numeric.") from None

        def keep(name: str, get: Callable[[JSON], set[int]]) -> None:
            nonlocal issues
            wanted = ids(name)
            if wanted is not None:
                issues = [i for i in issues if get(i) & wanted]

        keep("projectId", lambda i: {i["projectId"]})
        keep("issueTypeId", lambda i: {i["issueType"]["id"]})
        keep("categoryId", lambda i: {c["id"] for c in i["category"]})
        keep("versionId", lambda i: {v["id"] for v in i["versions"]})
        keep("milestoneId", lambda i: {v["id"] for v in i["milestone"]})
        keep("statusId", lambda i: {i["status"]["id"]})
        keep("priorityId", lambda i: {i["priority"]["id"]})
        keep("assigneeId", lambda i: {i["assignee"]["id"]} if i["assignee"] else set())
        keep("createdUserId", lambda i: {i["createdUser"]["id"]})
        keep("resolutionId", lambda i: {i["resolution"]["id"]} if i["resolution"] else set())
        keep("id", lambda i: {i["id"]})
        keep("parentIssueId", lambda i: {i["parentIssueId"]} if i["parentIssueId"] else set())
        parent_child = single(q, "parentChild")
        if parent_child:
            parents = {i["parentIssueId"] for i in self.space.issues.values() if i["parentIssueId"]}
            rules: dict[str, Callable[[JSON], bool]] = {
                "0": lambda i: True,
                "1": lambda i: not i["parentIssueId"],
                "2": lambda i: bool(i["parentIssueId"]),
                "3": lambda i: not i["parentIssueId"] and i["id"] not in parents,
                "4": lambda i: i["id"] in parents,
            }
            rule = rules.get(parent_child)
            if rule is None:
                raise bad("parentChild must be 0 to 4.")
            issues = [i for i in issues if rule(i)]
        for name, key in (("attachment", "attachments"), ("sharedFile", "sharedFiles")):
            flag = single(q, name)
            if flag in ("true", "false"):
                issues = [i for i in issues if bool(i[key]) == (flag == "true")]
        for prefix, key in (
            ("created", "created"),
            ("updated", "updated"),
            ("startDate", "startDate"),
            ("dueDate", "dueDate"),
        ):
            for suffix, cmp in (("Since", operator.ge), ("Until", operator.le)):
                bound = single(q, prefix + suffix)
                if bound is None:
                    continue
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", bound):
                    raise bad(f"{prefix}{suffix} must be yyyy-MM-dd.")
                issues = [i for i in issues if i[key] and cmp(_local_day(i[key], key), bound)]
        has_due = single(q, "hasDueDate")
        if has_due == "true":
            raise bad("hasDueDate=true is not supported.")
        if has_due == "false":
            issues = [i for i in issues if not i["dueDate"]]
        keyword = single(q, "keyword")
        if keyword:
            # Backlog's keyword is a full-text search over the summary, the description and (as its search
            # screen shows) the comments.
            def text(i: JSON) -> str:
                said = " ".join(str(c.get("content") or "") for c in self.space.comments.get(i["id"], ()))
                return f"{i['issueKey']} {i['summary']} {i['description']} {said}"

            issues = [i for i in issues if matches(keyword, text(i))]
        return issues

    def get_issues(self, req: Request) -> Answer:
        issues = self._filtered(req)
        sort = single(req.query, "sort") or "updated"
        if sort not in SORT_KEYS:
            raise bad(f"sort: unsupported value {sort!r}.")
        order = single(req.query, "order") or "desc"
        if order not in ("asc", "desc"):
            raise bad("order must be asc or desc.")
        issues.sort(key=lambda i: (_sort_value(i, sort), i["id"]), reverse=order == "desc")
        offset, count = paging(req.query)
        return 200, issues[offset : offset + count], []

    def count_issues(self, req: Request) -> Answer:
        return 200, {"count": len(self._filtered(req))}, []


def _local_day(value: str, key: str) -> str:
    if key in ("startDate", "dueDate"):
        return value[:10]
    # created/updated filters are days in the space's timezone (Asia/Tokyo in the dataset).
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(hours=9)
    return moment.strftime("%Y-%m-%d")


_SORT_GETTERS: dict[str, Callable[[JSON], Any]] = {
    "issueType": lambda i: i["issueType"]["displayOrder"],
    "status": lambda i: i["status"]["displayOrder"],
    "priority": lambda i: i["priority"]["id"],
    "assignee": lambda i: i["assignee"]["name"] if i["assignee"] else "",
    "createdUser": lambda i: i["createdUser"]["name"],
    "updatedUser": lambda i: i["updatedUser"]["name"],
    "category": lambda i: i["category"][0]["name"] if i["category"] else "",
    "milestone": lambda i: i["milestone"][0]["name"] if i["milestone"] else "",
    "version": lambda i: i["versions"][0]["name"] if i["versions"] else "",
    "attachment": lambda i: len(i["attachments"]),
    "sharedFile": lambda i: len(i["sharedFiles"]),
    "childIssue": lambda i: 0,
}


def _sort_value(issue: JSON, sort: str) -> Any:
    getter = _SORT_GETTERS.get(sort)
    value = getter(issue) if getter else issue[sort]
    # Empty values sort last in ascending order; the flag keeps None away from numbers.
    return (value is None or value == "", value if value is not None else 0)
