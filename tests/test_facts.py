"""Every fact of a realistic issue with 30 comments survives, in far fewer tokens than the raw JSON."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import bpe_openai
import pytest
from mcp import Client

from backlog_mcp.fake import FakeBacklog
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

    facts = [
        issue["issueKey"], issue["summary"], issue["status"]["name"], issue["priority"]["name"],
        issue["assignee"]["name"], issue["issueType"]["name"], issue["createdUser"]["name"],
        when(issue["created"]), when(issue["updated"]), issue["startDate"][:10], issue["dueDate"][:10],
        "Estimated 6 h", "Actual 2.5 h",
        *(c["name"] for c in issue["category"]), *(m["name"] for m in issue["milestone"]),
        *(v["name"] for v in issue["versions"]), *(a["name"] for a in issue["attachments"]),
        *(f["name"] for f in issue["sharedFiles"]), f"https://acme.backlog.com/view/{key}",
    ]  # fmt: skip
    for field in issue["customFields"]:
        facts.append(field["name"])
        value = field["value"]
        if field["fieldTypeId"] == 2 and value:  # multi-line text: every line, quoted
            facts.extend(f"> {line}" for line in value.split("\n"))
            continue
        values = value if isinstance(value, list) else [value]
        facts.extend(str(v["name"]) if isinstance(v, dict) else str(v)[:10] for v in values)
        if field.get("otherValue"):
            facts.append(field["otherValue"])
    for child in (i for i in fake.space.issues.values() if i["parentIssueId"] == issue["id"]):
        facts += [child["issueKey"], child["summary"]]
    attachment_ids = {str(a["id"]) for a in issue["attachments"]}
    facts += [w for w in words(issue["description"]) if w not in attachment_ids]  # ids are shown as names
    position = out.index("## Comments")
    day = ""
    for comment in comments:
        stamp = when(comment["created"])
        if stamp[:10] != day:
            day = stamp[:10]
            position = out.index(f"### {day}\n", position)
        head = f"**{comment['createdUser']['name']}** {stamp[11:]}"
        position = out.index(head, position)  # present, under its day, in chronological order
        end = out.find("\n**", position + len(head))
        # As a model reads it: a backslash escape (`Android\, Backend` in a one-line head) is its character.
        block = MARKDOWN_ESCAPE.sub(r"\1", out[position : end if end > 0 else len(out)])
        for change in comment["changeLog"]:
            if change["field"] == "attachment":
                assert f"Attached {change['newValue']}" in block
            elif change["field"] == "description":
                assert "Description edited" in block
            else:
                for value in (change["originalValue"], change["newValue"]):
                    assert (value or "(none)") in block, (change, block)
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
