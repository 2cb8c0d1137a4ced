"""The one async Backlog client: every HTTP call goes through `BacklogClient._request`.

`_request` owns authentication, the response cache, single-flight for identical GETs, the cap
on concurrent requests, retries with backoff for idempotent calls, rate-limit pacing, the
mapping of failures to `backlog_mcp.errors`, stale-if-error, and the read-only guard (nothing
but GET leaves a read-only server). Nothing above it sees httpx.

The typed endpoints enforce the project allow-list (`BACKLOG_PROJECTS`): an object of another
project raises the same `NotFoundError` a missing one does, and lists are queried or filtered
down to the allowed projects. Each write names the cached paths it makes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import quote

from backlog_mcp import __version__
from backlog_mcp.cache import ResponseCache, cache_key, cache_scope
from backlog_mcp.config import WRITE_LEVELS, Settings
from backlog_mcp.errors import (
    APIError,
    BacklogError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    ReadOnlyError,
    ServerError,
    TransportError,
    UnconfirmedWriteError,
    WriteLevelError,
    api_error_class,
)

if TYPE_CHECKING:
    # httpx is imported on the first request, not at start-up: it costs ~100 ms before the
    # first `tools/list` otherwise.
    import httpx

log = logging.getLogger(__name__)

ParamValue = str | int | float | bool | None | Sequence[str | int]
Params = Mapping[str, ParamValue]
JSONObject = dict[str, Any]

MAX_BODY_BYTES = 32 * 1024 * 1024
_UNREADABLE = object()  # a cached row that is not JSON
_NOT_JSON = object()  # a body that is not JSON
_SURROGATE = re.compile("[\ud800-\udfff]")
Shape = Literal["object", "array of objects"] | None  # what a GET must answer to be served or cached


def fits(data: Any, shape: Shape) -> bool:
    if shape == "object":
        return isinstance(data, dict)
    if shape == "array of objects":
        return isinstance(data, list) and all(isinstance(item, dict) for item in data)
    return True


class Secret:
    """The API key, masked wherever it turns up in parsed upstream data: as sent or percent-encoded in any case.

    JSON escapes (`\\u0066…`) are gone once the body is parsed, so strings are scrubbed after parsing;
    lone surrogates (`\\ud83d` alone) become U+FFFD there too, since nothing downstream can store them.
    """

    def __init__(self, key: str) -> None:
        hexed = "".join(f"(?:{re.escape(c)}|%{ord(c):02x})" for c in key) if key else "(?!)"
        self._pattern = re.compile(hexed, re.IGNORECASE)
        self._length = max(1, len(key))

    def may_hide_in(self, text: str) -> bool:
        """Whether the raw body can hold the key (or a surrogate): only then is the parsed data walked."""
        return "\\u" in text or self._pattern.search(text) is not None

    def blank(self, data: bytes) -> bytes:
        """Bytes with every ASCII occurrence of the key (as sent or percent-encoded) overwritten."""
        text = data.decode("latin-1")  # one char per byte: lengths and offsets stay the same
        if self._pattern.search(text) is None:
            return data
        return self._pattern.sub(lambda m: "*" * len(m.group()), text).encode("latin-1")

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            value = _SURROGATE.sub("\ufffd", value)
            return value if len(value) < self._length else self._pattern.sub("***", value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        return value


MAX_KNOWN_IDS = 20_000  # issue key -> id pairs remembered (about 2 MB at most)
# What a parent issue shows of each child: an update to one of these makes the parent stale.
_PARENT_SHOWS = frozenset({"summary", "statusId", "assigneeId", "parentIssueId"})
_SEARCH_PATHS = frozenset({"/issues", "/issues/count", "/wikis", "/wikis/count"})
T = TypeVar("T")

# Ages (seconds) of stale cache copies served during the current tool call; see `collect_stale`.
_stale_ages: ContextVar[list[float] | None] = ContextVar("backlog_stale_ages", default=None)


# Writes sent during the current tool call; see `collect_writes`.
_writes_sent: ContextVar[list[str] | None] = ContextVar("backlog_writes_sent", default=None)


@contextlib.contextmanager
def _collecting(var: ContextVar[list[T] | None]) -> Iterator[list[T]]:
    found: list[T] = []
    token = var.set(found)
    try:
        yield found
    finally:
        var.reset(token)


def collect_writes() -> contextlib.AbstractContextManager[list[str]]:
    """Collect the writes this client sends inside this block (to know whether one may have landed)."""
    return _collecting(_writes_sent)


def collect_stale() -> contextlib.AbstractContextManager[list[float]]:
    """Collect the ages of stale copies served by the client inside this block."""
    return _collecting(_stale_ages)


@dataclass(frozen=True)
class Page:
    """A page of a list, within the allow-list, and the page as Backlog sent it (for paging on)."""

    items: list[JSONObject]
    sent: list[JSONObject]


@dataclass(frozen=True)
class Download:
    """A file's first bytes, at most the cap: `complete` says whether that was all of it."""

    body: bytes
    complete: bool
    content_type: str


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; tests shrink the delays."""

    attempts: int = 3
    base_delay: float = 0.4
    max_delay: float = 4.0
    max_rate_wait: float = 10.0  # wait for a 429 reset only when it is this near


@dataclass
class _Bucket:
    limit: int
    remaining: int
    reset: float
    seen: float  # our clock when Backlog told us; its windows last a minute whatever the clocks say


def segment(value: str | int) -> str:
    """Quote one path segment so that no value can add segments, a query or a fragment."""
    return quote(str(value), safe="")


def encode_params(params: Params | None) -> list[tuple[str, str]]:
    """Flatten params the way Backlog wants them: lists as `key[]=v`, booleans as true/false."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            pairs.append((name, str(value)))
        else:
            pairs.extend((f"{name}[]", str(item)) for item in value)
    return pairs


