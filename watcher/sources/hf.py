"""Hugging Face Hub source: one model listing per author per cycle, direct probes for named repos."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

# huggingface_hub's user-agent telemetry fetches {huggingface.co}/api/agent-harnesses, ignoring the
# configured endpoint: a watcher pointed at a mirror (or offline) must not call anywhere else.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import httpcore2
import httpx2
from huggingface_hub import constants, set_client_factory
from huggingface_hub.errors import DisabledRepoError, HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff
from huggingface_hub.utils._http import default_client_factory

from watcher import DISTRIBUTION, __version__, deadline, telemetry
from watcher.config import HubSettings, Watch
from watcher.models import (
    MAX_FILES_KEPT,
    MAX_ID_LENGTH,
    Reason,
    RepoSnapshot,
    Source,
    SourceProblem,
    SourceReport,
    is_weight_file,
)
from watcher.sources import sanitize
from watcher.sources.base import name_matches, reason_for_status
from watcher.sources.budget import LOW, Budget
from watcher.sources.cache import HttpCache
from watcher.sources.http import (
    BoundedRetry,
    Deferred,
    Tally,
    Unavailable,
    count_request,
    current_priority,
    priority,
    redact,
)

log = logging.getLogger(__name__)

MAX_LISTED = 50_000  # more models than any lab has: a listing past this is a pagination loop
MAX_PAGES = 100  # requests per author listing: a Link chain that adds one model per page stops here
_BAD_DATA = (ValueError, KeyError, TypeError, AttributeError)
LIST_FIELDS = ["sha", "createdAt", "lastModified", "private", "gated", "disabled", "siblings", "safetensors"]


@functools.cache
def _tls_context():
    """Loading the CA bundle costs ~0.06 s of CPU: once per process, not once per cycle."""
    return httpx2.create_ssl_context()


def _tls_for(origin: httpx2.URL) -> ssl.SSLContext:
    """An http:// endpoint (a mirror on the local network) never does TLS: the transport refuses every other
    origin, https on the same host included. Its context trusts no certificate, so a handshake could only fail,
    and the process skips loading the CA bundle."""
    if origin.scheme == "https":
        return _tls_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode CERT_REQUIRED, no CA loaded


class _Transport(httpx2.BaseTransport):
    """Every Hub request goes through here: the budget, a timeout on each call, our own bounded retry, a count.

    huggingface_hub's own backoff sleeps up to 23 s on a dead server and Retry-After + 1 on a 429, with
    no cap; raising `Unavailable` (not an httpx error) stops it from retrying on top of us. One pooled
    connection set serves every thread of the cycle.
    """

    def __init__(self, endpoint: str, timeout: float, retry: BoundedRetry, budget: Budget, pool_size: int) -> None:
        limits = httpx2.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._origin = httpx2.URL(endpoint).copy_with(path="/", query=None, fragment=None)
        self._inner = httpx2.HTTPTransport(limits=limits, verify=_tls_for(self._origin))
        # httpcore's documented extension point: every socket read clamped to the wall-clock deadlines.
        pool = self._inner._pool
        pool._network_backend = deadline.httpcore_backend(httpcore2, pool._network_backend)
        self._timeout = timeout
        self._retry = retry
        self._budget = budget
        self._lock = threading.Lock()
        self.requests = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions["timeout"] = {k: self._timeout for k in ("connect", "read", "write", "pool")}
        url = redact(str(request.url))
        if not same_origin(request.url, self._origin):
            # A Link header or a redirect naming another host: HF_TOKEN goes only to the configured endpoint.
            raise Unavailable(f"huggingface: refused to follow a link to another host ({request.url.host})",
                              Reason.INVALID_RESPONSE)
        if deadline.expired():
            raise Unavailable(f"{url}: not sent, max_poll_time used up for this cycle", Reason.TIMEOUT)
        if not self._budget.allow(current_priority(), request.url.path):
            raise Deferred(f"huggingface {request.url.path}: deferred ({self._budget.why()})")

        def send() -> httpx2.Response:
            with self._lock:
                self.requests += 1
            count_request()
            with deadline.within(self._timeout):  # the whole attempt, headers and body, wall clock
                try:
                    response = self._inner.handle_request(request)
                except httpx2.TransportError:
                    telemetry.api_response("huggingface", "error")
                    raise
                telemetry.api_response("huggingface", response.status_code, response.headers)
                self._budget.observe_hub(response.status_code, response.headers)
                # Read the body here, inside our retry: a truncated body raised later would fall into
                # huggingface_hub's own unbounded backoff. These are small JSON answers, never downloads.
                return _decoded(response, request, url)

        def send_in_time() -> httpx2.Response:
            try:
                return send()
            except httpx2.TimeoutException as exc:  # say which bound, not the socket's bare "timed out"
                raise type(exc)(f"no complete answer within {self._timeout:g}s (timeout), or max_poll_time "
                                "used up") from None

        return self._retry.call(send_in_time, url, status_of=lambda r: r.status_code, headers_of=lambda r: r.headers,
                                network_errors=(httpx2.TransportError,), timeouts=(httpx2.TimeoutException,))


def _decoded(response: httpx2.Response, request: httpx2.Request, url: str) -> httpx2.Response:
    """The body decompressed under a byte cap (a gzip bomb stops at the cap), as a plain response."""
    try:
        body = deadline.capped(response.iter_bytes(), url)
    finally:
        response.close()
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx2.Response(response.status_code, headers=headers, content=body, request=request,
                           extensions=response.extensions)


def same_origin(url: httpx2.URL, origin: httpx2.URL) -> bool:
    return (url.scheme, url.host.lower(), url.port) == (origin.scheme, origin.host.lower(), origin.port)

    def close(self) -> None:
        self._inner.close()


def hub_client(transport: httpx2.BaseTransport) -> httpx2.Client:
    """huggingface_hub's default client (its request hook enforces HF_HUB_OFFLINE and adds a request id;
    it follows redirects) with one change: our transport underneath (budget, timeout, bounded retry)."""
    default = default_client_factory()
    try:
        return httpx2.Client(transport=transport, event_hooks=default.event_hooks, headers=default.headers,
                             follow_redirects=default.follow_redirects, timeout=default.timeout,
                             trust_env=default.trust_env)
    finally:
        default.close()


class HubSource:
    """Watches Hub authors and repos through huggingface_hub's HfApi pointed at the configured endpoint."""

    name = Source.HUGGINGFACE.value

    def __init__(self, settings: HubSettings, sleep: Callable[[float], None] = time.sleep,
                 cache: HttpCache | None = None, budget: Budget | None = None,
                 watches: Iterable[Watch] = ()) -> None:
        self.endpoint = settings.endpoint.rstrip("/")
        self.budget = budget if budget is not None else Budget(self.name)
        self.cache = cache if cache is not None else HttpCache()  # the Hub's listings are not conditional yet
        retry = BoundedRetry(settings.retries, settings.max_retry_wait.total_seconds(), sleep)
        self._transport = _Transport(self.endpoint, settings.timeout.total_seconds(), retry, self.budget,
                                     settings.concurrency)
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="hub")
        self.deadline_at = deadline.now() + settings.max_poll_time.total_seconds()  # this source, this cycle
        # Next listing pages, fetched while the current one is parsed; tasks here never wait on the pool above.
        self.prefetch = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="hub-page")
        # One listing per author per cycle, whichever watches share the author (see shared_prefixes).
        self.prefixes = shared_prefixes(watches)
        self._listings = OnceEach()
        self._trees = OnceEach()
        # The client factory is process-wide in huggingface_hub; one source object lives per cycle.
        set_client_factory(lambda: hub_client(self._transport))
        constants.HF_HUB_DISABLE_TELEMETRY = True  # also when the library was imported before us
        token = self._token = os.environ.get("HF_TOKEN") or False
        self._headers = build_hf_headers(token=token, library_name=DISTRIBUTION, library_version=__version__)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.prefetch.shutdown(wait=True)
        set_client_factory(default_client_factory)  # the library's own again, hooks and redirects included

    @functools.cached_property
    def api(self):
        """HfApi, for probes and file trees only: importing it costs more than a quiet cycle's listings."""
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self._token, library_name=DISTRIBUTION,
                     library_version=__version__)

    def poll(self, watch: Watch, previous: dict[str, RepoSnapshot]) -> SourceReport:
        """Authors and named repos concurrently, then the size lookups; merged in config order."""
        report = SourceReport(self.name)
        spec = watch.huggingface
        if spec is None:
            return report
        units = [("author", a) for a in spec.authors] + [("repo", r) for r in spec.repos]
        results = list(self.pool.map(lambda unit: self._unit(*unit, spec), units))
        found: dict[str, RepoSnapshot] = {}
        for snaps, scope, errors, deferred, requests in results:
            for snap in snaps:
                if sanitize.valid_repo_id(self.name, snap.repo_id):
                    found[snap.repo_id.lower()] = snap
                else:  # never asked about, stored or announced
                    name = sanitize.text(snap.repo_id, 120)
                    report.problems.append(f"huggingface {name!r}: not a valid repo id; ignored")
            report.complete_scopes |= {scope} if scope else set()
            report.errors.extend(errors)
            report.deferred.extend(deferred)
            report.requests += requests
        # Only the repos whose sizes need a request go to the pool; the rest (every repo of a quiet cycle)
        # cost no thread hand-off.
        asking = {snap.key: snap for snap in found.values() if needs_tree(snap, previous.get(snap.key))}
        asked = dict(zip(asking, self.pool.map(lambda snap: self._sized(snap, previous.get(snap.key)),
                                                asking.values())))
        sized = [asked[s.key] if s.key in asked else self._sized(s, previous.get(s.key)) for s in found.values()]
        for snap, errors, deferred, requests in sized:
            report.repos.append(snap)
            report.problems.extend(map(str, errors))  # one repo's sizes: the listing itself worked
            report.deferred.extend(deferred)
            report.requests += requests
        if pause := self.budget.long_pause():
            report.errors.append(pause)
        return report

    def _unit(self, kind: str, name: str, spec) -> tuple:
        """One author listing (shared by every watch of the author this cycle) or one named-repo probe."""
        if kind == "author":
            prefix = self.prefixes.get(name.lower(), search_prefix(spec.include))
            (listed, scope, errors, deferred, requests), first = self._listings.get(
                (name.lower(), prefix), lambda: self._attempt(kind, name, prefix))
            snaps = [s for s in listed if name_matches(s.repo_id.partition("/")[2], spec.include, spec.exclude)]
            return snaps, scope, errors, deferred, requests if first else 0
        return self._attempt(kind, name)

    def _attempt(self, kind: str, name: str, prefix: str = "") -> tuple:
        snaps, errors, deferred, scope = [], [], [], f"hf:{kind}:{name.lower()}"
        with Tally() as tally, deadline.until(self.deadline_at):
            try:
                if kind == "author":
                    snaps = list(self._list_author(name, prefix, scope, tally))
                else:
                    snaps = [self._probe(name, scope)]
            except Deferred as exc:
                deferred.append(str(exc))
                scope = ""
            except (HfHubHTTPError, Unavailable, httpx2.HTTPError, OfflineModeIsEnabled, *_BAD_DATA) as exc:
                errors.append(problem(kind, name, exc))
                scope = ""
        return snaps, scope, errors, deferred, tally.requests

    def _sized(self, snap: RepoSnapshot, prev: RepoSnapshot | None) -> tuple:
        report = SourceReport(self.name)
        with Tally() as tally, priority(LOW), deadline.until(self.deadline_at):
            snap = self._with_sizes(snap, prev, report)
        return snap, report.errors, report.deferred, tally.requests

    def _list_author(self, author: str, prefix: str, scope: str, tally: Tally) -> Iterable[RepoSnapshot]:
        """Every repo of the author (the watches filter by name), narrowed by the literal prefix all the
        watches' patterns for this author share, when there is one."""
        params: dict = {"author": author, "expand": LIST_FIELDS}
        if prefix:
            params["search"] = prefix
        # The library's own pagination, but our own parsing: in HfApi.list_models one entry with an odd
        # date raises inside the generator and the whole author's listing is lost.
        items = self._paginate(f"{self.endpoint}/api/models", params)
        seen: set[str] = set()
        for item in items:
            if tally.requests > MAX_PAGES:
                raise ValueError(f"pagination does not end (more than {MAX_PAGES} pages)")
            if not isinstance(item, dict):
                raise ValueError(f"malformed listing entry: {str(item)[:80]!r}")
            repo_id = item.get("id")
            if not isinstance(repo_id, str) or "/" not in repo_id:
                raise ValueError(f"malformed listing entry (id {repo_id!r})")
            if len(repo_id) > MAX_ID_LENGTH:
                continue  # no real repo has such a name; never store or announce it
            if repo_id in seen or len(seen) >= MAX_LISTED:
                raise ValueError(f"pagination does not end (repeats {repo_id} after {len(seen)} models)")
            seen.add(repo_id)
            if repo_id.partition("/")[0].lower() != author.lower():
                continue  # the search is a substring match: someone/Qwen3.7-27B-GGUF is not ours
            yield listed_snapshot(item, scope, self.url(repo_id))

    def _paginate(self, url: str, params: dict | None) -> Iterable:
        """huggingface_hub's paginate(), but the next page (its URL is in this page's Link header) is asked
        for while this page is parsed, so a long listing costs its round trips and little more."""
        pending = self.prefetch.submit(self._page, url, params)
        while pending is not None:
            body, next_url, requests = pending.result()
            for _ in range(requests):
                count_request()  # made on the prefetch thread: counted for the unit that asked
            pending = self.prefetch.submit(self._page, next_url, None) if next_url else None
            yield from body

    def _page(self, url: str, params: dict | None) -> tuple:
        with Tally() as tally, deadline.until(self.deadline_at):  # the prefetch thread keeps the source's deadline
            response = http_backoff("GET", url, params=params, headers=self._headers)
            hf_raise_for_status(response)
            return response.json(), response.links.get("next", {}).get("url"), tally.requests

    def _probe(self, repo_id: str, scope: str) -> RepoSnapshot:
        """A named repo: 401/404 RepoNotFound means hidden (private or not there yet), not an error."""
        try:
            info = self.api.model_info(repo_id, files_metadata=True)
        except DisabledRepoError as exc:
            return RepoSnapshot(self.name, repo_id, scope, visible=False, url=self.url(repo_id),
                                status=_status(exc), disabled=True)
        except RepositoryNotFoundError as exc:
            return RepoSnapshot(self.name, repo_id, scope, visible=False, url=self.url(repo_id), status=_status(exc))
        return self._snapshot(info, scope)

    def _snapshot(self, info, scope: str) -> RepoSnapshot:
        siblings = info.siblings or []
        weights = [s for s in siblings if is_weight_file(s.rfilename)]
        sizes = [s.size for s in weights]
        weight_bytes = sum(sizes) if weights and all(isinstance(n, int) for n in sizes) else None
        params = getattr(info.safetensors, "total", None) if info.safetensors else None
        gated = info.gated if info.gated not in (None, False) else None
        return RepoSnapshot(
            source=self.name,
            repo_id=info.id,
            scope=scope,
            visible=not info.private and not info.disabled,
            url=self.url(info.id),
            gated=str(gated) if gated else None,
            disabled=bool(info.disabled),
            sha=info.sha,
            created_at=_iso(info.created_at),
            last_modified=_iso(info.last_modified),
            weight_files=tuple(sorted(s.rfilename for s in weights)[:MAX_FILES_KEPT]),
            weight_count=len(weights),
            weight_bytes=weight_bytes,
            params=params if isinstance(params, int) else None,
        )

    def _with_sizes(self, snap: RepoSnapshot, prev: RepoSnapshot | None, report: SourceReport) -> RepoSnapshot:
        """File sizes cost one tree request, so ask only when the weights are new or the commit moved."""
        if not snap.weight_files or snap.weight_bytes is not None:
            return snap
        if prev is not None and prev.sha == snap.sha and prev.weight_bytes is not None:
            return _replace(snap, weight_bytes=prev.weight_bytes)
        try:
            total, _ = self._trees.get((snap.repo_id, snap.sha), lambda: self._weight_bytes(snap))
            return _replace(snap, weight_bytes=total)
        except Deferred as exc:
            report.deferred.append(str(exc))
            return snap
        except (HfHubHTTPError, Unavailable, httpx2.HTTPError, OfflineModeIsEnabled, *_BAD_DATA) as exc:
            report.errors.append(problem("file sizes", snap.repo_id, exc))
            return snap

    def _weight_bytes(self, snap: RepoSnapshot) -> int:
        entries = self.api.list_repo_tree(snap.repo_id, recursive=True, revision=snap.sha)
        return sum(e.size or 0 for e in entries if getattr(e, "size", None) and is_weight_file(e.path))

    def url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"


