"""Attachments: downloads (streamed, cut at the configured cap) and uploads (Backlog's first step of attaching)."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import Download, JSONObject, Upload
from backlog_mcp.errors import BadResponseError


class AttachmentEndpoints(Scoped):
    """Downloads and uploads."""

    async def download(self, path: str) -> Download:
        """An attachment's bytes, up to the configured cap (the caller checked the owner is allowed)."""
        result = await self._request("GET", path, cap=self.settings.attachment_cap)
        if not isinstance(result, Download):
            raise BadResponseError(f"GET {path}: expected a file", method="GET", path=path)
        return result

    async def upload(self, upload: Upload) -> JSONObject:
        """POST /space/attachment: the file is held by Backlog until an issue or comment takes its id."""
        data = await self._request("POST", "/space/attachment", upload=upload)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise BadResponseError(
                "POST /space/attachment: expected {id, name, size}", method="POST", path="/space/attachment"
            )
        return data
