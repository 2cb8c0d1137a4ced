"""The fake's route table: each Backlog API path and method, to the handler that answers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from backlog_mcp.fake.dataset import PRIORITIES, RESOLUTIONS

Route = tuple[str, re.Pattern[str], Callable[..., Any]]


def route_table(app: Any) -> list[Route]:
    """Every route of `app` (a `FakeBacklog`: typed loosely, the app imports this), in the order they are tried."""
    r: list[Route] = []
    seg = r"([^/]+)"
    r.append(("GET", re.compile(r"/space"), app.get_space))
    r.append(("POST", re.compile(r"/space/attachment"), app.add_attachment))
    r.append(("GET", re.compile(r"/rateLimit"), app.get_rate_limit))
    r.append(("GET", re.compile(r"/users/myself"), app.get_myself))
    r.append(("GET", re.compile(r"/users"), app.get_users))
    r.append(("GET", re.compile(rf"/users/{seg}"), app.get_user))
    r.append(("GET", re.compile(rf"/users/{seg}/watchings"), app.get_watchings))
    r.append(("GET", re.compile(rf"/users/{seg}/watchings/count"), app.count_watchings))
    r.append(("GET", re.compile(r"/projects"), app.get_projects))
    r.append(("GET", re.compile(rf"/projects/{seg}"), app.get_project))
    r.append(
        (
            "GET",
            re.compile(rf"/projects/{seg}/(statuses|issueTypes|categories|versions|customFields|users)"),
            app.get_project_list,
        )
    )
    r.append(("POST", re.compile(rf"/projects/{seg}/versions"), app.add_version))
    r.append(("PATCH", re.compile(rf"/projects/{seg}/versions/{seg}"), app.update_version))
    r.append(("GET", re.compile(r"/priorities"), lambda req: (200, PRIORITIES, [])))
    r.append(("GET", re.compile(r"/resolutions"), lambda req: (200, RESOLUTIONS, [])))
    r.append(("GET", re.compile(r"/issues"), app.get_issues))
    r.append(("GET", re.compile(r"/issues/count"), app.count_issues))
    r.append(("POST", re.compile(r"/issues"), app.add_issue))
    r.append(("GET", re.compile(rf"/issues/{seg}"), app.get_issue))
    r.append(("PATCH", re.compile(rf"/issues/{seg}"), app.update_issue))
    r.append(("GET", re.compile(rf"/issues/{seg}/comments"), app.get_comments))
    r.append(("GET", re.compile(rf"/issues/{seg}/comments/count"), app.count_comments))
    r.append(("POST", re.compile(rf"/issues/{seg}/comments"), app.add_comment))
    r.append(("GET", re.compile(rf"/issues/{seg}/attachments"), app.get_attachments))
    r.append(("GET", re.compile(rf"/issues/{seg}/comments/{seg}"), app.get_comment))
    r.append(("PATCH", re.compile(rf"/issues/{seg}/comments/{seg}"), app.update_comment))
    r.append(("POST", re.compile(r"/watchings"), app.add_watching))
    r.append(("GET", re.compile(rf"/watchings/{seg}"), app.get_watching))
    r.append(("PATCH", re.compile(rf"/watchings/{seg}"), app.update_watching))
    r.append(("DELETE", re.compile(rf"/watchings/{seg}"), app.delete_watching))
    r.append(("POST", re.compile(r"/notifications/markAsRead"), app.reset_unread))
    r.append(("POST", re.compile(rf"/notifications/{seg}/markAsRead"), app.read_notification))
    r.append(("POST", re.compile(r"/wikis"), app.add_wiki))
    r.append(("PATCH", re.compile(rf"/wikis/{seg}"), app.update_wiki))
    r.append(("GET", re.compile(r"/wikis"), app.get_wikis))
    r.append(("GET", re.compile(r"/wikis/count"), app.count_wikis))
    r.append(("GET", re.compile(r"/wikis/tags"), app.get_wiki_tags))
    r.append(("GET", re.compile(rf"/wikis/{seg}"), app.get_wiki))
    r.append(("GET", re.compile(r"/notifications"), app.get_notifications))
    r.append(("GET", re.compile(r"/notifications/count"), app.count_notifications))
    r.append(("GET", re.compile(rf"/issues/{seg}/attachments/{seg}"), app.download_issue_file))
    r.append(("GET", re.compile(rf"/wikis/{seg}/attachments"), app.get_wiki_attachments))
    r.append(("GET", re.compile(rf"/wikis/{seg}/attachments/{seg}"), app.download_wiki_file))
    repo = rf"/projects/{seg}/git/repositories/{seg}"
    pr = rf"{repo}/pullRequests/{seg}"
    r.append(("GET", re.compile(rf"/projects/{seg}/git/repositories"), app.get_repositories))
    r.append(("GET", re.compile(repo), app.get_repository))
    r.append(("GET", re.compile(rf"{repo}/pullRequests"), app.get_pull_requests))
    r.append(("GET", re.compile(rf"{repo}/pullRequests/count"), app.count_pull_requests))
    r.append(("POST", re.compile(rf"{repo}/pullRequests"), app.add_pull_request))
    r.append(("PATCH", re.compile(pr), app.update_pull_request))
    r.append(("GET", re.compile(pr), app.get_pull_request))
    r.append(("GET", re.compile(rf"{pr}/comments"), app.get_pr_comments))
    r.append(("POST", re.compile(rf"{pr}/comments"), app.add_pr_comment))
    r.append(("GET", re.compile(rf"{pr}/comments/count"), app.count_pr_comments))
    r.append(("GET", re.compile(rf"{pr}/attachments"), app.get_pr_attachments))
    r.append(("GET", re.compile(rf"{pr}/attachments/{seg}"), app.download_pr_file))
    r.append(("GET", re.compile(r"/documents"), app.get_documents))
    r.append(("POST", re.compile(r"/documents"), app.add_document))
    r.append(("GET", re.compile(r"/documents/tree"), app.get_document_tree))
    r.append(("GET", re.compile(rf"/documents/{seg}"), app.get_document))
    r.append(("GET", re.compile(rf"/documents/{seg}/attachments/{seg}"), app.download_document_file))
    r.append(("GET", re.compile(r"/space/activities"), app.get_space_activities))
    r.append(("GET", re.compile(rf"/projects/{seg}/activities"), app.get_project_activities))
    r.append(("GET", re.compile(rf"/users/{seg}/activities"), app.get_user_activities))
    return r
