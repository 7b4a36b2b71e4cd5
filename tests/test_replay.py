"""Replays of real Qwen timelines through the real pipeline, one cycle a day, against the fake Hub and Slack.

Repo names and dates are the real ones (sources: the shipped config.yaml's Qwen3.5/3.6 entries; the
FP8 forms are in the official collection https://huggingface.co/collections/Qwen/qwen36).
Qwen3.6-Max-Preview's 2026-04-20 is from secondary sources (see config.yaml). Around them: earlier Qwen repos the watch must not
take for 3.6, an unrelated Qwen repo, and a third-party GGUF copy from an author the watch does not follow.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from faultkit import TOKEN
from helpers import base_config

from watcher import config as config_mod
from watcher.engine import status as status_mod
from watcher.engine.pipeline import run_cycle
from watcher.notify.slack import SlackNotifier
from watcher.store import queries
from watcher.store.db import transaction
from watcher.store.schema import open_current

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
W = {"model.safetensors": 2_000_000}

QWEN36_TIMELINE = [  # (day, repo, files): as they happened
    ("2026-02-16", "Qwen/Qwen3.5-397B-A17B", W),
    ("2026-02-24", "Qwen/Qwen3.5-27B", W),
    ("2026-02-24", "Qwen/Qwen3.5-35B-A3B", W),
    ("2026-03-02", "Qwen/Qwen3.5-9B", W),
    ("2026-03-10", "Qwen/Qwen3-Coder-Next", W),  # unrelated to the 3.6 watch (its include pattern)
    ("2026-04-16", "Qwen/Qwen3.6-35B-A3B-FP8", W),  # same-day FP8 forms: the official qwen36 collection
    ("2026-04-16", "Qwen/Qwen3.6-35B-A3B", W),
    ("2026-04-17", "unsloth/Qwen3.6-35B-A3B-GGUF", {"q4.gguf": 1_000_000}),  # third party, not followed
    ("2026-04-22", "Qwen/Qwen3.6-27B-FP8", W),  # the FP8 copy is listed first on purpose
    ("2026-04-22", "Qwen/Qwen3.6-27B", W),
]


class Replay:
    """A watch, the database, the Slack notifier and a clock moved one day per cycle (12:00 UTC)."""

    def __init__(self, tmp_path: Path, hub, github, slack, watch: dict, cadences: dict) -> None:
        github.add_org("QwenLM")
        raw = base_config(hub.url, github.url, tmp_path / "watcher.db", slack.url)
        raw["cadences"] = cadences
        raw["watches"] = [watch]
        self.raw = raw
        self.config = config_mod.Config.model_validate(raw)
        self.engine = open_current(self.config.database)
        self.notifiers = [SlackNotifier(self.config.slack, r, token=TOKEN, sleep=lambda s: None)
                          for r in self.config.slack.all_routes()]
        self.hub, self.slack = hub, slack
        self.added: set[str] = set()

    def day(self, day: str, timeline=()) -> dict:
        """Publish what happened by `day` (created 08:00 that day), poll at 12:00, return the watch's status."""
        for when, repo, files in timeline:
            if when <= day and repo not in self.added:
                self.hub.add_model(repo, files, created_at=f"{when}T08:00:00Z")
                self.added.add(repo)
        now = dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")
        result = run_cycle(self.config, self.engine, lambda: now, notifiers=self.notifiers)
        assert not result.errors, result.errors
        return status_mod.build(self.config, self.engine, now)["watches"][0]

    def events(self, kind: str | None = None) -> list:
        with transaction(self.engine) as session:
            rows = queries.recent_events(session, 10_000)
            return [(r.kind, r.repo_id, dict(r.data or {}), r.created_at.date().isoformat())
                    for r in reversed(rows) if kind is None or r.kind == kind]

    def slack_text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.slack.messages)


def days(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def shipped_cadences() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())["cadences"]


def qwen36_watch() -> dict:
    return {"name": "qwen3.6", "title": "Qwen 3.6 open weights",
            "flagship": {"name": "Qwen3.6-Max-Preview", "released": "2026-04-20"},
            "cadence": "qwen", "variants": ["27B", "35B-A3B"],
            "huggingface": {"authors": ["Qwen"], "include": ["Qwen3.6-*"], "exclude": ["*Max*", "*Plus*"]}}


