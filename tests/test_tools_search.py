"""search_backlog: one call across issues (and their comments), wiki pages, documents and pull requests."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import REFERENCE_NOW
from backlog_mcp.fake.protocol import HTTPFailure
from backlog_mcp.fake.routes import route_table
from backlog_mcp.render.text import marked
from backlog_mcp.server import build_server
from backlog_mcp.tools import search
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


def sections(text: str) -> dict[str, list[str]]:
    """Each `## Kind (n)` heading's hit lines."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.split("\n"):
        if line.startswith("## "):
            current = re.sub(r"[ :(].*", "", line[3:]) if not line.startswith("## Wiki") else "Wiki"
            current = "Pull" if line.startswith("## Pull") else current
            out[current] = []
        elif line.startswith("- ") and current:
            out[current].append(line)
    return out


async def test_one_call_finds_a_term_in_a_comment_a_page_a_document_and_a_pull_request(
    mcp: Client, fake: FaultyBacklog
) -> None:
    text = text_of(await mcp.call_tool("search_backlog", {"query": "tile cache"}))
    found = sections(text)
    assert set(found) == {"Issues", "Wiki", "Documents", "Pull"}
    # The issue matches by an old comment only: its line quotes that comment, the term marked.
    (issue,) = found["Issues"]
    assert issue.startswith("- ORBIT-4 ") and "comment by " in issue and "**tile cache**" in issue
    assert any(line.startswith("- page 3300005 Release/2.4.0 notes · ORBIT") for line in found["Wiki"])
    assert any("Offline maps · ORBIT" in line for line in found["Documents"])
    assert any(line.startswith("- orbit-android#1 Offline map **tile**s · ORBIT · Open") for line in found["Pull"])
    for lines in found.values():
        assert lines and all("**tile cache**" in line.casefold() for line in lines), lines
    assert text.startswith('Search for "tile cache" in ORBIT, NOVA (dates Asia/Tokyo), newest first: ')
    # Issues and documents take every project in one request; wiki and repositories one per project.
    paths = [r.path for r in fake.requests]
    assert paths.count("/issues") == 1 and paths.count("/documents") == 1 and paths.count("/wikis") == 2


async def test_kinds_narrow_the_search_and_its_requests(mcp: Client, fake: FaultyBacklog) -> None:
    text = text_of(await mcp.call_tool("search_backlog", {"query": "tile cache", "kinds": ["documents"]}))
    assert set(sections(text)) == {"Documents"}
    assert {r.path for r in fake.requests} <= {"/projects", "/space", "/documents"}


async def test_japanese_words_are_found_and_marked(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("search_backlog", {"query": "の手順", "kinds": ["wiki"], "projects": ["ORBIT"]}))
    lines = sections(text)["Wiki"]
    assert len(lines) == 7  # every page of ORBIT says "… の手順です。"
    # The text of the newest few is read for a snippet; the others say where the match is.
    assert sum("**の手順**" in line for line in lines) == search.SNIPPETS
    assert all("**の手順**" in line or line.endswith("(the match is in its text)") for line in lines)


async def test_a_denied_project_is_never_searched_nor_named(fake: FaultyBacklog, settings: Settings) -> None:
    only_orbit = Settings(**{**settings.__dict__, "projects": frozenset({"ORBIT"})})
    server = build_server(
        only_orbit, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY, now=lambda: REFERENCE_NOW
    )
    async with Client(server) as client:
        text = text_of(await client.call_tool("search_backlog", {"query": "tile cache"}))
        asked = await client.call_tool("search_backlog", {"query": "tile cache", "projects": ["NOVA"]})
    assert "NOVA" not in text and "nova-web" not in text and "in ORBIT (dates" in text
    assert all("NOVA" not in r.path and "105" not in str(r.query) for r in fake.requests)
    # Named by the caller, it reads as unknown (as a project that does not exist would), never searched.
    assert asked.is_error and text_of(asked).startswith('Unknown project "NOVA". Valid values, closest first: "ORBIT"')


async def test_projects_past_the_bound_are_named_with_the_call_that_covers_them(
    mcp: Client, fake: FaultyBacklog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "FANOUT", 1)
    text = text_of(await mcp.call_tool("search_backlog", {"query": "tile cache"}))
    assert "/projects/NOVA/git/repositories" not in [r.path for r in fake.requests]
    note = text.split("\n")[-1]
    assert "searched in the first 1 projects only" in note and "NOVA" in note
    again = note.split(": ", 1)[1].rstrip("._")
    assert again == 'search_backlog(query="tile cache", projects=["NOVA"], kinds=["wiki", "pull_requests"])'
    rest = text_of(
        await mcp.call_tool(
            "search_backlog", {"query": "tile cache", "projects": ["NOVA"], "kinds": ["wiki", "pull_requests"]}
        )
    )
    assert "page 3300012 Release/2.4.0 notes · NOVA" in rest and "nova-web#1 " in rest


async def test_an_empty_query_is_refused_before_any_request(mcp: Client, fake: FaultyBacklog) -> None:
    result = await mcp.call_tool("search_backlog", {"query": "   "})
    assert result.is_error and 'query="tile cache"' in text_of(result)
    assert fake.requests == []


async def test_nothing_found_says_so_per_kind(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("search_backlog", {"query": "zzzz-not-anywhere"}))
    assert "newest first: 0 hits." in text
    assert all(f"## {title}: none" in text for title in ("Issues", "Wiki pages", "Documents", "Pull requests"))


async def test_a_match_in_the_title_is_marked_there_with_no_note(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("search_backlog", {"query": "回転", "kinds": ["issues"]}))
    lines = sections(text)["Issues"]
    titled = [line for line in lines if line.split(" · ")[0].count("**回転**")]
    assert titled and not any("(the match is in its comments)" in line for line in titled)


async def test_one_project_refused_keeps_the_others_and_says_so(
    mcp: Client, fake: FaultyBacklog, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fake.get_repositories

    def refused(req: Any, key: str) -> Any:
        if key == "NOVA":
            raise HTTPFailure(403, "You do not have permission.", 11)
        return real(req, key)

    monkeypatch.setattr(fake, "get_repositories", refused)
    fake._routes = route_table(fake)  # the table holds the bound handlers
    text = text_of(await mcp.call_tool("search_backlog", {"query": "tile cache"}))
    assert "orbit-android#1 " in text and "nova-web#" not in text
    assert "_The repositories of NOVA could not be read (HTTP 403)._" in text
    assert "page 3300012 " in text  # NOVA's wiki was still searched


async def test_the_call_for_more_documents_names_the_projects_with_hits(mcp: Client, fake: FaultyBacklog) -> None:
    for n in range(25):
        doc = dict(next(d for d in fake.space.documents.values() if d["projectId"] == 105))
        doc.update(id=f"{n:032x}", title=f"Zebra {n}", plain="zebra notes")
        fake.space.documents[doc["id"]] = doc
    text = text_of(await mcp.call_tool("search_backlog", {"query": "zebra", "kinds": ["documents"]}))
    assert "## Documents (20 of 20+)" in text
    assert 'More: get_documents(project_key="NOVA", keyword="zebra")' in text


def test_the_mark_starts_and_ends_on_a_letter_so_it_always_closes() -> None:
    assert marked("回転時「修正」です", ["「修正」"]) == "回転時「**修正**」です"
    assert marked("use .env here", [".env"]) == "use .**env** here"
    assert marked("only !!! here", ["!!!"]) == "only !!! here"  # nothing to bold: no mark at all
    assert marked("a *b* c", ["c"]) == "a \\*b\\* **c**"
