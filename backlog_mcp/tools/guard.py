"""The boundary between Backlog failures and MCP: every tool body runs inside `guarded`.

Expected failures become a `ToolError` the model can act on; the call has an overall deadline;
answers built from stale cache copies say so.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from backlog_mcp.client import collect_stale
from backlog_mcp.errors import (
    AuthenticationError,
    BacklogError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from backlog_mcp.names import closest_first

if TYPE_CHECKING:
    from backlog_mcp.server import AppState

log = logging.getLogger(__name__)


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


# Tool name -> the argument names it accepts; the SDK would silently drop any others.
_ACCEPTED: dict[str, frozenset[str]] = {}


def add_read_tool(server: MCPServer[Any], fn: Callable[..., Awaitable[str]], title: str) -> None:
    """Register a read-only Markdown tool; its docstring, dedented, is the description."""
    description = inspect.cleandoc(fn.__doc__ or "")
    _ACCEPTED[fn.__name__] = frozenset(name for name in inspect.signature(fn).parameters if name != "ctx")
    server.add_tool(fn, title=title, description=description, annotations=READ_ONLY, structured_output=False)


def reject_unknown_arguments(ctx: Context[Any]) -> None:
    """A misspelled argument must not quietly turn into an unfiltered answer.

    Raises:
        ToolError: an argument the tool does not have, with the closest valid names.
    """
    params = ctx.request_context.params or {}
    accepted = _ACCEPTED.get(str(params.get("name")))
    arguments = params.get("arguments") or {}
    if accepted is None or not isinstance(arguments, dict):
        return
    unknown = sorted(set(arguments) - accepted)
    if unknown and not accepted:
        raise ToolError(f"This tool takes no arguments; leave out {', '.join(unknown)}.")
    if unknown:
        first = unknown[0]
        guess = closest_first(first, accepted)[0]
        raise ToolError(
            f'Unknown argument "{first}"'
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f'; did you mean "{guess}"? Valid arguments: {", ".join(sorted(accepted))}.'
        )


def app_state(ctx: Context[Any]) -> AppState:
    state: AppState = ctx.request_context.lifespan_context
    return state


def describe(exc: BacklogError, base_url: str) -> str:
    """One actionable sentence or two for the model; never a URL with the key."""
    backlog_says = f" Backlog says: {exc.message.split(': ', 1)[-1]}"
    match exc:
        case AuthenticationError():
            return (
                "Backlog rejected the API key (HTTP 401). The server's BACKLOG_API_KEY is wrong, revoked, "
                f"or belongs to another space than {base_url}; the user must fix the server configuration."
            )
        case ForbiddenError():
            return f"This Backlog user may not access that (HTTP 403).{backlog_says} Ask a project administrator."
        case NotFoundError():
            return f"Not found in Backlog (HTTP 404: {exc.method} {exc.path}).{backlog_says}"
        case BadRequestError():
            return f"Backlog rejected the request (HTTP 400).{backlog_says} Check the arguments and retry."
        case RateLimitedError():
            return (
                f"Backlog's rate limit for this API key is used up; it resets {exc.reset_text()}. "
                "Retry after that, and fetch less per call (smaller `count`)."
            )
        case ServerError():
            return "Backlog had an internal error and retries did not help; try again in a minute."
        case TransportError():
            return f"Cannot reach Backlog at {base_url} ({exc.message.split(': ', 1)[-1]}). Try again later."
        case BadResponseError():
            return f"Backlog sent an unexpected response ({exc.message.split(': ', 1)[-1]}). Try again later."
    return f"Backlog request failed: {exc.message}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


async def guarded(ctx: Context[Any], work: Callable[[AppState], Awaitable[str]]) -> str:
    """Run a tool body with the deadline, error translation and stale marking applied."""
    reject_unknown_arguments(ctx)
    app = app_state(ctx)
    deadline = app.settings.tool_deadline
    with collect_stale() as ages:
        try:
            with anyio.fail_after(deadline):
                text = await work(app)
        except TimeoutError:
            raise ToolError(
                f"Backlog did not finish answering within {deadline:g} s; try again, or ask for less "
                "(smaller `count`, fewer comments)."
            ) from None
        except BacklogError as exc:
            raise ToolError(describe(exc, app.settings.base_url)) from None
        except ToolError:
            raise
        except Exception:
            # A bug of ours: the traceback goes to stderr, the model gets a sentence it can act on.
            log.exception("unexpected failure in a tool call")
            raise ToolError(
                "The server failed to build this answer (an internal error, logged on its stderr). "
                "Try again, or ask for something narrower."
            ) from None
    if ages:
        text = f"**Note: Backlog is not answering; this is a cached copy about {_age(max(ages))} old.**\n\n{text}"
    return text