def needs_tree(snap: RepoSnapshot, prev: RepoSnapshot | None) -> bool:
    """Whether _with_sizes will ask for the file tree (weights whose sizes are not known for this commit)."""
    if not snap.weight_files or snap.weight_bytes is not None:
        return False
    return not (prev is not None and prev.sha == snap.sha and prev.weight_bytes is not None)


def listed_snapshot(item: dict, scope: str, url: str) -> RepoSnapshot:
    """A listing entry read straight from its JSON: what ModelInfo would give, for a fraction of the CPU.

    Every field is checked for its type; a wrong type in a field the watcher needs (siblings, file
    names) fails the listing like any malformed answer, elsewhere the field is dropped.
    """
    siblings = item.get("siblings") or []
    if not isinstance(siblings, list):
        raise ValueError(f"malformed siblings in {item['id'][:80]!r}")
    weights, sizes = [], []
    for sibling in siblings:
        name = sibling.get("rfilename") if isinstance(sibling, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"malformed sibling in {item['id'][:80]!r}")
        if is_weight_file(name):
            weights.append(name)
            sizes.append(sibling.get("size"))
    weight_bytes = sum(sizes) if weights and all(type(n) is int for n in sizes) else None
    safetensors = item.get("safetensors")
    params = safetensors.get("total") if isinstance(safetensors, dict) else None
    gated = item.get("gated")
    disabled = bool(item.get("disabled"))
    sha = item.get("sha")
    return RepoSnapshot(
        source=Source.HUGGINGFACE.value, repo_id=item["id"], scope=scope,
        visible=not item.get("private") and not disabled, url=url,
        gated=str(gated) if gated not in (None, False) else None, disabled=disabled,
        sha=sha if isinstance(sha, str) else None,
        created_at=_listed_date(item.get("createdAt")), last_modified=_listed_date(item.get("lastModified")),
        weight_files=tuple(sorted(weights)[:MAX_FILES_KEPT]), weight_count=len(weights), weight_bytes=weight_bytes,
        params=params if type(params) is int else None,
    )


