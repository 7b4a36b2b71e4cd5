"""The fakes answer the REAL client libraries like the real APIs do (see /work/shared/API-NOTES.md)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import httpx2
import pytest
from github import Auth, Github, GithubException
from github.GithubException import BadCredentialsException, RateLimitExceededException, UnknownObjectException
from huggingface_hub import HfApi
from huggingface_hub.errors import DisabledRepoError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import _http as hf_http
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fakes import HUB_EPOCH, FakeGitHub, FakeHub, FakeSlack


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No developer token, token file or proxy may leak into a fake-driven test."""
    for name in ("HF_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


@pytest.fixture
def no_hf_sleep(monkeypatch):
    """huggingface_hub's list_* retries sleep 1, 2, 4... s; record the sleeps instead."""
    sleeps: list[float] = []
    monkeypatch.setattr(hf_http, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps


def gh(fake: FakeGitHub, token: str | None = "t0k", **kw) -> Github:
    return Github(base_url=fake.url, auth=Auth.Token(token) if token else None, retry=None,
                  seconds_between_requests=None, timeout=5, **kw)


# -- Hugging Face Hub -------------------------------------------------------------------------
@pytest.fixture
def qwen_hub():
    with FakeHub(page_size=2) as hub:
        for i in range(5):
            hub.add_model(f"Qwen/Qwen3.7-{i}B", {"config.json": 500, "model.safetensors": 10**9 * i},
                          created_at=f"2026-07-0{i + 1}T10:00:00Z", params=i * 10**9)
        hub.add_model("Qwen/Qwen2.5-7B", created_at=HUB_EPOCH)
        hub.add_model("Qwen/Qwen3.7-Secret", private=True)
        hub.add_model("other/qwen3.7-finetune")
        yield hub


def test_hub_list_models_paginates_with_link_and_expand(qwen_hub):
    api = HfApi(endpoint=qwen_hub.url, token=False)
    models = list(api.list_models(author="Qwen", search="qwen3.7", sort="created_at",
                                  expand=["createdAt", "sha", "gated", "safetensors"]))
    assert [m.id for m in models] == [f"Qwen/Qwen3.7-{i}B" for i in (4, 3, 2, 1, 0)]
    assert models[0].created_at.isoformat() == "2026-07-05T10:00:00+00:00"
    assert models[0].safetensors.total == 4 * 10**9 and models[0].gated is False
    assert models[0].siblings is None  # not expanded
    pages = qwen_hub.requests_to("/api/models")
    assert len(pages) == 3 and pages[0].query["expand"] == ["createdAt", "sha", "gated", "safetensors"]
    assert "cursor=" in pages[1].raw_path and pages[1].query["author"] == "Qwen"


def test_hub_list_models_full_and_limit(qwen_hub):
    api = HfApi(endpoint=qwen_hub.url, token=False)
    full = list(api.list_models(search="Qwen3.7-0", full=True))
    assert full[0].sha and [s.rfilename for s in full[0].siblings] == ["config.json", "model.safetensors"]
    assert len(list(api.list_models(author="Qwen", limit=3))) == 3
    assert qwen_hub.requests[-1].query["limit"] == "3"


def test_hub_model_info_public_gated_and_revision(qwen_hub):
    qwen_hub.add_model("Qwen/Gated", ["a.bin"], gated="manual")
    api = HfApi(endpoint=qwen_hub.url, token=False)
    info = api.model_info("qwen/qwen3.7-2b", files_metadata=True)  # lookup is case-insensitive
    assert info.id == "Qwen/Qwen3.7-2B" and info.author == "Qwen" and info.private is False
    assert info.safetensors.parameters == {"BF16": 2 * 10**9} and info.used_storage == 2 * 10**9 + 500
    assert {s.rfilename: s.size for s in info.siblings} == {"config.json": 500, "model.safetensors": 2 * 10**9}
    raw = httpx2.get(f"{qwen_hub.url}/api/models/Qwen/Qwen3.7-2B").json()
    assert raw["createdAt"] == "2026-07-03T10:00:00.000Z" and raw["lastModified"].endswith(".000Z")
    assert api.model_info("Qwen/Gated").gated == "manual"
    assert api.model_info("Qwen/Qwen3.7-2B", revision=info.sha).sha == info.sha
    assert api.model_info("Qwen/Qwen3.7-2B", expand=["createdAt"]).sha is None


@pytest.mark.parametrize("token, status", [(False, 401), ("hf_x", 404)])
@pytest.mark.parametrize("repo", ["Qwen/Missing", "Qwen/Qwen3.7-Secret"])
def test_hub_missing_or_private_is_repo_not_found(qwen_hub, token, status, repo):
    with pytest.raises(RepositoryNotFoundError) as exc:
        HfApi(endpoint=qwen_hub.url, token=token).model_info(repo)
    assert exc.value.response.status_code == status
    assert exc.value.response.headers["X-Error-Code"] == "RepoNotFound"


def test_hub_private_visible_to_token_with_access(qwen_hub):
    qwen_hub.private_access_tokens.add("hf_owner")
    assert HfApi(endpoint=qwen_hub.url, token="hf_owner").model_info("Qwen/Qwen3.7-Secret").private is True


def test_hub_disabled_and_bad_token(qwen_hub):
    qwen_hub.add_model("Qwen/Gone", disabled=True)
    with pytest.raises(DisabledRepoError) as exc:
        HfApi(endpoint=qwen_hub.url, token="hf_x").model_info("Qwen/Gone")
    assert exc.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):  # without a token it looks missing
        HfApi(endpoint=qwen_hub.url, token=False).model_info("Qwen/Gone")
    qwen_hub.valid_tokens = {"hf_good"}
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=qwen_hub.url, token="hf_bad").model_info("Qwen/Qwen3.7-1B")
    assert not isinstance(exc.value, RepositoryNotFoundError) and exc.value.response.status_code == 401


