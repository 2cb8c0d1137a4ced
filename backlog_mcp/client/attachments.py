"""Attachment downloads: streamed, cut at the configured cap."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import Download
from backlog_mcp.errors import BadResponseError


class AttachmentEndpoints(Scoped):
    """Downloads."""

    async def download(self, path: str) -> Download:
        """An attachment's bytes, up to the configured cap (the caller checked the owner is allowed)."""
        result = await self._request("GET", path, cap=self.settings.attachment_cap)
        if not isinstance(result, Download):
            raise BadResponseError(f"GET {path}: expected a file", method="GET", path=path)
        return result