def issue_paths(*refs: str | int | None) -> list[str]:
    """What a change to an issue makes stale: the issue (by each ref) with its comments, and lists."""
    return ["/issues", "/issues/count", *(f"/issues/{segment(ref)}/*" for ref in refs if ref)]


def is_id(value: str) -> bool:
    """A numeric id as Backlog writes them: ASCII digits only ("４２" and "²" are not ids)."""
    return value.isascii() and value.isdigit()


def project_of(issue_key: str) -> str:
    return issue_key.rsplit("-", 1)[0].upper()


class _Recent(OrderedDict[str, int]):
    """A map that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: int) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


def rate_bucket(method: str, path: str) -> str:
    if method != "GET":
        return "update"
    if path in _SEARCH_PATHS:
        return "search"
    if path.endswith(("/icon", "/image")):
        return "icon"
    return "read"


class BacklogClient:
    """Async access to one Backlog space with one API key."""

    def __init__(
        self,
        settings: Settings,
        cache: ResponseCache | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pool: BacklogClient | None = None,
    ) -> None:
        """`pool`: another client whose connection pool this one shares (per-user keys: one pool for all)."""
        self.settings = settings
        self.cache = cache
        self.scope = cache_scope(settings.base_url, settings.api_key)
        self.retry = retry or RetryPolicy()
        self.requests_sent = 0
        self._sleep = sleep
        self._limiter = asyncio.Semaphore(settings.max_concurrency)
        self._inflight: dict[str, tuple[int, asyncio.Future[tuple[Any, float | None]]]] = {}
        self._generation = 0  # bumped by every write; reads from before it are not cached or shared
        self._buckets: dict[str, _Bucket] = {}
        # Issue key -> numeric id, learned from every issue seen; ids never change, and knowing
        # one lets a caller ask for an issue's children in the same round trip as the issue.
        self.issue_ids = _Recent(MAX_KNOWN_IDS)
        self._transport = transport
        self._http_client: httpx.AsyncClient | None = None
        self._pool = pool
        self.on_rejected: Callable[[], None] | None = None  # told when Backlog answers 401 to this key
        self._secret = Secret(settings.api_key)
        self._my_id: int | None = None  # the key owner, once asked: their watch list goes stale with issues

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._pool is not None:
            return self._pool._http  # the key travels in each request's query, never in the pool
        if self._http_client is None:
            import httpx

            # Per-user keys: every user's requests share this one pool, so it is sized for many of them.
            connections = self.settings.max_concurrency * (16 if self.settings.per_user_keys else 2)
            self._http_client = httpx.AsyncClient(
                base_url=self.settings.api_root,
                transport=self._transport,
                timeout=httpx.Timeout(self.settings.timeout, connect=min(self.settings.timeout, 10.0)),
                limits=httpx.Limits(max_connections=connections, max_keepalive_connections=min(connections, 32)),
                headers={"User-Agent": f"backlog-mcp/{__version__}", "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._http_client

    async def aclose(self) -> None:
        """Close the connection pool, unless it is another client's."""
        if self._http_client is not None:
            await self._http_client.aclose()

    # -- the choke point ---------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Params | None = None,
        ttl: float = 0.0,
        stale: Iterable[str] = (),
        shape: Shape = None,
        cap: int | None = None,
    ) -> Any:
        """Send one request; for a write, `stale` names the cached paths it changes (`/x/*`: and below).

        With `cap`, a GET is a download: streamed, cut after `cap` bytes, never cached (a `Download`).
        """
        pairs = encode_params(params)
        if method != "GET":
            if self.settings.read_only:
                raise ReadOnlyError(f"{method} {path}: refused, the server runs read-only", method=method, path=path)
            sent = _writes_sent.get()
            if sent is not None:
                sent.append(f"{method} {path}")
            try:
                _raw, result = await self._send_raw(method, path, pairs, encode_params(data), idempotent=False)
            except (TransportError, ServerError, BadResponseError) as exc:
                raise UnconfirmedWriteError(exc.message, method=method, path=path) from exc
            finally:
                # Even a failed write may have landed (a timeout after Backlog applied it): drop what
                # it touches, and make reads that started before it neither store nor share.
                self._generation += 1
                if self.cache is not None:
                    # With per-user keys, other users' copies of what changed go too.
                    await self.cache.invalidate(self.scope, stale, every_key=self.settings.per_user_keys)
            return result

        if cap is not None:
            return (await self._send_raw("GET", path, pairs, [], idempotent=True, cap=cap))[1]
        key = cache_key(self.scope, path, pairs)
        if self.cache is not None and ttl > 0:
            entry = await self.cache.get(key)
            if entry is not None:
                cached = await self._parse_cached(key, entry.body, shape)
                if cached is not _UNREADABLE:
                    return cached
        flight = self._inflight.get(key)
        if flight is None or flight[0] != self._generation:
            # The fetch runs in its own task: a caller that gives up (deadline, cancel) does not
            # take the others sharing it down with it.
            task = asyncio.ensure_future(self._get_or_stale(key, path, pairs, ttl, self._generation, shape))
            flight = (self._generation, task)
            self._inflight[key] = flight
            task.add_done_callback(lambda done: self._landed(key, done))
        result, stale_age = await asyncio.shield(flight[1])
        if stale_age is not None:
            ages = _stale_ages.get()
            if ages is not None:
                ages.append(stale_age)
        return result

    async def _parse_cached(self, key: str, body: str, shape: Shape) -> Any:
        """A cached body as JSON; a row that cannot be read, or has the wrong shape, is dropped and refetched."""
        try:
            data = json.loads(body)
            if not fits(data, shape):
                raise ValueError(shape)
            return data
        except ValueError:
            log.warning("dropped an unreadable cached response; fetching it again")
            if self.cache is not None:
                await self.cache.delete(key)
            return _UNREADABLE

    def _landed(self, key: str, task: asyncio.Future[tuple[Any, float | None]]) -> None:
        current = self._inflight.get(key)
        if current is not None and current[1] is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: whoever awaited it has it; nobody else needs a warning

    async def _get_or_stale(
        self, key: str, path: str, pairs: list[tuple[str, str]], ttl: float, generation: int, shape: Shape
    ) -> tuple[Any, float | None]:
        """The JSON and, when it is a stale cached copy served because Backlog failed, its age."""
        try:
            raw, result = await self._send_raw("GET", path, pairs, [], idempotent=True)
            if not fits(result, shape):  # checked before caching: one odd answer must not last a TTL
                raise BadResponseError(f"GET {path}: expected a JSON {shape}", method="GET", path=path)
        except (TransportError, ServerError, RateLimitedError, BadResponseError) as exc:
            stale = await self.cache.get_stale(key) if self.cache is not None else None
            copy = _UNREADABLE if stale is None else await self._parse_cached(key, stale.body, shape)
            if stale is None or copy is _UNREADABLE:
                raise
            age = stale.age(time.time())
            log.warning("GET %s failed (%s); serving a cached copy %.0f s old", path, type(exc).__name__, age)
            return copy, age
        if self.cache is not None and ttl > 0 and result is not None and generation == self._generation:
            await self.cache.put(key, scope=self.scope, path=path, body=raw, ttl=ttl, grace=self.settings.stale_grace)
        return result, None

    async def _send_raw(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        form: list[tuple[str, str]],
        *,
        idempotent: bool,
        cap: int | None = None,
    ) -> tuple[str, Any]:
        bucket = rate_bucket(method, path)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(method, path, pairs, form, bucket, cap)
            except RateLimitedError as exc:
                wait = exc.retry_after()
                if attempt >= self.retry.attempts or wait is None or wait > self.retry.max_rate_wait:
                    raise
                log.info("%s %s rate limited; waiting %.1f s for the reset", method, path, wait)
                await self._sleep(wait + 0.05)
            except (TransportError, ServerError, BadResponseError) as exc:
                # A garbled body is as transient as a 5xx (a proxy, a cut stream): retry reads.
                if not idempotent or attempt >= self.retry.attempts:
                    raise
                delay = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
                delay *= 0.5 + random.random() / 2  # jitter: callers in a loop must not retry in lockstep
                log.info("%s %s failed (%s); retry %d in %.2f s", method, path, exc.message, attempt, delay)
                await self._sleep(delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        form: list[tuple[str, str]],
        bucket: str,
        cap: int | None = None,
    ) -> tuple[str, Any]:
        """One request; with `cap`, a download: at most `cap` bytes are read, then the stream is dropped."""
        import httpx

        await self._pace(bucket, method, path)  # before taking a slot: a drained bucket must not starve others
        async with self._limiter:
            query: list[tuple[str, str | int | float | bool | None]] = [
                *pairs,
                ("apiKey", self.settings.api_key),
            ]
            self.requests_sent += 1
            try:
                request = self._http.build_request(
                    method, path.lstrip("/"), params=query, data=dict(_group(form)) if form else None
                )
                response = await self._http.send(request, stream=True)
                try:
                    # A download reads past the cap by a key's length (as sent or percent-encoded), so a key
                    # straddling the cut is still found and blanked before the bytes are cut.
                    margin = 3 * len(self.settings.api_key) + 1
                    limit = MAX_BODY_BYTES if cap is None or response.status_code >= 400 else cap + margin
                    body = await _read_limited(response, limit, cut=cap is not None)
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                raise TransportError(
                    f"{method} {path}: Backlog did not answer within {self.settings.timeout:g} s",
                    method=method,
                    path=path,
                ) from None
            except httpx.HTTPError as exc:
                raise TransportError(
                    f"{method} {path}: cannot reach Backlog ({type(exc).__name__})", method=method, path=path
                ) from None
        self._note_rate(bucket, response.headers)
        if response.status_code == 401 and self.on_rejected is not None:
            self.on_rejected()
        if 300 <= response.status_code < 400:
            raise BadResponseError(
                f"{method} {path}: Backlog redirected the request (HTTP {response.status_code}); "
                "check BACKLOG_DOMAIN (the space's host, https)",
                method=method,
                path=path,
            )
        if cap is not None and response.status_code < 300:
            kind = response.headers.get("content-type", "")
            return "", Download(self._secret.blank(body)[:cap], len(body) <= cap, kind)
        # Everything from upstream is decoded as UTF-8 (never sniffed), parsed, and masked before anyone
        # sees it: no error message, cached row, log line or answer can carry the key, however encoded.
        text = body.decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = _NOT_JSON
        if data is not None and data is not _NOT_JSON and self._secret.may_hide_in(text):
            data = self._secret.scrub(data)
            text = json.dumps(data, ensure_ascii=False)
        if response.status_code >= 400:
            raise _api_error(method, path, response.status_code, data, response.headers)
        if response.status_code == 204 or data is None:
            return "null", None
        if data is _NOT_JSON:
            raise BadResponseError(
                f"{method} {path}: Backlog sent a body that is not JSON (HTTP {response.status_code})",
                method=method,
                path=path,
            )
        return text, data  # re-serialised above only when something was masked

    async def _pace(self, bucket: str, method: str, path: str) -> None:
        """Slow down as a bucket empties, instead of running into 429s.

        Raises:
            RateLimitedError: the bucket is spent and its reset is not near; sending would only
                earn a 429 (the caller may still answer from the cache).
        """
        info = self._buckets.get(bucket)
        if info is None or info.limit <= 0:
            return
        now = time.time()
        # Backlog's windows last a minute: never trust a reset later than a minute after we heard it,
        # or a clock that runs ahead of ours would keep a spent bucket spent forever.
        until_reset = min(info.reset - now, info.seen + 60.0 - now)
        if until_reset <= 0:
            self._buckets.pop(bucket, None)
            return
        if info.remaining <= 0:
            if until_reset > self.retry.max_rate_wait:
                raise RateLimitedError(
                    f"{method} {path}: the {bucket} rate limit is spent (not sent)",
                    reset_at=now + until_reset,
                    method=method,
                    path=path,
                )
            await self._sleep(until_reset)
            return
        if info.remaining < max(2, info.limit // 10):
            await self._sleep(min(1.0, until_reset / info.remaining))
        info.remaining -= 1  # count our own request now: concurrent callers see it before the reply

    def _note_rate(self, bucket: str, headers: httpx.Headers) -> None:
        """Remember a bucket's state; headers that make no sense are ignored (safe waits apply)."""
        with contextlib.suppress(KeyError, ValueError):
            limit, remaining = int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"])
            reset = reset_time(headers.get("X-RateLimit-Reset"))
            if reset is None or not 0 <= remaining <= limit <= 10**7:
                return
            self._buckets[bucket] = _Bucket(limit, remaining, reset, time.time())

    # -- typed endpoints ---------------------------------------------------------------------

    async def get_object(self, path: str, params: Params | None = None, *, ttl: float) -> JSONObject:
        # `_request` checked the shape, fresh, cached or stale, before serving it.
        return cast(JSONObject, await self._request("GET", path, params=params, ttl=ttl, shape="object"))

    async def get_list(self, path: str, params: Params | None = None, *, ttl: float) -> list[JSONObject]:
        data = await self._request("GET", path, params=params, ttl=ttl, shape="array of objects")
        return cast(list[JSONObject], data)

    async def get_count(self, path: str, params: Params | None = None, *, ttl: float) -> int:
        data = await self.get_object(path, params, ttl=ttl)
        count = data.get("count")
        if not isinstance(count, int):
            raise BadResponseError(f"GET {path}: expected {{'count': n}}", method="GET", path=path)
        return count

    @property
    def _meta_ttl(self) -> float:
        return self.settings.metadata_ttl

    @property
    def _issue_ttl(self) -> float:
        return self.settings.issue_ttl

    async def myself(self) -> JSONObject:
        me = await self.get_object("/users/myself", ttl=self._meta_ttl)
        self._my_id = int(me["id"]) if isinstance(me.get("id"), int) else self._my_id
        return me

    async def space(self) -> JSONObject:
        return await self.get_object("/space", ttl=self._meta_ttl)

    async def users(self) -> list[JSONObject]:
        return await self.get_list("/users", ttl=self._meta_ttl)

    async def priorities(self) -> list[JSONObject]:
        return await self.get_list("/priorities", ttl=self._meta_ttl)

    async def resolutions(self) -> list[JSONObject]:
        return await self.get_list("/resolutions", ttl=self._meta_ttl)

    # -- the project allow-list ----------------------------------------------------------------

    def allows_key(self, project_key: str) -> bool:
        allowed = self.settings.projects
        return allowed is None or project_key.upper() in allowed

    def _denied(self, what: str, path: str) -> NotFoundError:
        # Word for word what a missing object gives: a denied object must not reveal that it exists.
        return NotFoundError(
            f"GET {path}: No {what}. (Backlog error code 6)", status=404, code=6, method="GET", path=path
        )

    def _check_issue(self, issue: JSONObject, path: str) -> None:
        if not self.allows_key(project_of(str(issue.get("issueKey", "")))):
            raise self._denied("issue", path)

    async def _check_issue_ref(self, ref: str | int) -> None:
        """Refuse an issue outside the allow-list before asking for its comments or changing it."""
        if self.settings.projects is None:
            return
        if isinstance(ref, str) and not is_id(ref):
            if not self.allows_key(project_of(ref)):
                raise self._denied("issue", f"/issues/{segment(ref)}")
            return
        await self.issue(ref, child_summary=True)  # a numeric id: its project is known only from the issue

    async def _allowed_project_ids(self) -> set[int] | None:
        if self.settings.projects is None:
            return None
        return {int(p["id"]) for p in await self.projects()}

    async def _scoped(self, params: Params) -> Params | None:
        """`params` narrowed to the allowed projects; None when nothing allowed is asked for."""
        allowed = await self._allowed_project_ids()
        if allowed is None:
            return params
        asked = params.get("projectId")
        if isinstance(asked, Sequence) and not isinstance(asked, str):
            allowed &= {int(pid) for pid in asked}
        elif asked is not None:
            allowed &= {int(asked)}
        return {**params, "projectId": sorted(allowed)} if allowed else None

    # -- projects --------------------------------------------------------------------------------

    async def projects(self) -> list[JSONObject]:
        """Every project the key can see, archived ones too, within the allow-list."""
        projects = await self.get_list("/projects", ttl=self._meta_ttl)
        if self.settings.projects is None:
            return projects
        return [p for p in projects if self.allows_key(str(p.get("projectKey", "")))]

    async def project(self, key: str | int) -> JSONObject:
        """A project by key or id, from the (shared, cached) project list when it is there."""
        path = f"/projects/{segment(key)}"
        if isinstance(key, str) and not is_id(key) and not self.allows_key(key):
            raise self._denied("project", path)
        for project in await self.projects():
            if str(key) in (project.get("projectKey"), str(project.get("id"))):
                return project
        project = await self.get_object(path, ttl=self._meta_ttl)
        if not self.allows_key(str(project.get("projectKey", ""))):
            raise self._denied("project", path)
        return project

    async def project_list(self, key: str | int, what: str) -> list[JSONObject]:
        """Per-project metadata: statuses, issueTypes, categories, versions, customFields, users."""
        if self.settings.projects is not None:
            if isinstance(key, str) and not is_id(key):
                if not self.allows_key(key):  # a key says its project: no lookup needed
                    raise self._denied("project", f"/projects/{segment(key)}")
            else:
                await self.project(key)
        return await self.get_list(f"/projects/{segment(key)}/{what}", ttl=self._meta_ttl)

    # -- issues ----------------------------------------------------------------------------------

    async def issue(self, key: str | int, *, child_summary: bool = False) -> JSONObject:
        path = f"/issues/{segment(key)}"
        if isinstance(key, str) and not is_id(key) and not self.allows_key(project_of(key)):
            raise self._denied("issue", path)
        params = {"expand": ["childIssueSummary"]} if child_summary else None
        issue = await self.get_object(path, params, ttl=self._issue_ttl)
        self._check_issue(issue, path)
        self._learn_ids([issue])
        return issue

    async def issues(self, params: Params) -> list[JSONObject]:
        scoped = await self._scoped(params)
        if scoped is None:
            return []
        issues = await self.get_list("/issues", scoped, ttl=self._issue_ttl)
        issues = [i for i in issues if self.allows_key(project_of(str(i.get("issueKey", ""))))]
        self._learn_ids(issues)
        return issues

    def _learn_ids(self, issues: list[JSONObject]) -> None:
        for issue in issues:
            key, issue_id = issue.get("issueKey"), issue.get("id")
            if isinstance(key, str) and isinstance(issue_id, int):
                self.issue_ids.remember(key, issue_id)

    async def count_issues(self, params: Params) -> int:
        scoped = await self._scoped(params)
        if scoped is None:
            return 0
        return await self.get_count("/issues/count", scoped, ttl=self._issue_ttl)

    async def comments(self, key: str | int, params: Params) -> list[JSONObject]:
        await self._check_issue_ref(key)
        return await self.get_list(f"/issues/{segment(key)}/comments", params, ttl=self._issue_ttl)

    async def count_comments(self, key: str | int) -> int:
        await self._check_issue_ref(key)
        return await self.get_count(f"/issues/{segment(key)}/comments/count", ttl=self._issue_ttl)

    async def child_issues(self, parent_id: int) -> list[JSONObject]:
        return await self.issues({"parentIssueId": [parent_id], "count": 100, "sort": "created", "order": "asc"})

    # -- wikis -----------------------------------------------------------------------------------

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

    # -- watchings -------------------------------------------------------------------------------

    async def watchings(self, user_id: int, params: Params) -> Page:
        """A user's watched issues, within the allow-list."""
        found = await self.get_list(f"/users/{segment(user_id)}/watchings", params, ttl=self._issue_ttl)
        allowed = [w for w in found if self.allows_key(project_of(str((w.get("issue") or {}).get("issueKey", ""))))]
        self._learn_ids([w["issue"] for w in allowed if isinstance(w.get("issue"), dict)])
        return Page(allowed, found)

    async def count_watchings(self, user_id: int) -> int | None:
        """Backlog's count, or None under an allow-list (it counts other projects' issues too)."""
        if self.settings.projects is not None:
            return None
        return await self.get_count(f"/users/{segment(user_id)}/watchings/count", ttl=self._issue_ttl)

    # -- notifications ---------------------------------------------------------------------------

    async def notifications(self, params: Params) -> Page:
        """The key owner's notifications, within the allow-list (kept for the issue TTL: they arrive often)."""
        found = await self.get_list("/notifications", params, ttl=self._issue_ttl)
        return Page([n for n in found if self.allows_key(str((n.get("project") or {}).get("projectKey", "")))], found)

    async def notification(self, notification_id: int) -> JSONObject | None:
        """One of the key owner's notifications, or None (unknown, or of a project outside the allow-list).

        Backlog has no endpoint for one: ids just above and at it are asked for (`maxId` one above and
        two of them: right whether Backlog's bound is inclusive or not). Never cached: read state changes.
        """
        found = await self.get_list(
            "/notifications", {"maxId": notification_id + 1, "count": 2, "order": "desc"}, ttl=0
        )
        return next(
            (
                n
                for n in found
                if n.get("id") == notification_id
                and self.allows_key(str((n.get("project") or {}).get("projectKey", "")))
            ),
            None,
        )

    async def count_notifications(self, params: Params) -> int | None:
        """Backlog's count, or None under an allow-list: it counts other projects' notifications too."""
        if self.settings.projects is not None:
            return None
        return await self.get_count("/notifications/count", params, ttl=self._issue_ttl)

    # -- activity --------------------------------------------------------------------------------

    async def activities(self, path: str, params: Params) -> Page:
        """`/space/activities`, `/projects/KEY/activities` or `/users/ID/activities`, within the allow-list.

        Never cached: a timeline is asked for to see what just changed, by anyone.
        """
        found = await self.get_list(path, params, ttl=0)
        return Page([a for a in found if self.allows_key(str((a.get("project") or {}).get("projectKey", "")))], found)

    # -- documents -------------------------------------------------------------------------------

    async def documents(self, project_key: str, params: Params) -> list[JSONObject]:
        project = await self.project(project_key)
        query = {**params, "projectId": [int(project["id"])]}
        return await self.get_list("/documents", query, ttl=self._issue_ttl)

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

    # -- git -------------------------------------------------------------------------------------

    async def repositories(self, project_key: str) -> list[JSONObject]:
        return await self.project_list(project_key, "git/repositories")

    def _repo_path(self, project_key: str, repository: str) -> str:
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        return f"/projects/{segment(project_key)}/git/repositories/{segment(repository)}"

    async def pull_requests(self, project_key: str, repository: str, params: Params) -> list[JSONObject]:
        path = self._repo_path(project_key, repository) + "/pullRequests"
        return await self.get_list(path, params, ttl=self._issue_ttl)

    async def count_pull_requests(self, project_key: str, repository: str, params: Params) -> int:
        path = self._repo_path(project_key, repository) + "/pullRequests/count"
        return await self.get_count(path, params, ttl=self._issue_ttl)

    async def pull_request(self, project_key: str, repository: str, number: int) -> JSONObject:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}"
        return await self.get_object(path, ttl=self._issue_ttl)

    async def pull_request_comments(
        self, project_key: str, repository: str, number: int, params: Params
    ) -> list[JSONObject]:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}/comments"
        return await self.get_list(path, params, ttl=self._issue_ttl)

    async def count_pull_request_comments(self, project_key: str, repository: str, number: int) -> int:
        path = f"{self._repo_path(project_key, repository)}/pullRequests/{number}/comments/count"
        return await self.get_count(path, ttl=self._issue_ttl)

    # -- attachments -----------------------------------------------------------------------------

    async def download(self, path: str) -> Download:
        """An attachment's bytes, up to the configured cap (the caller checked the owner is allowed)."""
        result = await self._request("GET", path, cap=self.settings.attachment_cap)
        if not isinstance(result, Download):
            raise BadResponseError(f"GET {path}: expected a file", method="GET", path=path)
        return result

    # -- writes ----------------------------------------------------------------------------------

    def require(self, project_key: str, need: str) -> None:
        """Refuse, before anything is sent, a write above the project's level.

        Raises:
            WriteLevelError: `need` ("comment" or "write") is above what `BACKLOG_PROJECTS` gives the project.
        """
        have = self.settings.level(project_key)
        if WRITE_LEVELS.index(have) < WRITE_LEVELS.index(need):
            if self.settings.read_only:
                raise ReadOnlyError(f"{project_key}: refused, the server runs read-only")
            raise WriteLevelError(
                f"Project {project_key} is at level {have!r} on this server, and this write needs {need!r}; "
                f"nothing was sent. The server's configuration decides: BACKLOG_PROJECTS={project_key}:{need}."
            )

    async def _write_issue(
        self,
        method: str,
        path: str,
        key: str | int,
        form: Params,
        current: JSONObject | None = None,
        *,
        need: str = "write",
    ) -> JSONObject:
        # The issue itself first (usually cached; `current` when the caller has just read it): its project
        # is checked against the allow-list and its write level, and its key and id are both known, so rows
        # cached under either name (by any process) are dropped.
        current = current or await self.issue(key, child_summary=True)  # the form get_issue_details cached
        self.require(project_of(str(current.get("issueKey", ""))), need)
        stale = issue_paths(key, current.get("issueKey"), current.get("id")) + self._my_watch_paths()
        parent_id = current.get("parentIssueId")
        if parent_id and method == "PATCH" and _PARENT_SHOWS & set(form):
            # The parent lists this issue among its children, with its summary, status and assignee.
            stale += self._parent_paths(int(parent_id))
        new_parent = form.get("parentIssueId")
        if new_parent and str(new_parent).isdigit():
            stale += self._parent_paths(int(str(new_parent)))
        data = await self._request(method, path, data=form, stale=stale)
        if not isinstance(data, dict):
            raise BadResponseError(f"{method} {path}: expected a JSON object", method=method, path=path)
        return data

    def _my_watch_paths(self) -> list[str]:
        """The key owner's watch list shows issues with their summary and status: stale after an issue write."""
        return self._watch_paths(self._my_id) if self._my_id is not None else []

    def _parent_paths(self, parent_id: int) -> list[str]:
        parent_key = next((k for k, v in self.issue_ids.items() if v == parent_id), None)
        return [f"/issues/{segment(ref)}" for ref in (parent_id, parent_key) if ref]

    async def update_issue(self, key: str | int, form: Params, *, current: JSONObject | None = None) -> JSONObject:
        """`current`: the issue as `issue(key)` just returned it, so it is not fetched twice."""
        issue = await self._write_issue("PATCH", f"/issues/{segment(key)}", key, form, current)
        self._learn_ids([issue])
        return issue

    async def add_comment(
        self, key: str | int, content: str, notify: Sequence[int] = (), *, current: JSONObject | None = None
    ) -> JSONObject:
        form: Params = {"content": content, "notifiedUserId": list(notify)}
        path = f"/issues/{segment(key)}/comments"
        return await self._write_issue("POST", path, key, form, current, need="comment")

    async def comment(self, key: str | int, comment_id: int) -> JSONObject:
        await self._check_issue_ref(key)
        return await self.get_object(f"/issues/{segment(key)}/comments/{comment_id}", ttl=0)

    async def update_comment(self, key: str | int, comment_id: int, content: str) -> JSONObject:
        path = f"/issues/{segment(key)}/comments/{comment_id}"
        return await self._write_issue("PATCH", path, key, {"content": content}, need="comment")

    async def create_issue(self, project_key: str, form: Params) -> JSONObject:
        """A new issue in an allowed project at level `write`; lists (and a parent) become stale."""
        if not self.allows_key(project_key):
            raise self._denied("project", f"/projects/{segment(project_key)}")
        self.require(project_key, "write")
        stale = ["/issues", "/issues/count"]
        parent = form.get("parentIssueId")
        if parent and str(parent).isdigit():
            stale += self._parent_paths(int(str(parent)))
        data = await self._request("POST", "/issues", data=form, stale=stale)
        if not isinstance(data, dict):
            raise BadResponseError("POST /issues: expected a JSON object", method="POST", path="/issues")
        self._learn_ids([data])
        return data

    # -- watching (the only DELETE this client can send is `unwatch`) ------------------------------

    def _watch_paths(self, user_id: int) -> list[str]:
        return [f"/users/{user_id}/watchings", f"/users/{user_id}/watchings/count", "/watchings/*"]

    async def watching_of(self, user_id: int, issue_id: int) -> JSONObject | None:
        found = await self.get_list(f"/users/{user_id}/watchings", {"issueId": [issue_id], "count": 100}, ttl=0)
        return next((w for w in found if int((w.get("issue") or {}).get("id") or 0) == issue_id), None)

    async def watch(self, issue: JSONObject, user_id: int, note: str) -> JSONObject:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        form: Params = {"issueIdOrKey": str(issue["issueKey"]), "note": note}
        data = await self._request("POST", "/watchings", data=form, stale=self._watch_paths(user_id))
        return data if isinstance(data, dict) else {}

    async def update_watching(self, issue: JSONObject, watching_id: int, user_id: int, note: str) -> JSONObject:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        path = f"/watchings/{watching_id}"
        data = await self._request("PATCH", path, data={"note": note}, stale=self._watch_paths(user_id))
        return data if isinstance(data, dict) else {}

    async def unwatch(self, issue: JSONObject, watching_id: int, user_id: int) -> None:
        self.require(project_of(str(issue.get("issueKey", ""))), "comment")
        await self._request("DELETE", f"/watchings/{watching_id}", stale=self._watch_paths(user_id))

    # -- notifications ----------------------------------------------------------------------------

    _INBOX = ("/notifications", "/notifications/count")

    async def mark_notifications_read(self, notification_ids: Sequence[int]) -> None:
        """Each one read; under an allow-list, only those of allowed projects (checked once, before any is sent).

        Raises:
            NotFoundError: an id not among the newest 100 of the allowed projects, worded as a missing one.
        """
        if self.settings.projects is not None:
            allowed = {int(n["id"]) for n in (await self.notifications({"count": 100, "order": "desc"})).items}
            for nid in notification_ids:
                if nid not in allowed:
                    raise self._denied("notification", f"/notifications/{nid}/markAsRead")
        for nid in notification_ids:
            await self._request("POST", f"/notifications/{nid}/markAsRead", stale=self._INBOX)

    async def reset_unread_count(self) -> None:
        """Every notification read, in every project: refused under an allow-list."""
        if self.settings.projects is not None:
            raise WriteLevelError("Marking every notification read would touch projects outside BACKLOG_PROJECTS.")
        await self._request("POST", "/notifications/markAsRead", stale=self._INBOX)

    # -- wiki and pull-request writes -----------------------------------------------------------

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

    async def add_pull_request_comment(
        self, project_key: str, repository: str, number: int, content: str, notify: Sequence[int] = ()
    ) -> JSONObject:
        self.require(project_key, "comment")
        lists = f"{self._repo_path(project_key, repository)}/pullRequests"
        path = f"{lists}/{number}"
        form: Params = {"content": content, "notifiedUserId": list(notify)}
        stale = (f"{path}/*", lists, f"{lists}/count")  # the list shows when each was last updated
        data = await self._request("POST", f"{path}/comments", data=form, stale=stale)
        return data if isinstance(data, dict) else {}


