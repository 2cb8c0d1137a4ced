"""ASGI's shapes, and the plain answers the middlewares give before the app is reached."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def refuse(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    """A JSON `{"error": message}` answer."""
    await answer(send, status, {"error": message}, extra)


async def answer(send: Send, status: int, payload: dict[str, str], extra: dict[str, str]) -> None:
    await send_body(send, status, json.dumps(payload).encode(), "application/json", extra)


async def send_body(send: Send, status: int, body: bytes, kind: str, extra: dict[str, str]) -> None:
    headers = [(b"content-type", kind.encode()), *((k.encode(), v.encode()) for k, v in extra.items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
