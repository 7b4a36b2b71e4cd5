"""Whole timelines through the real CLI against the fake Hub and GitHub (no mocks, no sleeping)."""

from __future__ import annotations

import json

import pytest
from conftest import repo_ids
from sqlalchemy import create_engine, text

IN_WINDOW = "2026-07-12T12:00:00Z"
BEFORE_WINDOW = "2026-06-01T12:00:00Z"
AFTER_WINDOW = "2026-07-25T12:00:00Z"
GB = 1_000_000_000


@pytest.fixture
def database_url(any_database):
    """Every timeline here runs on SQLite and on PostgreSQL."""
    return any_database



def event_kinds(watcher, limit=100):
    result = watcher("events", "--json", "--limit", str(limit))
    assert result.exit_code == 0, result.output
    return [(e["kind"], e["repo_id"]) for e in json.loads(result.stdout)]


def test_baseline_then_placeholder_then_weights(watcher, hub, github):
    hub.add_model("Qwen/Qwen3.6-27B", {"model.safetensors": 5 * GB})  # older generation: not matched
    hub.add_model("Qwen/Qwen3.7-Max-Preview", {"model.safetensors": GB})  # excluded by *Max*
    env = {"WATCHER_NOW": IN_WINDOW}
    out = watcher.poll(env)
    assert "Watching started: 0 repo(s) already visible" in out
    assert event_kinds(watcher) == [("watch_started", None)]
    status = watcher.watch_status(env)
    assert status["state"] == "in_window"
    assert repo_ids(status, "huggingface") == {"Qwen/Qwen3.7-Plus"}  # the named probe: hidden
    assert repo_ids(status, "github") == {"QwenLM/Qwen3.7"}

    hub.add_model("Qwen/Qwen3.7-27B", {"README.md": 100, "config.json": 10})
    out = watcher.poll(env)
    assert "New repo, no weights yet (placeholder): Qwen/Qwen3.7-27B" in out
    status = watcher.watch_status(env)
    assert status["state"] == "in_window"  # a placeholder is not a release
    assert repo_ids(status, "huggingface", visible=True, weights=False) == {"Qwen/Qwen3.7-27B"}

    hub.set_files("Qwen/Qwen3.7-27B", {"README.md": 100, "model-00001-of-00002.safetensors": 30 * GB,
                                       "model-00002-of-00002.safetensors": 24_600_000_000})
    hub.update_model("Qwen/Qwen3.7-27B", params=27_300_000_000)
    out = watcher.poll(env)
    assert "Weights published: Qwen/Qwen3.7-27B (54.6 GB, 27.3B params)" in out
    status = watcher.watch_status(env)
    assert status["state"] == "released"
    repo = next(r for r in status["repos"] if r["id"] == "Qwen/Qwen3.7-27B")
    assert repo["weights"] is True and repo["weight_bytes"] == 54_600_000_000 and repo["params"] == 27_300_000_000
    assert repo["url"] == f"{hub.url}/Qwen/Qwen3.7-27B"
    assert repo["first_seen"] is not None

    watcher.poll(env)  # nothing changed: nothing new
    assert event_kinds(watcher) == [
        ("released", "Qwen/Qwen3.7-27B"),  # the watch's first weights close the cadence loop
        ("weights_published", "Qwen/Qwen3.7-27B"),
        ("repo_appeared", "Qwen/Qwen3.7-27B"),
        ("watch_started", None),
    ]


def test_existing_release_is_baseline_not_alert(watcher, hub):
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": GB})
    out = watcher.poll()
    assert "Already visible: Qwen/Qwen3.7-27B" in out
    assert event_kinds(watcher) == [("watch_started", None)]
    assert watcher.watch_status()["state"] == "released"


