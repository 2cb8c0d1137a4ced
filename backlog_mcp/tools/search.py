"""search_backlog: one question across the space's issues (and their comments), wiki, documents, pull requests.

Backlog has a keyword filter for issues, wiki pages and documents, none for pull requests: those
are matched here, on the summary and description, from each repository's newest pull requests.
Issues and documents take every project in one request; wiki pages and repositories are per
project, so a call fans out to at most `FANOUT` projects and `MAX_REPOSITORIES` repositories, and
says which projects it left out, with the call that covers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field

from backlog_mcp.args import MAX_TEXT, MaxTokens, Names
from backlog_mcp.client import JSONObject, Params
from backlog_mcp.errors import APIError, AuthenticationError, BacklogError, KeyRefusedError, UsageError
from backlog_mcp.lookup import gather
from backlog_mcp.render.notation import plain_lines, to_markdown
from backlog_mcp.render.search import Found, Hit, render_search
from backlog_mcp.render.text import item
from backlog_mcp.tools.declare import Call, ToolSpec, format_call

Kind = Literal["issues", "wiki", "documents", "pull_requests"]
KINDS: tuple[Kind, ...] = ("issues", "wiki", "documents", "pull_requests")
HITS = 20  # hits of each kind asked of Backlog (and shown, budget allowing)
FANOUT = 4  # projects whose wiki and repositories one call reads (one request each)
MAX_REPOSITORIES = 6  # repositories whose newest pull requests one call reads
SNIPPETS = 3  # hits of a kind whose text is read to show where the match is (comments, wiki pages)
PR_PAGE = 100  # a repository's newest pull requests matched locally (Backlog's largest page)


def _words(query: str) -> list[str]:
    return [w.casefold() for w in query.split()]


def _has(text: str, words: Sequence[str]) -> bool:
    folded = text.casefold()
    return all(w in folded for w in words)


def _any(text: str, words: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(w in folded for w in words)


def _best(query: str, words: Sequence[str], *texts: str) -> int | None:
    """Which of `texts` to show the match in: the first holding the whole query, else the first holding a word."""
    whole = query.casefold()
    first = next((i for i, text in enumerate(texts) if whole in text.casefold()), None)
    return first if first is not None else next((i for i, text in enumerate(texts) if _any(text, words)), None)


def _plain(text: object, rule: str, words: Sequence[str] = ()) -> str:
    """Text to cut a snippet from: its prose without marks, or (when the words are only in what that drops,
    such as a fence's line) the converted text whole; `marked` escapes either."""
    plain = " ".join(plain_lines(str(text or ""), rule))
    if words and not _any(plain, words) and _any(str(text or ""), words):
        return " ".join(to_markdown(str(text or ""), rule).split())
    return plain


T = TypeVar("T")


@dataclass
class Notes:
    """What a call could not read or left out, said under the hits."""

    lines: list[str] = field(default_factory=list)

    async def tolerant(self, what: str, call: Awaitable[T], empty: T) -> T:
        """`call`'s answer; if Backlog refuses or fails it, `empty` and a line saying what could not be read.

        One project's wiki, repositories or pull requests (Backlog may refuse them to some roles) must
        not cost the hits of the rest. A rejected key is everyone's problem: that one is raised.
        """
        try:
            return await call
        except (AuthenticationError, KeyRefusedError):
            raise
        except BacklogError as exc:
            status = f"HTTP {exc.status}" if isinstance(exc, APIError) else type(exc).__name__
            self.lines.append(f"_{what} could not be read ({status})._")
            return empty


def _calls(name: str, args: list[dict[str, Any]]) -> str:
    """Up to three calls, joined by "or"."""
    return " or ".join(format_call(name, a) for a in list({str(a): a for a in args}.values())[:3])


async def search_backlog(
    call: Call,
    query: Annotated[str, Field(max_length=MAX_TEXT, description="Words to find")],
    projects: Annotated[Names, Field(description="Keys (default: all)")] = None,
    kinds: Annotated[list[Kind] | None, Field(max_length=4)] = None,
    max_tokens: MaxTokens = 6000,
) -> str:
    """Find words in issues and their comments, wiki pages, documents and pull requests, in one call."""
    query = " ".join(query.split())
    if not query:
        raise UsageError('query is empty; pass the words to find, e.g. query="tile cache".')
    words = _words(query)
    wanted = [k for k in KINDS if not kinds or k in kinds]
    app, client = call.app, call.app.client
    view_soon = client.early(app.view(None))
    if projects:
        chosen = await app.lookup.projects(projects)
    else:
        chosen = [p for p in await client.projects() if not p.get("archived")]
    if not chosen:
        raise UsageError("No project to search: none is visible to this key (or all are archived).")
    keys = [str(p["projectKey"]) for p in chosen]
    rules = {int(p["id"]): str(p.get("textFormattingRule") or "markdown") for p in chosen}
    near, far = chosen[:FANOUT], chosen[FANOUT:]
    notes = Notes()
    pending: list[Awaitable[Found]] = []
    for kind in wanted:
        if kind == "issues":
            pending.append(_issues(call, notes, query, words, chosen, rules, keys))
        elif kind == "wiki":
            pending.append(_wiki(call, notes, query, words, near, rules))
        elif kind == "documents":
            pending.append(_documents(call, notes, query, words, chosen))
        else:
            pending.append(_pull_requests(call, notes, query, words, near, rules))
    *found, view = await gather(*pending, view_soon)
    per_project = [k for k in wanted if k in ("wiki", "pull_requests")]
    if far and per_project:
        rest = [str(p["projectKey"]) for p in far]
        again = format_call("search_backlog", {"query": query, "projects": rest, "kinds": per_project})
        what = " and ".join({"wiki": "Wiki pages", "pull_requests": "pull requests"}[k] for k in per_project)
        notes.lines.append(
            f"_{what.capitalize()} were searched in the first {FANOUT} projects only, to stay within "
            f"Backlog's rate limit; for {', '.join(item(k) for k in rest)}: {again}._"
        )
    scope = ", ".join(item(k) for k in keys) if len(keys) <= 8 else f"{len(keys)} projects"
    return render_search(query, found, scope=scope, view=view, budget=max_tokens, skipped="\n".join(notes.lines))


async def _issues(
    call: Call,
    notes: Notes,
    query: str,
    words: list[str],
    projects: list[JSONObject],
    rules: dict[int, str],
    keys: list[str],
) -> Found:
    client = call.app.client
    params: Params = {"projectId": [int(p["id"]) for p in projects], "keyword": query}
    issues, total = await gather(
        notes.tolerant("Issues", client.issues({**params, "count": HITS, "sort": "updated", "order": "desc"}), []),
        notes.tolerant("The issue count", client.count_issues(params), None),
    )
    hits: list[Hit] = []
    unseen = []  # issues whose match is not in the summary or description: in a comment
    for issue in issues:
        rule = rules.get(int(issue.get("projectId") or 0), "markdown")
        summary, description = str(issue.get("summary") or ""), _plain(issue.get("description"), rule, words)
        best = _best(query, words, summary, description)
        if best is None:
            unseen.append(len(hits))
        note = "the match is in its comments" if best is None else ""
        hits.append(_issue_hit(issue, text=description if best == 1 else "", note=note))
    asked: Params = {"count": 100, "order": "desc"}  # the newest comments: the match is most likely recent
    threads = await gather(
        *(
            notes.tolerant(
                f"The comments of {issues[i]['issueKey']}", client.comments(str(issues[i]["issueKey"]), asked), []
            )
            for i in unseen[:SNIPPETS]
        )
    )
    for index, thread in zip(unseen, threads, strict=False):
        rule = rules.get(int(issues[index].get("projectId") or 0), "markdown")
        texts = [_plain(c.get("content"), rule, words) for c in thread]
        best = _best(query, words, *texts)
        if best is not None:
            author = str((thread[best].get("createdUser") or {}).get("name") or "?")
            hits[index] = _issue_hit(issues[index], text=texts[best], comment_by=author)
    args = {"keyword": query, "projects": keys, "assignees": ["anyone"], "include_closed": True}
    return Found("issues", hits, total, format_call("get_user_issue_list", args))


def _issue_hit(issue: JSONObject, **found: str) -> Hit:
    return Hit(
        ref=str(issue.get("issueKey") or ""),
        title=str(issue.get("summary") or ""),
        project=str(issue.get("issueKey") or "").rsplit("-", 1)[0],
        state=str((issue.get("status") or {}).get("name") or ""),
        updated=issue.get("updated"),
        **found,
    )


async def _wiki(
    call: Call, notes: Notes, query: str, words: list[str], projects: list[JSONObject], rules: dict[int, str]
) -> Found:
    client = call.app.client
    keys = [str(p["projectKey"]) for p in projects if p.get("useWiki", True)]
    before = len(notes.lines)
    lists = await gather(*(notes.tolerant(f"The wiki of {key}", client.wikis(key, query), []) for key in keys))
    refused = bool(keys) and len(notes.lines) - before == len(keys)
    pages = sorted(
        ((key, page) for key, found in zip(keys, lists, strict=True) for page in found),
        key=lambda kp: str(kp[1].get("updated") or ""),
        reverse=True,
    )
    unseen = [i for i, (_key, page) in enumerate(pages[:HITS]) if not _any(str(page.get("name") or ""), words)]
    read = await gather(
        *(
            notes.tolerant(f"Wiki page {pages[i][1]['id']}", client.wiki(int(pages[i][1]["id"])), {})
            for i in unseen[:SNIPPETS]
        )
    )
    texts = {
        i: _plain(page.get("content"), rules.get(int(page.get("projectId") or 0), "markdown"), words)
        for i, page in zip(unseen, read, strict=False)
    }
    hits = [
        Hit(
            ref=f"page {page.get('id')}",
            title=str(page.get("name") or ""),
            project=key,
            state="",
            updated=page.get("updated"),
            text=texts.get(i, ""),
            note="the match is in its text" if i in unseen else "",
        )
        for i, (key, page) in enumerate(pages[:HITS])
    ]
    # More of the projects that have hits, newest first.
    more = _calls("get_wiki_pages", [{"project_key": key, "keyword": query} for key, _page in pages])
    return Found("wiki", hits, len(pages), more, refused=refused)


async def _documents(call: Call, notes: Notes, query: str, words: list[str], projects: list[JSONObject]) -> Found:
    params: Params = {"keyword": query, "offset": 0, "count": HITS + 1, "sort": "updated", "order": "desc"}
    ids = [int(p["id"]) for p in projects]
    documents = await notes.tolerant("Documents", call.app.client.documents_of(ids, params), [])
    keys = {int(p["id"]): str(p["projectKey"]) for p in projects}
    hits = [
        Hit(
            ref=f"document {d.get('id')}",
            title=str(d.get("title") or ""),
            project=keys.get(int(d.get("projectId") or 0), "?"),
            state="",
            updated=d.get("updated"),
            text=""
            if _best(query, words, str(d.get("title") or ""), str(d.get("plain") or "")) == 0
            else str(d.get("plain") or ""),
        )
        for d in documents[:HITS]
    ]
    more = _calls("get_documents", [{"project_key": hit.project, "keyword": query} for hit in hits])
    return Found("documents", hits, None if len(documents) > HITS else len(hits), more)


async def _pull_requests(
    call: Call, notes: Notes, query: str, words: list[str], projects: list[JSONObject], rules: dict[int, str]
) -> Found:
    client = call.app.client
    keys = [str(p["projectKey"]) for p in projects if p.get("useGit", True)]
    before = len(notes.lines)
    listed = await gather(*(notes.tolerant(f"The repositories of {key}", client.repositories(key), []) for key in keys))
    refused = bool(keys) and len(notes.lines) - before == len(keys)
    repositories = [(key, repo) for key, repos in zip(keys, listed, strict=True) for repo in repos]
    read, left = repositories[:MAX_REPOSITORIES], repositories[MAX_REPOSITORIES:]
    pages = await gather(
        *(
            notes.tolerant(
                f"Pull requests of {key}/{repo.get('name')}",
                client.pull_requests(key, str(repo["id"]), {"count": PR_PAGE}),
                [],
            )
            for key, repo in read
        )
    )
    hits: list[tuple[Hit, dict[str, Any]]] = []
    for (key, repo), pulls in zip(read, pages, strict=True):
        rule = rules.get(int(repo.get("projectId") or 0), "markdown")
        for pr in pulls:
            summary, description = str(pr.get("summary") or ""), _plain(pr.get("description"), rule, words)
            if not _has(f"{summary} {description}", words):
                continue
            hit = Hit(
                ref=f"{repo.get('name')}#{pr.get('number')}",
                title=summary,
                project=key,
                state=str((pr.get("status") or {}).get("name") or ""),
                updated=pr.get("updated"),
                text="" if _best(query, words, summary, description) == 0 else description,
            )
            # By id: a repository's name is user text, the call is ours.
            hits.append((hit, {"project_key": key, "repository": str(repo["id"]), "status": "all"}))
    hits.sort(key=lambda h: str(h[0].updated or ""), reverse=True)
    if left:
        calls = _calls(
            "get_pull_requests", [{"project_key": k, "repository": str(r["id"]), "status": "all"} for k, r in left]
        )
        names = ", ".join(item(f"{k}/{r.get('name')}") for k, r in left)
        notes.lines.append(
            f"_Pull requests of {names} were not read "
            f"(at most {MAX_REPOSITORIES} repositories a call); list them with {calls}._"
        )
    # No keyword filter exists for pull requests: the calls for more list them all, to be read through.
    more = _calls("get_pull_requests", [args for _hit, args in hits[HITS:]] or [args for _hit, args in hits])
    return Found("pull_requests", [hit for hit, _args in hits[:HITS]], len(hits), more, refused=refused)


TOOLS = (ToolSpec(search_backlog, "Search the space", "space"),)
