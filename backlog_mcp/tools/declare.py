"""What a tool is, apart from MCP: a declaration (`ToolSpec`) next to a short async function.

A tool function takes a `Call` first (the app state, and a way to write its own follow-up
calls) and then its arguments, typed with `backlog_mcp.args`; it returns Markdown or raises
`UsageError` / a `BacklogError`. `backlog_mcp.tools.registry` turns declarations into MCP tools;
`select` decides which of them a server offers.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from backlog_mcp.config import TOOLSETS, ConfigError, Settings

Reporter = Callable[[float, float | None, str | None], Awaitable[None]]

if TYPE_CHECKING:
    from backlog_mcp.app import AppState


@dataclass(frozen=True)
class Image:
    """An image block of an answer (sent as MCP image content, base64)."""

    data: bytes
    mime: str


# What a tool function returns: Markdown, or Markdown and images in order.
Answer = str | list[str | Image]


class Kind(Enum):
    READ = "read"
    WRITE = "write"  # changes Backlog, adds or updates only
    DESTRUCTIVE = "destructive"  # removes or overwrites what cannot be got back; never on by default


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its function, a human title, its toolset and what it does to Backlog."""

    fn: Callable[..., Awaitable[Answer]]
    title: str
    toolset: str
    kind: Kind = Kind.READ
    idempotent: bool = True  # calling twice with the same arguments changes nothing more
    overwrites: bool = False  # a write that replaces what was there (not additive): destructiveHint
    hidden: frozenset[str] = field(default_factory=frozenset)  # accepted arguments left out of the schema
    # For a write: the read that tells whether it landed, written from the call's arguments.
    verify: Callable[[Mapping[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        if self.toolset not in TOOLSETS:
            raise ValueError(f"{self.name}: unknown toolset {self.toolset!r}")

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def summary(self) -> str:
        """The description's first sentence, for the server instructions."""
        first = self.description.split("\n\n")[0].replace("\n", " ")
        return first.split(". ")[0].rstrip(".")


def format_call(tool: str | Callable[..., Any], args: Mapping[str, Any]) -> str:
    """`name(a="x", b=2)`, the way a model would write the call; None values left out."""
    name = tool if isinstance(tool, str) else tool.__name__
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items() if v is not None)
    return f"{name}({inner})"


@dataclass(frozen=True)
class Call:
    """What a tool function gets besides its arguments."""

    app: AppState
    fn: Callable[..., Any]
    given: Mapping[str, Any]  # the arguments the caller set, validated; defaults left out
    # What a write tells the audit log: project, object, fields, texts (see `note`).
    notes: dict[str, Any] = field(default_factory=dict)
    reporter: Reporter | None = None  # the client's progress, when it sent a progress token

    async def progress(self, done: float, total: float | None, message: str) -> None:
        """How far multi-step work is (`done` only grows); nothing is sent unless the client asked for it."""
        if self.reporter is not None:
            with contextlib.suppress(Exception):  # a client that cannot take progress must not fail the call
                await self.reporter(done, total, message)

    def note(self, **facts: Any) -> None:
        """Record for the audit log what this write is about (project, target, fields, texts)."""
        self.notes.update(facts)

    def again(self, **changes: Any) -> str:
        """This very call with some arguments changed (None: left out), in signature order."""
        merged = {**self.given, **changes}
        order = list(inspect.signature(self.fn).parameters)
        chosen = {name: merged[name] for name in order if name in merged}
        if self.app.others or self.app.settings.spaces:  # several spaces: the follow-up stays in this one
            chosen["space"] = self.app.settings.space
        return format_call(self.fn, chosen)


def defaults_left_out(fn: Callable[..., Any], arguments: Mapping[str, Any], passed: Iterable[str]) -> dict[str, Any]:
    """The arguments the caller passed whose value differs from the signature's default, tidied.

    Tidied: strings stripped, list entries stripped and without repeats, so a follow-up call never
    carries padding or duplicates the call only tolerated.
    """
    parameters = inspect.signature(fn).parameters
    keep = set(passed)
    return {
        name: _tidy(value)
        for name, value in arguments.items()
        if name in keep and name in parameters and value != parameters[name].default
    }


def _tidy(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return list(dict.fromkeys(_tidy(entry) for entry in value))
    return value


def select(specs: Iterable[ToolSpec], settings: Settings) -> tuple[list[ToolSpec], dict[str, str]]:
    """The tools this server offers, and for each tool held back, why (said when it is called).

    Toolsets and tool names add up; with neither, every toolset is on. A destructive tool is on
    only when named in `BACKLOG_TOOLS`.
    Read-only mode then holds back every tool that is not a read.

    Raises:
        ConfigError: a tool name in `BACKLOG_TOOLS` / `--tools` that does not exist.
    """
    specs = list(specs)
    names = {spec.name for spec in specs}
    unknown = sorted((settings.tools or frozenset()) - names)
    if unknown:
        raise ConfigError(
            f"BACKLOG_TOOLS/--tools names unknown tool {unknown[0][:60]!r}; valid tools: {', '.join(sorted(names))}"
        )
    chosen: list[ToolSpec] = []
    held: dict[str, str] = {}
    for spec in specs:
        toolsets = settings.toolsets if settings.toolsets is not None or settings.tools is not None else TOOLSETS
        by_set = spec.toolset in (toolsets or ()) and spec.kind is not Kind.DESTRUCTIVE
        wanted = by_set or spec.name in (settings.tools or ())
        if settings.read_only and spec.kind is not Kind.READ:
            held[spec.name] = (
                f"{spec.name} changes Backlog, and this server runs read-only (BACKLOG_READ_ONLY / --read-only); "
                "nothing was sent. Only the server's configuration can allow writes."
            )
        elif not wanted:
            held[spec.name] = (
                f"{spec.name} is not enabled on this server (BACKLOG_TOOLSETS / BACKLOG_TOOLS leave it out)."
            )
        else:
            chosen.append(spec)
    return chosen, held