def test_ten_repo_drop_is_one_message(watcher, hub):
    watcher.poll()
    names = [f"Qwen/Qwen3.7-{size}B" for size in (1, 2, 4, 8, 14, 32, 72, 110, 235, 480)]
    for name in names:
        hub.add_model(name, {"model.safetensors": 2 * GB})
    out = watcher.poll()
    assert out.count("[qwen3.7]") == 1  # one message
    for name in names:
        assert f"Weights published: {name} (2.0 GB" in out
    assert "New repo, no weights yet" not in out  # appearing with weights is one line per repo
    engine = create_engine(watcher.config["database"])
    with engine.connect() as db:
        rows = db.execute(text("select event_ids, status from deliveries order by id")).fetchall()
    engine.dispose()
    assert len(rows) == 2 and rows[-1][1] == "delivered" and len(_json(rows[-1][0])) == 21  # 10 repos x 2 + released


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # text on SQLite, decoded JSONB on PostgreSQL


def test_third_party_reupload_does_not_match(watcher, hub):
    watcher.poll()
    hub.add_model("someone/Qwen3.7-27B-GGUF", {"q4.gguf": GB})
    hub.add_model("Qwen/Qwen3.7-Max", {"model.safetensors": GB})
    out = watcher.poll()
    assert "GGUF" not in out and "Qwen3.7-Max " not in out
    assert event_kinds(watcher) == [("watch_started", None)]


def test_hidden_github_repo_turns_public_with_release(watcher, github):
    watcher.poll()
    status = watcher.watch_status()
    gh = next(r for r in status["repos"] if r["id"] == "QwenLM/Qwen3.7")
    assert gh["visible"] is False and gh["status"] == 404
    github.add_repo("QwenLM/Qwen3.7", private=True)
    watcher.poll()
    assert event_kinds(watcher) == [("watch_started", None)]  # private is still hidden
    github.set_private("QwenLM/Qwen3.7", False)
    github.add_release("QwenLM/Qwen3.7", "v1.0")
    out = watcher.poll()
    assert "GitHub repo is now public: QwenLM/Qwen3.7" in out and "latest v1.0" in out
    github.add_release("QwenLM/Qwen3.7", "v1.1")
    out = watcher.poll()
    assert "New release v1.1: QwenLM/Qwen3.7" in out
    assert [k for k, _ in event_kinds(watcher)] == ["release_published", "repo_appeared", "watch_started"]


def test_org_listing_finds_new_matching_repos_only(watcher, github):
    github.add_repo("QwenLM/Qwen3.6")
    watcher.poll()
    github.add_repo("QwenLM/Qwen3.7-Coder")
    github.add_repo("QwenLM/unrelated")
    out = watcher.poll()
    assert "New GitHub repo: QwenLM/Qwen3.7-Coder" in out and "unrelated" not in out


def test_hub_probe_hidden_status_401_without_token_404_with(watcher, hub):
    watcher.poll()
    plus = next(r for r in watcher.watch_status()["repos"] if r["id"] == "Qwen/Qwen3.7-Plus")
    assert plus["visible"] is False and plus["status"] == 401
    hub.add_model("Qwen/Qwen3.7-Plus", {"README.md": 1}, private=True)
    watcher.poll({"HF_TOKEN": "hf_testtoken123"})
    plus = next(r for r in watcher.watch_status()["repos"] if r["id"] == "Qwen/Qwen3.7-Plus")
    assert plus["status"] == 404
    hub.update_model("Qwen/Qwen3.7-Plus", private=False, gated="manual")
    out = watcher.poll()
    assert "New repo, no weights yet (placeholder): Qwen/Qwen3.7-Plus" in out and "gated (manual)" in out