def test_hub_tree_sizes_and_set_files(qwen_hub):
    files = {"config.json": 10, "weights/a.safetensors": 100, "weights/b.safetensors": 200}
    model = qwen_hub.add_model("Qwen/Tree", files)
    api = HfApi(endpoint=qwen_hub.url, token=False)
    tree = list(api.list_repo_tree("Qwen/Tree", recursive=True))  # page_size=2: two pages
    assert {e.path: e.size for e in tree if hasattr(e, "size")} == files
    assert [e.path for e in tree if not hasattr(e, "size")] == ["weights"]
    assert len(qwen_hub.requests_to("/tree/main")) == 2
    assert sorted(e.path for e in api.list_repo_tree("Qwen/Tree")) == ["config.json", "weights"]
    old_sha, old_modified = model.sha, model.last_modified
    qwen_hub.set_files("Qwen/Tree", {"config.json": 11}, last_modified="2030-01-01T00:00:00Z")
    info = api.model_info("Qwen/Tree")
    assert info.sha != old_sha and info.last_modified > old_modified and info.siblings[0].rfilename == "config.json"


def test_hub_rate_limit_and_retries(qwen_hub, no_hf_sleep):
    qwen_hub.rate_limit_next(1, retry_after=7)
    with pytest.raises(HfHubHTTPError) as exc:  # model_info never retries
        HfApi(endpoint=qwen_hub.url, token=False).model_info("Qwen/Qwen3.7-1B")
    headers = exc.value.response.headers
    assert exc.value.response.status_code == 429 and headers["Retry-After"] == "7"
    assert headers["RateLimit"] == '"api";r=0;t=7' and "q=500;w=300" in headers["RateLimit-Policy"]
    qwen_hub.rate_limit_next(1, retry_after=3)
    qwen_hub.fail_next(1, status=503, path_contains="/api/models?")
    assert len(list(HfApi(endpoint=qwen_hub.url, token=False).list_models(author="other"))) == 1
    assert no_hf_sleep == [3 + 1, 2]  # Retry-After + 1, then the exponential backoff


def test_hub_down_and_stopped():
    hub = FakeHub().start()
    hub.add_model("a/b")
    hub.down = True
    with pytest.raises(HfHubHTTPError) as exc:
        HfApi(endpoint=hub.url, token=False).model_info("a/b")
    assert exc.value.response.status_code == 503
    hub.down = False
    url = hub.url
    hub.stop()
    with pytest.raises(httpx2.ConnectError):
        HfApi(endpoint=url, token=False).model_info("a/b")
    hub.start()  # same port again
    assert hub.url == url and HfApi(endpoint=url, token=False).model_info("a/b").id == "a/b"
    hub.stop()


# -- GitHub -----------------------------------------------------------------------------------
@pytest.fixture
def qwen_gh():
    with FakeGitHub() as fake:
        for i in range(5):
            fake.add_repo(f"QwenLM/Repo{i}", created_at=f"2026-0{i + 1}-01T00:00:00Z")
        fake.add_repo("QwenLM/Qwen3.7", private=True, description="soon")
        yield fake


def test_github_repo_public_private_and_bad_token(qwen_gh):
    repo = gh(qwen_gh).get_repo("qwenlm/repo1")
    assert repo.full_name == "QwenLM/Repo1" and repo.private is False and repo.owner.login == "QwenLM"
    assert repo.created_at.isoformat() == "2026-02-01T00:00:00+00:00" and repo.visibility == "public"
    for name in ("QwenLM/Qwen3.7", "QwenLM/Nope"):
        with pytest.raises(UnknownObjectException):
            gh(qwen_gh).get_repo(name)
    qwen_gh.valid_tokens = {"good"}
    with pytest.raises(BadCredentialsException):
        gh(qwen_gh, "bad").get_repo("QwenLM/Repo1")
    assert qwen_gh.requests[-1].headers["Authorization"] == "token bad"


