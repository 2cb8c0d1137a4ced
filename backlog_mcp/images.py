"""Whether a downloaded file can go out as MCP image content: its type, its size, and that it decodes.

Clients reject an image they cannot decode or one too large (and some then fail on every later
turn), so first bytes are not enough: Pillow reads the dimensions from the header and decodes the
pixels, with the memory bounded (JPEG at 1/8 scale, big PNGs checked chunk by chunk instead).
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

MAX_SIDE = 8000  # pixels a side: the largest image clients accept
FULL_DECODE_PIXELS = 4096 * 4096  # beyond this a PNG is checked by its chunks' CRCs, not decoded in memory
# MPO: a JPEG carrying more pictures (phones' HDR gain maps): a JPEG to every client.
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
_OPENERS = ("PNG", "JPEG", "GIF", "WEBP")  # Pillow's JPEG opener gives an MPO file when it is one
# Decodes at once, across all calls (each can hold up to 64 MB of pixels while it runs).
_DECODING = threading.BoundedSemaphore(1)  # one: `warnings.catch_warnings` is not thread-safe


@dataclass(frozen=True)
class Checked:
    """An image that decodes (`problem` None), or why it cannot be sent as one."""

    mime: str | None
    width: int = 0
    height: int = 0
    problem: str | None = None


def check_image(data: bytes) -> Checked:
    """PNG, JPEG, GIF or WebP that decodes and is at most `MAX_SIDE` pixels a side; else the problem."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _DECODING, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_OPENERS) as opened:
                mime = _FORMATS.get(str(opened.format))
                width, height = opened.size
                if mime is None:
                    return Checked(None, problem="It is not a PNG, JPEG, GIF or WebP image.")
                if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                    return Checked(mime, width, height, f"It is {width}×{height} pixels, over {MAX_SIDE} a side.")
                if opened.format in ("JPEG", "MPO"):
                    opened.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # every block read, 1/64 the memory
                    opened.load()
                elif width * height > FULL_DECODE_PIXELS:
                    if opened.format != "PNG":
                        return Checked(mime, width, height, f"It is {width}×{height} pixels, too many to check.")
                    opened.verify()  # each chunk's CRC, through to IEND: truncation and corruption show
                else:
                    opened.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
        return Checked(None, problem="It does not decode as an image (truncated or damaged).")
    except Image.DecompressionBombError:  # over 178M pixels: at least one side is over MAX_SIDE
        return Checked(None, problem=f"Its header claims over {MAX_SIDE} pixels a side.")
    return Checked(mime, width, height)
