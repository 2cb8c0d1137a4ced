"""The fault-injection suite (benchmarks/faults.py) as a test: zero hangs, crashes or tracebacks."""

from __future__ import annotations

import pytest

from backlog_mcp.fake import DEFAULT_API_KEY
from benchmarks.faults import run_fault_suite
from tests.conftest import Capture

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_fault_injection_suite(captured: Capture) -> None:
    report = await run_fault_suite(calls=150)
    print("fault suite:", report.as_dict())
    assert report.bad_texts == []
    assert set(report.outcomes) <= {"success", "stale serve", "clean error"}
    assert sum(report.outcomes.values()) == 150
    assert report.outcomes["success"] + report.outcomes["stale serve"] > 100
    for kind in ("5xx", "drop", "malformed", "latency spike", "429"):
        assert report.injected[kind] > 0, kind
    # After the run: the key is in no log record, no cache row or file.
    assert not report.key_in_cache_file
    assert captured.records
    for record in captured.records:
        assert DEFAULT_API_KEY not in record.getMessage(), record.name