def test_github_org_repos_follow_link_pages(qwen_gh):
    org = gh(qwen_gh, per_page=2).get_organization("QwenLM")
    names = [r.name for r in org.get_repos(type="public", sort="created", direction="desc")]
    assert names == ["Repo4", "Repo3", "Repo2", "Repo1", "Repo0"]  # private repo never listed
    pages = qwen_gh.requests_to("/repos")
    assert pages[0].path == "/orgs/QwenLM/repos" and pages[1].path.startswith("/organizations/")
    assert pages[-1].query["page"] == "3"
    with pytest.raises(UnknownObjectException):
        gh(qwen_gh).get_organization("NoSuchOrg")


def test_github_releases_tags_latest(qwen_gh):
    qwen_gh.add_release("QwenLM/Repo0", "v1.0", published_at="2026-06-01T00:00:00Z")
    qwen_gh.add_release("QwenLM/Repo0", "v2.0-rc", prerelease=True, published_at="2026-06-02T00:00:00Z")
    qwen_gh.add_release("QwenLM/Repo0", "v3.0", draft=True)
    qwen_gh.add_tag("QwenLM/Repo0", "v0.9")
    repo = gh(qwen_gh, per_page=1).get_repo("QwenLM/Repo0")
    assert [r.tag_name for r in repo.get_releases()] == ["v2.0-rc", "v1.0"]  # newest first, no draft
    assert qwen_gh.requests[-1].path == f"/repositories/{repo.id}/releases"  # Link, like GitHub's
    assert repo.get_latest_release().tag_name == "v1.0"
    assert [t.name for t in repo.get_tags()] == ["v0.9", "v2.0-rc", "v1.0"]
    with pytest.raises(UnknownObjectException):
        gh(qwen_gh).get_repo("QwenLM/Repo1").get_latest_release()


def test_github_etag_304_and_rate_counter(qwen_gh):
    client = gh(qwen_gh)
    repo = client.get_repo("QwenLM/Repo2")
    remaining = client.rate_limiting[0]
    assert repo.etag and repo.update() is False  # If-None-Match -> 304
    assert qwen_gh.requests[-1].headers["If-None-Match"] == repo.etag
    assert client.rate_limiting[0] == remaining == 4999  # an authorized 304 is free
    qwen_gh.add_tag("QwenLM/Repo2", "v1")  # bumps pushed_at: the body and its ETag change
    assert repo.update() is True
    anon = gh(qwen_gh, None)
    anon.get_repo("QwenLM/Repo2")
    assert anon.rate_limiting == (59, 60)


def test_github_primary_and_secondary_limits(qwen_gh):
    qwen_gh.set_rate_limit(0)  # anonymous
    with pytest.raises(RateLimitExceededException) as exc:
        gh(qwen_gh, None).get_repo("QwenLM/Repo1")
    assert exc.value.status == 403 and exc.value.headers["x-ratelimit-remaining"] == "0"
    gh(qwen_gh).get_repo("QwenLM/Repo1")  # tokens have their own quota
    qwen_gh.secondary_limit_next(1, retry_after=30)
    with pytest.raises(GithubException) as exc:
        gh(qwen_gh).get_repo("QwenLM/Repo1")
    assert exc.value.status == 403 and exc.value.headers["retry-after"] == "30"
    assert "secondary rate limit" in exc.value.data["message"]


def test_github_org_events(qwen_gh):
    qwen_gh.add_release("QwenLM/Qwen3.7", "v1")  # while private: never shown
    qwen_gh.set_private("QwenLM/Qwen3.7", False)
    qwen_gh.add_release("QwenLM/Qwen3.7", "v2")
    events = list(gh(qwen_gh).get_organization("QwenLM").get_events())
    assert [e.type for e in events[:2]] == ["ReleaseEvent", "PublicEvent"]
    assert events[0].payload["release"]["tag_name"] == "v2" and events[1].repo.name == "QwenLM/Qwen3.7"
    assert len(events) == 7  # + 5 CreateEvents of the public repos
    raw = httpx2.get(f"{qwen_gh.url}/orgs/QwenLM/events")
    assert raw.headers["X-Poll-Interval"] == "60"
    assert httpx2.get(f"{qwen_gh.url}/orgs/QwenLM/events", headers={"If-None-Match": raw.headers["ETag"]}
                      ).status_code == 304


