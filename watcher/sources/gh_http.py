"""Conditional GETs against the GitHub REST API: one pooled session per cycle, ETags, the rate budget.

Why not PyGithub's Requester: its connection object keeps the pending request in attributes, so two
threads sharing it can swap URLs; a `requests.Session` is safe for concurrent GETs and pools its
connections (one session per host per cycle). PyGithub still names the errors
(`Requester.createException`), so messages stay "401 Bad credentials", "404 Not Found".
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from github.Requester import Requester
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from watcher import __version__
from watcher.config import GitHubSettings
from watcher.sources.budget import HIGH, Budget
from watcher.sources.cache import CacheEntry, HttpCache
from watcher.sources.http import Deferred, count_request


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
        self.timeout = settings.timeout.total_seconds()
        self.budget, self.cache = budget, cache
        retry = Retry(total=settings.retries, connect=settings.retries, read=settings.retries,
                      status_forcelist=(500, 502, 503, 504), allowed_methods={"GET"},
                      backoff_factor=0.5 if settings.max_retry_wait.total_seconds() else 0,
                      backoff_max=settings.max_retry_wait.total_seconds(),
                      respect_retry_after_header=False, raise_on_status=False)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                                     "User-Agent": f"watcher/{__version__}"})
        token = os.environ.get("GITHUB_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

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
        cached = self.cache.get(key)
        count_request()
        response = self.session.get(url, headers=cached.headers() if cached else {}, timeout=self.timeout)
        data = _json(response)
        message = data.get("message", "") if isinstance(data, dict) else ""
        self.budget.observe_github(response.status_code, response.headers, str(message or ""))
        if response.status_code == 304 and cached is not None:
            return Fetched(cached.body, False, response.headers, None, key)
        if response.status_code >= 300:
            raise Requester.createException(response.status_code, dict(response.headers),
                                            data if isinstance(data, dict) else {"message": response.reason})
        body = parse(data)
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        entry = CacheEntry(etag, modified, body) if etag or modified else None
        if entry is not None and save:
            self.cache.put(key, entry)
        return Fetched(body, True, response.headers, entry, key)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return {"message": response.reason or f"HTTP {response.status_code}"}  # an HTML error page


def has_next(headers: Any) -> bool:
    return 'rel="next"' in (headers.get("Link") or "")
