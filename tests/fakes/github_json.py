"""State records of the GitHub fake and their JSON views, shaped like GitHub's REST answers.

Every URL field is built from `base` (the fake's own URL): PyGithub requests `url` fields verbatim
and asserts they point at the host it was configured with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

AVATAR = "https://avatars.githubusercontent.com/u/{}?v=4"


def gh_time(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


@dataclass
class GhRelease:
    id: int
    tag_name: str
    name: str | None
    draft: bool
    prerelease: bool
    created_at: datetime
    published_at: datetime | None
    body: str | None = None


@dataclass
class GhRepo:
    id: int
    owner: str
    name: str
    private: bool
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime
    description: str | None
    default_branch: str
    releases: list[GhRelease] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (name, sha), newest first
    html_url: str | None = None  # a hostile API's link target (default: https://github.com/{full_name})

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class GhEvent:
    id: str
    type: str  # CreateEvent (repository or tag), PublicEvent, ReleaseEvent
    repo: GhRepo
    public: bool  # events of a repo while it was private stay hidden, as on GitHub
    created_at: datetime
    ref: str | None = None  # tag name of a tag CreateEvent
    release: GhRelease | None = None


def owner_json(base: str, org: dict[str, Any]) -> dict[str, Any]:
    """The short owner object embedded in repos and releases (also GET /users/{login})."""
    u = f"{base}/users/{org['login']}"
    return {"login": org["login"], "id": org["id"], "node_id": f"O_{org['id']}",
            "avatar_url": AVATAR.format(org["id"]), "gravatar_id": "", "url": u,
            "html_url": f"https://github.com/{org['login']}", "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}", "type": "Organization", "user_view_type": "public",
            "site_admin": False}


def org_json(base: str, org: dict[str, Any], public_repos: int) -> dict[str, Any]:
    u = f"{base}/orgs/{org['login']}"
    return {**owner_json(base, org), "url": u, "repos_url": f"{u}/repos", "events_url": f"{u}/events",
            "hooks_url": f"{u}/hooks", "issues_url": f"{u}/issues", "members_url": f"{u}/members{{/member}}",
            "description": None, "name": org["login"], "company": None, "blog": "", "location": None,
            "email": None, "twitter_username": None, "is_verified": False, "public_repos": public_repos,
            "public_gists": 0, "followers": 0, "following": 0, "created_at": gh_time(org["created_at"]),
            "updated_at": gh_time(org["created_at"]), "archived_at": None}


def repo_json(base: str, r: GhRepo, org: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """A repo as listed (`full=False`) or as GET /repos/{o}/{r} returns it (`full=True`)."""
    api, html = f"{base}/repos/{r.full_name}", r.html_url or f"https://github.com/{r.full_name}"
    data = {
        "id": r.id, "node_id": f"R_{r.id}", "name": r.name, "full_name": r.full_name, "private": r.private,
        "owner": owner_json(base, org), "html_url": html, "description": r.description, "fork": False,
        "url": api, "releases_url": f"{api}/releases{{/id}}", "tags_url": f"{api}/tags",
        "events_url": f"{api}/events", "created_at": gh_time(r.created_at), "updated_at": gh_time(r.updated_at),
        "pushed_at": gh_time(r.pushed_at), "git_url": f"git://github.com/{r.full_name}.git",
        "clone_url": f"{html}.git", "homepage": None, "size": 0, "stargazers_count": 0, "watchers_count": 0,
        "language": None, "has_issues": True, "forks_count": 0, "archived": False, "disabled": False,
        "open_issues_count": 0, "license": None, "topics": [], "visibility": "private" if r.private else "public",
        "forks": 0, "open_issues": 0, "watchers": 0, "default_branch": r.default_branch,
    }
    if full:
        data.update(network_count=0, subscribers_count=0, organization=owner_json(base, org))
    return data


def release_json(base: str, r: GhRepo, rel: GhRelease, org: dict[str, Any]) -> dict[str, Any]:
    api, repo_api = f"{base}/repos/{r.full_name}/releases/{rel.id}", f"{base}/repos/{r.full_name}"
    return {"url": api, "assets_url": f"{api}/assets",
            "upload_url": f"https://uploads.github.com/repos/{r.full_name}/releases/{rel.id}/assets{{?name,label}}",
            "html_url": f"https://github.com/{r.full_name}/releases/tag/{rel.tag_name}", "id": rel.id,
            "author": owner_json(base, org), "node_id": f"RE_{rel.id}", "tag_name": rel.tag_name,
            "target_commitish": r.default_branch, "name": rel.name, "draft": rel.draft, "immutable": False,
            "prerelease": rel.prerelease, "created_at": gh_time(rel.created_at),
            "updated_at": gh_time(rel.created_at), "published_at": gh_time(rel.published_at), "assets": [],
            "tarball_url": f"{repo_api}/tarball/{rel.tag_name}", "zipball_url": f"{repo_api}/zipball/{rel.tag_name}",
            "body": rel.body}


def tag_json(base: str, r: GhRepo, name: str, sha: str) -> dict[str, Any]:
    api = f"{base}/repos/{r.full_name}"
    return {"name": name, "zipball_url": f"{api}/zipball/refs/tags/{name}",
            "tarball_url": f"{api}/tarball/refs/tags/{name}",
            "commit": {"sha": sha, "url": f"{api}/commits/{sha}"}, "node_id": f"REF_{sha[:12]}"}


def event_json(base: str, ev: GhEvent, org: dict[str, Any]) -> dict[str, Any]:
    """An org event; rendered at request time so its URLs use the fake's current base URL."""
    r = ev.repo
    if ev.type == "ReleaseEvent":
        payload: dict[str, Any] = {"action": "published", "release": release_json(base, r, ev.release, org)}
    elif ev.type == "CreateEvent":
        payload = {"ref": ev.ref, "ref_type": "tag" if ev.ref else "repository", "master_branch": r.default_branch,
                   "description": r.description, "pusher_type": "user"}
    else:  # PublicEvent
        payload = {}
    return {"id": ev.id, "type": ev.type,
            "actor": {"id": 1, "login": "octocat", "display_login": "octocat", "gravatar_id": "",
                      "url": f"{base}/users/octocat", "avatar_url": AVATAR.format(1)},
            "repo": {"id": r.id, "name": r.full_name, "url": f"{base}/repos/{r.full_name}"},
            "payload": payload, "public": True, "created_at": gh_time(ev.created_at),
            "org": {"id": org["id"], "login": org["login"], "gravatar_id": "", "url": f"{base}/orgs/{org['login']}",
                    "avatar_url": AVATAR.format(org["id"])}}


def rate_json(used: int, reset: int, limit: int, now: int) -> dict[str, Any]:
    """GET /rate_limit: core is the counted resource; search/graphql are shown for shape."""
    core = {"limit": limit, "remaining": max(0, limit - used), "reset": reset, "used": min(used, limit),
            "resource": "core"}
    search_limit, graphql_limit = (30, limit) if limit > 60 else (10, 0)
    return {"resources": {"core": core,
                          "search": {"limit": search_limit, "remaining": search_limit, "reset": now + 60,
                                     "used": 0, "resource": "search"},
                          "graphql": {"limit": graphql_limit, "remaining": graphql_limit, "reset": reset,
                                      "used": 0, "resource": "graphql"}},
            "rate": core}
