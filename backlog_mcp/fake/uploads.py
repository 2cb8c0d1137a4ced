"""The fake's uploads: `POST /space/attachment` holds a file until an issue update or a comment takes its id."""

from __future__ import annotations

from backlog_mcp.fake.dataset import Space, change, ts
from backlog_mcp.fake.protocol import JSON, Answer, HTTPFailure, Request, bad, multi

MAX_UPLOAD = 100 * 2**20  # bytes; Backlog's limit depends on the plan


class UploadRoutes:
    """Route handlers mixed into `FakeBacklog` (which supplies `space`)."""

    space: Space

    def add_attachment(self, req: Request) -> Answer:
        part = next(((name, data) for field, name, data in req.files if field == "file"), None)
        if part is None:
            raise bad("file is required.")
        name, data = part
        if len(data) > MAX_UPLOAD:
            raise HTTPFailure(400, "The file is too large.", 10)  # TooLargeFileError
        attachment_id = max([*self.space.uploads, 70_000]) + 1
        self.space.uploads[attachment_id] = {"id": attachment_id, "name": name, "size": len(data), "user": req.user_id}
        return 200, {"id": attachment_id, "name": name, "size": len(data)}, []

    def take_uploads(self, req: Request, errors: list[str]) -> list[JSON]:
        """The attachments `attachmentId[]` names: uploaded by this user and not yet taken (Backlog's rule)."""
        taken = []
        for raw in multi(req.form, "attachmentId"):
            held = self.space.uploads.get(int(raw)) if raw.isascii() and raw.isdigit() else None
            if held is None or held["user"] != req.user_id:
                errors.append(f"No such attachment. (attachmentId[]={raw})")
                continue
            taken.append(held)
        return taken

    def attach(self, issue: JSON, held: list[JSON], user_id: int) -> list[JSON]:
        """Put the held files on the issue; their change rows, as a comment's change log lists them."""
        now, user = ts(self.space.clock()), self.space.users[user_id]
        changes = []
        for file in held:
            del self.space.uploads[file["id"]]
            attachment = {
                "id": file["id"],
                "name": file["name"],
                "size": file["size"],
                "createdUser": user,
                "created": now,
            }
            issue["attachments"].append(attachment)
            changes.append(
                change("attachment", None, file["name"], attachment={"id": file["id"], "name": file["name"]})
            )
        return changes
