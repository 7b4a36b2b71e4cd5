"""Conditional GETs against the GitHub REST API through PyGithub's Requester: ETags, the rate budget.

PyGithub's Requester keeps the pending request in attributes of its connection, so two threads must
not share one client: each worker thread gets its own `Github` (with its own pooled session), made
once per cycle. PyGithub does the HTTP (base URL, auth, timeout, its capped GithubRetry) and names the
errors (`Requester.createException`), so messages stay "401 Bad credentials", "404 Not Found".
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from github import Auth, Github, GithubException, GithubRetry
from github.Requester import Requester
from requests import RequestException
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError

from watcher import DISTRIBUTION, __version__, deadline, telemetry
from watcher.config import GitHubSettings
from watcher.redact import redact
from watcher.sources.budget import HIGH, Budget, parse_retry_after
from watcher.sources.cache import CacheEntry, HttpCache
from watcher.sources.http import Deferred, count_request, log_retry


class CappedRetry(GithubRetry):
    """PyGithub's own retry, but a Retry-After longer than `max_rate_limit_wait` is not retried at all.

    urllib3 would otherwise sleep whatever the server asks (GitHub may say hours) inside one cycle, or,
    capped, retry too early against GitHub's rules. The answer goes back to the caller instead
    (raise_on_status=False), so the budget sees the limit and the cycle reports it.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("raise_on_status", False)
        super().__init__(**kwargs)

    def parse_retry_after(self, retry_after: str) -> float:
        """Ours, capped, and tolerant: urllib3 raises InvalidHeader on `inf` or `1e12` mid-request."""
        seconds = parse_retry_after(retry_after)
        return 0.0 if seconds is None else seconds

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if deadline.expired():
            raise MaxRetryError(_pool, url, error)  # the source's time for this cycle is used up
        asked = self.get_retry_after(response) if response is not None else None
        if asked is not None and self.max_rate_limit_wait is not None and asked > self.max_rate_limit_wait:
            raise MaxRetryError(_pool, url, error)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        tried = len(retry.history)
        tries = tried + retry.total + 1 if isinstance(retry.total, int) else tried + 1
        host = getattr(_pool, "host", None) or "github"
        log_retry(f"https://{host}{url or ''}", tried, tries, retry.get_backoff_time(),
                  error if error is not None else f"HTTP {getattr(response, 'status', '?')}")
        return retry


def github_token() -> str | None:
    """GITHUB_TOKEN, else GH_TOKEN (what GitHub CLI users have set); from the environment only."""
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None


def make_client(settings: GitHubSettings) -> Github:
    """A PyGithub client pointed at the configured API (GitHub Enterprise works too), retries bounded."""
    wait = settings.max_retry_wait.total_seconds()
    retry = CappedRetry(total=settings.retries, backoff_factor=0.5 if wait else 0, backoff_max=wait,
                        secondary_rate_wait=wait, max_rate_limit_wait=wait)
    token = github_token()
    client = Github(base_url=settings.api_url.rstrip("/"), auth=Auth.Token(token) if token else None,
                    timeout=max(1, round(settings.timeout.total_seconds())), retry=retry, per_page=100,
                    user_agent=f"{DISTRIBUTION}/{__version__}", seconds_between_requests=None,
                    seconds_between_writes=None)
    # PyGithub's only public hook for its connections (injectConnectionClasses) is process-wide and turns
    # keep-alive off; this sets the same attribute on our requester alone. test_slow_servers guards it.
    https = settings.api_url.lower().startswith("https:")
    client.requester._Requester__connectionClass = _connection_class(https)
    return client


_deadline_classes: dict[type, type] = {}


def _connection_class(https: bool) -> type:
    name = "_Requester__httpsConnectionClass" if https else "_Requester__httpConnectionClass"
    base = getattr(Requester, name)
    if base not in _deadline_classes:
        _deadline_classes[base] = _with_deadlines(base)
    return _deadline_classes[base]


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """urllib3 pools whose connections read under the wall-clock deadlines (watcher.deadline)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = deadline.connection_class(urllib3.connection.HTTPConnection)


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = deadline.connection_class(urllib3.connection.HTTPSConnection)


class _CappedRaw:
    """urllib3's response, its decoded stream stopped at MAX_BODY_BYTES (a gzip bomb never fills memory)."""

    def __init__(self, raw, what: str) -> None:
        self._raw, self._what = raw, what

    def stream(self, amt: int = 2 ** 16, decode_content: bool | None = None):
        total = 0
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            total += len(chunk)
            if total > deadline.MAX_BODY_BYTES:
                self._raw.close()
                raise deadline.TooLarge(f"{self._what}: body larger than "
                                        f"{deadline.MAX_BODY_BYTES // (1024 * 1024)} MB once decompressed")
            yield chunk

    def __getattr__(self, name: str):
        return getattr(self._raw, name)


