"""Real bytes for the fake's attachments: a valid PNG, a UTF-8 log, an opaque binary.

Each file is made from its name and its declared size alone (same name and size, same bytes),
and is exactly `size` bytes long, so the metadata Backlog lists and the download agree.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

from backlog_mcp.fake.protocol import JSON, Answer, Download, missing

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
}


def content_type(name: str) -> str:
    """The type Backlog sends for a download, by extension; anything else is a byte stream."""
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:].lower(), "application/octet-stream") if dot >= 0 else "application/octet-stream"


def file_bytes(name: str, size: int) -> bytes:
    """`size` bytes that are what `name` says: an image, text, or opaque binary."""
    kind = content_type(name)
    if kind == "image/png":
        return _png(size, seed=name)
    if kind.startswith("text/") or kind == "application/json":
        return _text(name, size)
    return _binary(name, size)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(size: int, *, seed: str, width: int = 64, height: int = 40) -> bytes:
    """A small screenshot-like RGB image, padded to `size` with a private ancillary chunk."""
    tint = hashlib.sha256(seed.encode()).digest()
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            bar = y < 6  # a title bar, then a light window with a darker panel
            panel = 8 <= x < 24 and y >= 6
            if bar:
                row += bytes([40, 60, 90])
            elif panel:
                row += bytes([200, 210, 220])
            else:
                row += bytes([245, 245 - (x % 16), tint[y % 32] // 4 + 190])
        rows.append(bytes(row))
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    body = _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    end = _chunk(b"IEND", b"")
    bare = len(PNG_SIGNATURE) + len(header) + len(body) + len(end)
    if size < bare + 12:
        return PNG_SIGNATURE + header + body + end
    pad = _chunk(b"fkPd", bytes(size - bare - 12))  # lowercase first letter: decoders skip it
    return PNG_SIGNATURE + header + body + pad + end


def _text(name: str, size: int) -> bytes:
    lines = [
        f"# {name}",
        "2026-11-18 09:12:03.114 E/AndroidRuntime: FATAL EXCEPTION: main",
        "java.lang.NullPointerException: Attempt to invoke virtual method 'void MapView.rotate()' on a null object",
        "    at jp.acme.orbit.map.MapFragment.onRotate(MapFragment.kt:214)",
        "    at jp.acme.orbit.map.MapFragment.onConfigurationChanged(MapFragment.kt:98)",
        "    at android.app.Activity.dispatchConfigurationChanged(Activity.java:3312)",
        "2026-11-18 09:12:03.120 I/回転: 画面の向きが変わりました (landscape)",
    ]
    text = "\n".join(lines) + "\n"
    n = 0
    while len(text.encode()) < size:
        n += 1
        text += f"2026-11-18 09:12:{n % 60:02d}.{n:03d} D/Trace: frame {n} rendered in {n % 17 + 3} ms\n"
    data = text.encode()[:size]
    return data.decode("utf-8", errors="ignore").encode().ljust(size, b"\n")


def _binary(name: str, size: int) -> bytes:
    out = bytearray(b"%PDF-1.7\n" if name.lower().endswith(".pdf") else b"PK\x03\x04")  # a pdf or a zip
    block = hashlib.sha256(name.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def download(attachments: list[JSON], file_id: str) -> Answer:
    """An attachment's bytes, as Backlog sends a download: its own type, the name in RFC 5987 form."""
    found = next((a for a in attachments if str(a["id"]) == file_id), None)
    if found is None:
        raise missing("attachment")
    return 200, Download(file_bytes(found["name"], found["size"]), content_type(found["name"]), found["name"]), []
