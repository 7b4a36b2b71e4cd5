"""Fake of the GitHub REST API (the read endpoints the watcher uses), per /work/shared/API-NOTES.md.

Why it matters: PyGithub follows the `url` fields and `Link` headers it gets back verbatim and
asserts they point at its own host, so every URL here is built from the fake's base URL; and a
watcher lives on ETags and rate-limit headers, so every answer carries both, with a real counter.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .github_json import (
    GhEvent,
    GhRelease,
    GhRepo,
    event_json,
    org_json,
    owner_json,
    rate_json,
    release_json,
    repo_json,
    tag_json,
)
from .server import FakeServer, Request, Response, to_datetime, utcnow

DOCS = "https://docs.github.com/rest"
SECONDARY = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try "
             "again. If you reach out to GitHub Support for help, please include the request ID {}.")
_ids = itertools.count(1)


class FakeGitHub(FakeServer):
    """Local GitHub: repos, orgs, releases, tags, org events, /rate_limit; ETags and rate limits."""

    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, GhRepo] = {}  # keyed by full_name, looked up case-insensitively
        self.orgs: dict[str, dict[str, Any]] = {}  # lower(login) -> {login, id, created_at}
        self.events: list[GhEvent] = []  # newest last; private-time events are never listed
        self.valid_tokens: set[str] = set()  # empty: any token is accepted
        self.anon_limit, self.token_limit = 60, 5000
        self.primary_limit_status = 403  # GitHub answers 403 (sometimes 429) when exhausted
        self.events_poll_interval = 60  # X-Poll-Interval of the event feeds (seconds)
        self._rate: dict[str, list[int]] = {}  # identity -> [used, reset epoch]

    # -- state -----------------------------------------------------------------------------
    def add_org(self, login: str) -> dict[str, Any]:
        with self.lock:
            return self.orgs.setdefault(login.lower(), {"login": login, "id": 10_000 + next(_ids),
                                                        "created_at": utcnow()})

    def add_repo(self, full_name: str, *, private: bool = False, created_at: Any = None,
                 pushed_at: Any = None, description: str | None = None,
                 default_branch: str = "main") -> GhRepo:
        """Create a repo (its owner becomes an org); a CreateEvent is recorded."""
        owner, name = full_name.split("/")
        with self.lock:
            org = self.add_org(owner)
            created = to_datetime(created_at) or utcnow()
            pushed = to_datetime(pushed_at) or created
            if (old := self._find(full_name)) is not None:
                del self.repos[old.full_name]
            repo = GhRepo(700_000_000 + next(_ids), org["login"], name, private, created,
                          max(created, pushed), pushed, description, default_branch)
            self.repos[repo.full_name] = repo
            self._event("CreateEvent", repo)
            return repo

    def set_private(self, full_name: str, private: bool) -> None:
        """Change visibility; going public records a PublicEvent, like GitHub."""
        with self.lock:
            repo = self._get(full_name)
            was_private, repo.private, repo.updated_at = repo.private, private, utcnow()
            if was_private and not private:
                self._event("PublicEvent", repo)

    def remove_repo(self, full_name: str) -> None:
        with self.lock:
            del self.repos[self._get(full_name).full_name]

    def add_release(self, full_name: str, tag_name: str, *, name: str | None = None,
                    draft: bool = False, prerelease: bool = False, published_at: Any = None,
                    body: str | None = None) -> GhRelease:
        """Publish a release; like GitHub it creates the tag if missing (drafts create nothing)."""
        with self.lock:
            repo = self._get(full_name)
            when = to_datetime(published_at) or utcnow()
            rel = GhRelease(150_000_000 + next(_ids), tag_name, name, draft, prerelease, when,
                            None if draft else when, body)
            repo.releases.append(rel)
            if not draft:
                if all(t[0] != tag_name for t in repo.tags):
                    repo.tags.insert(0, (tag_name, hashlib.sha1(f"{full_name}@{tag_name}".encode("utf-8", "surrogatepass")).hexdigest()))
                self._event("ReleaseEvent", repo, release=rel)
            return rel

    def add_tag(self, full_name: str, name: str, sha: str | None = None) -> None:
        """Push a tag: it is listed first in /tags, bumps pushed_at, records a CreateEvent."""
        with self.lock:
            repo = self._get(full_name)
            repo.tags.insert(0, (name, sha or hashlib.sha1(f"{full_name}@{name}".encode()).hexdigest()))
            repo.pushed_at = repo.updated_at = utcnow()
            self._event("CreateEvent", repo, ref=name)

    def set_rate_limit(self, remaining: int, *, token: str | None = None, reset_in: int = 3600) -> None:
        """Jump the primary-limit counter of a token (None: anonymous) to `remaining`."""
        with self.lock:
            limit = self.token_limit if token else self.anon_limit
            self._rate[token or ""] = [limit - remaining, int(utcnow().timestamp()) + reset_in]

    def secondary_limit_next(self, n: int = 1, retry_after: int | None = None,
                             path_contains: str | None = None) -> None:
        """The next n requests hit a secondary rate limit (403, Retry-After when given)."""
        def make(req: Request) -> Response:
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return _msg(403, SECONDARY.format(f"FAKE:{len(self.requests):04X}"), headers,
                        f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
        self.inject(n, make, path_contains)

    def _find(self, full_name: str) -> GhRepo | None:
        low = full_name.lower()
        return next((r for k, r in self.repos.items() if k.lower() == low), None)

    def _org(self, repo: GhRepo) -> dict[str, Any]:
        return self.orgs[repo.owner.lower()]

    def _get(self, full_name: str) -> GhRepo:
        if (repo := self._find(full_name)) is None:
            raise KeyError(full_name)
        return repo

    def _event(self, kind: str, repo: GhRepo, ref: str | None = None,
               release: GhRelease | None = None) -> None:
        self.events.append(GhEvent(str(40_000_000_000 + next(_ids)), kind, repo, not repo.private,
                                   utcnow(), ref, release))

    # -- HTTP ------------------------------------------------------------------------------
    def error_response(self, status: int, req: Request) -> Response:
        if status in (500, 502):
            return _msg(status, "Server Error")
        return super().error_response(status, req)  # 503/504: GitHub's HTML "unicorn" page

    def _identity(self, req: Request) -> str:
        token = req.bearer_token()
        return token if token and (not self.valid_tokens or token in self.valid_tokens) else ""

    def _window(self, ident: str) -> list[int]:
        now = int(utcnow().timestamp())
        slot = self._rate.setdefault(ident, [0, now + 3600])
        if now >= slot[1]:
            slot[:] = [0, now + 3600]
        return slot

    def finalize(self, req: Request, resp: Response) -> Response:
        with self.lock:
            ident = self._identity(req)
            limit = self.token_limit if ident else self.anon_limit
            used, reset = self._window(ident)
        resp.headers.setdefault("X-RateLimit-Limit", str(limit))
        resp.headers.setdefault("X-RateLimit-Remaining", str(max(0, limit - used)))
        resp.headers.setdefault("X-RateLimit-Reset", str(reset))
        resp.headers.setdefault("X-RateLimit-Used", str(min(used, limit)))
        resp.headers.setdefault("X-RateLimit-Resource", "core")
        resp.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
        resp.headers.setdefault("X-GitHub-Request-Id", f"FAKE:{len(self.requests):04X}")
        resp.headers.setdefault("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
        return resp

    def handle(self, req: Request) -> Response:
        token = req.bearer_token()
        if token and self.valid_tokens and token not in self.valid_tokens:
            return _msg(401, "Bad credentials")
        with self.lock:
            ident = self._identity(req)
            slot, limit = self._window(ident), (self.token_limit if ident else self.anon_limit)
            if req.path == "/rate_limit":  # free, like on GitHub
                return Response(200, rate_json(slot[0], slot[1], limit, int(utcnow().timestamp())))
            if slot[0] >= limit:
                who = "user ID 1." if ident else ("127.0.0.1. (But here's the good news: Authenticated "
                                                  "requests get a higher rate limit. Check out the "
                                                  "documentation for more details.)")
                return _msg(self.primary_limit_status, f"API rate limit exceeded for {who}", {},
                            f"{DOCS}/overview/rate-limits-for-the-rest-api")
            resp = self._route(req) if req.method in ("GET", "HEAD") else _msg(404, "Not Found")
            resp = self._conditional(req, resp)
            if not (resp.status == 304 and ident):  # authorized 304s are free
                slot[0] += 1
            return resp

    def _conditional(self, req: Request, resp: Response) -> Response:
        """ETag on every 200 (a hash of the body); If-None-Match / If-Modified-Since -> 304."""
        if resp.status != 200:
            return resp
        etag = f'W/"{hashlib.sha256(resp.encoded()).hexdigest()[:40]}"'
        resp.headers["ETag"] = etag
        inm = req.headers.get("If-None-Match")
        ims, lm = req.headers.get("If-Modified-Since"), resp.headers.get("Last-Modified")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            fresh = "*" in tags or etag.removeprefix("W/") in tags
        else:
            fresh = bool(ims and lm) and _http_date(lm) <= _http_date(ims)
        if fresh:
            return Response(304, None, {k: v for k, v in resp.headers.items() if k != "Link"})
        return resp

    def _route(self, req: Request) -> Response:
        segs = [s for s in req.path.split("/") if s]
        if len(segs) >= 2 and segs[0] == "repositories":
            repo = next((r for r in self.repos.values() if str(r.id) == segs[1]), None)
            return self._repo_route(req, repo, segs[2:])
        if len(segs) >= 3 and segs[0] == "repos":
            return self._repo_route(req, self._find(f"{segs[1]}/{segs[2]}"), segs[3:])
        if len(segs) >= 2 and segs[0] in ("orgs", "users", "organizations", "user"):
            by_id = segs[0] in ("organizations", "user")
            org = next((o for o in self.orgs.values() if (str(o["id"]) if by_id else o["login"].lower())
                        == segs[1].lower()), None)
            if org is not None:
                if len(segs) == 2 and not by_id:
                    public = sum(1 for r in self.repos.values() if r.owner == org["login"] and not r.private)
                    return Response(200, org_json(self.url, org, public) if segs[0] == "orgs"
                                    else owner_json(self.url, org))
                if segs[2:] == ["repos"]:
                    return self._list_repos(req, org)
                if segs[2:] == ["events"] and segs[0] in ("orgs", "organizations"):
                    events = [event_json(self.url, e, org) for e in reversed(self.events)
                              if e.public and e.repo.owner == org["login"]][:300]
                    resp = self._paged(req, events, f"/organizations/{org['id']}/events")
                    resp.headers["X-Poll-Interval"] = str(self.events_poll_interval)
                    return resp
        return _msg(404, "Not Found")

    def _list_repos(self, req: Request, org: dict[str, Any]) -> Response:
        repos = [r for r in self.repos.values() if r.owner == org["login"] and not r.private]
        if req.query_value("type") in ("private", "forks"):
            repos = []
        sort = req.query_value("sort", "created")
        key = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}.get(sort)
        desc = req.query_value("direction", "asc" if key is None else "desc") == "desc"
        repos.sort(key=(lambda r: getattr(r, key)) if key else (lambda r: r.full_name.lower()), reverse=desc)
        kind = "organizations" if req.path.startswith(("/orgs", "/organizations")) else "user"
        return self._paged(req, [repo_json(self.url, r, org) for r in repos], f"/{kind}/{org['id']}/repos")

    def _repo_route(self, req: Request, repo: GhRepo | None, rest: list[str]) -> Response:
        if repo is None or repo.private:  # GitHub never confirms a private repo exists
            return _msg(404, "Not Found", {}, f"{DOCS}/repos/repos#get-a-repository")
        org = self._org(repo)
        visible = sorted((r for r in repo.releases if not r.draft), key=lambda r: (r.created_at, r.id),
                         reverse=True)
        one: list[GhRelease] | None = None
        if not rest:
            resp = Response(200, repo_json(self.url, repo, org, full=True))
            resp.headers["Last-Modified"] = format_datetime(max(repo.updated_at, repo.pushed_at), usegmt=True)
            return resp
        if rest == ["releases"]:
            return self._paged(req, [release_json(self.url, repo, r, org) for r in visible],
                               f"/repositories/{repo.id}/releases")
        if rest == ["tags"]:
            return self._paged(req, [tag_json(self.url, repo, n, s) for n, s in repo.tags],
                               f"/repositories/{repo.id}/tags")
        if rest == ["releases", "latest"]:  # newest non-draft, non-prerelease
            one = [r for r in visible if not r.prerelease]
        elif len(rest) == 3 and rest[:2] == ["releases", "tags"]:
            one = [r for r in visible if r.tag_name == rest[2]]
        elif len(rest) == 2 and rest[0] == "releases":
            one = [r for r in visible if str(r.id) == rest[1]]
        if one:
            return Response(200, release_json(self.url, repo, one[0], org))
        return _msg(404, "Not Found")

    def _paged(self, req: Request, items: list, link_path: str) -> Response:
        """per_page (default 30, max 100) / page; Link prev/next/last/first like GitHub's."""
        per_page = max(1, min(100, int(req.query_value("per_page") or 30)))
        page = max(1, int(req.query_value("page") or 1))
        last = max(1, -(-len(items) // per_page))
        resp = Response(200, items[(page - 1) * per_page: page * per_page])
        if last > 1:
            pairs = [(k, v) for k, v in parse_qsl(urlsplit(req.raw_path).query) if k != "page"]
            url = lambda n: f"{self.url}{link_path}?{urlencode(pairs + [('page', n)])}"  # noqa: E731
            rels = ([("prev", page - 1)] if page > 1 else []) + ([("next", page + 1), ("last", last)]
                                                                   if page < last else [])
            rels += [("first", 1)] if page > 1 else []
            resp.headers["Link"] = ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)
        return resp


def _http_date(value: str) -> datetime:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return to_datetime(0)


def _msg(status: int, message: str, headers: dict[str, str] | None = None, doc: str = DOCS) -> Response:
    return Response(status, {"message": message, "documentation_url": doc, "status": str(status)},
                    dict(headers or {}))
