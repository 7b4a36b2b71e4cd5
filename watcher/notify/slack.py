"""Slack notifier: Web API with a bot token (chat.postMessage) or an incoming webhook."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from watcher.config import SlackSettings
from watcher.notify import DeliveryError
from watcher.notify.render import Message, escape, mrkdwn, plain_text
from watcher.redact import redact

# Errors a retry cannot fix; the rest (rate limits, outages) are retried on the next delivery run.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "is_archived",
    "missing_scope",
    "no_service",
    "channel_is_archived",
    "action_prohibited",
    "invalid_payload",
}


class SlackNotifier:
    def __init__(self, settings: SlackSettings, token: str | None, webhook_url: str | None) -> None:
        self.channel = settings.channel
        self.destination = f"slack:{settings.channel}"
        timeout = max(1, int(settings.timeout.total_seconds()))
        if token:
            self.client = WebClient(token=token, base_url=settings.api_url.rstrip("/") + "/", timeout=timeout)
            self.webhook = None
        else:
            self.client = None
            self.webhook = WebhookClient(webhook_url, timeout=timeout)

    def send(self, message: Message) -> str | None:
        text = mrkdwn(message)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
        fallback = escape(plain_text(message))[:3000]  # Slack parses `text` too: <!here> would ping
        try:
            if self.client is not None:
                response = self.client.chat_postMessage(
                    channel=self.channel, text=fallback, blocks=blocks, unfurl_links=False, unfurl_media=False
                )
                return str(response.get("ts") or "") or None
            response = self.webhook.send(text=fallback, blocks=blocks, unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            error = _api_error(exc)
            raise DeliveryError(f"slack: {error}", permanent=error in PERMANENT) from None
        except (SlackClientError, OSError) as exc:
            raise DeliveryError(redact(f"slack: {type(exc).__name__}: {exc}".splitlines()[0])) from None
        if response.status_code == 200 and (response.body or "").strip() == "ok":
            return None
        body = (response.body or "").strip().splitlines()[0] if (response.body or "").strip() else ""
        reason = redact(f"slack webhook: HTTP {response.status_code} {body[:200]}".strip())
        raise DeliveryError(reason, permanent=body in PERMANENT)


def _api_error(exc: SlackApiError) -> str:
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        error = str(data["error"])
        return f"{error} (HTTP {status}, retry after {response.headers.get('Retry-After')}s)" if status == 429 else error
    return redact(f"HTTP {status}")
