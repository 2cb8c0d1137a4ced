"""The MCP boundary for tools: declarations in, MCP tools out, every call through one pipeline.

For each declared tool: a lean published schema, a title and all four annotation hints. For
each call: the held-back check (read-only mode, toolsets), unknown-argument rejection, argument
validation, the deadline, the stale-copy note, and the translation of every expected failure
into one `ToolError` the model can act on. This is the only place a `ToolError` is made.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import ValidationError

from backlog_mcp import logs, metrics
from backlog_mcp.app import AppState
from backlog_mcp.client import collect_stale, collect_writes
from backlog_mcp.errors import (
    BacklogError,
    KeyRefusedError,
    OutcomeUnknownError,
    ReadOnlyError,
    UnconfirmedWriteError,
    UsageError,
    WriteLevelError,
)
from backlog_mcp.http import KEY_HEADER
from backlog_mcp.lookup import key_like
from backlog_mcp.matching import closest_first, shown
from backlog_mcp.tools.declare import Answer, Call, Image, Kind, Reporter, ToolSpec, defaults_left_out
from backlog_mcp.tools.failures import INTERNAL_ERROR, age_text, describe, invalid_text

log = logging.getLogger(__name__)

# Published schemas leave these out; validation still applies them (see `compact_schema`).
_UNPUBLISHED = ("title", "maxLength", "maxItems", "maxProperties", "minimum", "maximum")
# Defaults the server instructions state once for every tool (flags are false unless set).
_SAID_ONCE = frozenset({("max_tokens", 10000), ("offset", 0), ("count", 20)})
# Arguments every read tool takes, described once in the instructions rather than in 13 schemas.
COMMON_HIDDEN = frozenset({"timezone"})


def _published(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A property without the default the instructions already state."""
    default = prop.get("default", ...)
    if default is False or (name, default) in _SAID_ONCE:
        return {key: value for key, value in prop.items() if key != "default"}
    return prop


def compact_schema(schema: Any, hidden: frozenset[str] = frozenset()) -> Any:
    """The schema a model needs: no titles, optional arguments as their plain type, no null defaults.

    Bounds stay in validation but are not published (descriptions say the ranges that matter;
    an out-of-range value gets an error naming the range). `hidden` arguments (older names kept
    for old configurations) are left out.
    """
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _UNPUBLISHED:
            continue
        if key == "default" and value is None:
            continue
        if key == "propertyNames" and not compact_schema(value):  # dict keys bounded in validation only
            continue
        if key == "anyOf":
            options = [option for option in value if option != {"type": "null"}]
            if len(options) == 1:
                out.update(compact_schema(options[0]))
                continue
        if key == "properties":
            value = {name: prop for name, prop in value.items() if name not in hidden}
            out[key] = {name: _published(name, compact_schema(prop)) for name, prop in value.items()}
            continue
        out[key] = compact_schema(value)
    if "required" in out:
        out["required"] = [name for name in out["required"] if name not in hidden]
    return out


def hints(spec: ToolSpec) -> ToolAnnotations:
    """All four hints, explicitly: clients treat a missing hint as the worst case."""
    return ToolAnnotations(
        read_only_hint=spec.kind is Kind.READ,
        destructive_hint=spec.kind is Kind.DESTRUCTIVE or spec.overwrites,
        idempotent_hint=spec.idempotent,
        # One configured Backlog space is a closed domain, not the open web.
        open_world_hint=False,
    )


