"""The Hub webhook receiver: a small WSGI app that waitress serves on a thread of `watcher run`.

Why it trusts nothing: anyone who can reach the port can post to it. The secret (sent verbatim by
the Hub in `X-Webhook-Secret`) is compared in constant time, the body is bounded and must be a JSON
object naming a repo, and even then the payload only says *which watches to poll now*: what an alert
says always comes from that poll. The request thread only files the watch names in the `Inbox` and
answers; polling happens on the daemon's side (watcher/daemon/wake.py), never in the request.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watcher import telemetry
from watcher.config import Config, Webhooks
from watcher.models import RepoSnapshot, Source

log = logging.getLogger(__name__)
SECRET_ENV = "WATCHER_WEBHOOK_SECRET"
SECRET_HEADER = "HTTP_X_WEBHOOK_SECRET"  # X-Webhook-Secret, as WSGI names it
MAX_BODY = 64 * 1024  # a real payload is a few KB; anything near this is not from the Hub
SERVER_BODY_LIMIT = 4 * MAX_BODY  # waitress refuses bigger bodies itself, before buffering them
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
WORD = re.compile(r"^[a-z][a-z.]{0,39}$")
REASONS = ("path", "method", "no_secret", "wrong_secret", "media_type", "too_large", "malformed")
PHRASES = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large", 415: "Unsupported Media Type"}


class WebhookError(Exception):
    """The receiver cannot run (no secret, port taken); one line for the user."""


def secret_from_env() -> str:
    """The shared secret; only the environment holds it, so it never sits in a config file or the database."""
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < 16:
        raise WebhookError(f"webhooks: set {SECRET_ENV} to the webhook's secret (at least 16 characters; "
                           "the Hub sends it in X-Webhook-Secret); it is never read from the config file")
    return secret


@dataclass(frozen=True)
class Verdict:
    """What the receiver decided about one request: the answer, and the watches to poll."""

    status: int
    reason: str = ""  # one of REASONS for a rejection, else a short note
    repo: str | None = None
    watches: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.status >= 400


def watches_for(config: Config, repo_id: str) -> tuple[str, ...]:
    """The watches whose Hub authors/repos and include/exclude patterns cover this repo (as a poll would)."""
    from watcher.engine.pipeline import covers

    snap = RepoSnapshot(source=Source.HUGGINGFACE.value, repo_id=repo_id, scope="webhook", visible=True)
    return tuple(w.name for w in config.watches if w.huggingface is not None and covers(w, snap))


def read_payload(body: bytes) -> tuple[str, str, str] | None:
    """(repo id, repo type, "action scope") from a Hub payload, or None when it is not one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    repo = data.get("repo") if isinstance(data, dict) else None
    name = repo.get("name") if isinstance(repo, dict) else None
    if not isinstance(name, str) or not REPO_ID.match(name):
        return None
    kind = repo.get("type", "model")
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    what = " ".join(v for v in (event.get("action"), event.get("scope")) if isinstance(v, str) and WORD.match(v))
    return name, kind if isinstance(kind, str) and WORD.match(kind) else "?", what


