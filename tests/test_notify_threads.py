"""Threads against the fake Slack: follow-ups reply under their announcement, which is edited in place."""

from __future__ import annotations

import datetime as dt

import pytest
from slack_helpers import Cycles

from watcher.engine.pipeline import deliver
from watcher.store.db import transaction
from watcher.store.tables import Delivery, EventRow

GB = 1_000_000_000


@pytest.fixture
def cycles(hub, github, slack, tmp_path):
    return Cycles(hub, github, slack, tmp_path)


def top_level(slack):
    return [m for m in slack.messages if not m["thread_ts"]]


def test_weights_for_announced_placeholder_reply_in_thread_and_edit_parent(cycles, hub, slack):
    cycles()  # baseline: "watching started"
    hub.add_model("Qwen/Qwen3.7-27B", {"README.md": 100})
    hub.add_model("Qwen/Qwen3.7-8B", {"README.md": 100})
    cycles()
    parent = slack.messages[-1]
    assert parent["thread_ts"] is None and "New repo, no weights yet" in parent["text"]
    hub.set_files("Qwen/Qwen3.7-27B", {"model-1.safetensors": 30 * GB, "model-2.safetensors": 24_600_000_000})
    hub.update_model("Qwen/Qwen3.7-27B", params=27_300_000_000)
    result = cycles()
    assert result.delivered == 1 and result.pending == 0
    reply = slack.messages[-1]
    assert reply["thread_ts"] == parent["ts"] and reply["reply_broadcast"] is True
    assert reply["blocks"][0]["text"]["text"] == "Qwen 3.7 open-weight variants: weights published"
    assert "Qwen/Qwen3.7-27B> (54.6 GB, 27.3B params)" in reply["blocks"][1]["text"]["text"]
    assert len(slack.updates) == 1 and slack.updates[0]["ts"] == parent["ts"]
    edited = parent["blocks"][1]["text"]["text"]  # the fake keeps the current state of the message
    line_27b = next(line for line in edited.split("\n•") if "Qwen3.7-27B" in line)
    assert "now: Weights published (54.6 GB, 27.3B params)" in line_27b
    assert "now:" not in next(line for line in edited.split("\n•") if "Qwen3.7-8B" in line)
    assert "now: Weights published" in parent["text"]  # the fallback text shows it too

    hub.set_files("Qwen/Qwen3.7-8B", {"model.safetensors": 16 * GB})
    cycles()
    assert slack.messages[-1]["thread_ts"] == parent["ts"]
    assert parent["blocks"][1]["text"]["text"].count("now: Weights published") == 2  # both states kept
    assert len(top_level(slack)) == 2


def test_new_things_are_always_top_level(cycles, hub, slack):
    cycles()
    hub.add_model("Qwen/Qwen3.7-4B", {"README.md": 1})
    cycles()
    parent = slack.messages[-1]
    hub.remove_model("Qwen/Qwen3.7-4B")
    cycles()
    hidden = slack.messages[-1]
    assert hidden["thread_ts"] is None and "Repo hidden or deleted" in hidden["text"]
    assert "now: Repo hidden or deleted" in parent["blocks"][1]["text"]["text"]  # the parent shows it too
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": GB})  # new, with weights at once
    cycles()
    assert slack.messages[-1]["thread_ts"] is None and "Weights published" in slack.messages[-1]["text"]


def test_overdue_then_reminders_thread_under_first_overdue_alert(cycles, hub, slack):
    cycles()
    cycles.now = dt.datetime(2026, 7, 25, 12, tzinfo=dt.timezone.utc)  # past the window
    cycles()
    overdue = slack.messages[-1]
    assert overdue["thread_ts"] is None and overdue["blocks"][0]["text"]["text"].endswith(": overdue")
    # a reminder (kind from another module; handled generically) arrives a week later
    with transaction(cycles.engine) as session:
        row = EventRow(watch="qwen3.7", kind="reminder", dedup_key="reminder:1", data={"summary": "14 day(s) late"},
                       created_at=cycles.now)
        session.add(row)
        session.flush()
        session.add(Delivery(watch="qwen3.7", destination="slack:#open-weights", event_ids=[row.id],
                             status="pending", created_at=cycles.now))
    result = deliver(cycles.config, cycles.engine, cycles.notifiers, cycles.clock)
    assert result.delivered == 1
    reminder = slack.messages[-1]
    assert reminder["thread_ts"] == overdue["ts"] and reminder["reply_broadcast"] is False
    assert "now: Reminder (14 day(s) late)" in overdue["blocks"][1]["text"]["text"]
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": GB})
    cycles()
    assert slack.messages[-1]["thread_ts"] is None  # the release is news of its own
    assert "now: resolved: weights published (Qwen/Qwen3.7-9B)" in overdue["blocks"][1]["text"]["text"]


def test_webhook_messages_stand_alone(hub, github, slack, tmp_path):
    cycles = Cycles(hub, github, slack, tmp_path, webhook=slack.webhook_url)
    cycles()
    hub.add_model("Qwen/Qwen3.7-27B", {"README.md": 1})
    cycles()
    hub.set_files("Qwen/Qwen3.7-27B", {"model.safetensors": GB})
    cycles()
    assert [m["via"] for m in slack.messages] == ["webhook"] * 3
    assert all(m["thread_ts"] is None for m in slack.messages) and slack.updates == []
    assert slack.messages[-1]["blocks"][0]["type"] == "header"


def test_routes_filter_event_kinds_and_thread_per_channel(hub, github, slack, tmp_path):
    routes = {"channel": None, "routes": [
        {"channel": "#open-weights"},
        {"channel": "#leadership", "events": ["overdue", "weights_published"]},
    ]}
    cycles = Cycles(hub, github, slack, tmp_path, slack_cfg=routes)
    cycles()
    hub.add_model("Qwen/Qwen3.7-27B", {"README.md": 1})
    cycles()
    hub.set_files("Qwen/Qwen3.7-27B", {"model.safetensors": GB})
    cycles()
    everything, leadership = slack.messages_in("#open-weights"), slack.messages_in("#leadership")
    assert len(everything) == 3 and everything[-1]["thread_ts"] == everything[1]["ts"]
    assert len(leadership) == 1 and leadership[0]["thread_ts"] is None  # nothing to thread under there
    assert "Weights published" in leadership[0]["text"]
    destinations = cycles.rows("select destination, event_ids from deliveries order by id")
    assert [d for d, _ in destinations] == ["slack:#open-weights", "slack:#open-weights", "slack:#open-weights",
                                            "slack:#leadership"]
