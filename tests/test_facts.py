"""Every fact of a realistic issue with 30 comments survives, in far fewer tokens than the raw JSON."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import bpe_openai
import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.fake import REFERENCE_NOW, FakeBacklog
from benchmarks.token_tasks import our_answers, task_space
from tests.conftest import text_of

pytestmark = pytest.mark.anyio

NOTATION_WORDS = {
    "code", "quote", "br", "color", "java", "python", "sql", "red", "image", "thumbnail", "attach", "details", "summary",
}  # fmt: skip
ENCODING = bpe_openai.get_encoding("o200k_base")
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def words(text: str) -> list[str]:
    """Words of raw Backlog text with notation and Markdown syntax stripped."""
    text = re.sub(r"https?://\S+?(?=[\]>)\s]|$)", " ", text)
    return [w for w in re.findall(r"\w{2,}", text) if w.lower() not in NOTATION_WORDS]


def tokens(text: str) -> int:
    return len(ENCODING.encode(text))


@pytest.mark.parametrize("key", ["ORBIT-1", "NOVA-1"])
async def test_every_fact_of_issue_with_30_comments(mcp: Client, fake: FakeBacklog, key: str) -> None:
    result = await mcp.call_tool("get_issue_details", {"issue_key": key, "comment_count": 30, "max_tokens": 20000})
    out = text_of(result)
    issue = fake.space.issue_by_key(key)
    assert issue is not None
    comments = fake.space.comments[issue["id"]]
    assert len(comments) == 30
    space_zone = ZoneInfo(fake.space.space["timezone"])  # no timezone given: the space's

    def when(ts: str) -> str:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(space_zone).strftime("%Y-%m-%d %H:%M")

    def in_year(day: str) -> str:  # this year's date as month and day (the creation above is this year too)
        this_year = str(REFERENCE_NOW.year)
        return day[5:10] if day[:4] == this_year and when(issue["created"])[:4] == this_year else day[:10]

    facts = [
        issue["issueKey"], issue["summary"], issue["status"]["name"], issue["priority"]["name"],
        issue["assignee"]["name"], issue["issueType"]["name"], issue["createdUser"]["name"],
        when(issue["created"]), f"Start {in_year(issue['startDate'])}", f"Due {in_year(issue['dueDate'])}",
        "Estimated 6 h", "Actual 2.5 h",
        *(c["name"] for c in issue["category"]), *(m["name"] for m in issue["milestone"]),
        *(v["name"] for v in issue["versions"]), *(a["name"] for a in issue["attachments"]),
        *(f["name"] for f in issue["sharedFiles"]), f"https://acme.backlog.com/view/{key}",
    ]  # fmt: skip
    for field in issue["customFields"]:
        facts.append(field["name"])
        value = field["value"]
        if field["fieldTypeId"] == 2 and value:  # multi-line text: every line, quoted
            facts.extend(f">{line}" for line in value.split("\n"))
            continue
        values = value if isinstance(value, list) else [value]
        facts.extend(str(v["name"]) if isinstance(v, dict) else str(v)[:10] for v in values)
        if field.get("otherValue"):
            facts.append(field["otherValue"])
    for child in (i for i in fake.space.issues.values() if i["parentIssueId"] == issue["id"]):
        facts += [child["issueKey"], child["summary"]]
    attachment_ids = {str(a["id"]) for a in issue["attachments"]}
    facts += [w for w in words(issue["description"]) if w not in attachment_ids]  # ids are shown as names
    last = comments[-1]
    if last["created"] != issue["updated"] or last["createdUser"]["id"] != issue["updatedUser"]["id"]:
        facts.append(when(issue["updated"]))  # else the last update is the newest comment, dated there
    position = out.index("## Comments")
    before = when(issue["created"])  # the first comment dated against the issue's creation
    for comment in comments:
        stamp = when(comment["created"])
        # Each later comment with only what changed since the one before.
        short = stamp[11:] if stamp[:10] == before[:10] else stamp[5:] if stamp[:4] == before[:4] else stamp
        before = stamp
        head = f"\n{short} {comment['createdUser']['name']}"
        position = out.index(head, position)  # present, dated, in chronological order
        # The head line and the quoted lines under it.
        lines = out[position + 1 :].split("\n")
        shown = "\n".join([lines[0], *itertools.takewhile(lambda line: line.startswith(">"), lines[1:])])
        # As a model reads it: a backslash escape (`Android\, Backend` in a one-line head) is its character.
        block = MARKDOWN_ESCAPE.sub(r"\1", shown)
        for change in comment["changeLog"]:
            if change["field"] == "attachment":
                assert f"Attached {change['newValue']}" in block
            elif change["field"] == "description":
                assert "Description edited" in block
            else:
                old, new = change["originalValue"], change["newValue"]
                assert (f"{old} → {new or '(none)'}" if old else f"set to {new}") in block, (change, block)
        for word in words(comment["content"]):
            assert word in block, (word, block)
    missing = [fact for fact in facts if fact not in out and fact not in MARKDOWN_ESCAPE.sub(r"\1", out)]
    assert missing == []


@pytest.mark.parametrize("key", ["ORBIT-1", "NOVA-1"])
async def test_markdown_is_at_most_a_quarter_of_raw_json_tokens(mcp: Client, fake: FakeBacklog, key: str) -> None:
    result = await mcp.call_tool("get_issue_details", {"issue_key": key, "comment_count": 30, "max_tokens": 20000})
    issue = fake.space.issue_by_key(key)
    assert issue is not None
    raw = json.dumps(issue, ensure_ascii=False, separators=(",", ":")) + json.dumps(
        fake.space.comments[issue["id"]], ensure_ascii=False, separators=(",", ":")
    )
    ratio = tokens(text_of(result)) / tokens(raw)
    assert ratio <= 0.25, ratio


async def test_issue_16_tasks_keep_every_fact_when_read_whole() -> None:
    """The three token tasks (benchmarks/token_tasks.py), read as the benchmark reads them: every fact is there."""
    space, tasks = task_space()
    fake = FakeBacklog(space)
    zone = ZoneInfo(space.space["timezone"])
    for task in tasks:
        out = MARKDOWN_ESCAPE.sub(r"\1", "\n".join(await our_answers(fake, task.issue_key)))
        issue = space.issue_by_key(task.issue_key)
        assert issue is not None
        facts = [
            issue["summary"], issue["status"]["name"], issue["assignee"]["name"], issue["createdUser"]["name"],
            f"https://acme.backlog.com/view/{task.issue_key}", *(a["name"] for a in issue["attachments"]),
            *(f["value"]["name"] if isinstance(f["value"], dict) else str(f["value"]) for f in issue["customFields"]
              if f["value"] not in (None, [])),
            *words(issue["description"]),
        ]  # fmt: skip
        comments = space.comments[issue["id"]]
        assert len(comments) == task.comments
        for comment in comments:
            stamp = datetime.fromisoformat(comment["created"].replace("Z", "+00:00")).astimezone(zone)
            facts += [f"{stamp.strftime('%H:%M')} {comment['createdUser']['name']}", *words(comment["content"])]
            for change in comment["changeLog"]:
                facts += [value for value in (change["originalValue"], change["newValue"]) if value]
        assert [fact for fact in facts if fact not in out] == [], task.label
        authors = re.findall(r"^(?:\d{4}-)?(?:\d\d-\d\d )?\d\d:\d\d (\S.*?)(?: · .*)?$", out, re.M)
        assert len(authors) == task.comments, task.label  # each comment once


async def test_the_markdown_task_as_a_model_reads_it() -> None:
    space, tasks = task_space()
    assert await our_answers(FakeBacklog(space), tasks[0].issue_key) == snapshot(
        [
            """\
