"""A second server process for the shared-cache test: `python -m tests.cache_worker URL CACHE CALLS`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mcp import Client

from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY
from backlog_mcp.server import build_server


async def main(url: str, cache: str, calls: int) -> int:
    settings = Settings(api_key=DEFAULT_API_KEY, base_url=url, cache_path=Path(cache), issue_ttl=0.05, metadata_ttl=0.2)
    failures = 0
    async with Client(build_server(settings)) as client:
        for n in range(calls):
            name, args = [
                ("get_issue_details", {"issue_key": f"NOVA-{5 + n % 30}", "comment_count": 3}),
                ("get_user_issue_list", {"projects": ["ORBIT"], "count": 10, "offset": n % 5}),
                ("get_myself", {}),
            ][n % 3]
            result = await client.call_tool(name, args)
            if result.is_error:
                failures += 1
                sys.stderr.write(f"call {n} failed: {result.content[0].text}\n")  # type: ignore[union-attr]
    return failures


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