@dataclass(frozen=True)
class Entry:
    """A declared tool with its argument model, ready to run calls."""

    spec: ToolSpec
    meta: FuncMetadata
    spaces: tuple[str, ...] = ()  # several spaces configured: every tool takes `space`

    @property
    def accepted(self) -> frozenset[str]:
        names = frozenset(field.alias or name for name, field in self.meta.arg_model.model_fields.items())
        return names | {"space"} if self.spaces else names

    @functools.cached_property
    def lists(self) -> frozenset[str]:
        """Arguments that take a list."""
        props = compact_schema(self.meta.arg_model.model_json_schema(by_alias=True)).get("properties", {})
        return frozenset(name for name, prop in props.items() if prop.get("type") == "array")

    def tool(self) -> Tool:
        schema = compact_schema(self.meta.arg_model.model_json_schema(by_alias=True), self.spec.hidden | COMMON_HIDDEN)
        if self.spaces:  # only then: with one space, tools/list stays as it was, byte for byte
            schema.setdefault("properties", {})["space"] = {"type": "string"}  # the names: in the instructions
        return Tool(
            fn=self.spec.fn,
            name=self.spec.name,
            title=self.spec.title,
            description=self.spec.description,
            parameters=schema,
            fn_metadata=self.meta,
            is_async=True,
            annotations=hints(self.spec),
            context_kwarg=None,
        )

    def _arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validated arguments.

        Raises:
            UsageError: an argument the tool does not have (a misspelling must not quietly turn
                into an unfiltered answer), or a value of the wrong type or out of range.
        """
        unknown = sorted(set(arguments) - self.accepted)
        if unknown and not self.accepted:
            raise UsageError(f"This tool takes no arguments; leave out {', '.join(shown(u) for u in unknown[:5])}.")
        if unknown:
            valid = sorted(self.accepted - self.spec.hidden)
            guess = closest_first(unknown[0], valid)[0]
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise UsageError(
                f'Unknown argument "{shown(unknown[0])}"{more}; did you mean "{guess}"? '
                f"Valid arguments: {', '.join(valid)}."
            )
        try:
            return self.meta.validate_arguments({k: self._listed(k, v) for k, v in arguments.items()})
        except ValidationError as exc:
            raise UsageError(invalid_text(exc)) from None

    def _listed(self, name: str, value: Any) -> Any:
        """A list argument given one string (`kinds="comments"`) is a list of one; a JSON list in a string is a list."""
        if name not in self.lists or not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(value)
                if isinstance(parsed, list):
                    return parsed
        return [value]

    async def run(self, app: AppState, arguments: Mapping[str, Any], reporter: Reporter | None = None) -> Answer:
        deadline = app.settings.tool_deadline
        call: Call | None = None
        dry = False
        with collect_stale() as ages, collect_writes() as writes:
            try:
                args = self._arguments(arguments)
                dry = args.get("dry_run") is True
                call = Call(app, self.spec.fn, defaults_left_out(self.spec.fn, args, arguments), reporter=reporter)
                with anyio.fail_after(deadline):
                    answer = await self.spec.fn(call, **args)
            except UsageError as exc:
                self._audit(app, call, "refused", str(exc), arguments)
                raise ToolError(str(exc)) from None
            except TimeoutError:
                self._audit(app, call, "unknown" if writes else "failed", "deadline")
                raise ToolError(self._timed_out(deadline, arguments, sent=bool(writes))) from None
            except BacklogError as exc:
                outcome = (
                    "refused"
                    if isinstance(exc, ReadOnlyError | WriteLevelError)
                    else "unknown"
                    if isinstance(exc, OutcomeUnknownError | UnconfirmedWriteError)
                    else "failed"
                )
                said = describe(
                    exc, app.settings.base_url, own_key=app.settings.per_user_keys,
                    signed_in=app.settings.oauth is not None,
                )  # fmt: skip
                self._audit(app, call, outcome, said, arguments)
                raise ToolError(said) from None
            except Exception:
                # A bug of ours: the traceback goes to stderr, the model gets a sentence it can act on.
                log.exception("unexpected failure in %s", self.spec.name)
                self._audit(app, call, "failed", "internal error")
                raise ToolError(INTERNAL_ERROR) from None
        self._audit(app, call, "dry run" if dry else "done")
        if ages:
            note = f"**Note: Backlog is not answering; this is a cached copy about {age_text(max(ages))} old.**\n\n"
            return note + answer if isinstance(answer, str) else [note, *answer]
        return answer

    def _audit(
        self,
        app: AppState,
        call: Call | None,
        outcome: str,
        detail: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """One line in the audit log for every attempt of a write tool (never for a read)."""
        if app.audit is None or self.spec.kind is Kind.READ:
            return
        notes = call.notes if call is not None else {}
        app.audit.append(
            tool=self.spec.name,
            outcome=outcome,
            # Whose key or sign-in (its cache identity: stable across a signed-in user's hourly tokens).
            user=app.client.scope.rpartition("#")[2][:12] if app.settings.per_user_keys else None,
            space=app.settings.space or None,
            project=notes.get("project") or project_named(arguments or {}),
            target=notes.get("target"),
            fields=notes.get("fields", ()),
            texts=notes.get("texts"),
            detail=detail if outcome != "done" else "",
        )

    def _timed_out(self, deadline: float, arguments: Mapping[str, Any], *, sent: bool) -> str:
        if not sent:  # a read, or a write cut before its request left: nothing changed
            return (
                f"Backlog did not finish answering within {deadline:g} s; try again, or ask for less "
                "(smaller `count`, fewer comments)."
            )
        # The request may have reached Backlog: never invite a blind retry of a write.
        check = self.spec.verify(arguments) if self.spec.verify else "a read of what it changes"
        return (
            f"Backlog did not confirm within {deadline:g} s, so it is unknown whether the change was made. "
            f"Check with {check} before trying again."
        )


def project_named(arguments: Mapping[str, Any]) -> str | None:
    """The project a call names (`project_key`, or an issue key's prefix), for the audit line of a refusal.

    Only a well-formed key is recorded: the arguments are the caller's text.
    """
    raw = arguments.get("project_key") or str(arguments.get("issue_key") or "").rpartition("-")[0]
    return key_like(raw) if isinstance(raw, str) else None


def entries(specs: Sequence[ToolSpec], spaces: tuple[str, ...] = ()) -> list[Entry]:
    return [Entry(spec, func_metadata(spec.fn, skip_names=["call"], structured_output=False), spaces) for spec in specs]


class BacklogServer(MCPServer[AppState]):
    """`MCPServer` whose tool calls run through `Entry.run`, with held-back tools refused by name."""

    def __init__(
        self, tools: Sequence[Entry], held: Mapping[str, str], held_writes: frozenset[str] = frozenset(), **kwargs: Any
    ) -> None:
        super().__init__(tools=[entry.tool() for entry in tools], **kwargs)
        self._entries = {entry.spec.name: entry for entry in tools}
        self._held = dict(held)
        self._held_writes = held_writes  # refusals of these are audited
        self.running: AppState | None = None  # while the lifespan is open (HTTP's /readyz asks it)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult:
        entry = self._entries.get(name)
        if entry is None or context is None:
            if name in self._held:
                if context is not None and name in self._held_writes:
                    state: AppState = context.request_context.lifespan_context
                    if state.audit is not None:
                        project = project_named(arguments if isinstance(arguments, Mapping) else {})
                        state.audit.append(tool=name, outcome="refused", project=project, detail=self._held[name])
                raise ToolError(self._held[name])
            valid = closest_first(name[:100], self._entries)
            raise ToolError(
                f'Unknown tool "{shown(name, 60)}"; did you mean "{valid[0]}"? Tools, closest first: '
                f"{', '.join(valid)}."
            )
        app = self.state_for(context)
        given = dict(arguments) if isinstance(arguments, Mapping) else {}
        if app.others:
            app = await in_space(app, given.pop("space", None), given)
        with metrics.tool_call(name), logs.tool_call(name):
            answer = await entry.run(app, given, context.report_progress)
        return CallToolResult(content=blocks(answer), is_error=False)

    def state_for(self, context: Context[AppState, Any]) -> AppState:
        """The app state for this request: in per-user HTTP mode, the one for the caller's own key."""
        return self.state_from(context.request_context.lifespan_context, context.headers)

    @staticmethod
    def state_from(app: AppState, headers: Mapping[str, str] | None) -> AppState:
        if app.users is None:
            return app
        if app.settings.oauth is not None:
            from backlog_mcp.oauth import signed_in

            return signed_in(app)
        key = ((headers or {}).get(KEY_HEADER) or "").strip()
        if not key:  # the HTTP guard refuses such requests; this is the last line
            raise ToolError("This server needs your Backlog API key in the X-Backlog-Api-Key header.")
        if not (8 <= len(key) <= 200 and key.isascii() and key.isprintable() and " " not in key):
            raise ToolError("The X-Backlog-Api-Key header does not hold a Backlog API key; paste the key exactly.")
        try:
            return app.for_key(key)
        except KeyRefusedError as exc:
            raise ToolError(exc.message) from None

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[AppState, Any] | None = None
    ) -> Any:
        """A prompt; a missing argument is an invalid-params error that names it (the SDK says only "internal")."""
        from mcp.shared.exceptions import MCPError
        from mcp.types import INVALID_PARAMS

        prompt = self._prompt_manager.get_prompt(name)
        if prompt is not None:
            given = {k for k, v in (arguments or {}).items() if v and str(v).strip()}
            absent = [a.name for a in prompt.arguments or [] if a.required and a.name not in given]
            if absent:
                raise MCPError(code=INVALID_PARAMS, message=f"Prompt {name} needs {', '.join(absent)}.")
        return await super().get_prompt(name, arguments, context)

    def entry(self, name: str) -> Entry:
        return self._entries[name]

    def offers(self, name: str) -> bool:
        return name in self._entries

    def add_completion_handler(self, handler: Any) -> None:
        """Completions need the request's app state, which the SDK's decorator does not pass on."""
        from mcp.types import CompleteRequestParams

        self._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, handler)


