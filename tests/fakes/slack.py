"""Fake of Slack's Web API (`/api/<method>`) and incoming webhooks, per /work/shared/API-NOTES.md.

Why both: the Web API answers errors as HTTP 200 `{"ok": false, "error": ...}` while webhooks
answer plain-text bodies with real status codes; a notifier must tell a confirmed post from a
failed one in both styles before it marks an alert delivered.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any

from .server import FakeServer, Request, Response

TEAM_ID, BOT_USER, BOT_ID, APP_ID = "T0FAKE0001", "U0FAKEBOT1", "B0FAKEBOT1", "A0FAKEAPP1"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
# Cumulative block text above which chat.postMessage answers `msg_blocks_too_long`; undocumented,
# measured near 13,200 characters (slackapi/bolt-js#2509).
MAX_BLOCK_CHARS = 13_000


class SlackError(Exception):
    """An `ok: false` answer (HTTP 200 for the Web API, plain text for webhooks)."""

    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error, self.extra = error, extra


def channel_id(name: str) -> str:
    """Stable fake ID for a channel name (`#alerts` and `alerts` map to the same ID)."""
    if _CHANNEL_ID.match(name):
        return name
    return "C" + hashlib.sha1(name.lstrip("#").lower().encode()).hexdigest()[:10].upper()


class FakeSlack(FakeServer):
    """Local Slack: chat.postMessage, chat.update, auth.test, conversations.history/replies/list; webhooks."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []  # current state of every posted message
        self.updates: list[dict[str, Any]] = []  # one entry per successful chat.update
        self.valid_tokens: set[str] = set()  # empty: any token is accepted (a missing one is not)
        self.channels: set[str] = set()  # names or IDs; empty: any channel exists
        self.webhooks: dict[str, str] = {}  # path -> channel ID
        self.names: dict[str, str] = {}  # channel ID -> name, for conversations.list
        self.after_post: Any = None  # called with each stored message before Slack answers (crash tests)
        self._last_ts = 0
        self._default_webhook = self.add_webhook("#alerts")

    # -- setup and faults ------------------------------------------------------------------
    def add_webhook(self, channel: str = "#alerts") -> str:
        """Register a webhook posting to `channel`; returns its path (see webhook_url)."""
        path = f"/services/{TEAM_ID}/B{secrets.token_hex(5).upper()}/{secrets.token_urlsafe(18)}"
        with self.lock:
            self.webhooks[path] = channel_id(channel)
        return path

    def revoke_webhook(self, path_or_url: str) -> None:
        """A revoked webhook answers 404 `no_service`."""
        with self.lock:
            self.webhooks.pop("/services/" + path_or_url.split("/services/", 1)[-1], None)

    @property
    def webhook_url(self) -> str:
        return self.url + self._default_webhook

    def webhook_url_for(self, path: str) -> str:
        return self.url + path

    def error_next(self, n: int = 1, error: str = "internal_error", path_contains: str | None = None) -> None:
        """The next n Web API calls answer HTTP 200 `{"ok": false, "error": error}`."""
        self.inject(n, lambda req: Response(200, {"ok": False, "error": error}),
                    path_contains or "/api/")

    def rate_limit_next(self, n: int = 1, retry_after: int = 1, path_contains: str | None = None) -> None:
        """The next n requests answer 429 with Retry-After (JSON `ratelimited` / text for webhooks)."""
        def make(req: Request) -> Response:
            if req.path.startswith("/services/"):
                resp = Response(429, "rate_limited", content_type="text/html")
            else:
                resp = Response(429, {"ok": False, "error": "ratelimited"})
            resp.headers["Retry-After"] = str(retry_after)
            return resp
        self.inject(n, make, path_contains)

    def webhook_error_next(self, n: int = 1, status: int = 500, body: str = "rollup_error") -> None:
        """The next n webhook posts answer `status` with a plain-text body (see API-NOTES)."""
        self.inject(n, lambda req: Response(status, body, content_type="text/html"), "/services/")

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["channel"] == channel_id(channel)]

    # -- HTTP ------------------------------------------------------------------------------
    def finalize(self, req: Request, resp: Response) -> Response:
        resp.headers.setdefault("X-Slack-Req-Id", secrets.token_hex(16))
        return resp

    def handle(self, req: Request) -> Response:
        with self.lock:
            if req.path.startswith("/services/"):
                return self._webhook(req)
            if not req.path.startswith("/api/"):
                return Response(404, "<html><body>Not Found</body></html>", content_type="text/html")
            method = req.path[len("/api/"):]
            args = {k: (v[-1] if isinstance(v, list) else v) for k, v in req.query.items()}
            if isinstance(req.body, dict):
                args.update(req.body)
            handler = {"chat.postMessage": self._post_message, "chat.update": self._update,
                       "auth.test": self._auth_test, "conversations.history": self._history,
                       "conversations.replies": self._replies, "conversations.list": self._list}.get(method)
            if handler is None:
                return Response(200, {"ok": False, "error": "unknown_method", "req_method": method})
            try:
                self._check_token(req, args)
                return Response(200, {"ok": True, **handler(args)},
                                {"X-OAuth-Scopes": "chat:write,channels:history"})
            except SlackError as exc:
                return Response(200, {"ok": False, "error": exc.error, **exc.extra})

    def _check_token(self, req: Request, args: dict[str, Any]) -> None:
        token = req.bearer_token() or args.pop("token", None)
        if not token:
            raise SlackError("not_authed")
        if self.valid_tokens and token not in self.valid_tokens:
            raise SlackError("invalid_auth")

    def _channel(self, args: dict[str, Any]) -> str:
        name = str(args.get("channel") or "")
        known = {channel_id(c) for c in self.channels}
        if not name or (self.channels and channel_id(name) not in known):
            raise SlackError("channel_not_found")
        if not _CHANNEL_ID.match(name):
            self.names[channel_id(name)] = name.lstrip("#").lower()
        return channel_id(name)

    def _next_ts(self) -> str:
        """Unique, increasing `1700000000.000100`-style timestamps."""
        self._last_ts = max(int(time.time() * 1_000_000), self._last_ts + 100)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        msg = self._store(args, channel, "api")
        if self.after_post is not None:
            self.after_post(msg)
        return {"channel": channel, "ts": msg["ts"], "message": _message_json(msg)}

    def _store(self, args: dict[str, Any], channel: str, via: str) -> dict[str, Any]:
        text, blocks = args.get("text"), _json_arg(args.get("blocks"))
        attachments = _json_arg(args.get("attachments"))
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text and len(text) > 40_000:
            raise SlackError("msg_too_long")
        _validate_blocks(blocks)
        msg = {"channel": channel, "text": text or "", "blocks": blocks, "attachments": attachments,
               "thread_ts": args.get("thread_ts"), "reply_broadcast": _truthy(args.get("reply_broadcast")),
               "ts": self._next_ts(), "via": via, "metadata": _json_arg(args.get("metadata")),
               "args": dict(args)}
        self.messages.append(msg)
        return msg

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        msg = next((m for m in self.messages if m["channel"] == channel and m["ts"] == args.get("ts")
                    and m["via"] == "api"), None)
        if msg is None:
            raise SlackError("message_not_found")
        blocks = _json_arg(args.get("blocks"))
        if args.get("text") is None and blocks is None:
            raise SlackError("no_text")
        _validate_blocks(blocks)
        if args.get("text") is not None:
            msg["text"] = args["text"]
        if blocks is not None:
            msg["blocks"] = blocks
        msg["edited"] = {"user": BOT_USER, "ts": self._next_ts()}
        self.updates.append({"channel": channel, "ts": msg["ts"], "text": args.get("text"),
                             "blocks": blocks, "args": dict(args)})
        return {"channel": channel, "ts": msg["ts"], "text": msg["text"], "message": _message_json(msg)}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake-team.slack.com/", "team": "Fake Team", "user": "watcher",
                "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        msgs = [m for m in reversed(self.messages) if m["channel"] == channel
                and (not m["thread_ts"] or m["thread_ts"] == m["ts"] or m["reply_broadcast"])]
        if args.get("latest"):
            msgs = [m for m in msgs if float(m["ts"]) < float(args["latest"])]
        if args.get("oldest"):
            msgs = [m for m in msgs if float(m["ts"]) > float(args["oldest"])]
        start, limit = int(args.get("cursor") or 0), min(int(args.get("limit") or 100), 999)
        page, more = msgs[start:start + limit], start + limit < len(msgs)
        metadata = _truthy(args.get("include_all_metadata"))
        return {"messages": [_message_json(m, metadata) for m in page], "has_more": more, "pin_count": 0,
                "channel_actions_ts": None, "channel_actions_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Channels the bot can see (the configured ones and those posted to), `limit` per page."""
        for name in self.channels:
            if not _CHANNEL_ID.match(name):
                self.names.setdefault(channel_id(name), name.lstrip("#").lower())
        items = sorted(self.names.items())
        start, limit = int(args.get("cursor") or 0), min(int(args.get("limit") or 100), 1000)
        page, more = items[start:start + limit], start + limit < len(items)
        return {"channels": [{"id": cid, "name": name, "is_channel": True, "is_archived": False,
                              "is_member": True} for cid, name in page],
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first, oldest first; `thread_not_found` for an unknown parent."""
        channel = self._channel(args)
        parent = next((m for m in self.messages if m["channel"] == channel and m["ts"] == args.get("ts")), None)
        if parent is None:
            raise SlackError("thread_not_found")
        root = parent["thread_ts"] or parent["ts"]
        msgs = [m for m in self.messages if m["channel"] == channel and (m["ts"] == root or m["thread_ts"] == root)]
        if args.get("oldest"):
            msgs = [m for m in msgs if m["ts"] == root or float(m["ts"]) > float(args["oldest"])]
        metadata = _truthy(args.get("include_all_metadata"))
        return {"messages": [_message_json(m, metadata) for m in msgs], "has_more": False,
                "response_metadata": {"next_cursor": ""}}

    def _webhook(self, req: Request) -> Response:
        def text(status: int, body: str) -> Response:
            return Response(status, body, content_type="text/html")

        if req.method != "POST" or req.path not in self.webhooks:
            return text(404, "no_service")
        payload = req.body
        if isinstance(payload, dict) and "payload" in payload and not isinstance(req.body.get("text"), str):
            payload = _json_arg(payload["payload"])  # form-encoded `payload=<json>`
        if not isinstance(payload, dict):
            return text(400, "invalid_payload")
        try:
            self._store(payload, self.webhooks[req.path], "webhook")
        except SlackError as exc:
            return text(400, exc.error)
        return text(200, "ok")


def _message_json(msg: dict[str, Any], metadata: bool = True) -> dict[str, Any]:
    """A message as the API shows it; reading APIs include `metadata` only when asked."""
    out = {"user": BOT_USER, "type": "message", "ts": msg["ts"], "bot_id": BOT_ID, "app_id": APP_ID,
           "text": msg["text"], "team": TEAM_ID}
    for key in ("blocks", "attachments", "thread_ts", "metadata", "edited"):
        if key == "metadata" and not metadata:
            continue
        if msg.get(key):
            out[key] = msg[key]
    return out


def _json_arg(value: Any) -> Any:
    """Form-encoded posts carry blocks/attachments/metadata as JSON strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError("invalid_arguments") from None
    return value


def _truthy(value: Any) -> bool:
    return value in (True, "true", "1", 1)


def _validate_blocks(blocks: Any) -> None:
    """Block Kit limits from API-NOTES: 50 blocks, section 3000, fields 10x2000, header 150, total text."""
    if blocks is None:
        return
    problems = []
    if not isinstance(blocks, list) or len(blocks) > 50:
        problems.append("no more than 50 items allowed [json-pointer:/blocks]")
        blocks = []
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        text = ((block.get("text") or {}).get("text") or "") if kind in ("section", "header") else ""
        if kind is None:
            problems.append(f"missing required field: type [json-pointer:/blocks/{i}]")
        elif kind == "section" and len(text) > 3000:
            problems.append(f"must be less than 3001 characters [json-pointer:/blocks/{i}/text/text]")
        elif kind == "header" and len(text) > 150:
            problems.append(f"must be less than 151 characters [json-pointer:/blocks/{i}/text/text]")
        fields = block.get("fields") or [] if kind == "section" else []
        if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
            problems.append(f"fields: at most 10 items of 2000 characters [json-pointer:/blocks/{i}/fields]")
    if problems:
        raise SlackError("invalid_blocks", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
    if sum(len(_texts(block)) for block in blocks) > MAX_BLOCK_CHARS:
        raise SlackError("msg_blocks_too_long")


def _texts(block: Any) -> str:
    """All text in a block, nested elements included (what Slack's cumulative limit counts)."""
    if isinstance(block, dict):
        return "".join(_texts(v) if k != "type" else "" for k, v in block.items() if k != "url")
    if isinstance(block, list):
        return "".join(_texts(v) for v in block)
    return block if isinstance(block, str) else ""
