"""The fake Backlog API v2 as a plain ASGI app, faithful to the parts the server uses.

Auth by `apiKey` or an OAuth access token (`fake/oauth.py`), the errors envelope, per-user rate-limit buckets with
`X-RateLimit-*` headers and 429s, `count`/`offset` paging, the issue filters, form-encoded
writes that append a comment with a changeLog. Fault injection lives with the tests
(`tests/faulty_backlog.py`), which subclass this app through `intercept`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote

from backlog_mcp.fake.activity import ActivityRoutes
from backlog_mcp.fake.attention import AttentionRoutes
from backlog_mcp.fake.dataset import Space
from backlog_mcp.fake.documents import DocumentRoutes
from backlog_mcp.fake.files import download
from backlog_mcp.fake.git import GitRoutes
from backlog_mcp.fake.milestones import MilestoneRoutes
from backlog_mcp.fake.oauth import AUTHORIZE_PATH, TOKEN_PATH, FakeOAuth
from backlog_mcp.fake.protocol import (
    JSON,
    Answer,
    Download,
    HTTPFailure,
    Request,
    bad,
    envelope,
    id_window,
    ids,
    missing,
    multi,
    multipart,
    paging,
    single,
)
from backlog_mcp.fake.pull_requests import PullRequestRoutes
from backlog_mcp.fake.roles import refusal
from backlog_mcp.fake.routes import route_table
from backlog_mcp.fake.sample import build_space
from backlog_mcp.fake.search import SearchRoutes
from backlog_mcp.fake.uploads import UploadRoutes
from backlog_mcp.fake.wikis import WikiRoutes
from backlog_mcp.fake.writes import WriteRoutes

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DEFAULT_LIMITS = {"read": 600, "update": 150, "search": 150, "icon": 60}


class FakeBacklog(
    WriteRoutes,
    AttentionRoutes,
    GitRoutes,
    DocumentRoutes,
    ActivityRoutes,
    SearchRoutes,
    WikiRoutes,
    MilestoneRoutes,
    PullRequestRoutes,
    UploadRoutes,
):
    """An ASGI app; `requests` records every authenticated request (never the key)."""

    def __init__(
        self,
        space: Space | None = None,
        *,
        limits: dict[str, int] | None = None,
        base_url: str = "https://acme.backlog.com",
    ) -> None:
        self.space = space or build_space()
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.base_url = base_url
        self.requests: list[Request] = []
        self.failed_logins = 0  # requests answered 401 (they are not in `requests`)
        self.oauth = FakeOAuth()  # Backlog's OAuth 2.0: apps, the scripted consent, tokens
        self._windows: dict[tuple[int, str], tuple[float, int]] = {}
        self._routes = route_table(self)

    # -- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        status, payload, headers = await self.handle(scope, await read_body(receive))
        raw, headers = encode(payload, headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    async def handle(self, scope: Scope, body: bytes) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """(status, JSON payload, headers) for one HTTP request."""
        method: str = scope["method"]
        path: str = scope["path"]
        query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
        files: list[tuple[str, str, bytes]] = []
        if content_type.startswith("multipart/form-data"):
            form, files = multipart(content_type, body)
        else:
            form = parse_qsl(body.decode(), keep_blank_values=True) if body else []
        if path == AUTHORIZE_PATH and method == "GET":
            return self.oauth.authorize(query)
        if path == TOKEN_PATH and method == "POST":
            return self.oauth.token(form)
        api_key = next((v for k, v in query if k == "apiKey"), None)
        header_auth = dict(scope.get("headers", [])).get(b"authorization", b"").decode()
        user_id = self.space.api_keys.get(api_key or "")
        if api_key is None and header_auth.startswith("Bearer "):
            # An OAuth access token (alive, not revoked); an API key there too, as the fake always took.
            user_id = self.oauth.user_of(header_auth[7:]) or self.space.api_keys.get(header_auth[7:])
        if not path.startswith("/api/v2/"):
            return 404, envelope("No such API.", 6), []
        path = path[len("/api/v2") :]
        if user_id is None:
            self.failed_logins += 1
            return 401, envelope("Authentication failure.", 11), []
        query = [(k, v) for k, v in query if k != "apiKey"]
        request = Request(method, path, query, form, user_id, files)
        self.requests.append(request)
        refused = refusal(int(self.space.users[user_id].get("roleType") or 2), user_id, method, path, query)
        if refused is not None:
            return refused.status, envelope(refused.message, refused.code), []

        limit_headers, limited = self._count(user_id, _bucket(method, path))
        if limited:
            return 429, envelope("Too Many Requests.", 13), limit_headers
        early = self.intercept(request, limit_headers)
        if early is not None:
            return early
        try:
            status, payload, extra = self._route(request)
        except HTTPFailure as exc:
            return exc.status, envelope(exc.message, exc.code, exc.messages), limit_headers
        return status, payload, limit_headers + extra

    def intercept(
        self, request: Request, limit_headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]] | None:
        """An answer in place of the real one (for fault injection); None: answer normally."""
        return None

    def _count(self, user_id: int, bucket: str) -> tuple[list[tuple[bytes, bytes]], bool]:
        now = time.time()
        start, used = self._windows.get((user_id, bucket), (now, 0))
        if now - start >= 60:
            start, used = now, 0
        limit = self.limits[bucket]
        used += 1
        self._windows[(user_id, bucket)] = (start, used)
        headers = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, limit - used)).encode()),
            (b"x-ratelimit-reset", str(int(start + 60)).encode()),
        ]
        return headers, used > limit

    # -- routing -------------------------------------------------------------------------------

    def _route(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(req.path)
            if match:
                allowed = True
                if method == req.method:
                    result: tuple[int, Any, list[tuple[bytes, bytes]]] = handler(req, *match.groups())
                    return result
        if allowed:
            raise HTTPFailure(405, "Method not allowed.", 7)
        raise HTTPFailure(404, "No such API.", 6)

    # -- helpers -------------------------------------------------------------------------------

    def _member_projects(self, user_id: int) -> list[int]:
        return [pid for pid, p in self.space.projects.items() if user_id in p.member_ids]

    def _project(self, req: Request, key: str) -> Any:
        project = self.space.project_by_key(key)
        if project is None or req.user_id not in project.member_ids:
            raise missing("project")
        return project

    def _issue(self, req: Request, key: str) -> JSON:
        issue = self.space.issue_by_key(key)
        if issue is None or req.user_id not in self.space.projects[issue["projectId"]].member_ids:
            raise missing("issue")
        return issue

    # -- handlers ------------------------------------------------------------------------------

    def get_space(self, req: Request) -> Answer:
        return 200, self.space.space, []

    def get_rate_limit(self, req: Request) -> Answer:
        out = {}
        for bucket, limit in self.limits.items():
            start, used = self._windows.get((req.user_id, bucket), (time.time(), 0))
            out[bucket] = {"limit": limit, "remaining": max(0, limit - used), "reset": int(start + 60)}
        return 200, {"rateLimit": out}, []

    def get_myself(self, req: Request) -> Answer:
        return 200, self.space.users[req.user_id], []

    def get_users(self, req: Request) -> Answer:
        return 200, list(self.space.users.values()), []

    def get_user(self, req: Request, uid: str) -> Answer:
        user = self.space.users.get(int(uid)) if uid.isascii() and uid.isdigit() else None
        if user is None:
            raise missing("user")
        return 200, user, []

    def get_projects(self, req: Request) -> Answer:
        archived = single(req.query, "archived")
        projects = [self.space.projects[pid].data for pid in self._member_projects(req.user_id)]
        if archived in ("true", "false"):
            projects = [p for p in projects if p["archived"] == (archived == "true")]
        return 200, projects, []

    def get_project(self, req: Request, key: str) -> Answer:
        return 200, self._project(req, key).data, []

    def get_project_list(self, req: Request, key: str, what: str) -> Answer:
        project = self._project(req, key)
        if what == "users":
            return 200, [self.space.users[uid] for uid in project.member_ids], []
        attribute = {"issueTypes": "issue_types", "customFields": "custom_fields"}.get(what, what)
        return 200, getattr(project, attribute), []

    def get_issue(self, req: Request, key: str) -> Answer:
        issue = self._issue(req, key)
        if "childIssueSummary" in multi(req.query, "expand"):
            children = [i for i in self.space.issues.values() if i["parentIssueId"] == issue["id"]]
            closed = sum(1 for i in children if i["status"]["id"] == 4)
            issue = {**issue, "childIssueSummary": {"total": len(children), "closed": closed}}
        return 200, issue, []

    def get_attachments(self, req: Request, key: str) -> Answer:
        return 200, self._issue(req, key)["attachments"], []

    def download_issue_file(self, req: Request, key: str, file_id: str) -> Answer:
        return download(self._issue(req, key)["attachments"], file_id)

    def download_pr_file(self, req: Request, key: str, repo: str, number: str, file_id: str) -> Answer:
        return download(self._pull_request(req, key, repo, number)["attachments"], file_id)

    def _watchings_of(self, req: Request, uid: str) -> list[JSON]:
        if not (uid.isascii() and uid.isdigit()) or int(uid) not in self.space.users:
            raise missing("user")
        watched = self.space.watchings.get(int(uid), [])
        flag = single(req.query, "resourceAlreadyRead")
        if flag in ("true", "false"):
            watched = [w for w in watched if w["resourceAlreadyRead"] == (flag == "true")]
        visible = set(self._member_projects(req.user_id))
        issue_ids = ids(req.query, "issueId")
        return [
            w
            for w in watched
            if w["issue"]["projectId"] in visible and (not issue_ids or w["issue"]["id"] in issue_ids)
        ]

    def get_watchings(self, req: Request, uid: str) -> Answer:
        """Sorted by `sort` (created, updated, issueUpdated: the default), `order` desc by default, paged."""
        watched = self._watchings_of(req, uid)
        sort = single(req.query, "sort") or "issueUpdated"
        keys = {"created": "created", "updated": "updated", "issueUpdated": "lastContentUpdated"}
        if sort not in keys:
            raise bad("sort must be created, updated or issueUpdated.")
        order = single(req.query, "order") or "desc"
        if order not in ("asc", "desc"):
            raise bad("order must be asc or desc.")
        # Backlog answers with each issue as it is now, not as it was when watching began.
        live = {i: {k: v for k, v in issue.items() if k != "customFields"} for i, issue in self.space.issues.items()}
        watched = [{**w, "issue": live.get(w["issue"]["id"], w["issue"])} for w in watched]
        watched = sorted(watched, key=lambda w: (w[keys[sort]], w["id"]), reverse=order == "desc")
        offset, count = paging(req.query)
        return 200, watched[offset : offset + count], []

    def count_watchings(self, req: Request, uid: str) -> Answer:
        return 200, {"count": len(self._watchings_of(req, uid))}, []

    def get_notifications(self, req: Request) -> Answer:
        """Newest first by default; `minId`/`maxId` bound by id (inclusive here), `senderId` filters."""
        inbox = self.space.notifications.get(req.user_id, [])
        min_id, max_id, sender = (single(req.query, name) for name in ("minId", "maxId", "senderId"))
        for name, value in (("minId", min_id), ("maxId", max_id), ("senderId", sender)):
            if value is not None and not (value.isascii() and value.isdigit()):
                raise bad(f"{name} must be numeric.")
        chosen = [
            n
            for n in inbox
            if (not min_id or n["id"] >= int(min_id))
            and (not max_id or n["id"] <= int(max_id))
            and (not sender or n["sender"]["id"] == int(sender))
        ]
        order = single(req.query, "order") or "desc"
        if order not in ("asc", "desc"):
            raise bad("order must be asc or desc.")
        chosen.sort(key=lambda n: n["id"], reverse=order == "desc")
        _, count = paging(req.query, with_offset=False)
        return 200, chosen[:count], []

    def count_notifications(self, req: Request) -> Answer:
        inbox = self.space.notifications.get(req.user_id, [])
        for name, key in (("alreadyRead", "alreadyRead"), ("resourceAlreadyRead", "resourceAlreadyRead")):
            flag = single(req.query, name)
            if flag in ("true", "false"):
                inbox = [n for n in inbox if n[key] == (flag == "true")]
        return 200, {"count": len(inbox)}, []

    def get_comments(self, req: Request, key: str) -> Answer:
        return 200, id_window(req.query, self.space.comments[self._issue(req, key)["id"]]), []

    def count_comments(self, req: Request, key: str) -> Answer:
        return 200, {"count": len(self.space.comments[self._issue(req, key)["id"]])}, []


JSON_TYPE = (b"content-type", b"application/json;charset=utf-8")


def encode(payload: Any, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and all headers of an answer: JSON, or a file's bytes with its type and name."""
    if isinstance(payload, Download):
        # The name in RFC 5987 form, as Backlog sends it.
        disposition = f"attachment; filename*=UTF-8''{quote(payload.name, safe='')}".encode()
        kind = (b"content-type", payload.content_type.encode())
        return payload.body, [kind, (b"content-disposition", disposition), *headers]
    raw = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    return raw, [JSON_TYPE, *headers]


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = (await receive())["type"]
        if event == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def _bucket(method: str, path: str) -> str:
    if method != "GET":
        return "update"
    if path in ("/issues", "/issues/count", "/wikis", "/wikis/count"):
        return "search"
    return "read"
