from __future__ import annotations

import pytest
from inline_snapshot import snapshot
from mcp import Client

from backlog_mcp.fake import FakeBacklog
from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_get_myself_names_user_and_space(mcp: Client, fake: FakeBacklog) -> None:
    result = await mcp.call_tool("get_myself", {})
    assert not result.is_error
    assert text_of(result) == snapshot("""\
Connected to Backlog space **Acme 株式会社** (acme, https://acme.backlog.com)
as **Hana Sato** (login hana.sato, id 1073925001, Normal User).
Space timezone: Asia/Tokyo; default text formatting: markdown.\
""")
    assert sorted(r.path for r in fake.requests) == ["/space", "/users/myself"]
