"""Every read tool from a cold start: requests, round trips deep, latency at 150 ms a request, tokens.

In-process against the fake through a transport that waits 150 ms before each answer (a request
from outside Japan) and records when each request started and ended. The critical path is the
longest chain of requests each of which started after the one before it ended: how many round
trips a user waits through. Tokens compare the answer with the raw Backlog JSON the call read.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog, build_space
from backlog_mcp.server import build_server

LATENCY = 0.150  # seconds before each answer
DEPTH_GOAL = 2  # round trips on the critical path, cold (issue 16)

SPACE = "/space: the space's time zone (the default for times) and its date-only fields"
PROJECTS = "/projects: the key or name resolved, checked against the allow-list, its text rule"


@dataclass(frozen=True)
class Cold:
    """One typical call of a read tool, the Backlog requests it may make cold, and why each is made."""

    name: str
    args: dict[str, Any]
    goal: int
    why: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args.items())})"


# One typical call per read tool (and the heavier forms of the list tools); `tests/test_cold_requests.py`
# pins each at its goal and fails when a read tool is missing here.
CALLS: tuple[Cold, ...] = (
    Cold("get_myself", {}, 2, ("/users/myself", "/space: the space's name and zone")),
    Cold("get_users_by_project", {"project_key": "ORBIT"}, 2, (PROJECTS, "/projects/ORBIT/users")),
    Cold(
        "get_activity",
        {"project_key": "ORBIT"},
        4,
        ("the activity page (sent at once)", PROJECTS, SPACE, "statuses: status changes arrive as ids"),
    ),
    Cold("get_projects", {}, 1, ("/projects",)),
    Cold(
        "get_project",
        {"project_key": "ORBIT"},
        8,
        (PROJECTS, "statuses, issue types, categories, milestones, custom fields, members: the set-up", SPACE),
    ),
    Cold(
        "get_issue_details",
        {"issue_key": "ORBIT-1"},
        6,
        ("the issue", SPACE, PROJECTS, "the newest comments", "the comment count", "its children (/issues)"),
    ),
    Cold(
        "get_issue_comments",
        {"issue_key": "ORBIT-4"},
        5,
        ("the issue (its project)", "a page of comments", "the comment count", SPACE, PROJECTS),
    ),
    Cold(
        "get_my_issues",
        {},
        7,
        (
            PROJECTS,
            SPACE,
            "/users/myself: who 'me' is",
            "statuses of each project: 'open' names them",
            "/issues",
            "/issues/count",
        ),
    ),
    Cold(
        "get_user_issue_list",
        {},
        7,
        (
            PROJECTS,
            SPACE,
            "/users/myself: the default assignee",
            "statuses of each project",
            "/issues",
            "/issues/count",
        ),
    ),
    Cold(
        "get_user_issue_list",
        {"projects": ["ORBIT"], "statuses": ["Open"], "assignees": ["佐藤 太郎"]},
        6,
        (PROJECTS, "statuses: names to ids", "members: names to ids", SPACE, "/issues", "/issues/count"),
    ),
    Cold(
        "get_attachment",
        {"issue_key": "ORBIT-1", "attachment": "screenshot.png"},
        3,
        ("the issue: its attachments by name", SPACE, "the file"),
    ),
    Cold("get_wiki_pages", {"project_key": "ORBIT"}, 3, (PROJECTS, SPACE, "/wikis")),
    Cold("get_wiki_page", {"page_id": 3300002}, 3, ("the page", PROJECTS, SPACE)),
    Cold("get_documents", {"project_key": "ORBIT"}, 2, (PROJECTS, "/documents/tree")),
    Cold(
        "get_document",
        {"document_id": "3ea04565cdadba2237b3285908419ea2"},
        3,
        ("the document", SPACE, PROJECTS),
    ),
    Cold(
        "get_pull_requests",
        {"project_key": "ORBIT"},
        5,
        (PROJECTS, "the repositories", SPACE, "the open count of each repository (2 here)"),
    ),
    Cold(
        "get_pull_requests",
        {"project_key": "ORBIT", "repository": "orbit-ios"},
        5,
        (PROJECTS, "the repositories: the name to an id", SPACE, "the pull requests", "their count"),
    ),
    Cold(
        "get_pull_request",
        {"project_key": "ORBIT", "repository": "orbit-ios", "number": 1},
        6,
        (PROJECTS, "the repositories", SPACE, "the pull request", "its newest comments", "the comment count"),
    ),
    Cold("get_notifications", {}, 3, ("/notifications", "the unread count", SPACE)),
)


class Timed(httpx.AsyncBaseTransport):
    """The fake behind a fixed delay; records (start, end, path, body) of every request."""

    def __init__(self, app: FakeBacklog) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.log: list[tuple[float, float, str, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        await asyncio.sleep(LATENCY)
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.log.append((start, time.perf_counter(), request.url.path.removeprefix("/api/v2"), body))
        return httpx.Response(response.status_code, headers=response.headers, content=body)


def depth(log: list[tuple[float, float, str, bytes]]) -> int:
    """The longest chain of requests, each started after the one before it ended."""
    ordered = sorted(log)
    chain: list[int] = []
    for i, (start, _end, _path, _body) in enumerate(ordered):
        chain.append(1 + max((chain[j] for j in range(i) if ordered[j][1] <= start + 1e-4), default=0))
    return max(chain, default=0)


async def cold_call(name: str, args: dict[str, Any], count_tokens: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        timed = Timed(FakeBacklog(build_space()))
        settings = Settings(api_key=DEFAULT_API_KEY, base_url="https://acme.backlog.com", cache_path=Path(tmp) / "c")
        async with Client(build_server(settings, transport=timed, now=lambda: REFERENCE_NOW)) as client:
            began = time.perf_counter()
            result = await client.call_tool(name, args)
            elapsed = (time.perf_counter() - began) * 1000
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    raw = sum(count_tokens(body.decode("utf-8", "replace")) for *_rest, body in timed.log if body[:1] in b"[{")
    answer = count_tokens(text)
    return {
        "error": bool(result.is_error),
        "requests": len(timed.log),
        "depth": depth(timed.log),
        "cold_ms": round(elapsed),
        "paths": [path for _s, _e, path, _b in sorted(timed.log)],
        "answer_tokens": answer,
        "raw_json_tokens": raw,
        "ratio": round(answer / raw, 3) if raw else None,
    }


async def cold_calls(count_tokens: Any) -> dict[str, dict[str, Any]]:
    """Each read tool cold, by label."""
    out: dict[str, dict[str, Any]] = {}
    for cold in CALLS:
        out[cold.label] = {**await cold_call(cold.name, cold.args, count_tokens), "goal": cold.goal, "why": cold.why}
    return out


def table(figures: dict[str, dict[str, Any]]) -> list[str]:
    """The results.md section."""
    lines = [
        "## Every read tool, cold: requests, round trips, latency at 150 ms a request, tokens",
        "",
        f"A fresh cache and process state; {LATENCY * 1000:.0f} ms before each answer. Depth: requests on the",
        f"critical path (goal: at most {DEPTH_GOAL}). Tokens (o200k): the answer against the raw JSON it read.",
        "",
        "| Call | Requests | Goal | Depth | Cold ms | Answer tokens | Raw JSON tokens | Ratio | Goals met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, v in figures.items():
        ratio = f"{v['ratio']:.1%}" if v["ratio"] is not None else "-"
        met = "yes" if v["depth"] <= DEPTH_GOAL and v["requests"] <= v["goal"] else "no"
        lines.append(
            f"| `{label}` | {v['requests']} | {v['goal']} | {v['depth']} | {v['cold_ms']} | {v['answer_tokens']} | "
            f"{v['raw_json_tokens']} | {ratio} | {met} |"
        )
    lines += ["", "Requests per call, in the order they started, and why each is made:", ""]
    for label, v in figures.items():
        lines += [f"- `{label}`: {', '.join(v['paths'])}", *(f"  - {why}" for why in v["why"])]
    return lines
