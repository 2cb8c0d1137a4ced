"""Documents: the tree, keyword hits, one document."""

from __future__ import annotations

from collections.abc import Sequence

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import JSONObject, Params, segment
from backlog_mcp.errors import BadResponseError


class DocumentEndpoints(Scoped):
    """Documents."""

    async def documents(self, project_key: str, params: Params) -> list[JSONObject]:
        project = await self.project(project_key)
        query = {**params, "projectId": [int(project["id"])]}
        return await self.get_list("/documents", query, ttl=self._issue_ttl)

    async def documents_of(self, project_ids: Sequence[int], params: Params) -> list[JSONObject]:
        """Documents of several projects in one request (keyword hits), within the allow-list."""
        scoped = await self._scoped({**params, "projectId": sorted(project_ids)})
        if scoped is None:
            return []
        return await self.get_list("/documents", scoped, ttl=self._issue_ttl)

    async def document_tree(self, project_key: str) -> JSONObject:
        project = await self.project(project_key)
        return await self.get_object("/documents/tree", {"projectIdOrKey": project["projectKey"]}, ttl=self._issue_ttl)

    async def document(self, document_id: str) -> JSONObject:
        path = f"/documents/{segment(document_id)}"
        document = await self.get_object(path, ttl=self._issue_ttl)
        allowed = await self._allowed_project_ids()
        if allowed is not None and int(document.get("projectId") or 0) not in allowed:
            raise self._denied("document", path)
        return document

    async def add_document(self, project: JSONObject, form: Params) -> JSONObject:
        """A new document in an allowed project at level `write`; lists, keyword hits and the tree go stale."""
        key = str(project["projectKey"])
        if not self.allows_key(key):
            raise self._denied("project", f"/projects/{segment(key)}")
        self.require(key, "write")
        data = await self._request("POST", "/documents", data={**form, "projectId": int(project["id"])},
                                   stale=("/documents", "/documents/tree"))  # fmt: skip
        if not isinstance(data, dict):
            raise BadResponseError("POST /documents: expected a JSON object", method="POST", path="/documents")
        return data
