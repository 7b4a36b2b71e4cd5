"""The Hub's webhook side, mixed into FakeHub: the settings API that huggingface_hub calls
(`/api/settings/webhooks[/{id}[/enable|/disable]]`, `/api/users|organizations/{name}/overview`), and
deliveries: real-shaped payloads POSTed with the webhook's secret in `X-Webhook-Secret`.

Shapes follow huggingface_hub 2.4's parsing (`{"webhook": {...}}` from create/get/update/enable/
disable, a bare list from list) and the payload documented in /work/shared/API-NOTES.md.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from .server import Request, Response

WATCHABLE = ("user", "org", "model", "dataset", "space")
NO_AUTH = "Invalid username or password."
NO_SCOPE = "You don't have the rights to manage webhooks with this token (it needs the 'manage webhooks' scope)."
_webhook_ids = itertools.count(0x6541B0000000000000000000)


def _err(status: int, message: str) -> Response:
    return Response(status, {"error": message}, {"X-Error-Message": message})


class HubWebhooks:
    """State and routes; FakeHub calls `_webhook_route` for paths it does not serve itself."""

    def _init_webhooks(self) -> None:
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.orgs: set[str] = set()
        self.users: set[str] = set()
        self.webhook_tokens: set[str] | None = None  # tokens with the webhooks scope; None: every token

    # -- state -----------------------------------------------------------------------------
    def add_org(self, name: str) -> None:
        self.orgs.add(name)

    def add_user(self, name: str) -> None:
        self.users.add(name)

    def add_webhook(self, url: str, watched: list[dict], secret: str | None = None,
                    domains: list[str] | None = None, disabled: bool = False) -> dict[str, Any]:
        hook = {"id": f"{next(_webhook_ids):024x}", "url": url, "job": None, "watched": list(watched),
                "domains": list(domains or ["repo", "discussion"]), "secret": secret, "disabled": disabled}
        with self.lock:
            self.webhooks[hook["id"]] = hook
        return hook

    # -- deliveries ------------------------------------------------------------------------
    def payload(self, repo_id: str, action: str = "create", scope: str = "repo",
                hook_id: str = "6541b0000000000000000000") -> dict[str, Any]:
        """A repo event as the Hub posts it (abridged like the docs: event, repo, webhook)."""
        model = self.get_model(repo_id)
        sha = model.sha if model else "0" * 40
        body: dict[str, Any] = {
            "event": {"action": action, "scope": scope},
            "repo": {"type": "model", "name": repo_id, "id": model.object_id if model else "0" * 24,
                     "private": bool(model and model.private), "headSha": sha,
                     "url": {"web": f"{self.url}/{repo_id}", "api": f"{self.url}/api/models/{repo_id}"},
                     "owner": {"id": "60f0000000000000000000aa"}},
            "webhook": {"id": hook_id, "version": 3},
        }
        if scope == "repo.content":
            body["updatedRefs"] = [{"ref": "refs/heads/main", "oldSha": "1" * 40, "newSha": sha}]
        return body

    def send_webhooks(self, repo_id: str, action: str = "create", scope: str = "repo") -> list[int]:
        """What the Hub does after a change: POST to every enabled webhook watching the repo or its owner."""
        owner = repo_id.split("/")[0].lower()
        with self.lock:
            hooks = [h for h in self.webhooks.values() if not h["disabled"] and "repo" in h["domains"]
                     and any(w["name"].lower() in (owner, repo_id.lower()) for w in h["watched"])]
        return [post(h["url"], self.payload(repo_id, action, scope, h["id"]), h["secret"])[0] for h in hooks]

    # -- HTTP ------------------------------------------------------------------------------
    def _webhook_route(self, req: Request, segs: list[str]) -> Response | None:
        if segs[:1] == ["api"] and len(segs) == 4 and segs[1] in ("users", "organizations") and segs[3] == "overview":
            return self._overview(segs[1], segs[2]) if req.method == "GET" else None
        if segs[:3] != ["api", "settings", "webhooks"]:
            return None
        token = req.bearer_token()
        if token is None:
            return _err(401, NO_AUTH)
        if self.webhook_tokens is not None and token not in self.webhook_tokens:
            return _err(403, NO_SCOPE)
        rest = segs[3:]
        with self.lock:
            if not rest:
                if req.method == "GET":
                    return Response(200, [dict(h) for h in self.webhooks.values()])
                return self._create(req) if req.method == "POST" else None
            hook = self.webhooks.get(rest[0])
            if hook is None:
                return _err(404, "Webhook not found")
            return self._one(req, hook, rest[1:])

    def _one(self, req: Request, hook: dict[str, Any], tail: list[str]) -> Response | None:
        if not tail and req.method == "GET":
            return Response(200, {"webhook": dict(hook)})
        if not tail and req.method == "DELETE":
            del self.webhooks[hook["id"]]
            return Response(200, {})
        if tail in (["enable"], ["disable"]) and req.method == "POST":
            hook["disabled"] = tail == ["disable"]
            return Response(200, {"webhook": dict(hook)})
        if not tail and req.method == "POST":
            return self._update(req, hook)
        return None

    def _checked(self, body: Any) -> tuple[dict[str, Any] | None, Response | None]:
        if not isinstance(body, dict):
            return None, _err(400, "Invalid JSON body")
        watched = body.get("watched", [])
        if not isinstance(watched, list) or any(not isinstance(w, dict) or w.get("type") not in WATCHABLE
                                                 or not w.get("name") for w in watched):
            return None, _err(400, f'"watched" items need a type in {list(WATCHABLE)} and a name')
        if any(d not in ("repo", "discussion") for d in body.get("domains", ["repo"])):
            return None, _err(400, '"domains" must be "repo" or "discussion"')
        url = body.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            return None, _err(400, '"url" must be a valid URL')
        return body, None

    def _create(self, req: Request) -> Response:
        body, err = self._checked(req.body)
        if err:
            return err
        if not body.get("url") or not body.get("watched"):
            return _err(400, '"url" and "watched" are required')
        hook = self.add_webhook(body["url"], body["watched"], body.get("secret"), body.get("domains"))
        return Response(200, {"webhook": dict(hook)})

    def _update(self, req: Request, hook: dict[str, Any]) -> Response:
        body, err = self._checked(req.body)
        if err:
            return err
        for key in ("url", "watched", "domains", "secret"):
            if key in body:
                hook[key] = body[key]
        return Response(200, {"webhook": dict(hook)})

    def _overview(self, kind: str, name: str) -> Response:
        known = self.orgs if kind == "organizations" else self.users
        match = next((n for n in known if n.lower() == name.lower()), None)
        if match is None:
            return _err(404, "Organization not found" if kind == "organizations" else "User not found")
        if kind == "organizations":
            return Response(200, {"name": match, "fullname": match, "avatarUrl": "", "type": "org",
                                  "isVerified": True, "numModels": 1, "numFollowers": 0})
        return Response(200, {"user": match, "fullname": match, "avatarUrl": "", "type": "user",
                              "isPro": False, "numModels": 1, "orgs": []})


def post(url: str, payload: Any, secret: str | None, *, raw: bytes | None = None,
         content_type: str = "application/json", method: str = "POST", timeout: float = 5) -> tuple[int, str]:
    """One delivery, as the Hub sends it: JSON, the secret verbatim in X-Webhook-Secret. (status, body)."""
    data = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": content_type, "User-Agent": "huggingface-webhooks/1.0"}
    if secret is not None:
        headers["X-Webhook-Secret"] = secret
    request = urllib.request.Request(url, data=data if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
