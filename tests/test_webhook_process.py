"""`watcher run` as a real process with `webhooks:`: it listens, a webhook brings the alert, SIGTERM stops
the receiver with the rest (exit 0), and the secret appears nowhere in the log."""

from __future__ import annotations

import signal

import pytest
import yaml
from daemon_proc import wait_for
from fakes.hub_webhooks import post
from test_replicas import IN_WINDOW, Daemon
from test_webhook_replicas import receiver_url
from webhook_helpers import GB, SECRET, webhook_config

pytestmark = pytest.mark.slow


def test_run_with_webhooks_alerts_then_stops_cleanly(hub, github, slack, tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHER_WEBHOOK_SECRET", SECRET)
    raw = webhook_config(hub, github, slack, tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    daemon = Daemon(tmp_path / "config.yaml", tmp_path, IN_WINDOW)
    try:
        wait_for(lambda: len(slack.messages) == 1, "watching started")
        url = receiver_url(daemon)
        assert post(url, hub.payload("Qwen/Qwen3.7-9B"), "whs-a-wrong-secret-value")[0] == 403
        hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": 9 * GB})
        assert post(url, hub.payload("Qwen/Qwen3.7-9B"), SECRET)[0] == 202
        wait_for(lambda: len(slack.messages) == 2, "the webhook's alert")
        daemon.stop(signal.SIGTERM)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
    out = daemon.output()
    assert daemon.proc.returncode == 0, out
    assert "watcher daemon stopped" in out and "webhook rejected from 127.0.0.1: 403 wrong secret" in out
    assert "Traceback" not in out and SECRET not in out and "whs-a-wrong-secret-value" not in out
