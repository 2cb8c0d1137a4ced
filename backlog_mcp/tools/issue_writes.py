"""The seed's issue writes: replace a description, add a comment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

from pydantic import Field

from backlog_mcp.args import IssueKey
from backlog_mcp.errors import NotFoundError, OutcomeUnknownError, UnconfirmedWriteError, UsageError
from backlog_mcp.render.text import UTC_ZONE
from backlog_mcp.render.writes import render_comment_added, render_description_set
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.issues import get_issue_comments, get_issue_details, key_arg, missing

MAX_BODY = 100_000  # characters of a description or comment

Body = Annotated[str, Field(max_length=MAX_BODY)]


@contextmanager
def _unconfirmed_is_unknown(key: str, call: Call, what: str, check: str) -> Iterator[None]:
    """A missing issue reads as missing; a write Backlog did not confirm is said to be of unknown outcome."""
    try:
        yield
    except NotFoundError:
        raise missing(key, call.app) from None
    except UnconfirmedWriteError as exc:
        raise OutcomeUnknownError(
            f"Backlog did not confirm {what} ({type(exc.__cause__).__name__}); it may or may not have been saved. "
            f"Check with {check} before trying again, or it may be applied twice."
        ) from None


async def update_issue_description(
    call: Call,
    issue_key: IssueKey,
    description: Annotated[Body, Field(description="The whole new text; empty clears it")],
) -> str:
    """Replace an issue's description (text in the project's format: Markdown or Backlog notation)."""
    key = key_arg(issue_key)
    c = call.app.client
    check = _check_description({"issue_key": key})
    with _unconfirmed_is_unknown(key, call, f"the new description of {key}", check):
        before = await c.issue(key, child_summary=True)
        issue = await c.update_issue(key, {"description": description}, current=before)
    return render_description_set(issue, str(before.get("description") or ""), await call.app.view(UTC_ZONE))


async def add_issue_comment(
    call: Call,
    issue_key: IssueKey,
    content: Annotated[Body, Field(min_length=1, description="Comment text in the project's format")],
) -> str:
    """Add a comment to an issue."""
    key = key_arg(issue_key)
    if not content.strip():
        raise UsageError("content is empty; write the comment text.")
    with _unconfirmed_is_unknown(key, call, f"the comment on {key}", _check_comments({"issue_key": key})):
        comment = await call.app.client.add_comment(key, content)
    return render_comment_added(comment, key, await call.app.view(UTC_ZONE))


def _check_description(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_details, {"issue_key": str(args.get("issue_key", "")).upper(), "comment_count": 0})


def _check_comments(args: Mapping[str, Any]) -> str:
    return format_call(get_issue_comments, {"issue_key": str(args.get("issue_key", "")).upper(), "count": 5})


TOOLS = (
    ToolSpec(
        update_issue_description,
        "Replace an issue's description",
        "issues",
        Kind.WRITE,
        idempotent=True,
        overwrites=True,  # the old text is gone (Backlog keeps it only in the change log)
        verify=_check_description,
    ),
    ToolSpec(add_issue_comment, "Comment on an issue", "issues", Kind.WRITE, idempotent=False, verify=_check_comments),
)
