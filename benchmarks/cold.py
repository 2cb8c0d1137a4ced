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

SPACE = ("/space", "the space's time zone, the default for times and date-only fields (cached per TTL)")
PROJECTS = ("/projects", "the key or name resolved, the allow-list, the text rule (cached per TTL)")
ME = ("/users/myself", "who 'me' is (cached per TTL)")
PREFETCHED = ("/projects", "/space", "/users/myself")  # what a server started from the command line asks at once


@dataclass(frozen=True)
class Cold:
    """One typical call of a read tool and each Backlog request it makes cold, with why."""

    name: str
    args: dict[str, Any]
    requests: tuple[tuple[str, str], ...]  # (path, why), one per request
    share: float = 0.20  # goal: the answer's tokens at most this share of the raw JSON read
    depth_goal: int = DEPTH_GOAL
    deeper: str = ""  # why this call's goal is deeper than DEPTH_GOAL

    @property
    def label(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args.items())})"

    @property
    def goal(self) -> int:
        return len(self.requests)


REPOS = "/projects/ORBIT/git/repositories"
# One typical call per read tool (and the heavier forms); `tests/test_cold_requests.py` pins each to exactly
# these requests and fails when a read tool is missing here.
CALLS: tuple[Cold, ...] = (
    # A handful of facts from two small objects: little JSON to save on.
    Cold("get_myself", {}, (("/users/myself", "the user"), ("/space", "the space's name and zone")), share=0.40),
    Cold("get_users_by_project", {"project_key": "ORBIT"}, (PROJECTS, ("/projects/ORBIT/users", "the members"))),
    Cold(
        "get_activity",
        {"project_key": "ORBIT"},
        (
            ("/projects/ORBIT/activities", "the page, sent at once by key"),
            PROJECTS,
            SPACE,
            ("/projects/ORBIT/statuses", "status changes arrive as ids (sent at once)"),
        ),
    ),
    Cold(
        "get_activity",
        {"project_key": "ORBIT", "kinds": ["git"]},
        (("/projects/ORBIT/activities", "the page"), PROJECTS, SPACE),
    ),
    Cold("get_projects", {}, (("/projects", "the projects"),)),
    Cold(
        "get_project",
        {"project_key": "ORBIT"},
        (
            PROJECTS,
            *(
                (f"/projects/ORBIT/{what}", "the set-up, by name")
                for what in ("statuses", "issueTypes", "categories", "versions", "customFields", "users")
            ),
            SPACE,
        ),
    ),
    Cold(
        "get_issue_details",
        {"issue_key": "ORBIT-1"},
        (
            ("/issues/ORBIT-1", "the issue"),
            SPACE,
            PROJECTS,
            ("/issues/ORBIT-1/comments", "the newest comments"),
            ("/issues/ORBIT-1/comments/count", "how many earlier ones"),
            ("/issues", "its children"),
        ),
        share=0.25,  # mostly text people wrote, kept whole
    ),
    Cold(
        "get_issue_comments",
        {"issue_key": "ORBIT-4"},
        (
            ("/issues/ORBIT-4", "the issue: its project and text rule"),
            ("/issues/ORBIT-4/comments", "a page of comments"),
            ("/issues/ORBIT-4/comments/count", "how many in all"),
            SPACE,
            PROJECTS,
        ),
    ),
    *(
        Cold(
            name,
            {},
            (
                PROJECTS,
                SPACE,
                ME,
                ("/issues", "the newest 40, Closed (status 4 in every project) dropped here: no status lookup"),
                ("/issues/count", "how many in all"),
                ("/issues/count", "how many of them are Closed"),
            ),
        )
        for name in ("get_my_issues", "get_user_issue_list")
    ),
    Cold(
        "get_user_issue_list",
        {"projects": ["ORBIT"], "statuses": ["Open"], "assignees": ["佐藤 太郎"]},
        (
            PROJECTS,
            ("/projects/ORBIT/statuses", "status names to ids"),
            ("/projects/ORBIT/users", "people's names to ids"),
            SPACE,
            ("/issues", "the issues"),
            ("/issues/count", "how many in all"),
        ),
    ),
    Cold(
        "get_attachment",
        {"issue_key": "ORBIT-1", "attachment": "screenshot.png"},
        (
            ("/issues/ORBIT-1", "its attachments, by name"),
            SPACE,
            ("/issues/ORBIT-1/attachments/66121", "the file"),
        ),
    ),
    Cold("get_wiki_pages", {"project_key": "ORBIT"}, (PROJECTS, SPACE, ("/wikis", "the pages"))),
    Cold("get_wiki_page", {"page_id": 3300002}, (("/wikis/3300002", "the page"), PROJECTS, SPACE)),
    # The tree's JSON is mostly the titles it shows.
    Cold("get_documents", {"project_key": "ORBIT"}, (PROJECTS, ("/documents/tree", "the tree")), share=0.30),
    Cold(
        "get_document",
        {"document_id": "3ea04565cdadba2237b3285908419ea2"},
        (("/documents/3ea04565cdadba2237b3285908419ea2", "the document"), SPACE, PROJECTS),
    ),
    Cold(
        "get_pull_requests",
        {"project_key": "ORBIT"},
        (
            PROJECTS,
            (REPOS, "the repositories (cached per TTL)"),
            SPACE,
            (f"{REPOS}/41/pullRequests/count", "open pull requests of each repository"),
            (f"{REPOS}/42/pullRequests/count", "the same for the second"),
        ),
    ),
    Cold(
        "get_pull_requests",
        {"project_key": "ORBIT", "repository": "orbit-ios"},
        (
            PROJECTS,
            (REPOS, "the repository's name to its id (cached per TTL)"),
            SPACE,
            (f"{REPOS}/42/pullRequests", "the pull requests"),
            (f"{REPOS}/42/pullRequests/count", "how many in all"),
        ),
    ),
    Cold(
        "get_pull_request",
        {"project_key": "ORBIT", "repository": "orbit-ios", "number": 1},
        (
            PROJECTS,
            (REPOS, "the repository's name to its id (cached per TTL)"),
            SPACE,
            (f"{REPOS}/42/pullRequests/1", "the pull request"),
            (f"{REPOS}/42/pullRequests/1/comments", "its newest comments"),
            (f"{REPOS}/42/pullRequests/1/comments/count", "how many in all"),
        ),
    ),
    Cold(
        "get_notifications",
        {},
        (("/notifications", "the notifications"), ("/notifications/count", "how many unread"), SPACE),
    ),
    Cold(
        "search_backlog",
        {"query": "tile cache"},
        (
            PROJECTS,
            SPACE,
            ("/issues", "issue hits, every project at once"),
            ("/issues/count", "how many"),
            ("/issues/ORBIT-4/comments", "the comment an issue matched by (for its snippet)"),
            ("/wikis", "ORBIT's wiki hits (one request a project)"),
            ("/wikis", "NOVA's"),
            ("/wikis/3300005", "a page matched by its text (for the snippet)"),
            ("/wikis/3300012", "another"),
            ("/documents", "document hits, every project at once"),
            (REPOS, "ORBIT's repositories (cached per TTL)"),
            ("/projects/NOVA/git/repositories", "NOVA's"),
            (f"{REPOS}/41/pullRequests", "each repository's newest pull requests, matched here"),
            (f"{REPOS}/42/pullRequests", "the second"),
            ("/projects/NOVA/git/repositories/43/pullRequests", "NOVA's"),
        ),
        depth_goal=3,
        deeper="Backlog lists pull requests by repository and repositories by project, and a wiki list omits the "
        "page's text: the project list, then repositories and wiki hits, then pull requests and the text a "
        "snippet is cut from (2 deep once the project list is known: after start, or cached by an earlier call)",
    ),
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


async def _prefetched(timed: Timed) -> None:
    """Wait (2 s at most) until the start's prefetch has landed."""
    for _ in range(100):
        if len(timed.log) >= len(PREFETCHED):
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"the start's prefetch did not land: {timed.log}")


