"""`python -m backlog_mcp.fake`: serve the fake Backlog on 127.0.0.1 for manual tries."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from backlog_mcp.fake import DEFAULT_API_KEY, FakeBacklog, build_space


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backlog_mcp.fake", description=__doc__)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--scale-issues", type=int, default=0, help="add project SCALE with this many issues")
    parser.add_argument("--long-thread", type=int, default=120, help="comments on the long-thread issues")
    args = parser.parse_args()
    space = build_space(long_thread_comments=args.long_thread, scale_project_issues=args.scale_issues)
    sys.stderr.write(
        f"fake Backlog on http://127.0.0.1:{args.port}  "
        f"(BACKLOG_DOMAIN=http://127.0.0.1:{args.port} BACKLOG_API_KEY={DEFAULT_API_KEY})\n"
    )
    uvicorn.run(FakeBacklog(space), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
