"""GitHub source: organisations watched through their event feed and listing, named repos probed directly.

Cost model (why it looks like this): every request is conditional, and an authorized 304 is free, so a
quiet cycle costs no quota. Per organisation a cycle makes two cheap looks, the event feed (honouring
X-Poll-Interval) and the repo listing; releases and tags are fetched only for repos the events name
(ReleaseEvent, CreateEvent, PublicEvent) or whose listing entry moved. The listing, not the feed, decides
what exists, so a repo made private or deleted (no event for that) is still noticed. Named repos keep
their per-repo probes. Units (an org, a named repo, a refresh) run on a bounded pool; results are
assembled in config order, so concurrency never changes what a cycle concludes.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from github import GithubException, UnknownObjectException
from github.GithubException import BadCredentialsException, RateLimitExceededException

from watcher import deadline
from watcher.config import GitHubSettings, Watch
from watcher.models import MAX_ID_LENGTH, Reason, RepoSnapshot, Source, SourceProblem, SourceReport
from watcher.redact import redact
from watcher.sources import sanitize
from watcher.sources.base import name_matches, reason_for_status
from watcher.sources.budget import HIGH, LOW, Budget
from watcher.sources.cache import CacheEntry, HttpCache
from watcher.sources.gh_http import GitHubHttp, has_next
from watcher.sources.http import Deferred, Tally

log = logging.getLogger(__name__)
RELEASES_KEPT = 20
EVENT_KINDS = {"PublicEvent", "CreateEvent", "ReleaseEvent"}
EVENTS_PAGE = 100
# GitHub allows 60 an hour without a token (304s included). The share is checked before each unit of
# work, so a cycle may end up to two requests past it (a probe is three): 50 keeps four cycles under 60.
UNAUTHENTICATED_HOURLY = 50
NO_FEED_RECHECK = 24 * 3600  # an owner without an event feed is asked for one again after a day
MAX_LISTED = 20_000  # more repos than any organisation has: a listing past this is a pagination loop
_API_ERRORS = (GithubException, requests.RequestException, ValueError, KeyError, TypeError, AttributeError)


@dataclass
class Unit:
    """What one unit of work (an org scan, a probe, a refresh) produced; merged in config order."""

    snapshots: list[RepoSnapshot] = field(default_factory=list)
    errors: list[SourceProblem] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    complete: set[str] = field(default_factory=set)
    requests: int = 0
    problems: list[str] = field(default_factory=list)  # per repo; not a failure of the source
    unseen: bool = False  # a repo new to us could not be refreshed: its scope is not complete this cycle


@dataclass
class OrgScan(Unit):
    scope: str = ""
    repos: list[dict[str, Any]] = field(default_factory=list)
    dirty: set[str] | None = field(default_factory=set)  # None: refresh every repo (no usable cursor)
    cursor: tuple[str, CacheEntry] | None = None  # saved only when every refresh it asked for was done
    failed_refreshes: int = 0


class GitHubSource:
    """Watches GitHub at the configured API URL (GitHub Enterprise works too)."""

    name = Source.GITHUB.value

    def __init__(self, settings: GitHubSettings, cache: HttpCache | None = None, budget: Budget | None = None,
                 clock=time.time, cycles_per_hour: float | None = None) -> None:
        self.cache = cache if cache is not None else HttpCache()
        self.budget = budget if budget is not None else Budget(self.name)
        if cycles_per_hour and not os.environ.get("GITHUB_TOKEN"):
            self.budget.spread_over_hour(UNAUTHENTICATED_HOURLY, cycles_per_hour)
        self._rotation: int | None = None  # under a cap: where the next cycle's probes and refreshes start
        self._units_run = 0
        self.clock = clock
        self.http = GitHubHttp(settings, self.budget, self.cache, settings.concurrency)
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="github")
        self.web_url = web_url(settings.api_url)
        self.deadline_at = deadline.now() + settings.max_poll_time.total_seconds()  # this source, this cycle

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.http.close()
        if self._rotation is not None:
            self.budget.rotation = self._rotation

    def poll(self, watch: Watch, previous: dict[str, RepoSnapshot]) -> SourceReport:
        report = SourceReport(self.name)
        spec = watch.github
        if spec is None:
            return report
        scans = list(self.pool.map(lambda org: self._scan_org(watch, org), spec.orgs))
        named = {name.lower() for name in spec.repos}  # their own probe fetches their releases
        # Probes and refreshes in one list, so that under a per-cycle cap both get their turns.
        work = [(None, name) for name in spec.repos]
        work += [(scan, self._plan(scan, repo, previous, named)) for scan in scans for repo in scan.repos]
        start = self.budget.rotation % len(work) if work and self.budget.cycle_cap is not None else 0
        work = work[start:] + work[:start]

        def run(item) -> Unit:
            return self._probe(item[1], previous) if item[0] is None else self._refresh(*item[1])

        if self.budget.cycle_cap is None:
            done = list(self.pool.map(run, work))
        else:  # one after another, within the cycle's share; the first one left over starts next cycle
            done = [self._over_share(item) or run(item) for item in work]
            stopped = next((i for i, unit in enumerate(done) if unit.deferred), None)
            self._rotation = start + stopped if stopped is not None else start
        probes = [unit for (scan, _), unit in zip(work, done) if scan is None]
        for (scan, _), unit in zip(work, done):
            if scan is None:
                continue
            scan.snapshots.extend(unit.snapshots)
            scan.problems.extend(map(str, unit.errors))  # one repo's releases: the org listing itself worked
            scan.failed_refreshes += len(unit.errors)
            scan.deferred.extend(unit.deferred)
            scan.requests += unit.requests
            if unit.unseen:  # else its later first sighting would look like a new repo, or be a silent baseline
                scan.complete.clear()
        found: dict[str, RepoSnapshot] = {}
        for unit in [*scans, *probes]:
            for snap in unit.snapshots:
                found[snap.repo_id.lower()] = snap
            report.errors.extend(unit.errors)
            report.problems.extend(unit.problems)
            report.deferred.extend(unit.deferred)
            report.complete_scopes |= unit.complete
            report.requests += unit.requests
            if isinstance(unit, OrgScan) and unit.cursor and not unit.deferred and not unit.errors \
                    and not unit.failed_refreshes:
                self.cache.put(*unit.cursor)
        report.repos.extend(found.values())
        if pause := self.budget.long_pause():
            report.errors.append(pause)
        return report

    # -- organisations ----------------------------------------------------------------------
    def _scan_org(self, watch: Watch, org: str) -> OrgScan:
        spec = watch.github
        scan = OrgScan(scope=f"gh:org:{org.lower()}")
        with Tally() as tally, deadline.until(self.deadline_at):
            try:
                kind = self._events_or_everything(watch.name, org, scan)
                listing = self._listing(org, kind)
                invalid = {r["full_name"] for r in listing if not sanitize.valid_repo_id(self.name, r["full_name"])}
                scan.problems += [f"github org {org}: listing entry {sanitize.text(name, 120)!r} is not "
                                  "a valid repo id; ignored" for name in sorted(invalid)]
                listing = [r for r in listing if r["full_name"] not in invalid]
                scan.repos = [r for r in listing if name_matches(r["name"], spec.include, spec.exclude)]
                scan.complete.add(scan.scope)
            except Deferred as exc:
                scan.deferred.append(str(exc))
            except _API_ERRORS as exc:
                scan.errors.append(problem("org", org, exc))
        scan.requests = tally.requests
        return scan

    def _events_or_everything(self, watch: str, org: str, scan: OrgScan) -> str:
        """The event feed is only a shortcut: when it fails or looks odd, check every repo instead."""
        try:
            return self._events(watch, org, scan)
        except (Deferred, BadCredentialsException, RateLimitExceededException, requests.ConnectionError,
                requests.Timeout):
            raise  # the API itself is unreachable or refuses us: the listing would fail the same way
        except _API_ERRORS as exc:
            log.info("github org %s: event feed unusable (%s); checking every repo", org, describe_error(exc))
            scan.dirty, scan.cursor = None, None
            return "orgs"

    def _events(self, watch: str, org: str, scan: OrgScan) -> str:
        """The cheap first look: which repos had events since our cursor. Returns 'orgs' or 'users'."""
        key = f"events:{watch}:{org.lower()}"
        cursor = self.cache.get(key)
        state = dict(cursor.body) if cursor and isinstance(cursor.body, dict) else {}
        kind, now = state.get("kind", "orgs"), self.clock()
        if state.get("feed") == "none" and now < state.get("recheck_at", 0) <= now + NO_FEED_RECHECK:
            scan.dirty = None  # known to have no feed: straight to the listing, every repo checked
            return kind
        if state and now < state.get("next_at", 0) <= now + 3600:
            return kind  # X-Poll-Interval: asked too early; the next cycle reads what we skip now
        path = f"/orgs/{org}/events" if kind == "orgs" else f"/users/{org}/events/public"
        try:
            fetched = self.http.get(path, {"per_page": EVENTS_PAGE}, key=key, save=False, what=f"org {org} events")
        except UnknownObjectException:
            kind = "users"  # not an organisation: a user account (or nothing; the listing will say)
            try:
                fetched = self.http.get(f"/users/{org}/events/public", {"per_page": EVENTS_PAGE}, key=key,
                                        save=False, what=f"user {org} events")
            except UnknownObjectException:
                scan.dirty = None  # no feed to read: every repo's details are asked (conditionally)
                # Remembered (not a cursor: saved whatever the cycle's outcome), so the next cycles do not
                # spend two requests on endpoints that do not exist; asked again after NO_FEED_RECHECK.
                self.cache.put(key, CacheEntry(None, None, {"kind": kind, "feed": "none",
                                                            "recheck_at": now + NO_FEED_RECHECK}))
                return kind
        interval = _number(fetched.headers.get("X-Poll-Interval"), 60)
        last_id = state.get("last_id") if state.get("kind", kind) == kind else None
        if not fetched.fresh:
            scan.dirty = set() if last_id is not None else None
            scan.cursor = (key, replace(cursor, body={**state, "next_at": now + interval}))
            return kind
        events = fetched.body if isinstance(fetched.body, list) else []
        ids = [int(e["id"]) for e in events]
        if last_id is None or (len(events) >= EVENTS_PAGE and min(ids) > last_id):
            scan.dirty = None  # first look, or more happened than one page shows: check every repo
        else:
            scan.dirty = {e["repo"]["name"].lower() for e in events
                          if int(e["id"]) > last_id and e.get("type") in EVENT_KINDS}
        new_state = {"kind": kind, "last_id": max(ids + [last_id or 0]), "next_at": now + interval}
        scan.cursor = (key, CacheEntry(fetched.entry.etag if fetched.entry else None,
                                       fetched.entry.last_modified if fetched.entry else None, new_state))
        return kind

    def _listing(self, org: str, kind: str) -> list[dict[str, Any]]:
        """Every public repo of the owner, page by page, each page conditional."""
        repos: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(1, MAX_LISTED // 100 + 2):
            params = {"type": "public" if kind == "orgs" else "owner", "sort": "full_name",
                      "per_page": 100, "page": page}
            fetched = self.http.get(f"/{kind}/{org}/repos", params, save=False, what=f"{org} repo listing",
                                    parse=lambda data: [_summary(r) for r in data or []])
            body = fetched.body
            if fetched.fresh:
                body = {"repos": fetched.body, "next": has_next(fetched.headers)}
                if fetched.entry:
                    self.cache.put(fetched.key, replace(fetched.entry, body=body))
            for repo in body["repos"]:
                if repo["full_name"] in seen or len(seen) >= MAX_LISTED:
                    raise ValueError(f"pagination does not end (repeats {repo['full_name']} after {len(seen)} repos)")
                seen.add(repo["full_name"])
                if len(repo["full_name"]) <= MAX_ID_LENGTH:  # no real repo has such a name; never store it
                    repos.append(repo)
            if not body["next"]:
                break
        return repos

    def _over_share(self, item) -> Unit | None:
        """The unit this cycle has no share left for (None: go ahead); a refresh that costs nothing still runs."""
        scan, what = item
        if scan is not None and not what[3]:
            return None
        name = what if scan is None else what[0]["full_name"]
        if not self._units_run or not self.budget.spent_share(f"github {name}"):
            self._units_run += 1  # at least one per cycle, even when the org scans used the whole share
            return None
        unit = Unit(deferred=[f"github {name}: deferred ({self.budget.why()})"])
        if scan is not None:
            prev = what[2]
            unit.snapshots = [replace(prev, scope=what[1])] if prev is not None else []
            unit.unseen = prev is None
        return unit

    def _plan(self, scan: OrgScan, repo: dict[str, Any], previous: dict, named: set[str]) -> tuple:
        prev = previous.get(f"{self.name}:{repo['full_name'].lower()}")
        name = repo["full_name"].lower()
        changed = name not in named and (prev is None or scan.dirty is None or name in scan.dirty
                                         or not prev.visible or prev.last_modified != repo["pushed_at"])
        return repo, scan.scope, prev, changed

    def _refresh(self, repo: dict[str, Any], scope: str, prev: RepoSnapshot | None, changed: bool) -> Unit:
        """Releases and tags of an org repo, only when something says they may have changed."""
        unit = Unit()
        if not changed:
            if prev is not None:
                unit.snapshots.append(self._snapshot(repo, scope, prev.releases, prev.tags))
            return unit
        with Tally() as tally, deadline.until(self.deadline_at):
            try:
                releases, tags = self._releases(repo["full_name"], LOW)
                unit.snapshots.append(self._snapshot(repo, scope, releases, tags))
            except Deferred as exc:
                unit.deferred.append(str(exc))
                if prev is not None:  # unchanged as far as we know; the un-advanced cursor brings it back
                    unit.snapshots.append(replace(prev, scope=scope))
                unit.unseen = prev is None
            except _API_ERRORS as exc:
                unit.errors.append(problem("releases", repo["full_name"], exc))
                if prev is not None:
                    unit.snapshots.append(replace(prev, scope=scope))
                unit.unseen = prev is None
        unit.requests = tally.requests
        return unit

    # -- named repos ------------------------------------------------------------------------
    def _probe(self, full_name: str, previous: dict) -> Unit:
        """404 is the only answer GitHub gives for a private repo we cannot see: hidden, not an error."""
        unit, scope = Unit(), f"gh:repo:{full_name.lower()}"
        with Tally() as tally, deadline.until(self.deadline_at):
            try:
                try:
                    repo = self.http.get(f"/repos/{full_name}", parse=_summary, what=f"repo {full_name}").body
                    if not sanitize.valid_repo_id(self.name, repo["full_name"]):
                        raise ValueError(f"the API named it {sanitize.text(repo['full_name'], 120)!r}, not a repo id")
                except UnknownObjectException as exc:
                    unit.snapshots.append(RepoSnapshot(self.name, full_name, scope, visible=False,
                                                       url=self.url(full_name), status=exc.status))
                else:
                    prev = previous.get(f"{self.name}:{repo['full_name'].lower()}")
                    try:
                        releases, tags = self._releases(repo["full_name"], HIGH)
                    except _API_ERRORS as exc:
                        unit.problems.append(f"github {repo['full_name']} releases: {describe_error(exc)}")
                        releases, tags = (prev.releases, prev.tags) if prev else ((), ())
                    unit.snapshots.append(self._snapshot(repo, scope, releases, tags))
                unit.complete.add(scope)
            except Deferred as exc:
                unit.deferred.append(str(exc))
            except _API_ERRORS as exc:
                unit.errors.append(problem("repo", full_name, exc))
        unit.requests = tally.requests
        return unit

    def _releases(self, full_name: str, priority: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        releases = self.http.get(f"/repos/{full_name}/releases", {"per_page": RELEASES_KEPT}, priority=priority,
                                 what=f"{full_name} releases", parse=lambda d: [r["tag_name"] for r in d or []])
        tags = self.http.get(f"/repos/{full_name}/tags", {"per_page": 100}, priority=priority,
                             what=f"{full_name} tags", parse=lambda d: [t["name"] for t in d or []])
        return tuple(releases.body[:RELEASES_KEPT]), tuple(tags.body[:RELEASES_KEPT * 5])

    def _snapshot(self, repo: dict[str, Any], scope: str, releases, tags) -> RepoSnapshot:
        return RepoSnapshot(
            source=self.name, repo_id=repo["full_name"], scope=scope, visible=not repo["private"],
            url=self.url(repo["full_name"]), status=None, created_at=repo["created_at"],
            last_modified=repo["pushed_at"], releases=tuple(releases), tags=tuple(tags),
            description=repo["description"],
        )

    def url(self, full_name: str) -> str:
        return f"{self.web_url}/{full_name}"


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """The fields a snapshot needs; what the cache keeps of a repo JSON."""
    return {"full_name": data["full_name"], "name": data.get("name") or data["full_name"].split("/")[-1],
            "private": bool(data.get("private")), "html_url": data.get("html_url"),
            "created_at": data.get("created_at"), "pushed_at": data.get("pushed_at"),
            "description": data.get("description")}


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def web_url(api_url: str) -> str:
    """Where people open a repo: github.com for the public API, the host itself for Enterprise."""
    base = api_url.rstrip("/")
    if base in ("https://api.github.com", "http://api.github.com"):
        return "https://github.com"
    return base.removesuffix("/api/v3").removesuffix("/api")


def problem(scope: str, repo: str, exc: BaseException) -> SourceProblem:
    """The failed request as a typed problem; str() is the line the log and status show."""
    return SourceProblem(Source.GITHUB.value, scope, repo, reason_of(exc), describe_error(exc))


def reason_of(exc: BaseException) -> Reason:
    if isinstance(exc, RateLimitExceededException):
        return Reason.RATE_LIMITED
    if isinstance(exc, BadCredentialsException):
        return Reason.AUTH
    if isinstance(exc, GithubException):
        return reason_for_status(exc.status)
    if isinstance(exc, requests.exceptions.RetryError):
        return Reason.SERVER  # urllib3 ran out of retries on error answers (5xx)
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc):  # urllib3 wraps its timeouts
        return Reason.TIMEOUT
    if isinstance(exc, requests.RequestException):
        return Reason.NETWORK
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return Reason.INVALID_RESPONSE
    return Reason.OTHER


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
    if "not sent" not in str(exc) and (isinstance(exc, requests.Timeout) or "timed out" in str(exc)):
        return "timeout: no complete answer within `timeout`, or max_poll_time used up"  # urllib3 wraps it
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (TypeError, AttributeError, KeyError)):
        return redact(f"malformed response ({type(exc).__name__}: {text[:200]})")
    return redact(f"{type(exc).__name__}: {text}")
