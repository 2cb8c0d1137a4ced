"""Resources, prompts and completions: MCP features that mirror the tools, never replace them.

Resources (`backlog://issue/{key}` …) are read through the very tool entries, so they render with
the same code and pass the same access checks; a resource exists only when its tool is offered.
Several clients cannot read resources on their own, so everything stays reachable through tools.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    PromptReference,
    ResourceTemplateReference,
)

from backlog_mcp.app import AppState
from backlog_mcp.completion import complete
from backlog_mcp.errors import BacklogError, MissingError, NotFoundError, UsageError
from backlog_mcp.prompts import PROMPTS, PromptSpec, checked
from backlog_mcp.tools.failures import describe

if TYPE_CHECKING:
    from backlog_mcp.tools.registry import BacklogServer

# uri template, tool, the tool's argument the template fills, title
RESOURCES = (
    ("backlog://issue/{key}", "get_issue_details", "issue_key", "An issue with its newest comments"),
    ("backlog://project/{key}", "get_project", "project_key", "A project's set-up"),
    ("backlog://wiki/{id}", "get_wiki_page", "page_id", "A wiki page"),
    ("backlog://document/{id}", "get_document", "document_id", "A document"),
)


async def _read(server: BacklogServer, ctx: Context[AppState, Any], tool: str, argument: str, raw: str) -> str:
    value: Any = int(raw) if argument == "page_id" and raw.isascii() and raw.isdigit() else raw
    try:
        answer = await server.entry(tool).run(server.state_for(ctx), {argument: value})
    except ToolError as exc:
        # The tool's failure is this error's context: "does not exist" is a not-found, not an internal error.
        if isinstance(exc.__context__, MissingError | NotFoundError):
            raise ResourceNotFoundError(str(exc)) from None
        raise ResourceError(str(exc)) from None
    return answer if isinstance(answer, str) else "\n\n".join(part for part in answer if isinstance(part, str))


def _reader(server: BacklogServer, tool: str, argument: str, variable: str) -> Callable[..., Any]:
    """A handler whose parameter is the template's variable (the SDK matches them by name)."""

    async def by_key(key: str, ctx: Context[AppState, Any]) -> str:
        return await _read(server, ctx, tool, argument, key)

    async def by_id(id: str, ctx: Context[AppState, Any]) -> str:
        return await _read(server, ctx, tool, argument, id)

    return by_key if variable == "key" else by_id


def add_resources(server: BacklogServer) -> None:
    for uri, tool, argument, title in RESOURCES:
        if not server.offers(tool):
            continue
        variable = uri.rsplit("{", 1)[1].rstrip("}")
        name = uri.split("//")[1].split("/")[0]
        server.resource(uri, name=name, title=title, description=f"Same as {tool}.", mime_type="text/markdown")(
            _reader(server, tool, argument, variable)
        )


def _prompt(server: BacklogServer, spec: PromptSpec) -> Prompt:
    async def build(ctx: Context[AppState, Any], **arguments: str) -> str:
        try:
            given = checked(spec, arguments)
        except UsageError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        try:
            app = server.state_for(ctx)
        except ToolError as exc:  # per-user keys: no key, or one refused
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        # "Today" where the team works: the space's timezone, not the server's UTC.
        try:
            space = await app.client.space()
        except BacklogError as exc:  # said as the tools say it, not "Error rendering prompt" and a traceback
            said = describe(
                exc, app.settings.base_url, own_key=app.settings.per_user_keys, signed_in=app.settings.oauth is not None
            )
            raise MCPError(code=INTERNAL_ERROR, message=said) from None
        try:
            zone = ZoneInfo(str(space.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        today = app.now().astimezone(zone).date()
        return spec.build(today, **given, can_write=server.offers("update_issue"))

    return Prompt(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        arguments=[PromptArgument(name=n, description=d, required=r) for n, d, r in spec.arguments],
        fn=build,
        context_kwarg="ctx",
    )


def add_prompts(server: BacklogServer) -> None:
    """The prompts whose tools this server offers (a prompt must never name a missing tool)."""
    for spec in PROMPTS:
        if all(server.offers(tool) for tool in spec.tools):
            server.add_prompt(_prompt(server, spec))


def add_completions(server: BacklogServer) -> None:
    """Completions for prompt and resource-template arguments, from the shared (cached) lookup."""

    async def handler(ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        ref = params.ref
        if not isinstance(ref, PromptReference | ResourceTemplateReference):
            return CompleteResult(completion=Completion(values=[]))
        state: AppState = ctx.lifespan_context
        headers = getattr(getattr(ctx, "request", None), "headers", None)
        given = dict(params.context.arguments or {}) if params.context else {}
        name = params.argument.name
        if isinstance(ref, ResourceTemplateReference):
            name = {"key": "project_key" if "project" in ref.uri else "issue_key"}.get(name, name)
        try:
            app = server.state_from(state, headers)
            values = await complete(app, name, params.argument.value, given)
        except Exception:  # a completion is a convenience: failing quietly beats an error dialog
            values = []
        return CompleteResult(completion=Completion(values=values[:100], total=len(values), has_more=len(values) > 100))

    server.add_completion_handler(handler)