def test_overdue_once_and_window_states(watcher, hub):
    watcher.poll({"WATCHER_NOW": BEFORE_WINDOW})
    assert watcher.watch_status({"WATCHER_NOW": BEFORE_WINDOW})["days_until_window"] == 39
    watcher.poll({"WATCHER_NOW": IN_WINDOW})
    assert "overdue" not in [k for k, _ in event_kinds(watcher)]
    out = watcher.poll({"WATCHER_NOW": AFTER_WINDOW})
    assert "Overdue: expected 2026-07-10 to 2026-07-18" in out and "7 day(s) late" in out
    watcher.poll({"WATCHER_NOW": "2026-07-26T12:00:00Z"})
    assert [k for k, _ in event_kinds(watcher)].count("overdue") == 1
    status = watcher.watch_status({"WATCHER_NOW": AFTER_WINDOW})
    assert status["state"] == "overdue" and status["days_overdue"] == 7
    hub.add_model("Qwen/Qwen3.7-9B", {"model.safetensors": GB})
    watcher.poll({"WATCHER_NOW": "2026-07-27T12:00:00Z"})
    assert watcher.watch_status({"WATCHER_NOW": "2026-07-27T12:00:00Z"})["state"] == "released"


def test_failing_source_is_reported_and_hides_nothing(watcher, hub, github):
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": GB})
    watcher.poll()
    hub.down = True
    out = watcher.poll()
    assert "error: huggingface author Qwen:" in out and "503" in out
    assert "Repo hidden" not in out
    status = watcher.status()
    assert any("huggingface author Qwen" in e for e in status["last_poll"]["errors"])
    assert repo_ids(status["watches"][0], "huggingface", visible=True) == {"Qwen/Qwen3.7-27B"}
    github.add_repo("QwenLM/Qwen3.7")  # the other source still works in the same cycle
    out = watcher.poll()
    assert "GitHub repo is now public: QwenLM/Qwen3.7" in out
    hub.down = False
    hub.remove_model("Qwen/Qwen3.7-27B")
    out = watcher.poll()
    assert "Repo hidden or deleted: Qwen/Qwen3.7-27B" in out


def test_github_bad_token_is_a_reported_error(watcher, github):
    github.valid_tokens = {"ghp_goodtoken123"}
    out = watcher.poll({"GITHUB_TOKEN": "ghp_badtoken456"})
    assert "github QwenLM/Qwen3.7: 401 Bad credentials" in out
    assert "ghp_badtoken456" not in out
    status = watcher.status({"GITHUB_TOKEN": "ghp_badtoken456"})
    assert "github QwenLM/Qwen3.7: 401 Bad credentials" in status["last_poll"]["errors"]
    assert "ghp_badtoken456" not in json.dumps(status)


def test_one_listing_per_author_and_pagination(watcher, hub):
    hub.page_size = 3
    for i in range(10):
        hub.add_model(f"Qwen/Qwen3.7-{i}B", {"model.safetensors": GB})
    watcher.config["watches"][0]["huggingface"]["include"] = ["Qwen3.7-*B", "Qwen3.7-*-Instruct", "Qwen3.7-?B"]
    watcher.poll()
    listings = [r for r in hub.requests if r.path == "/api/models"]
    # one listing per author whatever the number of patterns: 10 repos at 3 a page is 4 pages
    assert len(listings) == 4
    assert all(r.query_value("author") == "Qwen" for r in listings)
    assert listings[0].query_value("search") == "Qwen3.7-"
    assert len(repo_ids(watcher.watch_status(), "huggingface", visible=True)) == 10


def test_bad_config_exits_2_with_one_line_and_writes_nothing(watcher, tmp_path):
    watcher.config["watches"][0]["huggingface"]["incldue"] = ["x"]
    result = watcher("poll")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "watches[0].huggingface.incldue: unknown key 'incldue'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "watcher.db").exists()


def test_events_limit_newest_first(watcher, hub):
    watcher.poll()
    for i in range(3):
        hub.add_model(f"Qwen/Qwen3.7-{i}B", {"README.md": 1})
        watcher.poll()
    result = watcher("events", "--json", "--limit", "2")
    items = json.loads(result.stdout)
    assert [e["repo_id"] for e in items] == ["Qwen/Qwen3.7-2B", "Qwen/Qwen3.7-1B"]
    table = watcher("events", "--limit", "2").stdout
    assert "Qwen/Qwen3.7-2B" in table and "Qwen/Qwen3.7-0B" not in table
