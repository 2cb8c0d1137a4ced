"""Match what the model typed (a status, a user, a milestone…) against the names Backlog knows.

Bounded: the typed name and each candidate are cut to `MAX_NAME` characters and at most
`MAX_RANKED` candidates are ranked, so one call costs milliseconds whatever it is given.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping

from backlog_mcp.errors import UsageError

MAX_NAME = 100  # characters of a name that take part in matching
MAX_RANKED = 500  # candidates ranked by similarity; the rest keep their order
SHOWN = 15  # valid values quoted in an error


_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a Markdown backslash escape, as a model may copy it from an answer


def norm(text: str) -> str:
    unescaped = _ESCAPE.sub(r"\1", text[: MAX_NAME * 2])
    return unicodedata.normalize("NFKC", unescaped).casefold().strip()[:MAX_NAME]


def shown(text: str, limit: int = 40) -> str:
    """A value quoted back in a message: one line, at most `limit` characters, `"` and `\\` escaped.

    Escaped, a name cannot close its quotes early and pass for more values of a "valid values" list.
    """
    flat = " ".join(text[: limit * 4].split())
    cut = flat[:limit] + ("…" if len(flat) > limit else "")
    return cut.replace("\\", "\\\\").replace('"', '\\"')


def closest_first(wanted: str, names: Iterable[str]) -> list[str]:
    target = norm(wanted)
    unique = sorted(set(names))
    head, tail = unique[:MAX_RANKED], unique[MAX_RANKED:]
    matcher = difflib.SequenceMatcher(None, b=target, autojunk=False)

    def score(name: str) -> float:
        matcher.set_seq1(norm(name))
        return matcher.ratio()

    return sorted(head, key=lambda n: -score(n)) + tail


def resolve(kind: str, wanted: str, options: Mapping[str, set[int]], where: str = "") -> set[int]:
    """Ids for `wanted`: exact match (case- and width-insensitive), else one unambiguous substring.

    Raises:
        UsageError: no match or an ambiguous one; the message lists the valid names, closest first.
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
    # One thing under several names (a user's display name and login id) is not ambiguous.
    if partial and all(by_norm[n] == by_norm[partial[0]] for n in partial):
        return by_norm[partial[0]]
    place = f" in {where}" if where else ""
    if len(partial) > 1:
        matches = ", ".join(f'"{shown(display[n])}"' for n in partial[:10])
        raise UsageError(f'{kind} "{shown(wanted)}" is ambiguous{place}: it matches {matches}. Use the full name.')
    names = closest_first(wanted, options)
    if not names:
        raise UsageError(f'Unknown {kind} "{shown(wanted)}": there are no {kind} values{place}.')
    listed = ", ".join(f'"{shown(n)}"' for n in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    raise UsageError(f'Unknown {kind} "{shown(wanted)}"{place}. Valid values, closest first: {listed}{more}.')