def reset_time(raw: str | None) -> float | None:
    """An `X-RateLimit-Reset` epoch second, if it is one: finite and within an hour of now."""
    try:
        value = float(raw or "")
    except ValueError:
        return None
    now = time.time()
    return value if math.isfinite(value) and now - 3600 <= value <= now + 3600 else None


def _group(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    grouped: dict[str, str | list[str]] = {}
    for name, value in form:
        if name.endswith("[]"):
            existing = grouped.setdefault(name, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            grouped[name] = value
    return grouped


async def _read_limited(response: httpx.Response, limit: int = MAX_BODY_BYTES, *, cut: bool = False) -> bytes:
    """The body, read in chunks up to `limit` bytes; beyond it an error, or with `cut` the bytes so far."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        chunks.append(chunk)
        if size >= limit:
            if cut:
                break
            if size > limit:
                raise BadResponseError(f"Backlog sent more than {limit // 2**20} MB; narrow the request")
    return b"".join(chunks)[:limit] if cut else b"".join(chunks)


def _api_error(method: str, path: str, status: int, data: Any, headers: httpx.Headers) -> BacklogError:
    message, code, more_info = "", None, ""
    try:
        errors = data["errors"]
        first = errors[0]
        # All of them: a 400 on a write lists every field Backlog rejected.
        message = " / ".join(str(e.get("message", "")) for e in errors[:10] if isinstance(e, dict))
        code = first.get("code") if isinstance(first.get("code"), int) else None
        more_info = str(first.get("moreInfo") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    detail = f"{message} (Backlog error code {code})" if message else f"HTTP {status}"
    text = f"{method} {path}: {detail}"
    if status == 429:
        reset_at = reset_time(headers.get("X-RateLimit-Reset"))
        return RateLimitedError(text, reset_at=reset_at, code=code, more_info=more_info, method=method, path=path)
    cls: type[APIError] = api_error_class(status)
    return cls(text, status=status, code=code, more_info=more_info, method=method, path=path)
