"""Slack notifier: Block Kit through the Web API (bot token: threads, edits) or an incoming webhook.

Only `ok: true` (or a webhook's plain `ok`) counts as delivered. Every other answer becomes a
DeliveryError whose reason is in plain words and says whether retrying can help.
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from watcher import deadline
from watcher.config import SlackRoute, SlackSettings
from watcher.notify import blocks as bk
from watcher.notify.base import DeliveryError, Notifier
from watcher.notify.budget import Budget, handlers
from watcher.notify.render import Item, Message
from watcher.redact import redact
from watcher.sources import sanitize

log = logging.getLogger(__name__)
_sdk_log = logging.getLogger("watcher.notify.slack_sdk")  # slack_sdk logs every failed request at ERROR
_sdk_log.setLevel(logging.CRITICAL)
deadline.install_urllib_opener()  # slack_sdk's urlopen: wall-clock deadlines, no redirect to another host

# Errors a retry cannot fix, in plain words. Destination-wide ones stop this destination for the cycle.
PLAIN = {
    "channel_not_found": "the channel does not exist or the bot cannot see it (private channel?)",
    "not_in_channel": "the bot is not a member of the channel: /invite it there",
    "invalid_auth": "the token is not valid (check SLACK_BOT_TOKEN)",
    "not_authed": "no token was sent",
    "account_inactive": "the token belongs to a deactivated user or app",
    "token_revoked": "the token was revoked",
    "token_expired": "the token has expired",
    "is_archived": "the channel is archived",
    "channel_is_archived": "the channel is archived",
    "missing_scope": "the token lacks the chat:write scope",
    "restricted_action": "a workspace admin does not allow posting there",
    "action_prohibited": "a workspace admin does not allow posting there",
    "no_service": "the webhook URL is revoked or wrong",
    "no_team": "the webhook's workspace no longer exists",
    "team_disabled": "the workspace is disabled",
    "ekm_access_denied": "the workspace's key management denied access",
}
# Errors about one payload: that message fails, the next one may still go out.
PAYLOAD = {"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "msg_too_long", "no_text",
           "invalid_payload", "invalid_arguments", "too_many_attachments"}
# Edits that can no longer happen; the reply already told the story, so these are not failures.
EDIT_GONE = {"message_not_found", "cant_update_message", "edit_window_closed", "msg_too_long",
             "invalid_blocks", "msg_blocks_too_long"}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
TEST_TEXT = "watcher test message: alerts for {watches} will arrive here."


class SlackNotifier(Notifier):
    def __init__(self, settings: SlackSettings, route: SlackRoute | None = None, token: str | None = None,
                 webhook_url: str | None = None, sleep: Callable[[float], Any] | None = None,
                 monotonic: Callable[[], float] | None = None) -> None:
        route = route or settings.all_routes()[0]
        self.route, self.channel = route, route.channel
        self.destination = f"slack:{route.channel}"
        self.max_age = settings.max_age
        self.budget = Budget(settings.max_delivery_time.total_seconds(), settings.max_retry_wait.total_seconds(),
                             sleep=sleep, monotonic=monotonic)
        self.timeout = max(0.05, settings.timeout.total_seconds())
        retry = handlers(self.budget, settings.retries)
        if token:
            self.client: WebClient | None = WebClient(
                token=token, base_url=settings.api_url.rstrip("/") + "/", timeout=self.timeout,
                retry_handlers=retry, logger=_sdk_log)
            self.webhook = None
        else:
            self.client = None
            self.webhook = WebhookClient(webhook_url, timeout=self.timeout, retry_handlers=retry, logger=_sdk_log)

    @property
    def threads(self) -> bool:
        """Threads and edits need the Web API; a webhook can only post standalone messages."""
        return self.client is not None

    def accepts(self, kind: str) -> bool:
        return self.route.accepts(kind)

    def start_cycle(self) -> None:
        self.budget.start()

    def expired(self) -> bool:
        return self.budget.expired()

    def send(self, message: Message) -> str | None:
        """Post a message without threading (webhooks, or callers without a ledger)."""
        refs = [self.post(part) for part in bk.split(message.headline, message.items, message.context)]
        return refs[0][1] if refs else None

    def deliver(self, message: Message, ledger) -> str | None:
        from watcher.notify.threads import execute

        return execute(self, message, ledger)

    def post(self, part: bk.Part, thread_ts: str | None = None, broadcast: bool = False,
             key: str | None = None) -> tuple[str | None, str | None]:
        """One message; returns (channel id, ts) from Slack, (None, None) from a webhook.

        `key` travels as message metadata, so a retry after a timeout can find out whether Slack
        had in fact posted it (`find`).
        """
        blocks, text = bk.blocks(part), bk.fallback_text(part)
        try:
            return self._post(blocks, text, thread_ts, broadcast, key)
        except DeliveryError as exc:
            if not exc.payload:
                raise
            log.warning("%s: Slack refused the blocks (%s); sending the plain text instead", self.destination, exc.reason)
            return self._post(None, text, thread_ts, broadcast, key)

    def find(self, key: str, channel: str, since: float, thread_ts: str | None = None) -> str | None:
        """The ts of a message we posted with this key after `since` (epoch seconds), else None.

        Needs the channels:history scope; without it we cannot tell, and the caller posts again.
        """
        args: dict[str, Any] = {"channel": channel, "oldest": f"{since:.6f}", "include_all_metadata": True,
                                "limit": 200}
        try:
            if thread_ts:
                response = self._call(lambda: self.client.conversations_replies(ts=thread_ts, **args))
            else:
                response = self._call(lambda: self.client.conversations_history(**args))
        except DeliveryError as exc:
            if exc.permanent and not exc.payload:
                log.info("%s: cannot check for a duplicate (%s); posting again", self.destination, exc.reason)
                return None
            raise
        for message in response.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return str(message.get("ts"))
        return None

    def lookup_channel(self) -> str | None:
        """The configured channel's ID, which history needs: the config may name it by ID already; else
        `conversations.list` (scope channels:read, groups:read for a private one). None when unknown,
        and the caller posts again: the one case where a crash can still repeat a message."""
        name = self.channel.lstrip("#")
        if _CHANNEL_ID.match(name) or self.client is None:
            return name if self.client is not None else None
        def search() -> str | None:
            # slack_sdk pages by iteration (it follows response_metadata.next_cursor itself). 50 pages of
            # 200 channels at most: a bigger workspace should configure the channel ID.
            pages = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                   limit=200)
            for page in itertools.islice(pages, 50):
                for channel in page.get("channels") or []:
                    if channel.get("name") == name:
                        return str(channel.get("id"))
            return None

        try:
            return self._call(search)
        except DeliveryError as exc:
            log.info("%s: cannot look up the channel ID (%s); posting again", self.destination, exc.reason)
        return None

    def _post(self, blocks, text: str, thread_ts: str | None, broadcast: bool,
              key: str | None = None) -> tuple[str | None, str | None]:
        extra: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False}
        if blocks is not None:
            extra["blocks"] = blocks
        if self.client is not None:
            if key:
                extra["metadata"] = {"event_type": "watcher_alert", "event_payload": {"key": key}}
            if thread_ts:
                extra.update(thread_ts=thread_ts, reply_broadcast=broadcast)
            response = self._call(lambda: self.client.chat_postMessage(channel=self.channel, text=text, **extra))
            # Slack's answer is data too: the ledger's columns hold a channel id and a ts, nothing longer.
            return sanitize.text(response.get("channel") or "", 100), sanitize.text(response.get("ts") or "", 40)
        response = self._call(lambda: self.webhook.send(text=text, **extra))
        body = (response.body or "").strip()
        if response.status_code == 200 and body == "ok":
            return None, None
        first = body.splitlines()[0][:200] if body else ""
        raise _error(first, f"slack webhook: HTTP {response.status_code} {first}".strip(), response.status_code,
                     getattr(response, "headers", {}))

    def update(self, channel: str, ts: str, part: bk.Part) -> bool:
        """Edit a posted message in place; False when it can no longer be edited (deleted, too old)."""
        part = bk.fit(copy.deepcopy(part))
        try:
            self._call(lambda: self.client.chat_update(channel=channel, ts=ts, text=bk.fallback_text(part),
                                                       blocks=bk.blocks(part)))
        except DeliveryError as exc:
            if exc.code in EDIT_GONE:
                log.info("%s: message %s not updated: %s", self.destination, ts, exc.reason)
                return False
            raise
        return True

    def test(self, watches: list[str]) -> str:
        """Post a test message; returns what to print, or raises DeliveryError."""
        part = bk.Part("watcher: test message", [Item("Destination", None, None, self.destination, "test")],
                       TEST_TEXT.format(watches=", ".join(watches) or "no watch"))
        channel, ts = self.post(part)
        return f"posted to {channel} (ts {ts})" if ts else "posted through the webhook"

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            with deadline.within(self.budget.remaining()):  # max_delivery_time holds mid-request too
                return fn()
        except SlackApiError as exc:
            response = exc.response
            status = getattr(response, "status_code", None)
            data = getattr(response, "data", None)
            code = sanitize.text(data["error"], 100) if isinstance(data, dict) and data.get("error") else ""
            if status and status >= 500:
                code = ""  # an HTML error page, not a Slack error code
            raise _error(code, f"slack: {code}" if code else f"slack: HTTP {status}", status,
                         getattr(response, "headers", {})) from None
        except (TimeoutError, socket.timeout):
            raise DeliveryError(self._timed_out()) from None
        except deadline.TooLarge as exc:
            raise DeliveryError(f"slack: {exc}") from None
        except (URLError, SlackClientError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            text = str(reason).splitlines()[0] if str(reason).strip() else type(exc).__name__
            if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in text or "deadline" in text:
                raise DeliveryError(self._timed_out()) from None
            raise DeliveryError(redact(f"slack: cannot connect: {text}")) from None

    def _timed_out(self) -> str:
        if self.budget.expired():
            return f"slack: max_delivery_time ({self.budget.total:g}s) used up mid-request (timeout)"
        return f"slack: no answer within {self.timeout:g}s (timeout)"


def _error(code: str, prefix: str, status: int | None, headers: Any) -> DeliveryError:
    """Turn a Slack error code into a DeliveryError with plain words and the right retry behaviour."""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        wait = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
        wait = wait[0] if isinstance(wait, list) else wait
        return DeliveryError(f"{prefix} (rate limited by Slack; retry after {wait}s, next cycle)", code="ratelimited")
    if status and status >= 500:
        return DeliveryError(f"{prefix} (Slack is unavailable)", code=code)
    if code in PLAIN:
        return DeliveryError(f"{prefix}: {PLAIN[code]}", permanent=True, code=code)
    if code in PAYLOAD:
        return DeliveryError(f"{prefix}: Slack refused the message format", permanent=True, payload=True, code=code)
    return DeliveryError(redact(prefix), code=code)
