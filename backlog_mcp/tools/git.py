"""Git tools: a project's repositories and pull requests, and one pull request with its comments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from backlog_mcp.args import Count, MaxTokens, Offset, Person, ProjectKey, Text, Timezone, zone
from backlog_mcp.client import Params
from backlog_mcp.errors import NotFoundError, UsageError
from backlog_mcp.lookup import REPOSITORIES, gather
from backlog_mcp.matching import resolve
from backlog_mcp.render.git import render_pull_request, render_pull_requests, render_repositories
from backlog_mcp.render.issue import render_comments
from backlog_mcp.render.notation import LinkContext
from backlog_mcp.render.text import inline, item, plural, url_part
from backlog_mcp.render.writes import render_change
from backlog_mcp.tools.declare import Call, Kind, ToolSpec, format_call
from backlog_mcp.tools.issues import key_arg, missing
from backlog_mcp.tools.writing import Body, DryRun, Notify, converted, notified, notify_row, unconfirmed_is_unknown

STATUS_IDS = {"open": [1], "closed": [2], "merged": [3], "all": []}


async def repository_name(call: Call, project_key: str, wanted: str) -> tuple[str, str]:
    """A repository's (id, name) from its name (or an unambiguous part of it) or id; unknown: the valid names.

    Requests address it by id: a name is only ever shown.
    """
    repos = await call.app.client.repositories(project_key)
    by_id = [r for r in repos if str(r.get("id")) == wanted.strip()]
    if by_id:
        return str(by_id[0]["id"]), str(by_id[0]["name"])
    options: dict[str, set[int]] = {}
    for repo in repos:
        options.setdefault(str(repo.get("name")), set()).add(int(repo["id"]))
    chosen = resolve("repository", wanted.strip(), options, f"project {project_key}")
    return next((str(r["id"]), str(r["name"])) for r in repos if int(r["id"]) in chosen)


async def get_pull_requests(
    call: Call,
    project_key: ProjectKey,
    repository: Annotated[Text | None, Field(description="Leave out to list the repositories")] = None,
    status: Literal["open", "closed", "merged", "all"] = "open",
    assignee: Person = None,
    issue_key: Annotated[Text | None, Field(description="Only pull requests linked to this issue")] = None,
    offset: Offset = 0,
    count: Count = 20,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """A project's Git repositories, or one repository's pull requests with branch, author and linked issue."""
    tz = zone(timezone)
    app, client = call.app, call.app.client
    app.lookup.prefetch([project_key], REPOSITORIES)  # a key needs no lookup to name its repositories
    view_soon = app.client.early(app.view(tz))
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    if repository is None:
        if assignee or issue_key or offset:
            raise UsageError("Name a repository to filter pull requests; without one, the repositories are listed.")
        repos, view = await gather(client.repositories(key), view_soon)
        counts = await gather(*(client.count_pull_requests(key, str(r["id"]), {"statusId": [1]}) for r in repos))
        return render_repositories(repos, list(counts), project=key, view=view)
    repo_id, repo = await repository_name(call, key, repository)
    params: dict[str, list[int]] = {"statusId": STATUS_IDS[status]}
    scope = f"{status.capitalize() if status != 'all' else 'All'} pull requests of {key}/{inline(repo)}"
    if assignee:
        people = await app.lookup.users([assignee], [project])
        params["assigneeId"] = [uid for uid, _ in people]
        scope += f" assigned to {', '.join(item(name) for _, name in people)}"
    if issue_key:
        ref = key_arg(issue_key)
        try:
            issue = await client.issue(ref, child_summary=True)  # the form other tools cache
        except NotFoundError:
            raise missing(ref, app) from None
        params["issueId"] = [int(issue["id"])]
        scope += f" linked to {inline(issue['issueKey'])}"
    query: Params = {**params, "offset": offset, "count": count}
    filters: Params = params
    prs, total, view = await gather(
        client.pull_requests(key, repo_id, query), client.count_pull_requests(key, repo_id, filters), view_soon
    )
    if not prs and offset and offset >= total:
        raise UsageError(f"offset={offset} is past the end: {scope} has {total} (offsets 0 to {max(total - 1, 0)}).")
    return render_pull_requests(
        prs,
        scope=scope,
        total=total,
        offset=offset,
        view=view,
        next_call=lambda shown_to: call.again(project_key=key, repository=repo, offset=shown_to),
        budget=max_tokens,
    )


async def get_pull_request(
    call: Call,
    project_key: ProjectKey,
    repository: Annotated[Text, Field(description="Repository name")],
    number: Annotated[int, Field(ge=1, description="Pull request number")],
    comment_count: Annotated[int, Field(ge=0, le=100, description="Newest comments to include")] = 20,
    before_id: Annotated[int | None, Field(ge=1, description="Comments before this comment id")] = None,
    timezone: Timezone = None,
    max_tokens: MaxTokens = 10000,
) -> str:
    """One pull request: description, linked issue, branches, status, and its comments with changes."""
    tz = zone(timezone)
    app, client = call.app, call.app.client
    app.lookup.prefetch([project_key], REPOSITORIES)  # a key needs no lookup to name its repositories
    view_soon = app.client.early(app.view(tz))
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    repo_id, repo = await repository_name(call, key, repository)
    # maxId one below the bound: right whether Backlog's bound is inclusive or not (undocumented).
    params: Params = {
        "order": "desc",
        "count": min(comment_count + 1, 100),
        "maxId": before_id - 1 if before_id else None,
    }
    try:
        pr, comments, total, view = await gather(
            client.pull_request(key, repo_id, number),
            client.pull_request_comments(key, repo_id, number, params) if comment_count else _none(),
            client.count_pull_request_comments(key, repo_id, number),
            view_soon,
        )
    except NotFoundError:
        find = format_call(get_pull_requests, {"project_key": key, "repository": repo, "status": "all"})
        raise UsageError(f"{key}/{repo} has no pull request {number}; list them with {find}.") from None
    comments = [c for c in comments if before_id is None or int(c["id"]) < before_id]
    more = len(comments) > comment_count or len(comments) >= 100  # at 100, Backlog may hold more
    page = sorted(comments[:comment_count], key=lambda c: int(c["id"]))
    thread = ""
    if page:
        thread, _ = render_comments(
            page,
            rule=str(project.get("textFormattingRule", "markdown")),
            view=view,
            links=LinkContext(),
            budget=max_tokens - 1500 if comment_count == 1 else max_tokens // 2,  # one: the whole of it
            older=-1 if more else 0,
            older_call=lambda first: call.again(project_key=key, repository=repo, before_id=first),
        )
        thread = f"{plural(total, 'comment')} in all.\n\n{thread}"
    elif total and comment_count:
        thread = f"{plural(total, 'comment')}, none before comment {before_id}."
    elif total:
        thread = f"{plural(total, 'comment')}; read them with {call.again(comment_count=20)}."
    return render_pull_request(
        pr,
        repo=repo,
        project=key,
        rule=str(project.get("textFormattingRule", "markdown")),
        view=view,
        url=f"{app.settings.base_url}/git/{key}/{url_part(repo)}/pullRequests/{number}",
        thread=thread,
        budget=max_tokens,
    )


async def _none() -> list[dict[str, object]]:
    return []


async def add_pull_request_comment(
    call: Call,
    project_key: ProjectKey,
    repository: Annotated[Text, Field(description="Repository name")],
    number: Annotated[int, Field(ge=1, description="Pull request number")],
    content: Annotated[Body, Field(min_length=1, description="Comment in Markdown")],
    notify: Notify = None,
    dry_run: DryRun = None,
) -> str:
    """Comment on a pull request."""
    if not content.strip():
        raise UsageError("content is empty; write the comment text.")
    app, client = call.app, call.app.client
    app.lookup.prefetch([project_key], REPOSITORIES)  # a key needs no lookup to name its repositories
    project = await app.lookup.project(project_key)
    key = str(project["projectKey"])
    client.require(key, "comment")  # dry runs too
    repo_id, repo = await repository_name(call, key, repository)
    try:
        await client.pull_request(key, repo_id, number)
    except NotFoundError:
        find = format_call(get_pull_requests, {"project_key": key, "repository": repo, "status": "all"})
        raise UsageError(f"{key}/{repo} has no pull request {number}; list them with {find}.") from None
    text = converted(content, str(project.get("textFormattingRule", "markdown")))
    people = await notified(app.lookup, notify, project)
    call.note(project=key, target=f"{key}/{repo}#{number}", fields=["comment"], texts={"comment": content})
    rows = [("Comment", "", plural(len(text), "character")), *notify_row(people)]
    url = f"{app.settings.base_url}/git/{key}/{url_part(repo)}/pullRequests/{number}"
    if dry_run:
        head = f"Would comment on {key}/{inline(repo)}#{number}:"
        return render_change(head=head, rows=rows, dry_run=True, texts=[("Comment", text)], url=url)
    check = _check_pr_comments({"project_key": key, "repository": repo, "number": number})
    with unconfirmed_is_unknown(f"the comment on {key}/{repo}#{number}", check):
        saved = await client.add_pull_request_comment(key, repo_id, number, text, [uid for uid, _ in people])
    head = f"Comment {saved.get('id')} added to {key}/{inline(repo)}#{number}:"
    return render_change(head=head, rows=rows, dry_run=False, url=url)


def _check_pr_comments(args: Mapping[str, Any]) -> str:
    where = {k: args.get(k) for k in ("project_key", "repository", "number")}
    return format_call(get_pull_request, {**where, "comment_count": 3})


TOOLS = (
    ToolSpec(get_pull_requests, "Repositories and pull requests", "git"),
    ToolSpec(get_pull_request, "A pull request", "git"),
    ToolSpec(
        add_pull_request_comment,
        "Comment on a pull request",
        "git",
        Kind.WRITE,
        idempotent=False,
        verify=_check_pr_comments,
    ),
)
