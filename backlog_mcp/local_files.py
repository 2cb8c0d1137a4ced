"""Files on this machine that a user asks to upload: only from the configured folders, regular files, capped.

Checked on the resolved real path, so neither `..` nor a symbolic link leads out of the folders; a
device, FIFO or socket is refused without being read; the size is checked before and while reading.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from backlog_mcp.errors import UsageError
from backlog_mcp.matching import shown
from backlog_mcp.render.text import fmt_size


@dataclass(frozen=True)
class LocalFile:
    """A file read for upload: its name, media type and bytes."""

    name: str
    kind: str
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


def _inside(path: Path, folders: tuple[Path, ...]) -> bool:
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


def read_local(raw: str, roots: tuple[Path, ...], cap: int, private: tuple[Path, ...] = ()) -> LocalFile:
    """The file at `raw` (absolute, or relative to the first folder), if it may be uploaded.

    `private`: files never uploaded even inside a root (the server's own cache, audit log and key);
    nor is a `.env` file (it holds the API key).

    Raises:
        UsageError: uploads are off, the path leads outside the folders (or to a private file), is
            not a regular file there, has other hard links, or is bigger than `cap`.
    """
    if not roots:
        raise UsageError("Uploads are off on this server; its operator enables them with BACKLOG_UPLOAD_ROOTS.")
    if "\x00" in raw:
        raise UsageError("The path holds a NUL character; pass a file's path.")
    folders = ", ".join(str(root) for root in roots)
    given = Path(raw.strip()).expanduser()
    real = Path(os.path.realpath(given if given.is_absolute() else roots[0] / given))
    hidden = real.name.startswith(".env") or real in {Path(os.path.realpath(p)) for p in private}
    if not _inside(real, roots) or hidden:
        raise UsageError(f'"{shown(raw)}" is outside the folders files may be uploaded from ({folders}).')
    try:
        before = os.stat(real)
        if not stat.S_ISREG(before.st_mode):
            raise UsageError(
                f'"{shown(raw)}" is not a regular file (a folder, device, FIFO or socket is not uploaded).'
            )
        if before.st_size > cap:
            raise UsageError(f'"{shown(raw)}" is {fmt_size(before.st_size)}; uploads are capped at {fmt_size(cap)}.')
        # O_NOFOLLOW and O_NONBLOCK: a link or FIFO swapped in since the check is refused, not followed or waited on.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise UsageError(f'There is no file "{shown(raw)}" in the upload folders ({folders}).') from None
    except OSError as exc:
        raise UsageError(f'"{shown(raw)}" cannot be read ({exc.strerror}).') from None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):
            raise UsageError(f'"{shown(raw)}" is not a regular file.')
        if opened.st_nlink > 1:  # a hard link made inside a folder may name a file from anywhere
            raise UsageError(f'"{shown(raw)}" has other hard links; copy the file into the folder instead.')
        # What was opened, not what was checked: a folder on the way swapped for a link since is caught here.
        where = Path(f"/proc/self/fd/{handle.fileno()}")
        if where.exists() and not _inside(Path(os.readlink(where)), roots):
            raise UsageError(f'"{shown(raw)}" is outside the folders files may be uploaded from ({folders}).')
        if not where.exists() and (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise UsageError(f'"{shown(raw)}" changed while it was opened; try again.')
        content = handle.read(cap + 1)
    if len(content) > cap:
        raise UsageError(f'"{shown(raw)}" is over {fmt_size(cap)}; uploads are capped there.')
    kind = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
    return LocalFile(real.name, kind, content)
