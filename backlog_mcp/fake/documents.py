"""Documents of the fake space (the newer editor), and the routes that serve them.

Shapes from backlog-api.md §6.7: Document with a 32-hex id, `plain` text beside the editor's
`json`, tags and attachments; the DocumentTree with its active and trash trees. `GET /documents`
insists on `offset`, and lists only documents of projects the caller belongs to.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from backlog_mcp.fake.dataset import REFERENCE_NOW, Project, Space, ts
from backlog_mcp.fake.files import download
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, ids, matches, missing, paging, rejected, single

# (path, emoji, plain text): nesting by "/" as in the tree
DOCUMENTS = (
    ("Specs", "📁", "Product specifications."),
    (
        "Specs/Offline maps",
        "🗺️",
        "Offline maps\n\nGoals\n- Tiles for 3 regions\n- A 200 MB tile cache\n\nOpen: update cadence",
    ),
    ("Specs/ログイン刷新", None, "ログイン刷新\n\n目的: SSO 対応。\n\n1. SAML\n2. OIDC"),
    ("Meeting notes", "📝", "Weekly meetings."),
    ("Meeting notes/2026-11-17 weekly", None, "2026-11-17 weekly\n\n- Release 2.4.0 slips a week\n- QA: rotation"),
    ("Meeting notes/2026-11-10 weekly", None, "2026-11-10 weekly\n\n- Dark mode design approved"),
    ("Architecture", "🏗️", "Architecture overview\n\nClient → API gateway → services.\n\n```\nmake deploy\n```"),
)  # fmt: skip


def _doc_id(project: Project, path: str) -> str:
    return hashlib.md5(f"{project.data['projectKey']}/{path}".encode()).hexdigest()


def build_documents(space: Space, projects: list[Project]) -> None:
    """Seven documents a project, two of them folders of others; one in the trash."""
    for project in projects:
        children: dict[str, list[JSON]] = {}
        for n, (path, emoji, plain) in enumerate(DOCUMENTS):
            author = space.users[project.member_ids[n % len(project.member_ids)]]
            doc_id = _doc_id(project, path)
            created = REFERENCE_NOW - timedelta(days=90 - 5 * n)
            updated = REFERENCE_NOW - timedelta(days=n * 3 + 1, hours=n)
            title = path.rsplit("/", 1)[-1]
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            document: JSON = {
                "id": doc_id,
                "projectId": project.data["id"],
                "title": title,
                "plain": plain,
                "json": json.dumps({"type": "doc", "content": [{"type": "paragraph", "text": plain}]}),
                "statusId": 1,
                "emoji": emoji,
                "attachments": [
                    {
                        "id": 67_500 + n,
                        "name": "overview.png",
                        "size": 12_288,
                        "createdUser": author,
                        "created": ts(created),
                    }
                ]
                if path == "Architecture"
                else [],
                "tags": [{"id": 500 + n % 3, "name": ("spec", "meeting", "design")[n % 3]}],
                "createdUser": author,
                "created": ts(created),
                "updatedUser": author,
                "updated": ts(updated),
            }
            space.documents[doc_id] = document
            node: JSON = {"id": doc_id, "name": title, "children": [], "statusId": 1, "updated": ts(updated)}
            if emoji:
                node["emoji"] = emoji
            children.setdefault(parent, []).append(node)
            children[path] = node["children"]
        trashed = {"id": _doc_id(project, "Old draft"), "name": "Old draft", "children": []}
        space.document_trees[project.data["id"]] = {
            "projectId": project.data["id"],
            "activeTree": {"id": "Active", "children": children[""]},
            "trashTree": {"id": "Trash", "children": [trashed]},
        }


class DocumentRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_project`)."""

    space: Space

    def _project(self, req: Request, key: str) -> Project:
        raise NotImplementedError

    def _member_projects(self, user_id: int) -> list[int]:
        raise NotImplementedError

    def get_documents(self, req: Request) -> Answer:
        if single(req.query, "offset") is None:
            raise bad("offset is required.")
        offset, count = paging(req.query)
        wanted = ids(req.query, "projectId")
        visible = set(self._member_projects(req.user_id))
        keyword = single(req.query, "keyword")
        found = [
            d
            for d in self.space.documents.values()
            if d["projectId"] in visible
            and (not wanted or d["projectId"] in wanted)
            and matches(keyword, f"{d['title']} {d['plain']}")
        ]
        sort = single(req.query, "sort") or "updated"
        if sort not in ("created", "updated"):
            raise bad("sort must be created or updated.")
        order = single(req.query, "order") or "desc"
        if order not in ("asc", "desc"):
            raise bad("order must be asc or desc.")
        found.sort(key=lambda d: (d[sort], d["id"]), reverse=order == "desc")
        return 200, found[offset : offset + count], []

    def add_document(self, req: Request) -> Answer:
        """POST /documents: projectId, title and content (Markdown) required; emoji, parentId, addLast."""
        errors = [f"{name} is required." for name in ("projectId",) if not single(req.form, name)]
        if errors:
            raise rejected(errors)
        project = self._project(req, single(req.form, "projectId") or "")
        tree = self.space.document_trees.setdefault(
            project.data["id"],
            {"projectId": project.data["id"], "activeTree": {"id": "Active", "children": []},
             "trashTree": {"id": "Trash", "children": []}},
        )  # fmt: skip
        siblings = tree["activeTree"]["children"]
        parent_id = single(req.form, "parentId")
        if parent_id:
            parent = _node(siblings, parent_id)
            if parent is None:
                raise bad(f"parentId {parent_id} is not a document of this project.")
            siblings = parent["children"]
        user, now = self.space.users[req.user_id], ts(self.space.clock())
        content = single(req.form, "content") or ""
        doc_id = hashlib.md5(f"{project.data['id']}/{now}/{len(self.space.documents)}".encode()).hexdigest()
        emoji = single(req.form, "emoji") or None
        document: JSON = {
            "id": doc_id, "projectId": project.data["id"], "title": (single(req.form, "title") or "").strip(),
            "plain": content, "json": json.dumps({"type": "doc", "content": [{"type": "paragraph", "text": content}]}),
            "statusId": 1, "emoji": emoji, "attachments": [], "tags": [], "createdUser": user, "created": now,
            "updatedUser": user, "updated": now,
        }  # fmt: skip
        self.space.documents[doc_id] = document
        node: JSON = {"id": doc_id, "name": document["title"], "children": [], "statusId": 1, "updated": now}
        if emoji:
            node["emoji"] = emoji
        if single(req.form, "addLast") == "true":  # Backlog's default (false) puts it first
            siblings.append(node)
        else:
            siblings.insert(0, node)
        return 201, document, []

    def get_document(self, req: Request, doc_id: str) -> Answer:
        document = self.space.documents.get(doc_id)
        if document is None or document["projectId"] not in self._member_projects(req.user_id):
            raise missing("document")
        return 200, document, []

    def download_document_file(self, req: Request, doc_id: str, file_id: str) -> Answer:
        _status, document, _headers = self.get_document(req, doc_id)
        return download(document["attachments"], file_id)

    def get_document_tree(self, req: Request) -> Answer:
        key = single(req.query, "projectIdOrKey")
        if not key:
            raise bad("projectIdOrKey is required.")
        project = self._project(req, key)
        tree = self.space.document_trees.get(project.data["id"])
        if tree is None:
            empty: JSON = {"id": "Active", "children": []}
            tree = {"projectId": project.data["id"], "activeTree": empty, "trashTree": {"id": "Trash", "children": []}}
        return 200, tree, []


def _node(nodes: list[JSON], node_id: str) -> JSON | None:
    for node in nodes:
        if node["id"] == node_id:
            return node
        found = _node(node.get("children") or [], node_id)
        if found is not None:
            return found
    return None