def _listed_date(value) -> str | None:
    """The Hub's 2026-01-02T03:04:05.000Z as the watcher stores it (2026-01-02T03:04:05Z); junk is None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)
    return _iso(parsed)


def shared_prefixes(watches: Iterable[Watch]) -> dict[str, str]:
    """author (lower case) -> the search prefix every watch listing that author can use.

    Watches that share an author share its one listing per cycle, so the listing is narrowed only by
    what all their include patterns have in common.
    """
    patterns: dict[str, list[str]] = {}
    for watch in watches:
        spec = watch.huggingface
        for author in spec.authors if spec is not None else ():
            patterns.setdefault(author.lower(), []).extend(spec.include)
    return {author: search_prefix(include) for author, include in patterns.items()}


class OnceEach:
    """Work done once per key for the life of a source (one cycle), however many threads ask for it.

    get() returns (result, first): `first` is True for the one caller that did the work, so requests
    are counted once. An exception is remembered and raised to every caller alike.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict = {}

    def get(self, key, make: Callable[[], object]) -> tuple:
        with self._lock:
            slot = self._slots.get(key)
            first = slot is None
            if first:
                slot = self._slots[key] = [threading.Lock(), None, None]
                slot[0].acquire()  # held until the result is there: later callers wait on it
        if first:
            try:
                slot[1] = (make(),)
            except Exception as exc:  # noqa: BLE001 - handed to every caller below
                slot[2] = exc
            finally:
                slot[0].release()
        else:
            with slot[0]:
                pass
        if slot[2] is not None:
            raise slot[2]
        return slot[1][0], first