class Inbox:
    """Watches that webhooks asked to poll, not yet polled, each with its oldest unserved receipt.

    Many payloads for one watch before its poll starts are one entry: that is the coalescing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, dt.datetime] = {}
        self.ready = threading.Event()
        self.last_accepted: tuple[dt.datetime, str] | None = None
        self.last_rejected: tuple[dt.datetime, str] | None = None
        self.dirty = False  # receipts not yet written for `watcher status`

    def put(self, watches: tuple[str, ...], received: dt.datetime) -> None:
        with self._lock:
            for name in watches:
                self._pending.setdefault(name, received)
            if self._pending:
                self.ready.set()

    def take(self) -> dict[str, dt.datetime]:
        with self._lock:
            taken, self._pending = self._pending, {}
            self.ready.clear()
            return taken

    def oldest(self) -> dt.datetime | None:
        with self._lock:
            return min(self._pending.values(), default=None)

    def note(self, verdict: Verdict, at: dt.datetime) -> None:
        with self._lock:
            if verdict.rejected:
                self.last_rejected = (at, verdict.reason)
            else:
                self.last_accepted = (at, verdict.repo or "")
            self.dirty = True

    def receipts(self) -> tuple[tuple[dt.datetime, str] | None, tuple[dt.datetime, str] | None] | None:
        """The last accepted and rejected webhook, once per change (for the database)."""
        with self._lock:
            if not self.dirty:
                return None
            self.dirty = False
            return self.last_accepted, self.last_rejected


@dataclass
class Receiver:
    """The WSGI application: judge the request, file the watches, answer at once."""

    config: Config
    secret: str
    inbox: Inbox
    clock: Callable[[], dt.datetime]
    _quiet: dict[str, float] = field(default_factory=dict)

    def __call__(self, environ, start_response):
        try:
            verdict = self.judge(environ)
        except Exception:  # a bug here must be a 400 line, never a dead receiver thread
            log.exception("webhook: unexpected error while reading a request")
            verdict = Verdict(400, "malformed")
        self._record(verdict, environ.get("REMOTE_ADDR", "?"))
        body = json.dumps({"status": "rejected" if verdict.rejected else "ok", "reason": verdict.reason,
                           "watches": len(verdict.watches)}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if verdict.status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{verdict.status} {PHRASES[verdict.status]}", headers)
        return [body]

    def judge(self, environ) -> Verdict:
        if environ.get("PATH_INFO", "") != self.config.webhooks.path:
            return Verdict(404, "path")
        if environ.get("REQUEST_METHOD") != "POST":
            return Verdict(405, "method")
        given = environ.get(SECRET_HEADER)
        if not given:
            return Verdict(401, "no_secret")
        if not hmac.compare_digest(given.encode("latin-1"), self.secret.encode("utf-8")):
            return Verdict(403, "wrong_secret")
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
            return Verdict(415, "media_type")
        body = environ["wsgi.input"].read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return Verdict(413, "too_large")
        payload = read_payload(body)
        if payload is None:
            return Verdict(400, "malformed")
        repo, kind, what = payload
        if kind != "model":
            return Verdict(200, f"{kind} repos are not watched", repo)
        watches = watches_for(self.config, repo)
        note = f"-> poll {', '.join(watches)}" if watches else "ignored: no watch covers it"
        return Verdict(202 if watches else 200, f"{what} {note}".strip(), repo, watches)

    def _record(self, verdict: Verdict, peer: str) -> None:
        now = self.clock()
        self.inbox.note(verdict, now)
        if verdict.rejected:
            telemetry.webhook("rejected", verdict.reason)
            self._warn(verdict, peer)
            return
        telemetry.webhook("accepted", "queued" if verdict.watches else "ignored")
        self.inbox.put(verdict.watches, dt.datetime.now(dt.timezone.utc))
        log.info("webhook: %s %s", verdict.repo, verdict.reason, extra={"repo": verdict.repo})

    def _warn(self, verdict: Verdict, peer: str) -> None:
        """One line per reason per minute: a flood of bad requests must not flood the log (the secret is never in it)."""
        now = time.monotonic()
        if now - self._quiet.get(verdict.reason, -120.0) < 60:
            return
        self._quiet[verdict.reason] = now
        log.warning("webhook rejected from %s: %d %s (further ones for a minute are counted in metrics only)",
                    peer, verdict.status, verdict.reason.replace("_", " "))


class Server:
    """waitress on a thread: a bounded pool answers requests; `close()` stops it from any thread."""

    def __init__(self, settings: Webhooks, app: Receiver) -> None:
        import waitress

        self.settings = settings
        try:
            self.server = waitress.create_server(
                app, host=settings.host, port=settings.port, threads=2, ident="watcher",
                max_request_body_size=SERVER_BODY_LIMIT, channel_timeout=10, cleanup_interval=5, connection_limit=64,
                clear_untrusted_proxy_headers=True)
        except OSError as exc:
            raise WebhookError(f"webhooks.port: cannot listen on {settings.host}:{settings.port}: "
                               f"{exc.strerror or exc}") from None
        self.port = int(self.server.effective_port)
        self.thread = threading.Thread(target=self.server.run, name="webhooks", daemon=True)

    def start(self) -> Server:
        self.thread.start()
        log.info("webhooks on http://%s:%d%s", self.settings.host, self.port, self.settings.path)
        return self

    def close(self) -> None:
        """Close every socket inside waitress's own loop thread (its map is not thread-safe), then join."""
        def close_all() -> None:
            for channel in list(self.server._map.values()):
                channel.close()

        if self.thread.is_alive():
            self.server.trigger.pull_trigger(close_all)
            self.thread.join(timeout=5)
        else:  # never started: no loop to ask
            close_all()
        self.server.task_dispatcher.shutdown(timeout=2)
