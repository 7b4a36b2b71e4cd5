"""Cadence alerts over weeks of pinned clocks: window opened once, overdue once, reminders no more often
than `remind_every` (timed from the events table, so a new process never re-sends early), released."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from watcher import config
from watcher.forecast import alerts, windows
from watcher.models import Event, EventKind

GB = 1_000_000_000
UTC = dt.timezone.utc


def poll(watcher, when: str) -> str:
    return watcher.poll({"WATCHER_NOW": when})


def poll_in_new_process(watcher, when: str) -> str:
    """A restart: a fresh interpreter with nothing in memory but the database."""
    watcher.save()
    env = {**os.environ, "WATCHER_NOW": when}
    result = subprocess.run([sys.executable, "-m", "watcher", "--config", str(watcher.path), "poll"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def cadence_events(watcher) -> list[tuple[str, str, dict]]:
    result = watcher("events", "--json", "--limit", "200")
    items = json.loads(result.stdout)[::-1]
    kinds = {k.value for k in alerts.HISTORY_KINDS} - {"watch_started", "weights_published"}
    return [(e["kind"], e["created_at"][:16], e["data"]) for e in items if e["kind"] in kinds]


@pytest.mark.slow
def test_reminders_weekly_across_restarts_then_released(watcher, hub):
    poll(watcher, "2026-07-01T12:00:00Z")  # baseline, before the window (2026-07-10 to 2026-07-18)
    assert cadence_events(watcher) == []
    out = poll(watcher, "2026-07-10T06:00:00Z")
    assert "Window opened: the window is open: expected 2026-07-10 to 2026-07-18" in out
    assert "most likely around 2026-07-14" in out
    poll(watcher, "2026-07-12T12:00:00Z")
    out = poll(watcher, "2026-07-19T12:00:00Z")
    assert "Overdue: expected 2026-07-10 to 2026-07-18 (51 to 59 days after Qwen3.7-Max (2026-05-20)); 1 day(s) late" in out
    for day in range(20, 27):
        out = poll(watcher, f"2026-07-{day}T11:59:00Z")  # daily polls under 7 days after the overdue alert
        assert "Reminder:" not in out
    out = poll_in_new_process(watcher, "2026-07-26T12:00:00Z")  # restart, exactly 7 days later
    assert "Reminder: still no open weights, 8 day(s) late" in out
    assert "reminder 1, next in 7 days if nothing lands" in out
    assert "Reminder:" not in poll(watcher, "2026-07-26T18:00:00Z")
    assert "Reminder:" not in poll_in_new_process(watcher, "2026-08-02T11:59:00Z")  # restart: not early
    assert "Reminder: still no open weights, 15 day(s) late" in poll(watcher, "2026-08-02T12:00:00Z")
    out = poll(watcher, "2026-08-20T09:00:00Z")  # the daemon was down for weeks: one reminder, not three
    assert out.count("Reminder:") == 1 and "Reminder: still no open weights, 33 day(s) late" in out
    assert "Reminder:" not in poll(watcher, "2026-08-27T08:59:00Z")
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 54 * GB})
    out = poll(watcher, "2026-08-27T10:00:00Z")  # a reminder would be due at 09:00
    assert "Weights published: Qwen/Qwen3.7-27B" in out
    assert "Released: Qwen/Qwen3.7-27B landed 99 days after Qwen3.7-Max, 40 days after the window; " \
           "expected 2026-07-10 to 2026-07-18, explicit lag_days" in out
    assert "Reminder:" not in out  # released stops reminders, even though one was due
    for when in ("2026-09-03T12:00:00Z", "2026-10-01T12:00:00Z"):
        assert "Reminder:" not in poll_in_new_process(watcher, when)
    seen = [(kind, when, data.get("days_overdue")) for kind, when, data in cadence_events(watcher)]
    assert seen == [
        ("window_opened", "2026-07-10T06:00", None),
        ("overdue", "2026-07-19T12:00", 1),
        ("reminder", "2026-07-26T12:00", 8),
        ("reminder", "2026-08-02T12:00", 15),
        ("reminder", "2026-08-20T09:00", 33),
        ("released", "2026-08-27T10:00", None),
    ]
    assert watcher.watch_status({"WATCHER_NOW": "2026-10-01T12:00:00Z"})["state"] == "released"


def test_window_opened_can_be_turned_off_and_reminders_disabled(watcher):
    watcher.config["watches"][0]["notify"] = {"window_opened": False, "remind_every": "never"}
    poll(watcher, "2026-07-01T12:00:00Z")
    assert "Window opened" not in poll(watcher, "2026-07-12T12:00:00Z")
    assert "Overdue" in poll(watcher, "2026-07-19T12:00:00Z")
    assert "Reminder:" not in poll(watcher, "2026-09-19T12:00:00Z")
    assert [k for k, _, _ in cadence_events(watcher)] == ["overdue"]


def test_cadence_only_watch_uses_the_history_window_everywhere(watcher, hub):
    shipped = config.load(str(Path(__file__).resolve().parent / "data" / "legacy_qwen.yaml"))
    watcher.config["cadences"] = {"qwen": {**shipped.cadences["qwen"].model_dump(mode="json"),
                                           "basis": "previous_open_weights"}}
    watch = watcher.config["watches"][0]
    del watch["lag_days"]
    watch["cadence"] = "qwen"
    poll(watcher, "2026-06-01T12:00:00Z")
    status = watcher.watch_status({"WATCHER_NOW": "2026-06-01T12:00:00Z"})
    assert status["expected_window"] == {"start": "2026-06-14", "end": "2027-02-03"}
    assert status["basis"] == "previous_open_weights" and status["days_until_window"] == 13
    assert status["window_source"] == "cadence qwen: min..max of 3 generation(s)"
    assert status["window"]["median"] == "2026-11-24" and status["lag_days"] is None
    out = poll(watcher, "2026-06-14T00:30:00Z")
    assert "Window opened: the window is open: expected 2026-06-14 to 2027-02-03 " \
           "(59 to 293 days after Qwen3.6 open weights (2026-04-16))" in out
    assert "cadence qwen: min..max of 3 generation(s)" in out
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": GB})
    out = poll(watcher, "2026-07-01T12:00:00Z")
    assert ("Released: Qwen/Qwen3.7-9B landed 42 days after Qwen3.7-Max (76 days after Qwen3.6 open weights), "
            "inside the window (day 18 of 235); expected 2026-06-14 to 2027-02-03") in out
    table = watcher("status", env={"WATCHER_NOW": "2026-07-01T12:00:00Z"}).stdout
    assert "basis previous_open_weights, from cadence qwen" in table


def test_status_shows_explicit_window_beside_the_history(watcher):
    shipped = config.load(str(Path(__file__).resolve().parent / "data" / "legacy_qwen.yaml"))
    watcher.config["cadences"] = {"qwen": shipped.cadences["qwen"].model_dump(mode="json")}
    watcher.config["watches"][0]["cadence"] = "qwen"
    assert watcher("db", "upgrade").exit_code == 0  # status reads a database; it never creates one
    status = watcher.watch_status()
    assert status["expected_window"] == {"start": "2026-07-10", "end": "2026-07-18"}
    assert (status["basis"], status["window_source"]) == ("flagship", "explicit lag_days")
    history = status["history_windows"]
    assert (history["flagship"]["start"], history["flagship"]["end"]) == ("2025-12-23", "2026-05-20")
    assert (history["previous_open_weights"]["start"], history["previous_open_weights"]["end"]) == ("2026-06-14", "2027-02-03")
    table = watcher("status").stdout
    assert "basis flagship, from explicit lag_days" in table
    assert "history says: flagship 2025-12-23 to 2026-05-20; previous_open_weights" in table


# --- the timing rule itself, table-driven on a pure function ---------------------------------------------

T0 = dt.datetime(2026, 7, 19, 12, tzinfo=UTC)  # first overdue alert


def _past(*offsets_hours: float) -> list[alerts.Past]:
    out = [alerts.Past("watch_started", "watch_started", dt.datetime(2026, 7, 1, tzinfo=UTC)),
           alerts.Past("overdue", "overdue:2026-07-18", T0)]
    for n, hours in enumerate(offsets_hours, 1):
        out.append(alerts.Past("reminder", f"reminder:2026-07-18:{n}", T0 + dt.timedelta(hours=hours)))
    return out


@pytest.mark.parametrize(
    ("past", "hours_after_t0", "every", "expected"),
    [
        (_past(), 167.9, "7d", []),
        (_past(), 168, "7d", ["reminder:2026-07-18:1"]),
        (_past(170), 336, "7d", []),  # counted from the last reminder, not the schedule
        (_past(170), 338, "7d", ["reminder:2026-07-18:2"]),
        (_past(), 1000, "0", []),  # 0 = never remind
        (_past(), 24, "1d", ["reminder:2026-07-18:1"]),
        ([alerts.Past("watch_started", "watch_started", T0)], 0, "7d", ["overdue:2026-07-18"]),
        (_past() + [alerts.Past("released", "released", T0)], 500, "7d", []),
    ],
)
def test_reminder_rule(past, hours_after_t0, every, expected):
    text = (Path(__file__).resolve().parent / "data" / "legacy_qwen.yaml").read_text()
    cfg = config.parse(text.replace("remind_every: 7d", f"remind_every: {every}"), "c.yaml")
    watch = cfg.watch("qwen3.7")
    now = T0 + dt.timedelta(hours=hours_after_t0)
    events = alerts.cadence_events(watch, windows.expected_window(watch, cfg.cadences), now, False, past, [])
    assert [e.dedup_key for e in events] == expected


def test_released_only_for_the_first_weights():
    cfg = config.load(None)
    watch = cfg.watch("qwen3.7")
    weights = Event("qwen3.7", EventKind.WEIGHTS_PUBLISHED, "weights_published:x", "huggingface", "Qwen/Qwen3.7-9B", {})
    now = dt.datetime(2026, 7, 12, tzinfo=UTC)
    past = [alerts.Past("watch_started", "watch_started", dt.datetime(2026, 7, 1, tzinfo=UTC))]
    first = alerts.cadence_events(watch, windows.expected_window(watch, cfg.cadences), now, True, past, [weights])
    assert [e.kind for e in first] == [EventKind.RELEASED]
    assert first[0].data["lag_days"] == 53 and first[0].repo_id == "Qwen/Qwen3.7-9B"
    again = past + [alerts.Past("weights_published", "weights_published:y", now)]
    assert alerts.cadence_events(watch, windows.expected_window(watch, cfg.cadences), now, True, again, [weights]) == []


def test_daemon_cadence_check_sends_reminders_without_polling(watcher, hub, github):
    """The daemon's hourly cadence check (no API calls) follows the same rules: weekly, timed from the table."""
    from watcher.engine import pipeline
    from watcher.store.schema import open_current

    poll(watcher, "2026-07-01T12:00:00Z")
    cfg = config.load(str(watcher.path))
    engine = open_current(cfg.database)
    seen = len(hub.requests) + len(github.requests)

    def check(when: dt.datetime) -> list[str]:
        return [e.kind.value for e in pipeline.cadence_check(cfg, engine, lambda: when).events]

    day = dt.datetime(2026, 7, 10, 1, tzinfo=UTC)
    assert check(day) == ["window_opened"] and check(day + dt.timedelta(hours=1)) == []
    late = dt.datetime(2026, 7, 19, 0, 30, tzinfo=UTC)
    assert check(late) == ["overdue"]
    hourly = [check(late + dt.timedelta(hours=h)) for h in range(1, 24 * 7)]
    assert hourly == [[]] * (24 * 7 - 1)
    assert check(late + dt.timedelta(days=7)) == ["reminder"]
    assert len(hub.requests) + len(github.requests) == seen