def _replace(snap: RepoSnapshot, **changes) -> RepoSnapshot:
    import dataclasses

    return dataclasses.replace(snap, **changes)


def search_prefix(include: list[str]) -> str:
    """The literal text every include pattern starts with (before any wildcard); '' when none.

    Compared case-insensitively (as fnmatch here is), returned in the first pattern's own case.
    """
    literals = []
    for pattern in include:
        cut = min((pattern.find(c) for c in "*?[" if c in pattern), default=len(pattern))
        literals.append(pattern[:cut])
    if not literals:
        return ""
    shared = len(os.path.commonprefix([text.lower() for text in literals]))
    return literals[0][:shared]


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else str(value)


def problem(scope: str, repo: str, exc: Exception) -> SourceProblem:
    """The failed request as a typed problem; str() is the line the log and status show."""
    return SourceProblem(Source.HUGGINGFACE.value, scope, repo, reason_of(exc), describe_error(exc))


def reason_of(exc: Exception) -> Reason:
    if isinstance(exc, Unavailable):
        return exc.reason
    if isinstance(exc, HfHubHTTPError) and _status(exc) is not None:
        return reason_for_status(_status(exc))
    if isinstance(exc, httpx2.TimeoutException):
        return Reason.TIMEOUT
    if isinstance(exc, (httpx2.HTTPError, HfHubHTTPError)):
        return Reason.NETWORK
    if isinstance(exc, _BAD_DATA):
        return Reason.INVALID_RESPONSE
    return Reason.OTHER


def describe_error(exc: Exception) -> str:
    """One line: status and the server's reason, with any token-bearing URL redacted."""
    if isinstance(exc, (TypeError, AttributeError, KeyError)):
        return f"malformed response ({type(exc).__name__}: {redact(str(exc))[:200]})"
    status = _status(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, HfHubHTTPError) and status is not None:
        message = exc.server_message or text
        return redact(f"HTTP {status}: {message.strip().splitlines()[0] if message.strip() else text}")
    return redact(text)
