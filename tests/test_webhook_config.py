"""`webhooks:` in the config: the contract shape, the secret only from the environment, one-line errors."""

from __future__ import annotations

import pytest

from watcher import config as config_mod
from watcher.daemon.webhooks import SECRET_ENV

BASE = """
watches:
  - name: w
    flagship: {name: X, released: 2026-01-01}
    lag_days: {min: 1, max: 2}
    huggingface: {authors: [acme]}
"""


def test_contract_shape_and_defaults():
    cfg = config_mod.parse(BASE + "webhooks: {host: 0.0.0.0, port: 9109, path: /hooks/huggingface}\n", "c.yaml")
    assert (cfg.webhooks.host, cfg.webhooks.port, cfg.webhooks.path) == ("0.0.0.0", 9109, "/hooks/huggingface")
    assert config_mod.parse(BASE + "webhooks: {}\n", "c.yaml").webhooks.port == 9109
    assert config_mod.parse(BASE, "c.yaml").webhooks is None  # off unless configured


@pytest.mark.parametrize("text, message", [
    ("webhooks: {secret: hunter2hunter2hunter2}", "webhooks.secret: unknown key 'secret' (secrets come from the "
                                                  "environment: WATCHER_WEBHOOK_SECRET)"),
    ("webhooks: {path: hooks}", "webhooks.path: String should match pattern"),
    ("webhooks: {port: 70000}", "webhooks.port: Input should be less than or equal to 65535"),
])
def test_bad_webhook_settings_are_one_line_errors(text, message):
    with pytest.raises(config_mod.ConfigError) as info:
        config_mod.parse(BASE + text + "\n", "c.yaml")
    assert str(info.value).startswith(f"c.yaml: {message}")


def test_run_without_the_secret_refuses_to_start_in_one_line(watcher, monkeypatch):
    watcher.config["webhooks"] = {"host": "127.0.0.1", "port": 0}
    result = watcher("run")
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"watcher: webhooks: set {SECRET_ENV} to the webhook's secret (at least 16 "
                                     "characters; the Hub sends it in X-Webhook-Secret); it is never read from the "
                                     "config file")


def test_run_with_the_port_taken_names_the_field(watcher, monkeypatch):
    import socket

    monkeypatch.setenv(SECRET_ENV, "whs-0123456789abcdef")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        watcher.config["webhooks"] = {"host": "127.0.0.1", "port": port}
        result = watcher("run")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"watcher: webhooks.port: cannot listen on 127.0.0.1:{port}")


def test_check_config_says_where_the_receiver_listens_and_whether_the_secret_is_set(watcher, monkeypatch):
    watcher.config["webhooks"] = {"port": 9109}
    result = watcher("check-config")
    assert "webhooks: `watcher run` listens on 0.0.0.0:9109/hooks/huggingface; WATCHER_WEBHOOK_SECRET NOT SET" \
        in result.stdout
    monkeypatch.setenv(SECRET_ENV, "whs-0123456789abcdef")
    result = watcher("check-config")
    assert "WATCHER_WEBHOOK_SECRET set" in result.stdout and "whs-0123456789abcdef" not in result.stdout
