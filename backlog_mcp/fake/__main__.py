"""`python -m backlog_mcp.fake`: serve the fake Backlog on 127.0.0.1 for manual tries and demos."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, Faults, build_space


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backlog_mcp.fake", description=__doc__)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of answers that are 5xx")
    parser.add_argument("--scale-issues", type=int, default=0, help="add project SCALE with this many issues")
    parser.add_argument("--long-thread", type=int, default=120, help="comments on the long-thread issues")
    parser.add_argument("--no-rate-limit", action="store_true", help="lift the per-minute limits (benchmarks)")
    args = parser.parse_args()
    space = build_space(long_thread_comments=args.long_thread, scale_project_issues=args.scale_issues)
    limits = {"read": 10**7, "search": 10**7} if args.no_rate_limit else None
    app = FakeBacklog(space, faults=Faults(latency=args.latency, error_rate=args.error_rate), limits=limits)
    sys.stderr.write(
        f"fake Backlog on http://127.0.0.1:{args.port}  "
        f"(BACKLOG_DOMAIN=http://127.0.0.1:{args.port} BACKLOG_API_KEY={DEFAULT_API_KEY})\n"
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
