"""GitHub source: named repos probed (public vs hidden) and organisations listed, via PyGithub."""

from __future__ import annotations

import logging
import os
import time

import requests
from github import Auth, Github, GithubException, GithubRetry, UnknownObjectException
from github.GithubException import BadCredentialsException, RateLimitExceededException

from watcher.config import GitHubSettings, Watch
from watcher.models import MAX_ID_LENGTH, RepoSnapshot, Source, SourceReport
from watcher.redact import redact
from watcher.sources import name_matches

log = logging.getLogger(__name__)
RELEASES_KEPT = 20
_API_ERRORS = (GithubException, requests.RequestException, AssertionError, ValueError, KeyError, TypeError,
               AttributeError)
MAX_LISTED = 20_000  # more repos than any organisation has: a listing past this is a pagination loop


class _CappedRetry(GithubRetry):
    """PyGithub's own retry, but a Retry-After is never slept past `max_rate_limit_wait`.

    urllib3 would otherwise sleep whatever the server asks (GitHub may say hours) inside one cycle.
    """

    def sleep(self, response=None) -> None:  # urllib3 calls this between tries
        asked = self.get_retry_after(response) if response is not None else None
        cap = self.max_rate_limit_wait if self.max_rate_limit_wait is not None else asked
        time.sleep(min(asked, cap) if asked is not None else self.get_backoff_time())


class GitHubSource:
    """Watches GitHub through PyGithub pointed at the configured API URL (GitHub Enterprise works too)."""

    name = Source.GITHUB.value

    def __init__(self, settings: GitHubSettings) -> None:
        wait = settings.max_retry_wait.total_seconds()
        retry = _CappedRetry(
            total=settings.retries,
            backoff_factor=0.5,
            backoff_max=wait,
            secondary_rate_wait=wait,
            max_rate_limit_wait=wait,
        )
        token = os.environ.get("GITHUB_TOKEN")
        self.client = Github(
            base_url=settings.api_url.rstrip("/"),
            auth=Auth.Token(token) if token else None,
            timeout=max(1, int(settings.timeout.total_seconds())),
            retry=retry,
            per_page=100,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        self.requests = 0
        self.web_url = web_url(settings.api_url)

    def close(self) -> None:
        self.client.close()

    def poll(self, watch: Watch, previous: dict[str, RepoSnapshot]) -> SourceReport:
        report = SourceReport(self.name)
        spec = watch.github
        if spec is None:
            return report
        self.requests = 0
        found: dict[str, RepoSnapshot] = {}
        for org in spec.orgs:
            scope = f"gh:org:{org.lower()}"
            try:
                for repo in self._org_repos(org):
                    if len(repo.full_name) <= MAX_ID_LENGTH and name_matches(repo.name, spec.include, spec.exclude):
                        found[repo.full_name.lower()] = self._visible(repo, scope, previous, report)
                report.complete_scopes.add(scope)
            except _API_ERRORS as exc:
                report.errors.append(f"github org {org}: {describe_error(exc)}")
        for full_name in spec.repos:
            scope = f"gh:repo:{full_name.lower()}"
            try:
                found[full_name.lower()] = self._probe(full_name, scope, previous, report)
                report.complete_scopes.add(scope)
            except _API_ERRORS as exc:
                report.errors.append(f"github {full_name}: {describe_error(exc)}")
        report.repos.extend(found.values())
        report.requests = self.requests
        return report

    def _org_repos(self, login: str):
        """Public repos of an organisation, or of a user account when the login is not an org."""
        self.requests += 1
        try:
            owner = self.client.get_organization(login)
            listing = owner.get_repos(type="public", sort="created", direction="desc")
        except UnknownObjectException:
            self.requests += 1
            listing = self.client.get_user(login).get_repos(type="owner")
        repos, seen = [], set()
        for repo in listing:
            if repo.full_name in seen or len(seen) >= MAX_LISTED:
                raise ValueError(f"pagination does not end (repeats {repo.full_name} after {len(seen)} repos)")
            seen.add(repo.full_name)
            repos.append(repo)
        self.requests += max(1, -(-len(repos) // 100))
        return repos

    def _probe(self, full_name: str, scope: str, previous: dict, report: SourceReport) -> RepoSnapshot:
        """404 is the only answer GitHub gives for a private repo we cannot see: hidden, not an error."""
        self.requests += 1
        try:
            repo = self.client.get_repo(full_name)
        except UnknownObjectException as exc:
            return RepoSnapshot(self.name, full_name, scope, visible=False, url=self.url(full_name),
                                status=exc.status)
        return self._visible(repo, scope, previous, report)

    def _visible(self, repo, scope: str, previous: dict, report: SourceReport) -> RepoSnapshot:
        key = f"{self.name}:{repo.full_name}"
        prev = previous.get(key)
        releases, tags = self._releases(repo, prev, report)
        private = bool(repo.private)
        return RepoSnapshot(
            source=self.name,
            repo_id=repo.full_name,
            scope=scope,
            visible=not private,
            url=repo.html_url or self.url(repo.full_name),
            status=None,
            created_at=_iso(repo.created_at),
            last_modified=_iso(repo.pushed_at),
            releases=releases,
            tags=tags,
            description=repo.description,
        )

    def _releases(self, repo, prev: RepoSnapshot | None, report: SourceReport) -> tuple[tuple, tuple]:
        """Newest releases and tags; on failure keep the last known ones so nothing looks new later."""
        try:
            self.requests += 2
            releases = tuple(r.tag_name for r in repo.get_releases().get_page(0)[:RELEASES_KEPT])
            tags = tuple(t.name for t in repo.get_tags().get_page(0)[:RELEASES_KEPT * 5])
            return releases, tags
        except _API_ERRORS as exc:
            report.errors.append(f"github {repo.full_name} releases: {describe_error(exc)}")
            return (prev.releases, prev.tags) if prev else ((), ())

    def url(self, full_name: str) -> str:
        return f"{self.web_url}/{full_name}"


def web_url(api_url: str) -> str:
    """Where people open a repo: github.com for the public API, the host itself for Enterprise."""
    base = api_url.rstrip("/")
    if base in ("https://api.github.com", "http://api.github.com"):
        return "https://github.com"
    return base.removesuffix("/api/v3").removesuffix("/api")


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else str(value)


def describe_error(exc: BaseException) -> str:
    """One line: the status and GitHub's message ('401 Bad credentials'), tokens redacted."""
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = data.get("message") or str(exc.data or "") or type(exc).__name__
        prefix = "rate limited: " if isinstance(exc, RateLimitExceededException) else ""
        if isinstance(exc, BadCredentialsException):
            prefix = ""
        status = f"{exc.status} " if exc.status else ""
        return redact(f"{prefix}{status}{str(message).splitlines()[0]}".strip())
    if isinstance(exc, requests.exceptions.RetryError):
        return redact(f"gave up after retries: {str(exc).splitlines()[0]}")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (TypeError, AttributeError, KeyError)):
        return redact(f"malformed response ({type(exc).__name__}: {text[:200]})")
    return redact(f"{type(exc).__name__}: {text}")