async def in_space(app: AppState, named: Any, arguments: Mapping[str, Any]) -> AppState:
    """The space a call is for: the one named; else the one holding the project its key names; else the default.

    Raises:
        ToolError: an unknown space, or a project key found in several spaces (the answer names them).
    """
    names = app.space_names
    if named is not None:
        wanted = str(named).strip().lower()
        if wanted not in names:
            raise ToolError(f'Unknown space "{shown(str(named), 40)}". Spaces: {", ".join(names)}.')
        return app.in_space(wanted)
    key = project_named(arguments)
    if not key:
        by_id = sorted(arg for arg in ID_ARGUMENTS if arguments.get(arg)) or (
            ["issue_key"] if str(arguments.get("issue_key") or "").strip().isdigit() else []
        )
        if by_id:  # an id means nothing across spaces: never guess which one (a write would land there)
            raise ToolError(f"{by_id[0]} names an object by id; pass space= one of {', '.join(names)}.")
        return app
    # Every space at once, within the call's deadline; a space that cannot answer is never taken to
    # "not hold" the key (a write would then land in the other one).
    with anyio.move_on_after(app.settings.tool_deadline):
        found = await asyncio.gather(*(_keys(app.in_space(name)) for name in names), return_exceptions=True)
        holding = [name for name, keys in zip(names, found, strict=True) if isinstance(keys, set) and key in keys]
        silent = [name for name, keys in zip(names, found, strict=True) if not isinstance(keys, set)]
        if len(holding) > 1:
            raise ToolError(f"{key} is a project in several spaces ({', '.join(holding)}); pass space= one of them.")
        if silent:
            raise ToolError(
                f"Space {', '.join(silent)} cannot be asked now whether it holds {key}; pass space= to choose."
            )
        return app.in_space(holding[0]) if holding else app
    raise ToolError(f"The spaces did not answer in time to find {key}; pass space= to choose.")


ID_ARGUMENTS = ("page_id", "document_id", "notification_id")  # ids a space gives, that another may repeat


async def _keys(state: AppState) -> set[str]:
    return {str(p.get("projectKey")) for p in await state.client.projects()}


def blocks(answer: Answer) -> list[ContentBlock]:
    """MCP content for an answer: Markdown as text, images as base64 image content."""
    parts = [answer] if isinstance(answer, str) else answer
    out: list[ContentBlock] = []
    for part in parts:
        if isinstance(part, Image):
            data = base64.b64encode(part.data).decode("ascii")
            out.append(ImageContent(type="image", data=data, mime_type=part.mime))
        else:
            out.append(TextContent(type="text", text=part))
    return out
