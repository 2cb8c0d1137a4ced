"""Attachments: a list of them, and one file shown as an image, as text, or described."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any

from backlog_mcp.render.text import (
    View,
    approx_tokens,
    clip,
    fenced,
    fmt_size,
    fmt_time,
    inline,
    plural,
    quote,
    user_name,
    visible_controls,
)

JSON = dict[str, Any]
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(head: bytes) -> str | None:
    """PNG, JPEG, GIF or WebP, by the file's own first bytes (a sent Content-Type can lie)."""
    for magic, mime in _IMAGES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


TEXT_NAMES = (
    ".txt", ".log", ".csv", ".tsv", ".json", ".xml", ".yaml", ".yml", ".md", ".sql", ".py", ".js", ".ts", ".java",
    ".kt", ".swift", ".rb", ".go", ".rs", ".c", ".h", ".cpp", ".cs", ".php", ".sh", ".ini", ".conf", ".toml",
    ".html", ".css", ".diff", ".patch", ".properties", ".env.example",
)  # fmt: skip
IMAGE_NAMES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def named_text(name: str) -> bool:
    return name.lower().endswith(TEXT_NAMES)


def as_text(body: bytes, complete: bool, *, named_text: bool = False) -> str | None:
    """The file as text: UTF-8 without NUL bytes (a cut last character dropped), or, for a file
    named as text, Shift_JIS (cp932), still common in Japanese spaces."""
    if b"\x00" in body[:65536]:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(body, final=complete)
    except UnicodeDecodeError:
        pass
    if not named_text:
        return None
    try:
        return codecs.getincrementaldecoder("cp932")().decode(body, final=complete)
    except UnicodeDecodeError:
        return None


def attachment_line(attachment: JSON, view: View) -> str:
    return (
        f"- {inline(attachment.get('name'))} (id {inline(attachment.get('id'))}) · "
        f"{fmt_size(attachment.get('size'))} · "
        f"{user_name(attachment.get('createdUser'), listed=True)}, {fmt_time(attachment.get('created'), view)[:10]}"
    )


def render_attachments(attachments: Sequence[JSON], *, owner: str, view: View) -> str:
    if not attachments:
        return f"{owner} has no attachments."
    lines = [attachment_line(a, view) for a in attachments]
    return "\n".join([f"{owner}: {plural(len(lines), 'attachment')}. Open one by its name or id.", "", *lines])


def describe(attachment: JSON, *, owner: str, url: str, view: View, why: str) -> str:
    """What a file is, when its content is not shown: name, type, size, who attached it, when, where."""
    return (
        f"{inline(attachment.get('name'))} (id {inline(attachment.get('id'))}) on {owner}: "
        f"{fmt_size(attachment.get('size'))}, attached by {user_name(attachment.get('createdUser'))} "
        f"on {fmt_time(attachment.get('created'), view)} ({view.tz_name}). {why} Open it in Backlog: {url}"
    )


def render_text_file(attachment: JSON, text: str, *, owner: str, complete: bool, budget: int) -> str:
    """A text file, fenced (it is not ours), clipped to the budget with a note saying so."""
    size = fmt_size(attachment.get("size"))
    head = f"{inline(attachment.get('name'))} (id {inline(attachment.get('id'))}, {size}) on {owner}:"
    # The estimate is ~3 bytes a token: nothing past budget * 3 bytes can be shown anyway.
    shown_text, cut = clip(visible_controls(text[: budget * 3 + 1]), budget - approx_tokens(head) - 80)
    body = quote(fenced(shown_text))
    if cut or not complete or len(text) > budget * 3:
        return f"{head}\n\n{body}\n\n_Only the start of the file is shown; it is {size} in all._"
    return f"{head}\n\n{body}"
