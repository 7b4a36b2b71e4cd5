"""No value from an API can stop the store (issue 16): hostile values on SQLite and on PostgreSQL.

SQLite keeps whatever it is given; PostgreSQL refuses NUL in jsonb, lone surrogates, and text past a
column's width, and a refusal there used to fail every later cycle. Each value below reaches every
text column it can reach (snapshots, events, the HTTP cache, errors, deliveries) through the real CLI.
"""

from __future__ import annotations

import pytest
from conftest import repo_ids

LONG_TAG = "v" + "9" * 2000
NUL_TAG = "v1.0\x00-rc"
SURROGATE_TAG = "v2.0-\ud800"
HUGE = "x" * 200_000
TOKEN = "xoxb-hostile-values-token"


@pytest.fixture
def database_url(any_database):
    return any_database



def test_hostile_values_never_wedge_the_store(watcher, hub, github, slack):
    github.add_repo("QwenLM/Qwen3.7", private=False, description="a\x00b\ud800" + HUGE)
    github.extra_headers = {"ETag": 'W/"' + "e" * 400 + '"', "Last-Modified": "M" * 300}
    hub.add_model("Qwen/Qwen3.7-1B", {"model\x00.safetensors": 1, "w" * 1000 + ".safetensors": 1},
                  sha="not-hex\x00" + "z" * 2000, extra={"gated": "manual\x00" + "g" * 3000})
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    slack.fail_next(1, status=200, body={"ok": False, "error": "weird\x00_error[/]" + "e" * 5000},
                    path_contains="chat.postMessage")
    env = {"SLACK_BOT_TOKEN": TOKEN}
    watcher.poll(env)
    for tag in (LONG_TAG, NUL_TAG, SURROGATE_TAG, "v3.7.0"):
        github.add_release("QwenLM/Qwen3.7", tag)
    out = watcher.poll(env)
    assert "github QwenLM/Qwen3.7: 3 release/tag name(s) longer than 200 characters or with NUL dropped" in out
    assert any("v3.7.0" in m["text"] for m in slack.messages)  # the ordinary release still alerts
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    out = watcher.poll(env)  # the store still takes a new cycle: nothing wedged
    assert "alerts delivered 1, pending 0" in out and any("Qwen/Qwen3.7-2B" in m["text"] for m in slack.messages)
    assert {"Qwen/Qwen3.7-1B", "Qwen/Qwen3.7-2B"} <= repo_ids(watcher.watch_status(), "huggingface")
    assert "failing" not in watcher("status", "--check", env=env).output
    events = watcher("events", env=env)
    assert events.exit_code == 0 and "\x00" not in events.output