async def cold_call(
    name: str, args: dict[str, Any], count_tokens: Any, warm: tuple[str, ...] = (), *, started: bool = False
) -> dict[str, Any]:
    """One call from a fresh process and cache; `warm`: tools called first (their requests not counted).

    `started`: the server asks at start what every first call needs (as the command line's do), and the
    call comes once that has landed: a client starts its servers when it opens, the first question later.
    """
    with tempfile.TemporaryDirectory() as tmp:
        timed = Timed(FakeBacklog(build_space()))
        settings = Settings(api_key=DEFAULT_API_KEY, base_url="https://acme.backlog.com", cache_path=Path(tmp) / "c")
        server = build_server(settings, transport=timed, now=lambda: REFERENCE_NOW, prefetch=started)
        async with Client(server) as client:
            if started:
                await _prefetched(timed)
            for tool in warm:
                await client.call_tool(tool, {})
            timed.log.clear()
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
        why = [f"{path}: {reason}" for path, reason in cold.requests]
        figures = await cold_call(cold.name, cold.args, count_tokens)
        started = await cold_call(cold.name, cold.args, count_tokens, started=True)
        out[cold.label] = {
            **figures,
            "started": {k: started[k] for k in ("requests", "depth", "cold_ms", "paths")},
            "goal": cold.goal,
            "why": why,
            "share_goal": cold.share,
            "depth_goal": cold.depth_goal,
            "deeper": cold.deeper,
        }
    return out


