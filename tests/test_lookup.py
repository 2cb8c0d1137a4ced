"""Names → ids through the shared lookup: custom fields and their choices, and nothing fetched in vain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from mcp import Client

from backlog_mcp.client import BacklogClient
from backlog_mcp.config import Settings
from backlog_mcp.errors import UsageError
from backlog_mcp.fake import FakeBacklog
from backlog_mcp.lookup import Lookup
from tests.conftest import FAST_RETRY, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def lookup(fake: FakeBacklog, settings: Settings) -> AsyncIterator[Lookup]:
    client = BacklogClient(settings, transport=httpx.ASGITransport(app=fake), retry=FAST_RETRY)
    try:
        yield Lookup(client)
    finally:
        await client.aclose()


async def test_custom_fields_and_their_choices_by_name(lookup: Lookup) -> None:
    orbit = await lookup.projects(["ORBIT"])
    severity = await lookup.custom_field("severity", orbit)
    assert severity["name"] == "Severity" and severity["projectId"] == 104
    assert lookup.custom_item_ids(severity, ["major", "Critical"]) == [1, 2]
    with pytest.raises(UsageError, match=r'Unknown choice of "Severity" "Huge"\. Valid values, closest first'):
        lookup.custom_item_ids(severity, ["Huge"])
    with pytest.raises(UsageError, match='custom field "Severity" differs between ORBIT, NOVA'):
        await lookup.custom_field("Severity", await lookup.projects(["ORBIT", "NOVA"]))
    with pytest.raises(UsageError, match='Unknown custom field "Colour" in ORBIT'):
        await lookup.custom_field("Colour", orbit)


async def test_priorities_and_resolutions_by_name(lookup: Lookup, fake: FakeBacklog) -> None:
    assert await lookup.priority_ids(["high"]) == [2]
    assert await lookup.resolution_ids(["Fixed"]) == [0]
    fake.requests.clear()
    assert await lookup.priority_ids([]) == [] and await lookup.resolution_ids([]) == []
    assert fake.requests == []  # nothing asked for, nothing fetched


async def test_a_plain_list_does_not_fetch_priorities(mcp: Client, fake: FakeBacklog) -> None:
    result = await mcp.call_tool("get_user_issue_list", {"assignees": ["anyone"], "count": 1})
    assert not result.is_error
    assert "/priorities" not in {r.path for r in fake.requests}


async def test_a_day_range_and_its_older_pair_together_are_refused(mcp: Client) -> None:
    result = await mcp.call_tool("get_user_issue_list", {"created": "2026-11-01..", "created_since": "2026-11-10"})
    assert result.is_error and text_of(result) == "Pass created or created_since/created_until, not both."
