"""Match what the model typed (a status, a user, a milestone…) against the names Backlog knows."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping

from mcp.server.mcpserver.exceptions import ToolError


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def closest_first(wanted: str, names: Iterable[str]) -> list[str]:
    target = norm(wanted)
    unique = sorted(set(names))
    return sorted(unique, key=lambda n: -difflib.SequenceMatcher(None, target, norm(n)).ratio())


def resolve(kind: str, wanted: str, options: Mapping[str, set[int]], where: str = "") -> set[int]:
    """Ids for `wanted`: exact match (case- and width-insensitive), else one unambiguous substring.

    Raises:
        ToolError: no match or an ambiguous one; the message lists the valid names, closest first.
    """
    target = norm(wanted)
    by_norm: dict[str, set[int]] = {}
    display: dict[str, str] = {}
    for name, ids in options.items():
        by_norm.setdefault(norm(name), set()).update(ids)
        display.setdefault(norm(name), name)
    if target in by_norm:
        return by_norm[target]
    partial = [n for n in by_norm if target and target in n]
    if len(partial) == 1:
        return by_norm[partial[0]]
    names = closest_first(wanted, options)
    shown = ", ".join(f'"{n}"' for n in names[:15]) + (f" and {len(names) - 15} more" if len(names) > 15 else "")
    place = f" in {where}" if where else ""
    if len(partial) > 1:
        matches = ", ".join(f'"{display[n]}"' for n in partial[:10])
        raise ToolError(f'{kind} "{wanted}" is ambiguous{place}: it matches {matches}. Use the full name.')
    if not names:
        raise ToolError(f'Unknown {kind} "{wanted}": there are no {kind} values{place}.')
    raise ToolError(f'Unknown {kind} "{wanted}"{place}. Valid values, closest first: {shown}.')
