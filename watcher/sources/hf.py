"""Hugging Face Hub source: one model listing per author per cycle, direct probes for named repos."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

# huggingface_hub's user-agent telemetry fetches {huggingface.co}/api/agent-harnesses, ignoring the
# configured endpoint: a watcher pointed at a mirror (or offline) must not call anywhere else.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import httpx2
from huggingface_hub import HfApi, ModelInfo, constants, set_client_factory
from huggingface_hub.utils import build_hf_headers, paginate
from huggingface_hub.utils._http import default_client_factory
from huggingface_hub.errors import (DisabledRepoError, HfHubHTTPError, OfflineModeIsEnabled,
                                    RepositoryNotFoundError)

from watcher import DISTRIBUTION, __version__, telemetry
from watcher.config import HubSettings, Watch
from watcher.models import MAX_FILES_KEPT, MAX_ID_LENGTH, RepoSnapshot, Source, SourceReport, is_weight_file
from watcher.sources import name_matches
from watcher.sources.budget import LOW, Budget
from watcher.sources.cache import HttpCache
from watcher.sources.http import (BoundedRetry, Deferred, Tally, Unavailable, count_request,
                                  current_priority, priority, redact)

log = logging.getLogger(__name__)

MAX_LISTED = 50_000  # more models than any lab has: a listing past this is a pagination loop
_BAD_DATA = (ValueError, KeyError, TypeError, AttributeError)
LIST_FIELDS = ["sha", "createdAt", "lastModified", "private", "gated", "disabled", "siblings", "safetensors"]


class _Transport(httpx2.BaseTransport):
    """Every Hub request goes through here: the budget, a timeout on each call, our own bounded retry, a count.

    huggingface_hub's own backoff sleeps up to 23 s on a dead server and Retry-After + 1 on a 429, with
    no cap; raising `Unavailable` (not an httpx error) stops it from retrying on top of us. One pooled
    connection set serves every thread of the cycle.
    """

    def __init__(self, timeout: float, retry: BoundedRetry, budget: Budget, pool_size: int) -> None:
        limits = httpx2.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._inner = httpx2.HTTPTransport(limits=limits)
        self._timeout = timeout
        self._retry = retry
        self._budget = budget
        self._lock = threading.Lock()
        self.requests = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.extensions["timeout"] = {k: self._timeout for k in ("connect", "read", "write", "pool")}
        url = redact(str(request.url))
        if not self._budget.allow(current_priority(), request.url.path):
            raise Deferred(f"huggingface {request.url.path}: deferred ({self._budget.why()})")

        def send() -> httpx2.Response:
            with self._lock:
                self.requests += 1
            count_request()
            try:
                response = self._inner.handle_request(request)
            except httpx2.TransportError:
                telemetry.api_response("huggingface", "error")
                raise
            telemetry.api_response("huggingface", response.status_code, response.headers)
            self._budget.observe_hub(response.status_code, response.headers)
            # Read the body here, inside our retry: a truncated body raised later would fall into
            # huggingface_hub's own unbounded backoff. These are small JSON answers, never downloads.
            response.read()
            return response

        return self._retry.call(send, url, status_of=lambda r: r.status_code, headers_of=lambda r: r.headers,
                                network_errors=(httpx2.TransportError,))

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
                 cache: HttpCache | None = None, budget: Budget | None = None) -> None:
        self.endpoint = settings.endpoint.rstrip("/")
        self.budget = budget if budget is not None else Budget(self.name)
        self.cache = cache if cache is not None else HttpCache()  # the Hub's listings are not conditional yet
        retry = BoundedRetry(settings.retries, settings.max_retry_wait.total_seconds(), sleep)
        self._transport = _Transport(settings.timeout.total_seconds(), retry, self.budget, settings.concurrency)
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="hub")
        # The client factory is process-wide in huggingface_hub; one source object lives per cycle.
        set_client_factory(lambda: hub_client(self._transport))
        constants.HF_HUB_DISABLE_TELEMETRY = True  # also when the library was imported before us
        token = os.environ.get("HF_TOKEN") or False
        self.api = HfApi(endpoint=self.endpoint, token=token, library_name=DISTRIBUTION, library_version=__version__)
        self._headers = build_hf_headers(token=token, library_name=DISTRIBUTION, library_version=__version__)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        set_client_factory(default_client_factory)  # the library's own again, hooks and redirects included

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
                found[snap.repo_id] = snap
            report.complete_scopes |= {scope} if scope else set()
            report.errors.extend(errors)
            report.deferred.extend(deferred)
            report.requests += requests
        sized = list(self.pool.map(lambda snap: self._sized(snap, previous.get(snap.key)), found.values()))
        for snap, errors, deferred, requests in sized:
            report.repos.append(snap)
            report.errors.extend(errors)
            report.deferred.extend(deferred)
            report.requests += requests
        return report

    def _unit(self, kind: str, name: str, spec) -> tuple:
        """One author listing or one named-repo probe, on a worker thread."""
        snaps, errors, deferred, scope = [], [], [], f"hf:{kind}:{name.lower()}"
        with Tally() as tally:
            try:
                if kind == "author":
                    snaps = list(self._list_author(name, spec.include, spec.exclude, scope))
                else:
                    snaps = [self._probe(name, scope)]
            except Deferred as exc:
                deferred.append(str(exc))
                scope = ""
            except (HfHubHTTPError, Unavailable, httpx2.HTTPError, OfflineModeIsEnabled, *_BAD_DATA) as exc:
                errors.append(f"huggingface {'author ' if kind == 'author' else ''}{name}: {describe_error(exc)}")
                scope = ""
        return snaps, scope, errors, deferred, tally.requests

    def _sized(self, snap: RepoSnapshot, prev: RepoSnapshot | None) -> tuple:
        report = SourceReport(self.name)
        with Tally() as tally, priority(LOW):
            snap = self._with_sizes(snap, prev, report)
        return snap, report.errors, report.deferred, tally.requests

    def _list_author(self, author: str, include: list[str], exclude: list[str], scope: str) -> Iterable[RepoSnapshot]:
        """One listing per author, narrowed by the patterns' shared literal prefix when there is one."""
        prefix = search_prefix(include)
        params: dict = {"author": author, "expand": LIST_FIELDS}
        if prefix:
            params["search"] = prefix
        # The library's own pagination, but our own parsing: in HfApi.list_models one entry with an odd
        # date raises inside the generator and the whole author's listing is lost.
        items = paginate(f"{self.endpoint}/api/models", params=params, headers=self._headers)
        seen: set[str] = set()
        for item in items:
            info = tolerant_model_info(item)
            repo_id = info.id
            if not isinstance(repo_id, str) or "/" not in repo_id:
                raise ValueError(f"malformed listing entry (id {repo_id!r})")
            if len(repo_id) > MAX_ID_LENGTH:
                continue  # no real repo has such a name; never store or announce it
            if repo_id in seen or len(seen) >= MAX_LISTED:
                raise ValueError(f"pagination does not end (repeats {repo_id} after {len(seen)} models)")
            seen.add(repo_id)
            owner, _, name = repo_id.partition("/")
            if owner.lower() != author.lower() or not name_matches(name, include, exclude):
                continue  # the search is a substring match: someone/Qwen3.7-27B-GGUF is not ours
            yield self._snapshot(info, scope)

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
            entries = self.api.list_repo_tree(snap.repo_id, recursive=True, revision=snap.sha)
            total = sum(e.size or 0 for e in entries if getattr(e, "size", None) and is_weight_file(e.path))
            return _replace(snap, weight_bytes=total)
        except Deferred as exc:
            report.deferred.append(str(exc))
            return snap
        except (HfHubHTTPError, Unavailable, httpx2.HTTPError, OfflineModeIsEnabled, *_BAD_DATA) as exc:
            report.errors.append(f"huggingface {snap.repo_id} file sizes: {describe_error(exc)}")
            return snap

    def url(self, repo_id: str) -> str:
        return f"{self.endpoint}/{repo_id}"


def tolerant_model_info(item) -> ModelInfo:
    """ModelInfo from one listing entry; dates in a format the library cannot parse are dropped, not fatal."""
    if not isinstance(item, dict):
        raise ValueError(f"malformed listing entry: {str(item)[:80]!r}")
    item.setdefault("siblings", None)
    try:
        return ModelInfo(**item)
    except ValueError:
        return ModelInfo(**{k: v for k, v in item.items() if k not in ("createdAt", "lastModified")})


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
