"""`watcher webhooks setup|status` against the fake Hub's webhook settings API, through huggingface_hub."""

from __future__ import annotations

import json

import pytest
from webhook_helpers import SECRET

URL = "https://watcher.example.org/hooks/huggingface"
TOKEN = "hf_webhookAdminToken123"


@pytest.fixture
def env(hub):
    hub.add_org("Qwen")
    return {"HF_TOKEN": TOKEN, "WATCHER_WEBHOOK_SECRET": SECRET}


def test_setup_creates_then_updates_one_webhook_for_the_url(watcher, hub, env):
    result = watcher("webhooks", "setup", "--url", URL, env=env)
    assert result.exit_code == 0, result.output
    assert "created" in result.stdout and "watches org:Qwen" in result.stdout
    (hook,) = hub.webhooks.values()
    assert (hook["url"], hook["watched"], hook["domains"], hook["secret"]) == \
        (URL, [{"type": "org", "name": "Qwen"}], ["repo"], SECRET)
    assert hub.requests_to("/api/settings/webhooks")[0].headers["Authorization"] == f"Bearer {TOKEN}"

    hub.add_user("someone")
    second = dict(watcher.config["watches"][0], name="other", huggingface={"authors": ["someone"]})
    second.pop("github")
    watcher.config["watches"].append(second)
    hook["disabled"] = True
    rotated = {**env, "WATCHER_WEBHOOK_SECRET": "whs-rotated-secret-0001"}
    result = watcher("webhooks", "setup", "--url", URL, env=rotated)
    assert result.exit_code == 0, result.output
    assert "updated" in result.stdout
    (hook,) = hub.webhooks.values()  # still one: updated in place, enabled again, new secret
    assert hook["watched"] == [{"type": "org", "name": "Qwen"}, {"type": "user", "name": "someone"}]
    assert hook["secret"] == "whs-rotated-secret-0001" and hook["disabled"] is False
    assert "whs-rotated" not in result.output and TOKEN not in result.output


def test_status_lists_webhooks_without_secrets(watcher, hub, env):
    hub.add_webhook(URL, [{"type": "org", "name": "qwen"}], SECRET, domains=["repo"])
    hub.add_webhook("https://elsewhere.example/x\u001b[31m", [{"type": "user", "name": "someone"}], "s3cret-other")
    result = watcher("webhooks", "status", env=env)
    assert result.exit_code == 0, result.output
    assert f"enabled {URL} domains=repo watches=org:qwen" in result.stdout
    assert "\u001b" not in result.stdout and SECRET not in result.stdout and "s3cret-other" not in result.stdout
    assert "misses" not in result.stdout
    doc = json.loads(watcher("webhooks", "status", "--json", env=env).stdout)
    assert [h["url"] for h in doc] == [URL, "https://elsewhere.example/x?[31m"]
    assert all("secret" not in h for h in doc)


def test_status_names_authors_a_webhook_misses(watcher, hub, env):
    watcher.config["watches"][0]["huggingface"]["authors"] = ["Qwen", "QwenLM"]
    hub.add_webhook(URL, [{"type": "org", "name": "Qwen"}], SECRET, domains=["repo"])
    result = watcher("webhooks", "status", env=env)
    assert "misses watch author(s): qwenlm; run `watcher webhooks setup` again" in result.stdout


@pytest.mark.parametrize("change, message", [
    (dict(url="http://watcher.example.org/hooks"), "--url: 'http://watcher.example.org/hooks' is not an https:// URL"),
    (dict(url="https:///hooks"), "is not an https:// URL"),
    (dict(env={"HF_TOKEN": ""}), "HF_TOKEN is not set: managing webhooks needs a Hub token"),
    (dict(env={"WATCHER_WEBHOOK_SECRET": ""}), "webhooks: set WATCHER_WEBHOOK_SECRET"),
    (dict(scope=True), "refused to list webhooks (403): HF_TOKEN lacks the 'manage webhooks' permission"),
    (dict(bad_token=True), "refused HF_TOKEN while trying to look up the author 'Qwen' (401)"),
    (dict(unknown_author=True), "huggingface author 'Qwen' is neither a user nor an organisation on the Hub"),
])
def test_setup_errors_in_plain_words(watcher, hub, env, change, message):
    if change.get("scope"):
        hub.webhook_tokens = {"hf_someOtherToken999"}
    if change.get("bad_token"):
        hub.valid_tokens = {"hf_someOtherToken999"}
    if change.get("unknown_author"):
        hub.orgs.clear()
    result = watcher("webhooks", "setup", "--url", change.get("url", URL), env={**env, **change.get("env", {})})
    assert result.exit_code == 1
    assert result.stderr.startswith("watcher: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and TOKEN not in result.stderr
    assert hub.webhooks == {}
