"""get_documents and get_document: the tree, keyword hits, and one document from its plain text."""

from __future__ import annotations

import hashlib

import pytest
from inline_snapshot import snapshot
from mcp import Client

from tests.conftest import text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio
OFFLINE_MAPS = hashlib.md5(b"NOVA/Specs/Offline maps").hexdigest()


async def test_the_tree_of_a_project(mcp: Client) -> None:
    assert text_of(await mcp.call_tool("get_documents", {"project_key": "NOVA"})) == snapshot("""\
Documents of NOVA: 7 (nested as in Backlog). Open one by its id.

- 📁 Specs (id 82572101c7367e4e1b88ea663ec3c684)
  - 🗺️ Offline maps (id 64ec65b29114fec6b717e8aeaf4903f0)
  - ログイン刷新 (id 06250670ca70497920665ee26c53b06c)
- 📝 Meeting notes (id cab9697d40bddd71259b580759334526)
  - 2026-11-17 weekly (id 15f5aa12795252e270d7fcc18114b816)
  - 2026-11-10 weekly (id c2e0de6712a91d0133e1c7b75096cde9)
- 🏗️ Architecture (id 7ed9787dd2c4775adc68badc2fb2bd14)

(1 in the trash, not listed.)\
""")


async def test_keyword_hits_page_by_offset(mcp: Client, fake: FaultyBacklog) -> None:
    text = text_of(await mcp.call_tool("get_documents", {"project_key": "NOVA", "keyword": "weekly"}))
    assert text == snapshot("""\
Documents of NOVA matching "weekly": 1-3 (dates Asia/Tokyo), newest update first.

- 📝 Meeting notes (id cab9697d40bddd71259b580759334526) · updated 2026-11-10 by Tanaka Yuki
- 2026-11-17 weekly (id 15f5aa12795252e270d7fcc18114b816) · updated 2026-11-07 by Alice Martin
- 2026-11-10 weekly (id c2e0de6712a91d0133e1c7b75096cde9) · updated 2026-11-04 by 田中 美咲\
""")
    sent = next(r for r in fake.requests if r.path == "/documents")
    assert ("offset", "0") in sent.query and ("projectId[]", "105") in sent.query


async def test_one_document_is_its_plain_text_never_the_editor_json(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_document", {"document_id": OFFLINE_MAPS.upper()}))
    assert text == snapshot("""\
# 🗺️ Offline maps
Document in NOVA [meeting] · updated 2026-11-16 17:00 by 伊藤 健二 (times Asia/Tokyo) · https://acme.backlog.com/document/NOVA/64ec65b29114fec6b717e8aeaf4903f0

>Offline maps
>
>Goals
>- Tiles for 3 regions
>- A 200 MB tile cache
>
>Open: update cadence\
""")
    assert '"type": "doc"' not in text


async def test_bad_and_unknown_ids(mcp: Client, fake: FaultyBacklog) -> None:
    bad = await mcp.call_tool("get_document", {"document_id": "Offline maps"})
    assert bad.is_error and text_of(bad) == snapshot(
        '"Offline maps" is not a document id (32 hex characters); find ids with get_documents(project_key="...").'
    )
    assert fake.requests == []
    missing = await mcp.call_tool("get_document", {"document_id": "0" * 32})
    assert missing.is_error and text_of(missing) == snapshot(
        'Document 00000000000000000000000000000000 does not exist or is not allowed; find documents with get_documents(project_key="...").'
    )


async def test_a_document_is_added_under_a_parent_by_title_path(mcp: Client, fake: FaultyBacklog) -> None:
    args = {
        "project_key": "ORBIT",
        "title": "Tile cache design",
        "content": "# Tile cache\n\nLRU, 200 MB.",
        "parent": "specs",
    }
    preview = text_of(await mcp.call_tool("add_document", {**args, "dry_run": True}))
    assert preview.startswith("Dry run, nothing was sent. Would add a document to ORBIT:")
    assert "- Under: Specs" in preview and "># Tile cache" in preview
    assert all(r.method == "GET" for r in fake.requests)
    done = text_of(await mcp.call_tool("add_document", args))
    assert done.startswith("Added document ") and "https://acme.backlog.com/document/ORBIT/" in done
    sent = next(r for r in fake.requests if r.method == "POST")
    specs = next(n for n in fake.space.document_trees[104]["activeTree"]["children"] if n["name"] == "Specs")
    assert sent.path == "/documents" and dict(sent.form)["parentId"] == specs["id"]
    assert dict(sent.form)["content"] == "# Tile cache\n\nLRU, 200 MB." and dict(sent.form)["projectId"] == "104"
    tree = text_of(await mcp.call_tool("get_documents", {"project_key": "ORBIT"}))
    lines = tree.split("\n")
    at = next(n for n, line in enumerate(lines) if line.startswith("- 📁 Specs"))
    assert any(line.startswith("  - Tile cache design (id ") for line in lines[at + 1 : at + 5])
    found = text_of(await mcp.call_tool("search_backlog", {"query": "LRU", "kinds": ["documents"]}))
    assert "Tile cache design · ORBIT" in found


async def test_an_unknown_parent_lists_the_closest_paths(mcp: Client, fake: FaultyBacklog) -> None:
    result = await mcp.call_tool(
        "add_document", {"project_key": "ORBIT", "title": "x", "content": "y", "parent": "Meting notes"}
    )
    assert result.is_error and '"Meeting notes"' in text_of(result)
    assert all(r.method == "GET" for r in fake.requests)


async def test_a_repeated_title_asks_for_the_parents_id(mcp: Client, fake: FaultyBacklog) -> None:
    first = text_of(await mcp.call_tool("add_document", {"project_key": "ORBIT", "title": "Specs", "content": "again"}))
    again = await mcp.call_tool(
        "add_document", {"project_key": "ORBIT", "title": "x", "content": "y", "parent": "Specs"}
    )
    assert (
        again.is_error
        and "Several documents are called" in text_of(again)
        and "Pass parent as its id" in text_of(again)
    )
    new_id = first.split("Added document ")[1].split(" ")[0]
    by_id = text_of(
        await mcp.call_tool("add_document", {"project_key": "ORBIT", "title": "x", "content": "y", "parent": new_id})
    )
    assert by_id.startswith("Added document ") and "- Under: Specs" in by_id
