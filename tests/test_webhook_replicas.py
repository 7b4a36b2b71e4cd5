"""Two `watcher run` replicas on PostgreSQL, each with a receiver: a webhook that reaches the standby
is forwarded through the database, the leader polls, and the alert goes out once."""

from __future__ import annotations

import re

import pytest
import yaml
from daemon_proc import wait_for
from fakes.hub_webhooks import post
from sqlalchemy import text
from test_replicas import IN_WINDOW, Replicas
from webhook_helpers import GB, SECRET, webhook_config

pytestmark = pytest.mark.slow
LISTENING = re.compile(r"webhooks on http://127\.0\.0\.1:(\d+)(/\S+)")


def receiver_url(daemon) -> str:
    line = wait_for(lambda: next((m for _, line in daemon.lines if (m := LISTENING.search(line))), None),
                    "the receiver's address in the log")
    return f"http://127.0.0.1:{line.group(1)}{line.group(2)}"


@pytest.fixture
def pair(hub, github, slack, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHER_WEBHOOK_SECRET", SECRET)
    raw = webhook_config(hub, github, slack, tmp_path, database=pg_url)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    group = Replicas(tmp_path / "config.yaml", tmp_path, pg_url)
    yield group
    group.close()


def test_a_webhook_at_the_standby_is_polled_once_by_the_leader(pair, hub, slack):
    first, second = pair.start(IN_WINDOW), pair.start(IN_WINDOW)
    pair.wait_delivered(1)  # watching started
    leader = pair.leader()
    standby = second if leader is first else first
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": 9 * GB})
    payload = hub.payload("Qwen/Qwen3.7-9B", "create", "repo")
    assert post(receiver_url(standby), payload, SECRET)[0] == 202
    pair.wait_delivered(2)
    assert _forwards(standby) == 1
    assert not any(" cycle " in line for _, line in standby.lines)  # the standby never polled
    # the Hub retries, the activity page replays, a load balancer picks either replica: still one alert
    assert post(receiver_url(leader), payload, SECRET)[0] == 202
    wait_for(lambda: _webhook_cycles(leader) >= 2, "the leader's poll of its own webhook")
    assert post(receiver_url(standby), payload, SECRET)[0] == 202
    wait_for(lambda: _forwards(standby) >= 2 and _webhook_cycles(leader) >= 3 and _wakeups_left(pair) == 0,
             "the second forwarded webhook to be polled")
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == 2 and "Qwen/Qwen3.7-9B" in texts[1], texts
    with pair.engine.connect() as conn:
        rows = conn.execute(text("select status, attempts from deliveries")).fetchall()
    assert rows == [("delivered", 1)] * 2
    outputs = "\n".join(d.output() for d in pair.daemons)
    assert "Traceback" not in outputs and " ERROR " not in outputs


def _wakeups_left(pair) -> int:
    with pair.engine.connect() as conn:
        return conn.execute(text("select count(*) from webhook_wakeups")).scalar()


def _webhook_cycles(daemon) -> int:
    return sum(1 for _, line in daemon.lines if " cycle " in line and "job=webhook" in line)


def _forwards(daemon) -> int:
    return sum(1 for _, line in daemon.lines if "forwarded qwen3.7 to the leader" in line)


def test_a_webhook_at_the_standby_after_the_leader_died_is_polled_by_the_standby(pair, hub, slack):
    import signal

    first, second = pair.start(IN_WINDOW), pair.start(IN_WINDOW)
    pair.wait_delivered(1)
    leader = pair.leader()
    standby = second if leader is first else first
    leader.stop(signal.SIGKILL)  # hourly polling: without a webhook the standby would take over in an hour
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": 9 * GB})
    assert post(receiver_url(standby), hub.payload("Qwen/Qwen3.7-9B"), SECRET)[0] == 202
    pair.wait_delivered(2)
    assert standby.leader and _forwards(standby) == 0 and _webhook_cycles(standby) == 1
    assert len(slack.messages) == 2 and "Qwen/Qwen3.7-9B" in slack.messages[1]["text"]
