"""Issue 16's three token tasks, side by side with what Nulab's server answers for the same data.

The sample space gains three issues, appended after everything else so no other data moves:
a Markdown issue with 6 comments (NOVA), a Backlog-notation issue with 5 comments (ORBIT), and a
150-comment thread (ORBIT) read whole. Nulab's server answers `get_issue` and `get_issue_comments`
with Backlog's JSON as `JSON.stringify(data, null, 2)` (its `wrapWithTokenLimit`; field picking is
off by default), at most 100 comments a call, so reading a thread whole takes
`ceil(comments / 100)` comment calls after the issue. Ours is `get_issue_details` and then each
`get_issue_comments` call the answers point to, until every comment has been shown.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, FakeBacklog, build_space
from backlog_mcp.fake.dataset import ORBIT_TEXTS, Space, _Builder, _thread, change
from backlog_mcp.server import build_server

MARKDOWN_DESCRIPTION = """\
## Summary
Password reset emails arrive **after** the link has expired for users on the EU cluster.

## Steps
1. Request a reset from `/account/forgot`
2. Wait for the email (it takes 20–40 minutes)
3. Open the link: *"This link has expired"*

## Expected
The email arrives within a minute; the link stays valid for 30 minutes.

See the [delivery dashboard](https://grafana.example.com/d/mail) and NOVA-12.
"""

MARKDOWN_COMMENTS: list[tuple[int, str, list[dict[str, Any]]]] = [
    (1, "Reproduced on staging-eu: the job waits in `mail-low` behind the newsletter batch.", []),
    (2, "", [change("status", "Open", "In Progress")]),
    (
        3,
        "The queue is shared with marketing sends. Options:\n\n- give resets their own queue\n"
        "- raise the link lifetime to 2 h\n\nI prefer the first.",
        [],
    ),
    (0, "Agreed, own queue. 修正版をステージングに出しました。", [change("assigner", "Hana Sato", "Tanaka Yuki")]),
    (4, "```\nmail-high: 0.8 s p95\nmail-low: 31 min p95\n```\nAfter the change resets go through mail-high.", []),
    (
        2,
        "Deployed to production; closing once support confirms.",
        [change("status", "In Progress", "Resolved"), change("resolution", None, "Fixed")],
    ),
]

NOTATION_DESCRIPTION = """\
* 概要
ログイン後にプッシュ通知が ''2回'' 届く。
** 再現手順
+ アプリにログイン
+ 別の端末で同じアカウントにログイン
+ 任意の課題にコメントする
** ログ
{code}
PushService: token registered twice (device=pixel8)
{/code}
関連: [[通知の設計]] / ORBIT-12
"""

NOTATION_COMMENTS: list[tuple[int, str, list[dict[str, Any]]]] = [
    (1, "再現しました。''registerToken'' がログイン時と起動時の両方で呼ばれています。", []),
    (2, "", [change("status", "Open", "In Progress"), change("assigner", None, "Tanaka Yuki")]),
    (3, "{quote}\n起動時の登録は不要では？\n{/quote}\n起動時のみにします。", []),
    (0, "修正をマージしました。\n- registerToken を起動時のみに\n- 既存の重複トークンを削除", []),
    (1, "QA OK です。", [change("status", "In Progress", "Resolved")]),
]


@dataclass(frozen=True)
class Task:
    """One of issue 16's tasks: the issue, Nulab's tokens for it (the issue's figure) and our goal."""

    label: str
    issue_key: str
    comments: int
    issue_figure: tuple[int, int]  # (Nulab's tokens, ours) measured when the issue was filed
    goal: float  # our tokens at most this share of Nulab's


def _add_issue(b: _Builder, project_key: str, summary: str, description: str, days: int = 6) -> dict[str, Any]:
    """A bug as teams file them: type, priority, assignee, due day, category, milestone, a few custom
    fields, a screenshot, estimated hours and a star (the issue's tasks had as many fields)."""
    project = b.space.project_by_key(project_key)
    assert project is not None
    ids = project.member_ids
    created = REFERENCE_NOW - timedelta(days=days, hours=4)
    return b.add_issue(
        project,
        summary=summary,
        description=description,
        type_index=0,
        status_id=3,
        priority_id=2,
        assignee=ids[3],
        creator=ids[1],
        created=created,
        updated=created,
        due=REFERENCE_NOW + timedelta(days=3),
        categories=[project.categories[1]["id"]],
        milestones=[project.versions[2]["id"]],
        custom={1: 4, 3: "Major", 6: ("Always", None)},
        attachments=[("screenshot.png", 48_213)],
        estimated=3,
        stars=1,
    )


def _comment_on(b: _Builder, issue: dict[str, Any], said: list[tuple[int, str, list[dict[str, Any]]]]) -> None:
    project = b.space.projects[issue["projectId"]]
    when = datetime.fromisoformat(issue["created"].replace("Z", "+00:00"))
    for n, (who, text, changes) in enumerate(said):
        when += timedelta(hours=7 + n * 5)
        last = b.add_comment(issue, project.member_ids[who], when, text, changes)
    issue["updated"], issue["updatedUser"] = last["created"], last["createdUser"]


def task_space() -> tuple[Space, tuple[Task, ...]]:
    """The sample space with the three task issues added, and the tasks."""
    space = build_space()
    b = _Builder(space, random.Random(16))
    markdown = _add_issue(b, "NOVA", "Password reset email arrives after the link expired", MARKDOWN_DESCRIPTION)
    _comment_on(b, markdown, MARKDOWN_COMMENTS)
    notation = _add_issue(b, "ORBIT", "ログイン後にプッシュ通知が重複する", NOTATION_DESCRIPTION)
    _comment_on(b, notation, NOTATION_COMMENTS)
    orbit = space.project_by_key("ORBIT")
    assert orbit is not None
    thread = _add_issue(b, "ORBIT", "リリース調整: 2.5.0", "* 目的\n2.5.0 のリリース手順を調整する。", days=75)
    _thread(b, orbit, thread, ORBIT_TEXTS, 150)
    return space, (
        Task("a Markdown issue with 6 comments", markdown["issueKey"], 6, (4254, 738), 0.15),
        Task("a Backlog-notation issue with 5 comments", notation["issueKey"], 5, (3182, 767), 0.20),
        Task("a 150-comment thread, read whole", thread["issueKey"], 150, (42875, 7446), 0.15),
    )


def nulab_answers(space: Space, issue_key: str) -> list[str]:
    """What Nulab's server returns: `get_issue`, then `get_issue_comments` 100 at a time, newest first."""
    issue = space.issue_by_key(issue_key)
    assert issue is not None
    comments = list(reversed(space.comments[issue["id"]]))
    pages = [comments[i : i + 100] for i in range(0, len(comments), 100)] or [[]]
    return [json.dumps(issue, indent=2, ensure_ascii=False)] + [
        json.dumps(page, indent=2, ensure_ascii=False) for page in pages
    ]


EARLIER = re.compile(r"get_issue_comments\(issue_key=\"[^\"]+\", before_id=(\d+)")


async def our_answers(fake: FakeBacklog, issue_key: str) -> list[str]:
    """`get_issue_details`, then each earlier page the answers point to (100 a call) until none is left."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(api_key=DEFAULT_API_KEY, base_url=fake.base_url, cache_path=Path(tmp) / "c")
        server = build_server(settings, transport=httpx.ASGITransport(app=fake), now=lambda: REFERENCE_NOW)
        async with Client(server) as client:
            answers = [text_of(await client.call_tool("get_issue_details", {"issue_key": issue_key}))]
            while pointer := EARLIER.search(answers[-1]):
                more = {"issue_key": issue_key, "before_id": int(pointer.group(1)), "count": 100}
                answers.append(text_of(await client.call_tool("get_issue_comments", more)))
    return answers


def text_of(result: Any) -> str:
    if result.is_error:
        raise RuntimeError("\n".join(getattr(block, "text", "") for block in result.content))
    return "\n".join(getattr(block, "text", "") for block in result.content)


KINDS = (
    ("pointer", re.compile(r"^_.*\(.*\)\._$")),
    ("comment header", re.compile(r"^(?:\d{4}-)?(?:\d\d-\d\d )?\d\d:\d\d \S")),
    ("quoted text", re.compile(r"^>")),
    ("heading", re.compile(r"^#")),
    # A fact line starts with our label (or a bullet, in other answers); the status line joins with " · ".
    (
        "fields",
        re.compile(
            r"^(- |\S.* · |(Created|Start|Due|Estimated|Actual|Category|Milestone|Version|Resolution"
            r"|Parent|Children|Custom fields|Attachments|Shared files|Stars)\b)"
        ),
    ),
    ("blank", re.compile(r"^$")),
)


def where_tokens_go(texts: list[str], count_tokens: Callable[[str], int]) -> dict[str, int]:
    """Tokens by line kind, and what the quote marks and the change rows cost within them."""
    spent: dict[str, int] = {}
    for text in texts:
        for line in text.split("\n"):
            kind = next((name for name, pattern in KINDS if pattern.match(line)), "other")
            spent[kind] = spent.get(kind, 0) + count_tokens(line + "\n")
            if kind == "quoted text":
                spent["(quote marks)"] = (
                    spent.get("(quote marks)", 0)
                    + count_tokens(line + "\n")
                    - count_tokens(line[1:].lstrip(" ") + "\n")
                )
            if kind == "comment header" and " · " in line:
                changes = line.split(" · ", 1)[1]
                spent["(change rows)"] = spent.get("(change rows)", 0) + count_tokens(" · " + changes)
    return spent


async def measure(count_tokens: Callable[[str], int]) -> list[dict[str, Any]]:
    """Each task: our calls and tokens against Nulab's, the share and the goal."""
    space, tasks = task_space()
    fake = FakeBacklog(space)
    out = []
    for task in tasks:
        ours = await our_answers(fake, task.issue_key)
        theirs = nulab_answers(space, task.issue_key)
        mine, nulab = sum(map(count_tokens, ours)), sum(map(count_tokens, theirs))
        out.append(
            {
                "task": task.label,
                "issue_key": task.issue_key,
                "our_calls": len(ours),
                "our_tokens": mine,
                "nulab_calls": len(theirs),
                "nulab_tokens": nulab,
                "share": round(mine / nulab, 3),
                "goal": task.goal,
                "met": mine <= task.goal * nulab,
                "where": where_tokens_go(ours, count_tokens),
                "issue_figures": {"nulab": task.issue_figure[0], "ours": task.issue_figure[1]},
            }
        )
    return out


def lines(figures: list[dict[str, Any]]) -> list[str]:
    """The results.md section."""
    out = [
        "## Issue 16's tasks against Nulab's server",
        "",
        "The same issues in the fake; Nulab's answers are Backlog's JSON as its server prints it",
        "(`JSON.stringify(data, null, 2)`, 100 comments a call); ours follow each pointer to earlier",
        "comments (100 a call) until every comment has been shown. Tokens: o200k.",
        "",
        "| Task | Issue | Our calls | Our tokens | Nulab's calls | Nulab's tokens | Share | Goal | Met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    out.extend(
        f"| {f['task']} | {f['issue_key']} | {f['our_calls']} | {f['our_tokens']} | {f['nulab_calls']} | "
        f"{f['nulab_tokens']} | {f['share']:.1%} | {f['goal']:.0%} | {'yes' if f['met'] else 'no'} |"
        for f in figures
    )
    out += ["", "Where our tokens go, by line kind (quote marks and change rows are within their lines):", ""]
    kinds = list(dict.fromkeys(kind for f in figures for kind in f["where"]))
    out += ["| Task | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    out.extend(f"| {f['task']} | " + " | ".join(str(f["where"].get(k, 0)) for k in kinds) + " |" for f in figures)
    return out


if __name__ == "__main__":
    import bpe_openai

    encoding = bpe_openai.get_encoding("o200k_base")
    for row in asyncio.run(measure(lambda text: len(encoding.encode(text)))):
        print(json.dumps(row, ensure_ascii=False))