def test_slack_reminders_thread_quietly_under_the_overdue_alert(watcher, hub, slack):
    token = "xoxb-test-token-123456"
    slack.valid_tokens = {token}
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    env = {"SLACK_BOT_TOKEN": token}
    for when in ("2026-07-01T12:00:00Z", "2026-07-19T12:00:00Z"):
        assert watcher("poll", env={**env, "WATCHER_NOW": when}).exit_code == 0
    overdue = slack.messages[-1]
    assert overdue["thread_ts"] is None and "Overdue" in overdue["text"]
    assert watcher("poll", env={**env, "WATCHER_NOW": "2026-07-26T12:00:00Z"}).exit_code == 0
    reminder = slack.messages[-1]
    assert reminder["thread_ts"] == overdue["ts"] and reminder["reply_broadcast"] is False
    assert "8 day(s) late" in reminder["text"]
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": GB})
    assert watcher("poll", env={**env, "WATCHER_NOW": "2026-07-27T12:00:00Z"}).exit_code == 0
    news = slack.messages[-1]
    assert news["thread_ts"] is None and "Weights published" in news["text"]
    assert "Released: Qwen/Qwen3.7-27B landed 68 days after Qwen3.7-Max, 9 days after the window" in news["text"]
    assert "resolved: weights published (Qwen/Qwen3.7-27B)" in overdue["blocks"][1]["text"]["text"]


