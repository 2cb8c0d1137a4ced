"""The choke point: every HTTP call to Backlog goes through `Transport._request`.

`_request` owns authentication, the response cache, single-flight for identical GETs, the cap
on concurrent requests, retries with backoff for idempotent calls, rate-limit pacing, the
mapping of failures to `backlog_mcp.errors`, stale-if-error, and the read-only guard (nothing
but GET leaves a read-only server). Nothing above it sees httpx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, TypeVar, cast

from backlog_mcp import __version__, metrics
from backlog_mcp.cache import cache_key, cache_scope
from backlog_mcp.client.rates import RateBudget, rate_bucket
from backlog_mcp.client.tracking import MAX_KNOWN_IDS, Recent, asked_ahead, stale_ages, writes_sent
from backlog_mcp.client.wire import (
    MAX_BODY_BYTES,
    Download,
    JSONObject,
    Params,
    RetryPolicy,
    Secret,
    Shape,
    Upload,
    api_error,
    encode_params,
    fits,
    group_form,
    read_limited,
)
from backlog_mcp.config import Settings
from backlog_mcp.errors import (
    BadResponseError,
    RateLimitedError,
    ReadOnlyError,
    ServerError,
    TransportError,
    UnconfirmedWriteError,
)

if TYPE_CHECKING:
    # httpx is imported on the first request, not at start-up: it costs ~100 ms before the
    # first `tools/list` otherwise.
    import httpx

    from backlog_mcp.store import Cache

log = logging.getLogger(__name__)

_UNREADABLE = object()  # a cached row that is not JSON
_NOT_JSON = object()  # a body that is not JSON
T = TypeVar("T")


class Transport:
    """One API key's way to one Backlog space: `_request` and the typed GETs every area builds on."""

    def __init__(
        self,
        settings: Settings,
        cache: Cache | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pool: Transport | None = None,
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
        shared = cache.budgets if cache is not None else None  # the store's: one budget for every instance
        self.rates = RateBudget(lambda delay: self._sleep(delay), lambda: self.retry.max_rate_wait, shared, self.scope)
        # Issue key -> numeric id, learned from every issue seen; ids never change, and knowing
        # one lets a caller ask for an issue's children in the same round trip as the issue.
        self.issue_ids = Recent(MAX_KNOWN_IDS)
        self._transport = transport
        self._http_client: httpx.AsyncClient | None = None
        self._building = threading.Lock()
        self._pool = pool
        self._early: set[asyncio.Future[Any]] = set()  # requests sent ahead of their ask (`early`)
        self.on_rejected: Callable[[], None] | None = None  # told when Backlog answers 401 to this key
        self._secret = Secret(settings.api_key)
        self._my_id: int | None = None  # the key owner, once asked: their watch list goes stale with issues

    @property
    def pool(self) -> httpx.AsyncClient:
        """The connection pool, built on first use."""
        if self._pool is not None:
            return self._pool.pool  # the key travels in each request's query, never in the pool
        with self._building:  # built once, whether first asked here or by the start's worker thread
            if self._http_client is None:
                self._http_client = self._new_pool()
        return self._http_client

    def _new_pool(self) -> httpx.AsyncClient:
        import httpx

        # Per-user keys: every user's requests share this one pool, so it is sized for many of them.
        connections = self.settings.max_concurrency * (16 if self.settings.per_user_keys else 2)
        return httpx.AsyncClient(
            base_url=self.settings.api_root,
            transport=self._transport,
            timeout=httpx.Timeout(self.settings.timeout, connect=min(self.settings.timeout, 10.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=min(connections, 32)),
            headers={"User-Agent": f"backlog-mcp/{__version__}", "Accept": "application/json"},
            # The key authenticates every request; a cookie would only carry one user's session
            # to the next user of the shared pool. None is ever kept.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,
        )

    def early(self, call: Awaitable[T]) -> asyncio.Future[T]:
        """Send now a request whose answer the call needs later: one round trip less on the critical path.

        The later ask awaits this future, or meets the request in flight or in the cache; a failure is
        reported by that ask, not here. `settle` (and `aclose`) cancels what is still out.
        """
        task = asyncio.ensure_future(call)
        self._early.add(task)
        task.add_done_callback(self._early_landed)
        return task

    def _early_landed(self, task: asyncio.Future[Any]) -> None:
        self._early.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: whoever needs the answer asks again and gets the error there

    @property
    def caches_reads(self) -> bool:
        """Whether a read's answer is kept for the next ask (a prefetch is worth sending only then)."""
        return self.cache is not None and self.cache.enabled

    async def settle(self) -> None:
        """Cancel what was sent early and is still out, and wait for it: nothing outlives the client."""
        pending = list(self._early)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Settle early requests, then close the connection pool, unless it is another client's."""
        await self.settle()
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
        upload: Upload | None = None,
    ) -> Any:
        """Send one request; for a write, `stale` names the cached paths it changes (`/x/*`: and below).

        With `cap`, a GET is a download: streamed, cut after `cap` bytes, never cached (a `Download`).
        With `upload`, a POST sends that file as multipart form data (Backlog's `file` part).
        """
        pairs = encode_params(params)
        if method != "GET":
            if self.settings.read_only:
                raise ReadOnlyError(f"{method} {path}: refused, the server runs read-only", method=method, path=path)
            sent = writes_sent.get()
            if sent is not None:
                sent.append(f"{method} {path}")
            try:
                form = encode_params(data)
                _raw, result = await self._send_raw(method, path, pairs, form, idempotent=False, upload=upload)
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
            entry = await self.cache.get(key, fetching=key not in self._inflight)  # one fetch a key, all instances
            metrics.looked_up(entry is not None)
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
            ages = stale_ages.get()
            if ages is not None:
                ages.append(stale_age)
        return result

    async def remember(self, path: str, params: Params | None, data: JSONObject, *, ttl: float) -> None:
        """Cache what a write answered as the read of `path` would (after the write: its generation)."""
        if self.cache is not None and ttl > 0:
            key = cache_key(self.scope, path, encode_params(params))
            body = json.dumps(data, ensure_ascii=False)
            await self.cache.put(key, scope=self.scope, path=path, body=body, ttl=ttl, grace=self.settings.stale_grace)

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
            level = logging.DEBUG if asked_ahead.get() else logging.WARNING
            log.log(level, "GET %s failed (%s); serving a cached copy %.0f s old", path, type(exc).__name__, age)
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
        upload: Upload | None = None,
    ) -> tuple[str, Any]:
        bucket = rate_bucket(method, path)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(method, path, pairs, form, bucket, cap, upload)
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
        upload: Upload | None = None,
    ) -> tuple[str, Any]:
        """One request; with `cap`, a download: at most `cap` bytes are read, then the stream is dropped."""
        import httpx

        await self.rates.pace(bucket, method, path)  # before taking a slot: a drained bucket must not starve others
        async with self._limiter:
            # An API key travels in the query (backlog-api.md §2.1); a signed-in user's OAuth token in a header.
            bearer = self.settings.oauth is not None
            query: list[tuple[str, str | int | float | bool | None]] = [*pairs] if bearer else [
                *pairs, ("apiKey", self.settings.api_key)]  # fmt: skip
            self.requests_sent += 1
            try:
                files = {"file": (upload.name, upload.content, upload.kind)} if upload else None
                request = self.pool.build_request(
                    method, path.lstrip("/"), params=query, data=dict(group_form(form)) if form else None, files=files,
                    headers={"Authorization": f"Bearer {self.settings.api_key}"} if bearer else None,
                )  # fmt: skip
                response = await self.pool.send(request, stream=True)
                try:
                    # A download reads past the cap by a key's length (as sent or percent-encoded), so a key
                    # straddling the cut is still found and blanked before the bytes are cut.
                    margin = 3 * len(self.settings.api_key) + 1
                    limit = MAX_BODY_BYTES if cap is None or response.status_code >= 400 else cap + margin
                    body = await read_limited(response, limit, cut=cap is not None)
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
        metrics.answered(method, bucket, response.status_code)
        self.rates.note(bucket, response.headers)
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
            raise api_error(method, path, response.status_code, data, response.headers)
        if response.status_code == 204 or data is None:
            return "null", None
        if data is _NOT_JSON:
            raise BadResponseError(
                f"{method} {path}: Backlog sent a body that is not JSON (HTTP {response.status_code})",
                method=method,
                path=path,
            )
        return text, data  # re-serialised above only when something was masked

    # -- typed GETs ----------------------------------------------------------------------------

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
