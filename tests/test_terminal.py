"""Data is never markup and never a control sequence on the terminal (issue 16).

Rows stored before the source boundary cleaned values (or written by another version) still reach
`status`, `events`, `cadence` and `check-config`: each must print them literally, without crashing
on `[/]`, following `[link=...]`, or passing ESC, newlines, bidi overrides and zero-width characters.
"""

from __future__ import annotations

import json
import sqlite3

HOSTILE = "Qwen/[/]x[link=https://evil.example]y\x1b[2J\u202ez\u200b\nforged line"


def hostile_rows(db_path) -> None:
    db = sqlite3.connect(db_path)
    snapshot = {"source": "github", "repo_id": HOSTILE, "scope": "gh:org:qwenlm", "visible": True,
                "url": "u", "releases": ["v[/]1\x1b[31m"], "tags": [], "weight_files": []}
    db.execute("insert into repos (watch, source, repo_id, visible, has_weights, snapshot, updated_at) "
               "values ('qwen3.7', 'github', ?, 1, 0, ?, '2026-07-12 12:00:00')", (HOSTILE, json.dumps(snapshot)))
    db.execute("insert into events (watch, kind, dedup_key, source, repo_id, data, created_at) values "
               "('qwen3.7', 'release_published', 'x', 'github', ?, ?, '2026-07-12 12:00:00')",
               (HOSTILE, json.dumps({"tag": "[link=https://evil.example]v1[/link]\x1b]8;;x\x07"})))
    db.execute("update poll_runs set errors = ?", (json.dumps(["slack: weird_error[/] \x1b[31mred"]),))
    db.commit()


def assert_clean(output: str) -> None:
    assert "\x1b" not in output and "\u202e" not in output and "\u200b" not in output
    assert "evil.example" in output  # shown as text...
    assert "\nforged line" not in output  # ...but never as a line of its own


def test_status_and_events_print_hostile_rows_literally(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    hostile_rows(tmp_path / "watcher.db")
    status = watcher("status")
    assert status.exit_code == 0, status.output
    assert_clean(status.output)
    assert "[/]" in status.output and "weird_error[/]" in status.output
    events = watcher("events")
    assert events.exit_code == 0, events.output
    assert_clean(events.output)


def test_check_config_prints_a_hostile_title_literally(watcher):
    watcher.config["watches"][0]["title"] = "Qwen [/] [link=https://evil.example]x[/link] \x1b[2J\u202e"
    result = watcher("check-config")
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output and "[link=https://evil.example]" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
