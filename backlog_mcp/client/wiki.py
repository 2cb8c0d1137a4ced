"""Wiki pages: list, read, create, update."""

from __future__ import annotations

from backlog_mcp.client.access import Scoped
from backlog_mcp.client.wire import JSONObject, Params, segment


class WikiEndpoints(Scoped):
    """Wiki pages."""

    async def wikis(self, project_key: str, keyword: str | None = None) -> list[JSONObject]:
        """A project's wiki pages (no content); `project_key` must pass the allow-list."""
        project = await self.project(project_key)
        params = {"projectIdOrKey": project["projectKey"], "keyword": keyword}
        return await self.get_list("/wikis", params, ttl=self._issue_ttl)

    async def wiki(self, wiki_id: int) -> JSONObject:
        """One page with its content; a page of a project outside the allow-list reads as missing."""
        path = f"/wikis/{segment(wiki_id)}"
        page = await self.get_object(path, ttl=self._issue_ttl)
        allowed = await self._allowed_project_ids()
        if allowed is not None and int(page.get("projectId") or 0) not in allowed:
            raise self._denied("wiki", path)
        return page

    async def create_wiki(self, project: JSONObject, name: str, content: str) -> JSONObject:
        self.require(str(project["projectKey"]), "write")
        form: Params = {"projectId": int(project["id"]), "name": name, "content": content, "mailNotify": "false"}
        data = await self._request("POST", "/wikis", data=form, stale=("/wikis", "/wikis/count", "/wikis/tags"))
        return data if isinstance(data, dict) else {}

    async def update_wiki(self, project: JSONObject, wiki_id: int, form: Params) -> JSONObject:
        self.require(str(project["projectKey"]), "write")
        stale = ("/wikis", "/wikis/count", "/wikis/tags", f"/wikis/{wiki_id}/*")
        data = await self._request("PATCH", f"/wikis/{wiki_id}", data=form, stale=stale)
        return data if isinstance(data, dict) else {}
