"""The fake's writes: issues (add, update with a changeLog comment), comment edits, pull-request
comments (watchings and notifications: `attention.py`; wiki pages: `wikis.py`). Form-encoded bodies, `name[]` arrays,
201/200/204 as Backlog answers, and its 400/403 errors (every rejected field listed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backlog_mcp.fake.activity import ISSUE_CREATED, comment_activity, issue_content, record
from backlog_mcp.fake.dataset import PRIORITIES, RESOLUTIONS, Project, Space, change, ts
from backlog_mcp.fake.protocol import JSON, Answer, HTTPFailure, Request, bad, missing, multi, rejected, single

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


class WriteRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space`, `_project`, `_issue`, `_wiki`…)."""

    space: Space
    base_url: str

    if TYPE_CHECKING:  # supplied by `FakeBacklog` and `GitRoutes`

        def _project(self, req: Request, key: str) -> Project: ...
        def _issue(self, req: Request, key: str) -> JSON: ...
        def _pull_request(self, req: Request, key: str, repo: str, number: str) -> JSON: ...
        def take_uploads(self, req: Request, errors: list[str]) -> list[JSON]: ...
        def attach(self, issue: JSON, held: list[JSON], user_id: int) -> list[JSON]: ...

    # -- issue fields ----------------------------------------------------------------------------

    def _apply(self, issue: JSON, project: Project, form: list[tuple[str, str]], errors: list[str]) -> list[JSON]:
        """Set the fields the form names on `issue`; returns the changeLog, appends each problem to `errors`."""
        changes: list[JSON] = []
        given = {k for k, _ in form}

        def swap(name: str, legacy: str, new: Any, label: Callable[[Any], str | None], **extra: Any) -> None:
            old = issue.get(name)
            if old != new:
                changes.append(change(legacy, label(old), label(new), **extra))
                issue[name] = new

        def named(value: Any) -> str | None:
            return value["name"] if value else None

        def names(values: Any) -> str | None:
            return ", ".join(v["name"] for v in values) if values else None

        def pick(field: str, pool: list[JSON], what: str) -> JSON | bool | None:
            raw = single(form, field) or ""
            if not raw:
                return None
            found = next((dict(p) for p in pool if str(p["id"]) == raw), None)
            if found is None:
                errors.append(f"No such {what}. ({field}={raw})")
                return False
            return found

        for field, legacy in (("summary", "summary"), ("description", "description")):
            if field in given:
                value = single(form, field) or ""
                if field == "summary" and not value.strip():
                    errors.append("summary is required.")
                else:
                    swap(field, legacy, value, lambda v: v)
        if "issueTypeId" in given:
            found = pick("issueTypeId", project.issue_types, "issue type")
            if isinstance(found, dict):
                swap("issueType", "issueType", {k: v for k, v in found.items() if not k.startswith("template")}, named)
        if "statusId" in given:
            found = pick("statusId", project.statuses, "status")
            if isinstance(found, dict):
                swap("status", "status", found, named)
        if "priorityId" in given:
            found = pick("priorityId", PRIORITIES, "priority")
            if isinstance(found, dict):
                swap("priority", "priority", found, named)
        if "resolutionId" in given:
            found = pick("resolutionId", RESOLUTIONS, "resolution")
            if found is not False:
                swap("resolution", "resolution", found or None, named)
        if "assigneeId" in given:
            raw = single(form, "assigneeId") or ""
            user = self.space.users.get(int(raw)) if raw.isascii() and raw.isdigit() else None
            if raw and (user is None or user["id"] not in project.member_ids):
                errors.append("No such project member.")
            else:
                swap("assignee", "assigner", user, named)
        for field, name, legacy in (
            ("categoryId", "category", "component"),
            ("milestoneId", "milestone", "milestone"),
            ("versionId", "versions", "version"),
        ):
            values = multi(form, field)
            if not values and f"{field}[]" not in given:
                continue
            pool = project.categories if field == "categoryId" else project.versions
            chosen = [dict(p) for p in pool if str(p["id"]) in values]
            unknown = [v for v in values if v and v not in {str(p["id"]) for p in pool}]
            if unknown:
                errors.append(f"No such {name}. ({field}[]={unknown[0]})")
            else:
                swap(name, legacy, chosen, names)
        for field, legacy in (("startDate", "startDate"), ("dueDate", "limitDate")):
            if field in given:
                raw = single(form, field) or ""
                if raw and not _DAY.fullmatch(raw):
                    errors.append(f"{field} must be yyyy-MM-dd.")
                else:
                    swap(field, legacy, f"{raw}T00:00:00Z" if raw else None, lambda v: v[:10] if v else None)
        start, due = issue.get("startDate"), issue.get("dueDate")
        if start and due and due < start:
            errors.append("dueDate must not be before startDate.")
        for field in ("estimatedHours", "actualHours"):
            if field in given:
                text = single(form, field) or ""
                hours = _number(text) if text else None
                if text and (hours is None or hours < 0):
                    errors.append(f"{field} must be a non-negative number.")
                else:
                    swap(field, field, hours, lambda v: None if v is None else f"{v:g}")
        if "parentIssueId" in given:
            raw = single(form, "parentIssueId") or ""
            parent = self.space.issues.get(int(raw)) if raw.isascii() and raw.isdigit() else None
            if raw and (parent is None or parent["projectId"] != project.data["id"] or parent is issue):
                errors.append("No such parent issue in this project.")
            elif parent is not None and parent.get("parentIssueId"):
                errors.append("A child issue cannot be a parent issue.")
            else:
                keys = {i["id"]: i["issueKey"] for i in self.space.issues.values()}
                swap("parentIssueId", "parentIssue", parent["id"] if parent else None, lambda v: keys.get(v))
        changes += self._custom(issue, project, form, errors)
        return changes

    def _custom(self, issue: JSON, project: Project, form: list[tuple[str, str]], errors: list[str]) -> list[JSON]:
        changes: list[JSON] = []
        for definition in project.custom_fields:
            name = f"customField_{definition['id']}"
            values = [v for k, v in form if k in (name, f"{name}[]")]
            other = single(form, f"{name}_otherValue")
            if not values and other is None:
                continue
            entry = next((e for e in issue["customFields"] if e["id"] == definition["id"]), None)
            if entry is None:
                entry = {"id": definition["id"], "fieldTypeId": definition["typeId"], "name": definition["name"]}
                entry["value"] = [] if definition["typeId"] in (6, 7) else None
                issue["customFields"].append(entry)
            old = _shown(entry.get("value"))
            items = {str(i["id"]): i for i in definition.get("items", [])}
            type_id = definition["typeId"]
            raw = values[0] if values else ""
            if type_id == 3 and raw and _number(raw) is None:
                errors.append(f"{definition['name']} must be a number.")
                continue
            if type_id == 4 and raw and not _DAY.fullmatch(raw):
                errors.append(f"{definition['name']} must be yyyy-MM-dd.")
                continue
            if type_id >= 5 and any(v and v not in items for v in values):
                errors.append(f"No such item of {definition['name']}.")
                continue
            if type_id in (1, 2):
                entry["value"] = raw or None
            elif type_id == 3:
                entry["value"] = _number(raw) if raw else None
            elif type_id == 4:
                entry["value"] = f"{raw}T00:00:00Z" if raw else None
            elif type_id in (5, 8):
                entry["value"] = dict(items[raw]) if raw else None
            else:
                entry["value"] = [dict(items[v]) for v in values if v]
            if type_id in (7, 8) and other is not None:
                entry["otherValue"] = other or None
            new = _shown(entry.get("value"))
            if new != old:
                attribute = {"id": definition["id"], "typeId": type_id}
                changes.append(change(definition["name"], old, new, attribute=attribute))
        return changes

    def _notified(self, project: Project, form: list[tuple[str, str]], errors: list[str]) -> list[JSON]:
        users = []
        for raw in multi(form, "notifiedUserId"):
            uid = int(raw) if raw.isascii() and raw.isdigit() else -1
            if uid not in project.member_ids:
                errors.append(f"No such project member to notify. (notifiedUserId[]={raw})")
            else:
                users.append(self.space.users[uid])
        return users

    # -- issues ------------------------------------------------------------------------------------

    def add_issue(self, req: Request) -> Answer:
        form = req.form
        required = ("projectId", "summary", "issueTypeId", "priorityId")
        errors = [f"{name} is required." for name in required if not (single(form, name) or "").strip()]
        if errors:
            raise rejected(errors)
        project = self._project(req, single(form, "projectId") or "")
        self.space.next_issue_id += 1
        key_id = project.next_key_id
        now = ts(self.space.clock())
        user = self.space.users[req.user_id]
        issue: JSON = {
            "id": self.space.next_issue_id, "projectId": project.data["id"],
            "issueKey": f"{project.data['projectKey']}-{key_id}", "keyId": key_id,
            "issueType": None, "summary": "", "description": "", "resolution": None, "priority": None,
            "status": dict(project.statuses[0]), "assignee": None, "category": [], "versions": [],
            "milestone": [], "startDate": None, "dueDate": None, "estimatedHours": None, "actualHours": None,
            "parentIssueId": None, "createdUser": user, "created": now, "updatedUser": user, "updated": now,
            "customFields": [], "attachments": [], "sharedFiles": [], "stars": [],
        }  # fmt: skip
        self._apply(issue, project, [(k, v) for k, v in form if k != "statusId"], errors)
        for definition in project.custom_fields:
            filled = next((e for e in issue["customFields"] if e["id"] == definition["id"]), None)
            if definition.get("required") and (filled is None or filled.get("value") in (None, "", [])):
                errors.append(f"{definition['name']} is required.")
        self._notified(project, form, errors)
        if errors:
            self.space.next_issue_id -= 1
            raise rejected(errors)
        project.next_key_id += 1
        self.space.issues[issue["id"]] = issue
        self.space.comments[issue["id"]] = []
        record(self.space, ISSUE_CREATED, project, issue_content(issue), user)
        return 201, issue, [(b"location", f"{self.base_url}/view/{issue['issueKey']}".encode())]

    def update_issue(self, req: Request, key: str) -> Answer:
        issue = self._issue(req, key)
        project = self.space.projects[issue["projectId"]]
        errors: list[str] = []
        trial = {**issue, "customFields": [dict(e) for e in issue["customFields"]]}
        changes = self._apply(trial, project, req.form, errors)
        notified = self._notified(project, req.form, errors)
        held = self.take_uploads(req, errors)
        if errors:
            raise rejected(errors)
        issue.update(trial)
        changes += self.attach(issue, held, req.user_id)
        self.append_comment(issue, req.user_id, single(req.form, "comment") or "", changes, notified)
        return 200, issue, []

    def add_comment(self, req: Request, key: str) -> Answer:
        issue = self._issue(req, key)
        content = single(req.form, "content")
        if not content:
            raise bad("content is required.")
        errors: list[str] = []
        notified = self._notified(self.space.projects[issue["projectId"]], req.form, errors)
        held = self.take_uploads(req, errors)
        if errors:
            raise rejected(errors)
        comment = self.append_comment(issue, req.user_id, content, self.attach(issue, held, req.user_id), notified)
        location = f"{self.base_url}/view/{issue['issueKey']}#comment-{comment['id']}"
        return 201, comment, [(b"location", location.encode())]

    def append_comment(
        self, issue: JSON, user_id: int, content: str, changes: list[JSON], notified: list[JSON] | None = None
    ) -> JSON:
        self.space.next_comment_id += 1
        now = ts(self.space.clock())
        comment = {
            "id": self.space.next_comment_id,
            "projectId": issue["projectId"],
            "issueId": issue["id"],
            "content": content,
            "changeLog": changes,
            "createdUser": self.space.users[user_id],
            "created": now,
            "updated": now,
            "stars": [],
            "notifications": [
                {"id": n, "alreadyRead": False, "reason": 2, "user": u, "resourceAlreadyRead": False}
                for n, u in enumerate(notified or [], start=1)
            ],
        }
        self.space.comments[issue["id"]].append(comment)
        issue["updated"] = now
        issue["updatedUser"] = self.space.users[user_id]
        kind, said = comment_activity(self.space, issue, comment)
        record(self.space, kind, self.space.projects[issue["projectId"]], said, self.space.users[user_id])
        return comment

    def _comment(self, req: Request, key: str, cid: str) -> JSON:
        issue = self._issue(req, key)
        found = next((c for c in self.space.comments[issue["id"]] if str(c["id"]) == cid), None)
        if found is None:
            raise missing("comment")
        return found

    def get_comment(self, req: Request, key: str, cid: str) -> Answer:
        return 200, self._comment(req, key, cid), []

    def update_comment(self, req: Request, key: str, cid: str) -> Answer:
        comment = self._comment(req, key, cid)
        content = single(req.form, "content")
        if not content:
            raise bad("content is required.")
        if comment["createdUser"]["id"] != req.user_id:
            raise HTTPFailure(403, "Only the author can edit the comment.", 5)
        comment["content"] = content
        comment["updated"] = ts(self.space.clock())
        return 200, comment, []

    # -- pull requests -----------------------------------------------------------------------------

    def add_pr_comment(self, req: Request, key: str, repo: str, number: str) -> Answer:
        pr = self._pull_request(req, key, repo, number)
        content = single(req.form, "content")
        if not content:
            raise bad("content is required.")
        thread = self.space.pr_comments[pr["id"]]
        newest = max((c["id"] for cs in self.space.pr_comments.values() for c in cs), default=990_000)
        now = ts(self.space.clock())
        comment: JSON = {
            "id": newest + 1, "content": content, "changeLog": [], "createdUser": self.space.users[req.user_id],
            "created": now, "updated": now, "stars": [], "notifications": [],
        }  # fmt: skip
        thread.append(comment)
        pr["updated"] = now
        return 201, comment, []


def _shown(value: Any) -> str | None:
    if value in (None, "", []):
        return None
    if isinstance(value, list):
        return ", ".join(str(v.get("name")) for v in value)
    if isinstance(value, dict):
        return str(value.get("name"))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)[:10] if str(value).endswith("T00:00:00Z") else str(value)
