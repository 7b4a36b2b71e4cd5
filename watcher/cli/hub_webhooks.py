"""Registering the receiver with the Hub (`watcher webhooks setup|status`) through huggingface_hub.

Why one webhook per URL, updated in place: running `setup` again after adding a watch (or rotating
the secret) must not leave a second webhook posting to the same receiver. The webhook watches the
authors of every watch (and the repos of watches that name single repos), domain `repo` only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from watcher import __version__
from watcher.config import Config

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SetupError(Exception):
    """A registration problem in plain words (bad URL, missing token or scope, unknown author)."""


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated
    webhook: object  # huggingface_hub.WebhookInfo
    watched: list[dict]


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url.strip()):
        raise SetupError(f"--url: {clean(url)!r} is not an https:// URL: the Hub sends the secret in a header, so "
                         "the receiver must sit behind TLS (see docs/webhooks.md)")
    return url.strip()


def api(config: Config):
    from huggingface_hub import HfApi

    token = os.environ.get("HF_TOKEN")
    if not token:
        raise SetupError("HF_TOKEN is not set: managing webhooks needs a Hub token with the 'manage webhooks' "
                         "permission (a write token, or a fine-grained token with webhooks enabled)")
    return HfApi(endpoint=config.huggingface.endpoint, token=token, library_name="watcher",
                 library_version=__version__)


def hub_call(config: Config, what: str, call, *args, **kwargs):
    """Run one huggingface_hub call; turn its errors into one plain sentence."""
    from huggingface_hub.errors import HfHubHTTPError
    from requests.exceptions import RequestException

    try:
        return call(*args, **kwargs)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise SetupError(f"the Hub at {config.huggingface.endpoint} refused HF_TOKEN while trying to {what} "
                             "(401): the token is invalid or expired") from None
        if status == 403:
            raise SetupError(f"the Hub at {config.huggingface.endpoint} refused to {what} (403): HF_TOKEN lacks the "
                             "'manage webhooks' permission; use a write token, or a fine-grained token with "
                             "webhooks enabled") from None
        raise SetupError(f"the Hub at {config.huggingface.endpoint} could not {what}: HTTP {status}: "
                         f"{clean(str(exc).splitlines()[0])}") from None
    except (RequestException, OSError) as exc:
        raise SetupError(f"cannot reach the Hub at {config.huggingface.endpoint} to {what}: "
                         f"{type(exc).__name__}") from None


def watched_items(config: Config, client) -> list[dict]:
    """Every watch's authors (as user or org, which the Hub insists on knowing) and its single repos."""
    items: list[dict] = []
    authors: dict[str, str] = {}
    for watch in config.watches:
        for author in watch.huggingface.authors if watch.huggingface else []:
            authors.setdefault(author.lower(), author)
    for author in authors.values():
        kind = hub_call(config, f"look up the author {author!r}", _kind, client, author)
        if kind is None:
            raise SetupError(f"huggingface author {author!r} is neither a user nor an organisation on the Hub "
                             f"at {config.huggingface.endpoint}")
        items.append({"type": kind, "name": author})
    for watch in config.watches:
        for repo in watch.huggingface.repos if watch.huggingface else []:
            if repo.split("/")[0].lower() not in authors and {"type": "model", "name": repo} not in items:
                items.append({"type": "model", "name": repo})
    return items


def _kind(client, author: str) -> str | None:
    """"org" or "user" by the overview that exists; None when neither does (other errors propagate)."""
    from huggingface_hub.errors import HfHubHTTPError

    for kind, lookup in (("org", client.get_organization_overview), ("user", client.get_user_overview)):
        try:
            lookup(author)
            return kind
        except HfHubHTTPError as exc:
            if exc.response is None or exc.response.status_code != 404:
                raise
    return None


def setup(config: Config, url: str, secret: str) -> Outcome:
    """Create the webhook for `url`, or update the one that exists (watched, domains, secret; enabled)."""
    url = check_url(url)
    client = api(config)
    watched = watched_items(config, client)
    if not watched:
        raise SetupError("no watch has huggingface authors or repos: nothing for a Hub webhook to watch")
    existing = [h for h in hub_call(config, "list webhooks", client.list_webhooks) if h.url == url]
    if not existing:
        hook = hub_call(config, "create a webhook", client.create_webhook, url=url, watched=watched,
                        domains=["repo"], secret=secret)
        return Outcome("created", hook, watched)
    hook = hub_call(config, "update the webhook", client.update_webhook, existing[0].id, url=url, watched=watched,
                    domains=["repo"], secret=secret)
    if hook.disabled:
        hook = hub_call(config, "enable the webhook", client.enable_webhook, hook.id)
    return Outcome("updated", hook, watched)


def listing(config: Config) -> list[dict]:
    """The account's webhooks as plain dicts (never the secret), with the watch authors each one misses."""
    client = api(config)
    wanted = {a.lower() for w in config.watches for a in (w.huggingface.authors if w.huggingface else [])}
    out = []
    for hook in hub_call(config, "list webhooks", client.list_webhooks):
        names = {item.name.lower() for item in hook.watched}
        out.append({
            "id": clean(hook.id), "url": clean(hook.url or "(job)"), "disabled": bool(hook.disabled),
            "domains": [clean(d) for d in hook.domains],
            "watched": [f"{clean(item.type)}:{clean(item.name)}" for item in hook.watched],
            "missing_authors": sorted(wanted - names) if wanted & names else [],  # only for a webhook of ours
        })
    return out


def clean(value: object, limit: int = 300) -> str:
    """Text from the Hub is printed on a terminal: no control characters, bounded length."""
    return CONTROL.sub("?", str(value))[:limit]
