"""The fake's milestone (version) writes: adding one to a project and updating it, as Backlog checks them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from backlog_mcp.fake.dataset import Space
from backlog_mcp.fake.protocol import JSON, Answer, Request, bad, missing, rejected, single

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class MilestoneRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space` and `_project`)."""

    space: Space

    if TYPE_CHECKING:  # supplied by `FakeBacklog`

        def _project(self, req: Request, key: str) -> Any: ...

    def add_version(self, req: Request, key: str) -> Answer:
        project = self._project(req, key)
        fields = self._version_fields(req, project.versions, None)
        version: JSON = {
            "id": max((v["id"] for p in self.space.projects.values() for v in p.versions), default=0) + 1,
            "projectId": project.data["id"],
            "description": "",
            "startDate": None,
            "releaseDueDate": None,
            "archived": False,
            "displayOrder": 2147483646,
            **fields,
        }
        project.versions.append(version)
        return 200, version, []  # Backlog's docs: 200 OK

    def update_version(self, req: Request, key: str, version_id: str) -> Answer:
        project = self._project(req, key)
        version = next((v for v in project.versions if str(v["id"]) == version_id), None)
        if version is None:
            raise missing("version")
        version.update(self._version_fields(req, project.versions, version))
        archived = single(req.form, "archived")
        if archived is not None:
            if archived not in ("true", "false"):
                raise bad("archived must be true or false.")
            version["archived"] = archived == "true"
        # Issues refer to their milestones and versions: they show the new name at once.
        for issue in self.space.issues.values():
            if issue["projectId"] == project.data["id"]:
                for field in ("milestone", "versions"):
                    issue[field] = [dict(version) if v["id"] == version["id"] else v for v in issue[field]]
        return 200, version, []

    def _version_fields(self, req: Request, versions: list[JSON], current: JSON | None) -> JSON:
        """name (required on add and on update, as Backlog's API has it), description, the two days."""
        name = (single(req.form, "name") or "").strip()
        if not name:
            raise rejected(["name is required."])
        if any(v["name"] == name and v is not current for v in versions):
            raise bad(f"The version or milestone name is already in use. ({name})")
        out: JSON = {"name": name}
        description = single(req.form, "description")
        if description is not None:
            out["description"] = description
        for field in ("startDate", "releaseDueDate"):
            value = single(req.form, field)
            if value is None:
                continue
            if value and not _DAY.fullmatch(value):
                raise bad(f"{field} must be yyyy-MM-dd.")
            out[field] = f"{value}T00:00:00Z" if value else None
        start = out.get("startDate", (current or {}).get("startDate"))
        due = out.get("releaseDueDate", (current or {}).get("releaseDueDate"))
        if start and due and due < start:
            raise bad("releaseDueDate must be on or after startDate.")
        return out