# NOVA-220 Password reset email arrives after the link expired
Bug · Resolved · Priority High · Assignee Tanaka Yuki
https://acme.backlog.com/view/NOVA-220
Created 2026-11-14 14:00 Asia/Tokyo by 伊藤 健二
Due 11-23 · Estimated 3 h
Category API · Milestone Sprint 14
Custom fields: Crash count: 4 · Severity: Major · Reproducible: Always
Attachments screenshot.png (47 KB)
Stars 1
## Description
>## Summary
>Password reset emails arrive **after** the link has expired for users on the EU cluster.
>
>## Steps
>1. Request a reset from `/account/forgot`
>2. Wait for the email (it takes 20–40 minutes)
>3. Open the link: *"This link has expired"*
>
>## Expected
>The email arrives within a minute; the link stays valid for 30 minutes.
>
>See the [delivery dashboard](https://grafana.example.com/d/mail) and NOVA-12.
## Comments (6)
21:00 伊藤 健二
>Reproduced on staging-eu: the job waits in `mail-low` behind the newsletter batch.

11-15 09:00 佐藤 太郎 · Status: Open → In Progress
11-16 02:00 Tanaka Yuki
>The queue is shared with marketing sends. Options:
>
>- give resets their own queue
>- raise the link lifetime to 2 h
>
>I prefer the first.

11-17 00:00 Hana Sato · Assignee: Hana Sato → Tanaka Yuki
>Agreed, own queue. 修正版をステージングに出しました。

11-18 03:00 Alice Martin
>```
>mail-high: 0.8 s p95
>mail-low: 31 min p95
>```
>After the change resets go through mail-high.

11-19 11:00 佐藤 太郎 · Status: In Progress → Resolved · Resolution set to Fixed
>Deployed to production; closing once support confirms.\
"""
        ]
    )
