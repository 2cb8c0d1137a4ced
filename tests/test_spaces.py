"""Several spaces in one server: tools take `space`, keys find their space, nothing ever mixes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import bpe_openai
import httpx
import pytest
from mcp import Client

from backlog_mcp.config import ConfigError, settings_from_env
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.server import build_server
from tests.conftest import FAST_RETRY, text_of
from tests.faulty_backlog import FaultyBacklog

pytestmark = pytest.mark.anyio


class ByHost(httpx.AsyncBaseTransport):
    """One fake Backlog per host, as two real spaces are two hosts."""

    def __init__(self, fakes: dict[str, FaultyBacklog], down: frozenset[str] | set[str] = frozenset()) -> None:
        self.inner = {host: httpx.ASGITransport(app=fake) for host, fake in fakes.items()}
        self.down = down

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.down:
            raise httpx.ConnectError("unreachable", request=request)
        return await self.inner[request.url.host].handle_async_request(request)


def client_space() -> FaultyBacklog:
    """Another company's space: ORBIT too (other issues), and CLIENT where the first has NOVA."""
    space = build_space()
    space.space["name"] = "Client Co"
    for issue in space.issues.values():
        issue["summary"] = f"Client says {issue['summary']}"
        if issue["issueKey"].startswith("NOVA-"):
            issue["issueKey"] = issue["issueKey"].replace("NOVA-", "CLIENT-")
    space.projects[105].data["projectKey"] = "CLIENT"
    return FaultyBacklog(space, base_url="https://client.backlog.jp")


ENV = {
    "BACKLOG_SPACES": "acme,client",
    "BACKLOG_SPACE_ACME_DOMAIN": "acme.backlog.com",
    "BACKLOG_SPACE_ACME_API_KEY": DEFAULT_API_KEY,
    "BACKLOG_SPACE_CLIENT_DOMAIN": "client.backlog.jp",
    "BACKLOG_SPACE_CLIENT_API_KEY": DEFAULT_API_KEY,  # the same key text in both: the scope is the space too
}


@pytest.fixture
def fakes() -> dict[str, FaultyBacklog]:
    return {"acme.backlog.com": FaultyBacklog(build_space(), base_url="https://acme.backlog.com"),
            "client.backlog.jp": client_space()}  # fmt: skip


@pytest.fixture
async def both(fakes: dict[str, FaultyBacklog], tmp_path: Path) -> AsyncIterator[Client]:
    settings = settings_from_env(
        {**ENV, "BACKLOG_CACHE_PATH": str(tmp_path / "cache.sqlite3"), "BACKLOG_AUDIT_LOG": str(tmp_path / "a.jsonl")}
    )
    server = build_server(settings, transport=ByHost(fakes), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        yield client


async def test_every_tool_takes_space_and_myself_lists_them(both: Client) -> None:
    tools = (await both.list_tools()).tools
    assert all(t.input_schema["properties"]["space"] == {"type": "string"} for t in tools)
    me = text_of(await both.call_tool("get_myself", {}))
    assert "Spaces on this server" in me and "acme (https://acme.backlog.com); client (https://client.backlog.jp)" in me
    other = text_of(await both.call_tool("get_myself", {"space": "client"}))
    assert "Client Co" in other and "Spaces on this server" in other


async def test_a_key_in_both_spaces_needs_space_and_answers_never_mix(both: Client) -> None:
    unsure = await both.call_tool("get_issue_details", {"issue_key": "ORBIT-1"})
    assert unsure.is_error and "several spaces (acme, client)" in text_of(unsure)
    for _ in range(2):  # the second time from the cache: still apart
        acme = text_of(await both.call_tool("get_issue_details", {"issue_key": "ORBIT-1", "space": "acme"}))
        theirs = text_of(await both.call_tool("get_issue_details", {"issue_key": "ORBIT-1", "space": "client"}))
        assert "Client says" not in acme and "https://acme.backlog.com/view/ORBIT-1" in acme
        assert "# ORBIT-1 Client says " in theirs and "https://client.backlog.jp/view/ORBIT-1" in theirs


async def test_a_key_in_one_space_finds_it(both: Client, fakes: dict[str, FaultyBacklog]) -> None:
    theirs = text_of(await both.call_tool("get_issue_details", {"issue_key": "CLIENT-1"}))
    assert theirs.startswith("# CLIENT-1 Client says ")
    ours = text_of(await both.call_tool("get_project", {"project_key": "NOVA"}))
    assert ours.startswith("# NOVA") or "NOVA" in ours.split("\n")[0]
    assert not any(r.path.startswith("/projects/NOVA/") for r in fakes["client.backlog.jp"].requests)
    plain = text_of(await both.call_tool("get_projects", {}))  # names no project: the default space
    assert "CLIENT" not in plain and "NOVA" in plain


async def test_two_spaces_keep_the_tool_list_within_5300_tokens(both: Client) -> None:
    tools = (await both.list_tools()).model_dump(by_alias=True, exclude_none=True, mode="json")["tools"]
    text = json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False)
    assert len(bpe_openai.get_encoding("o200k_base").encode(text)) <= 5_300


async def test_an_unknown_space_lists_them(both: Client) -> None:
    wrong = await both.call_tool("get_projects", {"space": "nope"})
    assert wrong.is_error and text_of(wrong) == 'Unknown space "nope". Spaces: acme, client.'


