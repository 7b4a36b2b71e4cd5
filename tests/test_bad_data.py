"""Hostile or odd API data: escaped, bounded, and never fatal to a cycle."""

from __future__ import annotations

import json
import sqlite3

from conftest import repo_ids

TOKEN = "xoxb-bad-data-token"



def test_unicode_and_control_sequences_are_escaped_in_slack(watcher, hub, github, slack):
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/"}
    env = {"SLACK_BOT_TOKEN": TOKEN}
    github.add_repo("QwenLM/Qwen3.7", private=False)
    watcher.poll(env)
    github.add_release("QwenLM/Qwen3.7", "v3.7-日本語-Ω")
    github.add_release("QwenLM/Qwen3.7", "v3.7-<!here>-x\u202e")
    watcher.poll(env)
    sections = " ".join(b["text"]["text"] for m in slack.messages[-2:] for b in m["blocks"] if b["type"] == "section")
    assert "v3.7-日本語-Ω" in sections
    assert "<!here>" not in sections and "&lt;!here&gt;" in sections and "\u202e" not in sections
    assert all("<!here>" not in m["text"] for m in slack.messages)  # the notification text is parsed by Slack too


def test_ids_no_service_allows_are_ignored_with_one_line(watcher, hub):
    """The Hub's ids are ASCII letters, digits, `.`, `_`, `-`: anything else is a broken or hostile answer."""
    watcher.poll()
    hub.add_model("Qwen/Qwen3.7-日本語-Ω", {"model.safetensors": 1})
    hub.add_model("Qwen/Qwen3.7-<!here>-x", {"model.safetensors": 1})
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    out = watcher.poll()
    assert "huggingface 'Qwen/Qwen3.7-<!here>-x': not a valid repo id; ignored" in out
    assert repo_ids(watcher.watch_status(), "huggingface", visible=True) == {"Qwen/Qwen3.7-2B"}
    assert "failing" not in watcher("status", "--check").output  # one repo's trouble is not the source's


def test_one_repo_size_lookup_failing_is_not_a_failing_source(watcher, hub):
    watcher.poll()
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    hub.fail_next(10, status=500, path_contains="/tree/")
    out = watcher.poll()
    assert "huggingface Qwen/Qwen3.7-2B file sizes: " in out and "HTTP 500" in out
    check = watcher("status", "--check").output
    assert "failing" not in check, check


def test_implausibly_long_names_are_ignored(watcher, hub):
    watcher.poll()
    hub.add_model("Qwen/Qwen3.7-" + "x" * 500, {"model.safetensors": 1})
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    out = watcher.poll()
    assert "Qwen/Qwen3.7-2B" in out and "x" * 100 not in out
    assert repo_ids(watcher.watch_status(), "huggingface", visible=True) == {"Qwen/Qwen3.7-2B"}


def test_ten_thousand_siblings_stay_bounded(watcher, hub, tmp_path):
    watcher.poll()
    files = {f"model-{i:05d}-of-10000.safetensors": 1_000_000 for i in range(10_000)}
    hub.add_model("Qwen/Qwen3.7-Huge", files)
    out = watcher.poll()
    assert "Weights published: Qwen/Qwen3.7-Huge (10.0 GB" in out
    db = sqlite3.connect(tmp_path / "watcher.db")
    (snapshot,) = db.execute("select snapshot from repos where repo_id = 'Qwen/Qwen3.7-Huge'").fetchone()
    data = json.loads(snapshot)
    assert data["weight_count"] == 10_000 and len(data["weight_files"]) == 100
    assert len(snapshot) < 20_000
    status = watcher.watch_status()
    huge = next(r for r in status["repos"] if r["id"] == "Qwen/Qwen3.7-Huge")
    assert huge["weight_files"] == 10_000 and huge["weight_bytes"] == 10_000_000_000


def test_odd_dates_do_not_lose_the_listing(watcher, hub):
    watcher.poll()
    hub.add_model("Qwen/Qwen3.7-Odd", {"model.safetensors": 1}, extra={"createdAt": "yesterday-ish"})
    hub.add_model("Qwen/Qwen3.7-Old", {"model.safetensors": 1}, created_at="2022-03-02T23:29:04.000Z")
    out = watcher.poll()
    assert "Qwen/Qwen3.7-Odd" in out and "Qwen/Qwen3.7-Old" in out
    assert "0 error(s)" in out and "error:" not in out


def test_repo_ids_compare_case_insensitively(watcher, hub, github):
    """Config `qwenlm/qwen3.7`, API `QwenLM/Qwen3.7`: the same repo turning public, never a ghost row."""
    watcher.config["watches"][0]["github"]["repos"] = ["qwenlm/qwen3.7"]
    watcher.config["watches"][0]["huggingface"]["repos"] = ["qwen/qwen3.7-plus"]
    watcher.poll()  # both hidden (404) under the config's spelling
    github.add_repo("QwenLM/Qwen3.7", private=False)
    hub.add_model("Qwen/Qwen3.7-Plus", {"model.safetensors": 1})
    out = watcher.poll()
    assert "New GitHub repo" not in out and "New repo" not in out
    status = watcher.watch_status()
    gh = [r for r in status["repos"] if r["source"] == "github"]
    hf = [r for r in status["repos"] if r["source"] == "huggingface"]
    assert [(r["id"], r["visible"]) for r in gh] == [("QwenLM/Qwen3.7", True)]
    assert [(r["id"], r["visible"]) for r in hf] == [("Qwen/Qwen3.7-Plus", True)]
    assert "GitHub repo is now public: QwenLM/Qwen3.7" in out and "Weights published: Qwen/Qwen3.7-Plus" in out


def test_links_are_built_from_the_configured_host_not_the_api_html_url(watcher, github):
    github.add_repo("QwenLM/Qwen3.7", private=False).html_url = "https://evil.example/phish"
    out = watcher.poll()
    assert "evil.example" not in out and f"{github.url}/QwenLM/Qwen3.7" in out


def test_listing_ids_are_validated_before_any_request_uses_them(watcher, github):
    """`QwenLM/Qwen3.7-../../../admin` in a listing must never become `/repos/admin/releases`."""
    watcher.poll()
    github.add_repo("QwenLM/Qwen3.7-x", private=False)
    repo = github.add_repo("QwenLM/Qwen3.7-y", private=False)
    repo.name = "Qwen3.7-../../../admin"  # full_name follows the name in the fake's JSON
    out = watcher.poll()
    assert "github org QwenLM: listing entry 'QwenLM/Qwen3.7-../../../admin' is not a valid repo id; ignored" in out
    assert not github.requests_to("/repos/admin") and not github.requests_to("/admin/")
    assert "QwenLM/Qwen3.7-x" in out