def test_released_on_a_day_of_several_variants_names_an_expected_one():
    """Qwen3.7-0.8B and -27B on the same day: the watch expects 27B and 35B-A3B, so the line names 27B (its main
    repo), not the smaller 0.8B nobody listed; the 0.8B gets its own variant line."""
    from watcher.forecast import variant_state as vs

    cfg = config.load(None)
    watch = cfg.watch("qwen3.7")
    day = dt.date(2026, 6, 14)
    landings = [vs.Landing(r, day) for r in ("Qwen/Qwen3.7-0.8B", "Qwen/Qwen3.7-27B-FP8", "Qwen/Qwen3.7-27B")]
    past = [alerts.Past("watch_started", "watch_started", dt.datetime(2026, 6, 1, tzinfo=UTC))]
    events = alerts.cadence_events(watch, windows.expected_window(watch, cfg.cadences),
                                   dt.datetime(2026, 6, 14, 12, tzinfo=UTC), True, past, [],
                                   landings)
    released = [e for e in events if e.kind is EventKind.RELEASED]
    assert [(e.repo_id, e.data["variant"]) for e in released] == [("Qwen/Qwen3.7-27B", "27B")]
    assert [e.data["variant"] for e in events if e.kind is EventKind.VARIANT_RELEASED] == ["0.8B"]