# -- Slack ------------------------------------------------------------------------------------
def test_slack_post_update_history(slack_fake):
    client = WebClient("xoxb-1", base_url=slack_fake.url + "/api/")
    first = client.chat_postMessage(channel="#alerts", text="hello", blocks=[{"type": "divider"}])
    reply = client.chat_postMessage(channel="#alerts", text="in thread", thread_ts=first["ts"])
    assert first["ok"] and first["channel"].startswith("C") and float(reply["ts"]) > float(first["ts"])
    req = slack_fake.requests_to("chat.postMessage")[0]
    assert req.headers["Authorization"] == "Bearer xoxb-1" and req.body["text"] == "hello"
    assert slack_fake.messages[1]["thread_ts"] == first["ts"] and slack_fake.messages[0]["via"] == "api"
    client.chat_update(channel=first["channel"], ts=first["ts"], text="edited")
    assert slack_fake.updates[0]["text"] == "edited"
    history = client.conversations_history(channel="#alerts")
    assert [m["text"] for m in history["messages"]] == ["edited"]  # thread replies are not listed
    assert client.auth_test()["user_id"].startswith("U")
    form = client.api_call("chat.postMessage", params={"channel": "#alerts", "text": "form",
                                                       "blocks": json.dumps([{"type": "divider"}])})
    assert slack_fake.requests[-1].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["ok"] and slack_fake.messages[-1]["blocks"] == [{"type": "divider"}]


def test_slack_errors(slack_fake):
    client = WebClient("xoxb-1", base_url=slack_fake.url + "/api/")
    slack_fake.channels = {"#alerts"}
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#nope", text="x")
    assert exc.value.response["error"] == "channel_not_found" and exc.value.response.status_code == 200
    slack_fake.valid_tokens = {"xoxb-good"}
    for token, error in (("xoxb-1", "invalid_auth"), (None, "not_authed")):
        with pytest.raises(SlackApiError) as exc:
            WebClient(token, base_url=slack_fake.url + "/api/").chat_postMessage(channel="#alerts", text="x")
        assert exc.value.response["error"] == error
    good = WebClient("xoxb-good", base_url=slack_fake.url + "/api/")
    slack_fake.error_next(1, "is_archived")
    with pytest.raises(SlackApiError) as exc:
        good.chat_postMessage(channel="#alerts", text="x")
    assert exc.value.response["error"] == "is_archived"
    slack_fake.rate_limit_next(1, retry_after=2)
    with pytest.raises(SlackApiError) as exc:
        good.chat_postMessage(channel="#alerts", text="x")
    assert exc.value.response.status_code == 429 and exc.value.response.headers["Retry-After"] == "2"
    slack_fake.fail_next(1, status=500)
    with pytest.raises(SlackApiError) as exc:
        good.chat_postMessage(channel="#alerts", text="x")
    assert exc.value.response.status_code == 500 and "non-JSON" in exc.value.response["error"]
    with pytest.raises(SlackApiError) as exc:
        good.chat_postMessage(channel="#alerts", text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                      "text": "x" * 3001}}])
    assert exc.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as exc:
        good.api_call("chat.nope")
    assert exc.value.response["error"] == "unknown_method"
    assert good.chat_postMessage(channel="#alerts", text="finally")["ok"] and len(slack_fake.messages) == 1


def test_slack_webhook(slack_fake):
    hook = WebhookClient(slack_fake.webhook_url)
    resp = hook.send(text="hi <!here>")
    assert (resp.status_code, resp.body) == (200, "ok")
    assert slack_fake.messages[0]["via"] == "webhook" and slack_fake.messages[0]["text"] == "hi <!here>"
    slack_fake.webhook_error_next(1, 410, "channel_is_archived")
    resp = hook.send(text="x")
    assert (resp.status_code, resp.body) == (410, "channel_is_archived")
    resp = hook.send(text="")
    assert (resp.status_code, resp.body, slack_fake.requests[-1].body) == (400, "no_text", {"text": ""})
    slack_fake.revoke_webhook(slack_fake.webhook_url)
    resp = hook.send(text="x")
    assert (resp.status_code, resp.body) == (404, "no_service")


@pytest.fixture
def slack_fake():
    with FakeSlack() as fake:
        yield fake


# -- shared base ------------------------------------------------------------------------------
def test_base_fault_injection_and_log(slack_fake):
    slack_fake.latency = 0.01
    slack_fake.fail_next(2, status=502, path_contains="/services/")
    hook = WebhookClient(slack_fake.webhook_url)
    assert [hook.send(text="x").status_code for _ in range(3)] == [502, 502, 200]
    assert len(slack_fake.requests) == 3 and slack_fake.requests[0]["method"] == "POST"
    slack_fake.reset_requests()
    assert slack_fake.requests == []