SEARCH = ("search_backlog", {"query": "tile cache"})


async def search_after_projects(count_tokens: Any) -> dict[str, Any]:
    """search_backlog once the project list and the space are cached (get_projects and get_myself ran)."""
    return await cold_call(*SEARCH, count_tokens, warm=("get_projects", "get_myself"))


def search_lines(figures: dict[str, Any]) -> list[str]:
    """The results.md paragraph for search_backlog."""
    return [
        "## search_backlog after the project list is cached",
        "",
        "`search_backlog(query='tile cache')` (hits in a comment, wiki pages, documents and pull requests of",
        f"ORBIT and NOVA), {LATENCY * 1000:.0f} ms a request, the project list and the space already cached:",
        f"{figures['requests']} requests, {figures['depth']} round trips deep, {figures['cold_ms']} ms, "
        f"{figures['answer_tokens']} answer tokens (raw JSON read: {figures['raw_json_tokens']}). Goal: 1 round trip",
        "deep. The second round trip reads what a list does not hold: the repositories (metadata, cached per",
        "TTL) before their pull requests, and the comment or page text a snippet is cut from.",
        "",
        "Requests, in the order they started: " + ", ".join(figures["paths"]),
    ]


def met(v: dict[str, Any]) -> bool:
    """Requests, depth (at once, and after start) and tokens each within the call's goal."""
    share = v["ratio"] is None or v["ratio"] <= v["share_goal"]
    deep = v["depth"] <= v["depth_goal"] and v["started"]["depth"] <= DEPTH_GOAL
    return deep and v["requests"] <= v["goal"] and share


def table(figures: dict[str, dict[str, Any]]) -> list[str]:
    """The results.md section."""
    lines = [
        "## Every read tool, cold: requests, round trips, latency at 150 ms a request, tokens",
        "",
        f"A fresh cache and process state; {LATENCY * 1000:.0f} ms before each answer. Depth: requests on the",
        f"critical path (goal: at most {DEPTH_GOAL} unless said below). Tokens (o200k): the answer against the raw",
        "JSON it read, with the goal for each tool. At once: the call comes as the server starts, nothing asked",
        f"yet. After start: a server started from the command line asks at once for {', '.join(PREFETCHED)}",
        "(once per metadata TTL, in one round trip), and the call comes once that has landed, as a user's first",
        "question comes after their client started its servers; its requests and depth are the call's own",
        f"(goal: at most {DEPTH_GOAL} for every read tool).",
        "",
        "| Call | Requests (goal) | Depth at once (goal) | Cold ms | After start: requests, depth, ms "
        "| Answer tokens | Raw JSON tokens | Ratio (goal) | Met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, v in figures.items():
        ratio = f"{v['ratio']:.1%}" if v["ratio"] is not None else "-"
        after = v["started"]
        lines.append(
            f"| `{label}` | {v['requests']} ({v['goal']}) | {v['depth']} ({v['depth_goal']}) | {v['cold_ms']} | "
            f"{after['requests']}, {after['depth']}, {after['cold_ms']} | "
            f"{v['answer_tokens']} | {v['raw_json_tokens']} | {ratio} ({v['share_goal']:.0%}) | "
            f"{'yes' if met(v) else 'no'} |"
        )
    deeper = [f"- `{name}` may be {v['depth_goal']} deep: {v['deeper']}" for name, v in figures.items() if v["deeper"]]
    lines += ["", *deeper]
    lines += ["", "Requests per call, in the order they started, and why each is made:", ""]
    for label, v in figures.items():
        lines += [f"- `{label}`: {', '.join(v['paths'])}", *(f"  - {why}" for why in v["why"])]
    return lines
