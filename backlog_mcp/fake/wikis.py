"""The fake's wiki: pages of a project (no content in lists, as Backlog sends them), tags, a page; adding and
updating pages (400 for a name taken)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backlog_mcp.fake.dataset import Space, ts
from backlog_mcp.fake.files import download
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, matches, missing, rejected, single


class WikiRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_project`)."""

    space: Space

    if TYPE_CHECKING:  # supplied by `FakeBacklog`

        def _project(self, req: Request, key: str) -> Any: ...

    def _wiki(self, req: Request, wid: str) -> JSON:
        wiki = self.space.wikis.get(int(wid)) if wid.isascii() and wid.isdigit() else None
        if wiki is None or req.user_id not in self.space.projects[wiki["projectId"]].member_ids:
            raise missing("wiki")
        return wiki

    def get_wiki_attachments(self, req: Request, wid: str) -> Answer:
        return 200, self._wiki(req, wid)["attachments"], []

    def download_wiki_file(self, req: Request, wid: str, file_id: str) -> Answer:
        return download(self._wiki(req, wid)["attachments"], file_id)

    def _wikis_of(self, req: Request) -> list[JSON]:
        key = single(req.query, "projectIdOrKey")
        if not key:
            raise bad("projectIdOrKey is required.")
        project = self._project(req, key)
        pages = [w for w in self.space.wikis.values() if w["projectId"] == project.data["id"]]
        keyword = single(req.query, "keyword")
        return [w for w in pages if matches(keyword, f"{w['name']} {w['content']}")]

    def get_wikis(self, req: Request) -> Answer:
        """WikiListItem[]: no `content`, as Backlog sends it."""
        listed = [
            {k: v for k, v in w.items() if k not in ("content", "attachments", "sharedFiles", "stars")}
            for w in self._wikis_of(req)
        ]
        return 200, listed, []

    def count_wikis(self, req: Request) -> Answer:
        return 200, {"count": len(self._wikis_of(req))}, []

    def get_wiki_tags(self, req: Request) -> Answer:
        tags = {t["id"]: t for w in self._wikis_of(req) for t in w["tags"]}
        return 200, sorted(tags.values(), key=lambda t: t["id"]), []

    def get_wiki(self, req: Request, wid: str) -> Answer:
        return 200, self._wiki(req, wid), []

    # -- wiki --------------------------------------------------------------------------------------

    def add_wiki(self, req: Request) -> Answer:
        errors = [f"{name} is required." for name in ("projectId", "name", "content") if not single(req.form, name)]
        if errors:
            raise rejected(errors)
        project = self._project(req, single(req.form, "projectId") or "")
        name = (single(req.form, "name") or "").strip()
        if any(w["projectId"] == project.data["id"] and w["name"] == name for w in self.space.wikis.values()):
            raise bad(f"The wiki page name is already in use. ({name})")
        wid = max(self.space.wikis, default=3_300_000) + 1
        user, now = self.space.users[req.user_id], ts(self.space.clock())
        page = {
            "id": wid, "projectId": project.data["id"], "name": name, "content": single(req.form, "content"),
            "tags": [], "attachments": [], "sharedFiles": [], "stars": [], "createdUser": user, "created": now,
            "updatedUser": user, "updated": now,
        }  # fmt: skip
        self.space.wikis[wid] = page
        return 201, page, []

    def update_wiki(self, req: Request, wid: str) -> Answer:
        page = self._wiki(req, wid)
        name = single(req.form, "name")
        if name is not None:
            name = name.strip()
            clash = any(
                w["projectId"] == page["projectId"] and w["name"] == name and w is not page
                for w in self.space.wikis.values()
            )
            if not name or clash:
                raise bad(f"The wiki page name is already in use. ({name})" if name else "name must not be empty.")
            page["name"] = name
        content = single(req.form, "content")
        if content is not None:
            page["content"] = content
        page["updatedUser"], page["updated"] = self.space.users[req.user_id], ts(self.space.clock())
        return 200, page, []