def _cap_body(response: requests.Response, **kwargs) -> requests.Response:
    response.raw = _CappedRaw(response.raw, redact(response.url.split("?")[0]))
    return response


def _with_deadlines(base: type) -> type:
    class Connection(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.adapter = _DeadlineAdapter(max_retries=self.retry, pool_connections=self.pool_size,
                                            pool_maxsize=self.pool_size)
            self.session.mount("https://", self.adapter)
            self.session.mount("http://", self.adapter)
            self.session.hooks["response"].append(_cap_body)

    return Connection



@dataclass
class Fetched:
    """A parsed answer: `fresh` is False when it came from the cache after a 304."""

    body: Any
    fresh: bool
    headers: Any
    entry: CacheEntry | None  # what to store for this URL (None: nothing cacheable)
    key: str = ""


class GitHubHttp:
    def __init__(self, settings: GitHubSettings, budget: Budget, cache: HttpCache, pool_size: int) -> None:
        self.base = settings.api_url.rstrip("/")
        self.settings = settings
        self.budget, self.cache = budget, cache
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[Github] = []

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _requester(self) -> Requester:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = make_client(self.settings)
            with self._lock:
                self._clients.append(client)
        return client.requester

    def get(self, path: str, params: dict[str, Any] | None = None, *, parse: Callable[[Any], Any] = lambda d: d,
            key: str | None = None, priority: str = HIGH, what: str = "", save: bool = True) -> Fetched:
        """GET with the stored validators; a 304 returns the stored parsed body.

        `key` defaults to the URL; `save=False` leaves storing the new entry to the caller (a cursor is
        only advanced once the work it stands for is done). Raises Deferred or a GithubException.
        """
        url = f"{self.base}{path}" + (f"?{urlencode(params)}" if params else "")
        key = key or url
        if not self.budget.allow(priority, what or path):
            raise Deferred(f"github {what or path}: deferred ({self.budget.why()})")
        if deadline.expired():
            raise requests.Timeout(f"{what or path}: not sent, max_poll_time used up for this cycle")
        cached = self.cache.get(key)
        count_request()
        try:
            status, raw_headers, output = self._requester().requestJson(
                "GET", path, parameters=params, headers=cached.headers() if cached else {})
        except GithubException as exc:  # PyGithub's retry gave up on a rate limit: the budget must still learn
            headers = CaseInsensitiveDict(exc.headers or {})
            telemetry.api_response("github", exc.status or "error", headers)
            message = exc.data.get("message", "") if isinstance(exc.data, dict) else str(exc.data or "")
            self.budget.observe_github(exc.status or 0, headers, str(message))
            raise
        except RequestException:
            telemetry.api_response("github", "error")
            raise
        # Counted here, where the answer is in hand, not by a hook in PyGithub's connection classes: its
        # `Requester.injectConnectionClasses` also turns off connection reuse for every client.
        headers = CaseInsensitiveDict(raw_headers)
        telemetry.api_response("github", status, headers)
        data = _json(status, output)
        message = data.get("message", "") if isinstance(data, dict) else ""
        self.budget.observe_github(status, headers, str(message or ""))
        if status == 304 and cached is not None:
            return Fetched(cached.body, False, headers, None, key)
        if status >= 300:
            raise Requester.createException(status, dict(headers),
                                            data if isinstance(data, dict) else {"message": f"HTTP {status}"})
        body = parse(data)
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        entry = CacheEntry(etag, modified, body) if etag or modified else None
        if entry is not None and save:
            self.cache.put(key, entry)
        return Fetched(body, True, headers, entry, key)


def _json(status: int, output: str) -> Any:
    if not output:
        return None
    try:
        return json.loads(output)
    except ValueError:
        return {"message": f"HTTP {status}: not JSON"}  # an HTML error page or a truncated body


def has_next(headers: Any) -> bool:
    return 'rel="next"' in (headers.get("Link") or "")
