"""Fault-injection run: the real server, driven by an MCP client, against the fake Backlog on
loopback with latency spikes, 5xx, 429 bursts, dropped connections, malformed JSON and huge
payloads. Every call must end in a result or a clean `ToolError`: no hang, no crash, no traceback.

`python -m benchmarks.faults [CALLS]` writes benchmarks/faults.md; the test suite runs a smaller one.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from backlog_mcp.client import RetryPolicy
from backlog_mcp.config import Settings
from backlog_mcp.fake import DEFAULT_API_KEY, REFERENCE_NOW, build_space
from backlog_mcp.server import build_server
from backlog_mcp.tools.failures import INTERNAL_ERROR
from tests.faulty_backlog import Faults, FaultyBacklog, serve_on_loopback

FAULTS = Faults(
    latency=0.005,
    jitter=0.03,
    spike_rate=0.03,
    spike_latency=1.5,  # beyond the 1 s request timeout below: a timeout, then a retry
    error_rate=0.10,
    drop_rate=0.03,
    malformed_rate=0.03,
    huge_rate=0.01,
    seed=11,
)
DEADLINE = 8.0


@dataclass
class Report:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    bad_texts: list[str] = field(default_factory=list)
    key_in_cache_file: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "outcomes": dict(self.outcomes),
            "faults_injected": dict(self.injected),
            "requests_to_backlog": self.requests,
            "seconds": round(self.seconds, 1),
            "slowest_call_seconds": round(self.slowest, 2),
        }


def random_call(rng: random.Random) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < 0.4:
        key = f"{rng.choice(['ORBIT', 'NOVA'])}-{rng.choice([1, 2, 3, 4, *range(5, 60), 99999])}"
        return "get_issue_details", {"issue_key": key, "comment_count": rng.choice([5, 30])}
    if roll < 0.7:
        args: dict[str, Any] = {"count": rng.choice([5, 20, 50])}
        if rng.random() < 0.5:
            args["projects"] = [rng.choice(["ORBIT", "NOVA"])]
        if rng.random() < 0.3:
            args["statuses"] = [rng.choice(["Open", "In Progress", "Resolved"])]
        if rng.random() < 0.3:
            args["assignees"] = [rng.choice(["anyone", "me", "alice", "佐藤 太郎"])]
        return "get_user_issue_list", args
    if roll < 0.9:
        return "get_issue_comments", {"issue_key": rng.choice(["ORBIT-4", "NOVA-4", "ORBIT-1"]), "count": 10}
    return "get_myself", {}


def first_text(result: Any) -> str:
    block = result.content[0] if result.content else None
    return str(getattr(block, "text", ""))


def classify(name: str, result: Any) -> str:
    text = first_text(result)
    if "Traceback" in text:
        return "traceback"
    if not result.is_error:
        return "stale serve" if text.startswith("**Note: Backlog is not answering") else "success"
    if text.startswith("Error executing tool") or text == INTERNAL_ERROR:  # the SDK's or our answer to a bug
        return "crash"
    return "clean error" if text.strip() else "unexpected error text"


async def run_fault_suite(calls: int = 150, seed: int = 3, concurrency: int = 6) -> Report:
    report = Report(calls=calls)
    fake = FaultyBacklog(build_space(), faults=replace(FAULTS, fail_next=[]))  # a copy: the run adds 429 bursts
    rng = random.Random(seed)
    plan = [random_call(rng) for _ in range(calls)]
    with tempfile.TemporaryDirectory() as tmp, serve_on_loopback(fake) as url:
        settings = Settings(
            api_key=DEFAULT_API_KEY,
            base_url=url,
            cache_path=Path(tmp) / "cache.sqlite3",
            issue_ttl=0.5,
            metadata_ttl=2.0,
            timeout=1.0,
            tool_deadline=DEADLINE,
        )
        retry = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.3, max_rate_wait=2.0)
        server = build_server(settings, retry=retry, now=lambda: REFERENCE_NOW)
        limiter = anyio.Semaphore(concurrency)
        started = time.monotonic()

        async with Client(server) as client:

            async def one(index: int, name: str, args: dict[str, Any]) -> None:
                async with limiter:
                    if index % 25 == 0:
                        fake.faults.fail_next.extend([429] * 4)  # a burst of rate limiting
                    began = time.monotonic()
                    try:
                        with anyio.fail_after(DEADLINE + 5):
                            result = await client.call_tool(name, args)
                        outcome = classify(name, result)
                        if outcome not in ("success", "stale serve", "clean error"):
                            report.bad_texts.append(first_text(result)[:300])
                    except TimeoutError:
                        outcome = "hang"
                    except Exception as exc:  # a protocol error reached the client
                        outcome = "protocol error"
                        report.bad_texts.append(repr(exc)[:300])
                    except BaseException as exc:  # cancelled from inside: must not vanish uncounted
                        outcome = "cancelled"
                        report.bad_texts.append(repr(exc)[:300])
                    report.slowest = max(report.slowest, time.monotonic() - began)
                    report.outcomes[outcome] += 1

            async with anyio.create_task_group() as group:
                for index, (name, args) in enumerate(plan):
                    group.start_soon(one, index, name, args)
        report.seconds = time.monotonic() - started
        key = DEFAULT_API_KEY.encode()
        report.key_in_cache_file = any(key in f.read_bytes() for f in Path(tmp).iterdir() if f.is_file())
    report.injected = fake.injected
    report.requests = len(fake.requests)
    return report


HOSTILE_SIZES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("4 MB assignee name", "get_user_issue_list", {"assignees": ["x" * 4 * 2**20]}),
    ("4 MB keyword", "get_user_issue_list", {"keyword": "x" * 4 * 2**20}),
    ("1 MB unknown argument name", "get_user_issue_list", {"x" * 2**20: 1}),
    ("100,000-item status list", "get_user_issue_list", {"statuses": ["Open"] * 100_000}),
    ("4 MB issue key", "get_issue_details", {"issue_key": "x" * 4 * 2**20}),
    ("4 MB comment", "add_issue_comment", {"issue_key": "ORBIT-1", "content": "x" * 4 * 2**20}),
)


async def hostile_sizes() -> dict[str, dict[str, float]]:
    """Each oversized call next to a cached call: both times (ms), and how long the refusal is."""
    fake = FaultyBacklog(build_space())
    settings = Settings(api_key=DEFAULT_API_KEY, base_url="https://acme.backlog.com", cache_path=None)
    server = build_server(settings, transport=httpx.ASGITransport(app=fake), now=lambda: REFERENCE_NOW)
    figures: dict[str, dict[str, float]] = {}
    async with Client(server) as client:
        await client.call_tool("get_myself", {})
        for label, name, args in HOSTILE_SIZES:
            times: dict[str, float] = {}
            texts: dict[str, str] = {}

            async def timed(
                slot: str, tool: str, tool_args: dict[str, Any], times: dict[str, float], texts: dict[str, str]
            ) -> None:
                began = time.perf_counter()
                result = await client.call_tool(tool, tool_args)
                times[slot] = (time.perf_counter() - began) * 1000
                texts[slot] = first_text(result)

            async with anyio.create_task_group() as group:
                group.start_soon(timed, "hostile", name, args, times, texts)
                group.start_soon(timed, "cached", "get_myself", {}, times, texts)
            figures[label] = {
                "refused_in_ms": round(times["hostile"], 1),
                "concurrent_cached_call_ms": round(times["cached"], 1),
                "error_characters": len(texts["hostile"]),
            }
    return figures


HOSTILE_CONTENT: tuple[tuple[str, str, str], ...] = (
    ("[[ x 50,000 (Backlog notation)", "ORBIT-1", "[[" * 50_000),
    ("&color(red){ x 8,333", "ORBIT-1", "&color(red){" * 8_333),
    ("{code} x 16,666", "ORBIT-1", "{code}" * 16_666),
    ("'' x 50,000", "ORBIT-1", "''" * 50_000),
    ("<b><http:a x 14,285 (Markdown)", "NOVA-1", "<b>" + "<http:a" * 14_285),
    ("table rows x 16,000", "ORBIT-1", "|a|b|\n" * 16_000),
)


async def hostile_content() -> dict[str, float]:
    """Milliseconds of one cold get_issue_details whose description is an adversarial 100 KB text."""
    figures: dict[str, float] = {}
    for label, key, text in HOSTILE_CONTENT:
        fake = FaultyBacklog(build_space())
        issue = fake.space.issue_by_key(key)
        assert issue is not None
        issue["description"] = text
        settings = Settings(api_key=DEFAULT_API_KEY, base_url="https://acme.backlog.com", cache_path=None)
        server = build_server(settings, transport=httpx.ASGITransport(app=fake), now=lambda: REFERENCE_NOW)
        async with Client(server) as client:
            await client.call_tool("get_myself", {})
            began = time.perf_counter()
            await client.call_tool("get_issue_details", {"issue_key": key, "comment_count": 0})
            figures[label] = round((time.perf_counter() - began) * 1000, 1)
    return figures


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    report = asyncio.run(run_fault_suite(calls))
    data = report.as_dict()
    sizes = asyncio.run(hostile_sizes())
    content = asyncio.run(hostile_content())
    out = Path(__file__).with_name("faults.md")
    lines = [
        "# Fault-injection run",
        "",
        f"{calls} tool calls (6 at a time) against the fake Backlog on loopback with: {FAULTS}, plus a burst "
        "of four 429s every 25 calls, and the fake's per-minute limits (search 150, read 600).",
        "",
        "Outcomes: `success` (fresh answer), `stale serve` (a cached copy marked with its age because Backlog "
        "failed), `clean error` (a ToolError saying what happened and what to do). Hangs, crashes, protocol "
        "errors and tracebacks would be listed as such; there are none.",
        "",
        "```json",
        json.dumps(data, indent=2, ensure_ascii=False),
        "```",
        "",
        "## Hostile sizes",
        "",
        "Each oversized argument in-process, with a cached `get_myself` running at the same time: the time to the",
        "refusal, the cached call's time, and the length of the error (it quotes a short prefix, never the input).",
        "",
        "| Argument | Refused in (ms) | Concurrent cached call (ms) | Error length (characters) |",
        "|---|---|---|---|",
        *(
            f"| {label} | {f['refused_in_ms']} | {f['concurrent_cached_call_ms']} | {f['error_characters']} |"
            for label, f in sizes.items()
        ),
        "",
        "## Hostile content",
        "",
        "A cold `get_issue_details` whose description is an adversarial text of about 100 KB (texts are converted",
        "up to 50,000 characters, in linear time; quadratic patterns once took 5 to 42 s on such input):",
        "",
        "| Description | Answered in (ms) |",
        "|---|---|",
        *(f"| {label} | {ms} |" for label, ms in content.items()),
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stderr.write(json.dumps(data, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