async def test_audit_lines_name_the_space(both: Client, tmp_path: Path) -> None:
    args = {"issue_key": "ORBIT-1", "content": "x", "space": "client", "dry_run": True}
    assert not (await both.call_tool("add_issue_comment", args)).is_error
    line = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[-1])
    assert (line["space"], line["outcome"], line["project"]) == ("client", "dry run", "ORBIT")


def test_a_bad_space_definition_says_which_variable(tmp_path: Path) -> None:
    missing = {k: v for k, v in ENV.items() if k != "BACKLOG_SPACE_CLIENT_API_KEY"}
    with pytest.raises(ConfigError, match="BACKLOG_SPACE_CLIENT_API_KEY is not set"):
        settings_from_env(missing)
    with pytest.raises(ConfigError, match="BACKLOG_DEFAULT_SPACE='other'"):
        settings_from_env({**ENV, "BACKLOG_DEFAULT_SPACE": "other"})
    with pytest.raises(ConfigError, match="BACKLOG_SPACES="):
        settings_from_env({**ENV, "BACKLOG_SPACES": "acme,acme"})
    with pytest.raises(ConfigError, match="BACKLOG_SPACE_CLIENT_DOMAIN="):
        settings_from_env({**ENV, "BACKLOG_SPACE_CLIENT_DOMAIN": "not a host"})
    with pytest.raises(ConfigError, match="BACKLOG_SPACE_CLIENT_PROJECT is not a variable of BACKLOG_SPACES"):
        settings_from_env({**ENV, "BACKLOG_SPACE_CLIENT_PROJECT": "WEB"})  # misspelt: must not open every project
    with pytest.raises(ConfigError, match="--projects names one space's projects"):
        settings_from_env(ENV, projects="ORBIT")
    chosen = settings_from_env({**ENV, "BACKLOG_DEFAULT_SPACE": "client", "BACKLOG_SPACE_ACME_PROJECTS": "ORBIT"})
    assert [s.space for s in chosen.spaces] == ["client", "acme"] and chosen.spaces[1].projects == frozenset({"ORBIT"})


async def test_one_space_leaves_the_tool_list_as_it_was(fakes: dict[str, FaultyBacklog], tmp_path: Path) -> None:
    named = {k: v for k, v in ENV.items() if "CLIENT" not in k} | {"BACKLOG_SPACES": "acme"}
    plain = {"BACKLOG_DOMAIN": "acme.backlog.com", "BACKLOG_API_KEY": DEFAULT_API_KEY}
    listed = []
    for env in (named, plain):
        settings = settings_from_env({**env, "BACKLOG_CACHE_PATH": str(tmp_path / "c.sqlite3")})
        server = build_server(settings, transport=ByHost(fakes), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
        async with Client(server) as client:
            result = await client.list_tools()
            listed.append(json.dumps(result.model_dump(by_alias=True, exclude_none=True, mode="json")))
            listed.append(str(client.server_capabilities) + str((await client.call_tool("get_myself", {})).content))
    assert listed[0] == listed[2] and listed[1] == listed[3]


async def test_an_id_alone_never_guesses_the_space(both: Client, fakes: dict[str, FaultyBacklog]) -> None:
    for tool, args in (("get_wiki_page", {"page_id": 3300008}), ("save_wiki_page", {"page_id": 3300008, "content": "x"}),
                       ("get_issue_details", {"issue_key": "2041004"})):  # fmt: skip
        refused = await both.call_tool(tool, args)
        assert refused.is_error and "names an object by id; pass space= one of acme, client" in text_of(refused)
    assert all(r.method == "GET" for fake in fakes.values() for r in fake.requests)
    chosen = text_of(await both.call_tool("get_wiki_page", {"page_id": 3300008, "space": "Client"}))
    assert "https://client.backlog.jp/alias/wiki/3300008" in chosen  # the space named (any case), its page
    older = text_of(await both.call_tool("get_issue_comments", {"issue_key": "CLIENT-4", "count": 5}))
    assert 'space="client"' in older  # the call for the next page stays in the space


async def test_a_space_that_cannot_answer_is_never_taken_to_lack_the_key(
    fakes: dict[str, FaultyBacklog], tmp_path: Path
) -> None:
    settings = settings_from_env({**ENV, "BACKLOG_CACHE_PATH": str(tmp_path / "c.sqlite3")})
    down = ByHost(fakes, down={"client.backlog.jp"})
    server = build_server(settings, transport=down, retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        comment = await client.call_tool("add_issue_comment", {"issue_key": "ORBIT-1", "content": "for the client"})
    assert comment.is_error and "Space client cannot be asked now whether it holds ORBIT" in text_of(comment)
    assert all(r.method == "GET" for r in fakes["acme.backlog.com"].requests)  # nothing written to the other space


async def test_writes_stay_offered_while_one_space_is_writable(fakes: dict[str, FaultyBacklog], tmp_path: Path) -> None:
    env = {**ENV, "BACKLOG_SPACE_ACME_READ_ONLY": "1", "BACKLOG_CACHE_PATH": str(tmp_path / "c.sqlite3")}
    server = build_server(settings_from_env(env), transport=ByHost(fakes), retry=FAST_RETRY, now=lambda: REFERENCE_NOW)
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        theirs = await client.call_tool("add_issue_comment", {"issue_key": "CLIENT-1", "content": "ok"})
        ours = await client.call_tool("add_issue_comment", {"issue_key": "NOVA-1", "content": "no"})
    assert "add_issue_comment" in names and not theirs.is_error
    assert ours.is_error and "read-only" in text_of(ours)
