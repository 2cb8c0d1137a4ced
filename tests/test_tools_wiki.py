"""The wiki toolset: a project's pages as a tree, one page as Markdown, by id or by name."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.fake import FakeBacklog
from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_pages_as_a_tree_with_folders(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_wiki_pages", {"project_key": "ORBIT"}))
    assert text == snapshot("""\
Wiki of ORBIT: 7 pages (dates Asia/Tokyo). Open one by its id.

- Deployment (id 3300002) [ops, release] · updated 2026-11-09 by 伊藤 健二
  - Rollback (id 3300003) [ops] · updated 2026-10-30 by 佐藤 太郎
- Home (id 3300001) [guide] · updated 2026-11-19 by Hana Sato
- Onboarding (id 3300006) [guide] · updated 2026-09-30 by 田中 美咲
  - 開発環境のセットアップ (id 3300007) [guide] · updated 2026-09-20 by 鈴木 一郎
- Release/
  - 2.4.0 notes (id 3300005) [release] · updated 2026-10-10 by Alice Martin
  - Checklist (id 3300004) [release] · updated 2026-10-20 by Tanaka Yuki\
""")
    tagged = text_of(await mcp.call_tool("get_wiki_pages", {"project_key": "nova", "tag": "ops"}))
    assert "Deployment (id" in tagged and "Rollback (id" in tagged and "Home" not in tagged
    found = text_of(await mcp.call_tool("get_wiki_pages", {"project_key": "ORBIT", "keyword": "rollback"}))
    assert found.startswith('Wiki of ORBIT matching "rollback": ')


async def test_a_page_by_name_in_backlog_notation(mcp: Client) -> None:
    text = text_of(await mcp.call_tool("get_wiki_page", {"project_key": "ORBIT", "name": "release/checklist"}))
    assert text == snapshot("""\
# Release/Checklist
Wiki page 3300004 [release] · updated 2026-10-20 18:00 by Tanaka Yuki (times Asia/Tokyo) · https://acme.backlog.com/alias/wiki/3300004

># Release/Checklist
>
>Release/Checklist の手順です。
>
>## Steps
>
>- Build with **make release**
>- Deploy: Deployment/Rollback (wiki page)
>
>```sh
>./deploy.sh --env staging
>```
>
>| Env | Owner |
>| --- | --- |
>| staging | kenji |\
""")


async def test_pages_that_are_not_there_say_what_is(mcp: Client, fake: FakeBacklog) -> None:
    missing = await mcp.call_tool("get_wiki_page", {"page_id": 12345})
    assert missing.is_error and "does not exist or is not allowed" in text_of(missing)
    unknown = await mcp.call_tool("get_wiki_page", {"project_key": "ORBIT", "name": "Deploy"})
    assert unknown.is_error and 'matches "Deployment", "Deployment/Rollback"' in text_of(unknown)
    no_tag = await mcp.call_tool("get_wiki_pages", {"project_key": "ORBIT", "tag": "opz"})
    assert no_tag.is_error and 'Unknown tag "opz"' in text_of(no_tag) and '"ops"' in text_of(no_tag)
    neither = await mcp.call_tool("get_wiki_page", {})
    assert neither.is_error and "Pass page_id, or project_key and name" in text_of(neither)
    assert all(r.method == "GET" for r in fake.requests)


async def test_offsets_and_arguments_are_checked(mcp: Client) -> None:
    past = await mcp.call_tool("get_wiki_pages", {"project_key": "ORBIT", "offset": 50})
    assert past.is_error and "offsets 0 to 6" in text_of(past)
    both = await mcp.call_tool("get_wiki_page", {"page_id": 3_300_001, "project_key": "NOVA", "name": "x"})
    assert both.is_error and text_of(both) == "Pass page_id alone, or project_key and name, not both."