def test_qwen36_replayed_from_before_the_first_weights(tmp_path, hub, github, slack):
    run = Replay(tmp_path, hub, github, slack, qwen36_watch(), shipped_cadences())
    seen = {d: run.day(d, QWEN36_TIMELINE) for d in days("2026-04-01", "2026-05-01")}
    # The history up to Qwen3.5 (the watch's own generation is left out) on the basis the backtest picks:
    # 27B and 35B-A3B were new in 3.5, so no per-variant forecast; the previous basis had the smaller error.
    for status in seen.values():
        assert (status["expected_window"], status["basis"]) == ({"start": "2026-05-10", "end": "2026-09-26"},
                                                                 "previous_open_weights")
        assert status["window_reason"].startswith("auto: previous_open_weights had the smallest mean error")
    assert {seen[d]["state"] for d in days("2026-04-01", "2026-04-15")} == {"waiting"}
    assert {seen[d]["state"] for d in days("2026-04-16", "2026-05-01")} == {"released"}
    released = run.events("released")
    assert [(r[1], r[3]) for r in released] == [("Qwen/Qwen3.6-35B-A3B", "2026-04-16")]
    assert released[0][2]["summary"].startswith(
        "Qwen/Qwen3.6-35B-A3B landed 4 days before Qwen3.6-Max-Preview (59 days after Qwen3.5 open weights), "
        "24 days before the window opened, variant 35B-A3B: 63 days before the watch's most likely date (2026-06-18)")
    later = run.events("variant_released")
    assert [(e[2]["variant"], e[2]["repo"], e[2]["released_on"]) for e in later] == \
        [("27B", "Qwen/Qwen3.6-27B", "2026-04-22")]  # the main repo, not the FP8 copy listed first
    variants = {v["variant"]: v for v in seen["2026-05-01"]["variants"]}
    assert (variants["27B"]["repo"], variants["27B"]["landed"]) == ("Qwen/Qwen3.6-27B", "2026-04-22")
    assert (variants["35B-A3B"]["repo"], variants["35B-A3B"]["landed"]) == ("Qwen/Qwen3.6-35B-A3B", "2026-04-16")
    text = run.slack_text()
    assert text.count("Released:") == 1 and "Variant released" in text
    assert "unsloth" not in text and "Qwen3.5-" not in text and "Coder" not in text
    assert {e[1] for e in run.events("weights_published")} == {
        "Qwen/Qwen3.6-35B-A3B", "Qwen/Qwen3.6-35B-A3B-FP8", "Qwen/Qwen3.6-27B", "Qwen/Qwen3.6-27B-FP8"}


def test_qwen36_watch_started_after_the_first_weights(tmp_path, hub, github, slack):
    """The issue's replay: started 04-18, it announced Qwen3.6-27B-FP8 on 04-22 as "released 20 days after"."""
    run = Replay(tmp_path, hub, github, slack, qwen36_watch(), shipped_cadences())
    seen = {d: run.day(d, QWEN36_TIMELINE) for d in days("2026-04-18", "2026-04-25")}
    assert run.events("released") == []  # the weights at the baseline were the release
    assert {s["state"] for s in seen.values()} == {"released"}
    first = {v["variant"]: v for v in seen["2026-04-18"]["variants"]}
    assert (first["35B-A3B"]["landed"], first["35B-A3B"]["state"]) == ("2026-04-16", "released")  # createdAt
    assert first["27B"]["state"] == "waiting"  # before the watch's window (2026-05-10): not late
    later = run.events("variant_released")
    assert [(e[2]["repo"], e[2]["released_on"], e[3]) for e in later] == [("Qwen/Qwen3.6-27B", "2026-04-22", "2026-04-22")]
    assert "landed 20 days" not in run.slack_text() and "Released:" not in run.slack_text()


def test_shipped_qwen37_watch_overdue_names_the_late_variants(tmp_path, hub, github, slack):
    """The shipped config: waiting on 05-25, window open 05-31, overdue on 06-13 naming 35B-A3B, by 06-25 both."""
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    watch = shipped["watches"][0]
    watch["github"] = {"repos": ["QwenLM/Qwen3.7"]}
    run = Replay(tmp_path, hub, github, slack, watch, shipped["cadences"])
    timeline = QWEN36_TIMELINE + [("2026-05-20", "Qwen/Qwen3.7-Max-Demo", {"README.md": 10})]  # excluded: *Max*
    seen = {d: run.day(d, timeline) for d in days("2026-05-25", "2026-06-25")}
    assert seen["2026-05-25"]["state"] == "waiting" and seen["2026-05-25"]["days_until_window"] == 6
    assert seen["2026-05-31"]["state"] == "in_window"
    assert seen["2026-06-13"]["state"] == "overdue"
    late = seen["2026-06-25"]
    assert late["state"] == "overdue" and late["days_overdue"] == 13
    assert {v["variant"]: v["state"] for v in late["variants"]} == {"27B": "overdue", "35B-A3B": "overdue"}
    assert late["track_record"] == "windows like this held for 0 of 2 past generations"
    overdue = run.events("overdue")
    assert [(e[3], e[2]["late_variants"]) for e in overdue] == [("2026-06-13", ["35B-A3B"])]
    assert "late: 35B-A3B (expected 2026-05-31 to 2026-06-12, 1 day(s) late)" in overdue[0][2]["summary"]
    assert "windows like this held for 0 of 2 past generations" in overdue[0][2]["summary"]
    reminders = run.events("reminder")
    assert [(e[3], e[2]["late_variants"]) for e in reminders] == [("2026-06-20", ["35B-A3B"]),
                                                                  ("2026-06-27", ["27B", "35B-A3B"])][:len(reminders)]
    assert [e[3] for e in run.events("window_opened")] == ["2026-05-31"]
