"""Sources against the fake APIs: snapshots, hidden vs error, and retries that never outlast their cap."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from fakes.server import Response
from huggingface_hub import HfApi, constants, set_client_factory
from huggingface_hub.utils._http import default_client_factory

from watcher.config import GitHubSettings, HubSettings, Watch
from watcher.sources.github import GitHubSource, web_url
from watcher.sources.hf import HubSource, search_prefix

GB = 1_000_000_000


def watch(**sources) -> Watch:
    return Watch.model_validate({"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                                 "lag_days": {"min": 1, "max": 2}, **sources})


def hub_source(hub, sleeps=None, **settings) -> HubSource:
    cfg = HubSettings(endpoint=hub.url, **{"timeout": "5s", "retries": 2, "max_retry_wait": "10s", **settings})
    return HubSource(cfg, sleep=(sleeps.append if sleeps is not None else time.sleep))


@pytest.fixture(autouse=True)
def library_client_back():
    """Tests here do not always close a HubSource; the next module must find huggingface_hub's own client."""
    yield
    set_client_factory(default_client_factory)


def renamed(hub, old: str, new: str) -> None:
    """The Hub answers a renamed repo's API URL with 307 to the new name (always, not n times)."""
    hub.inject(10**6, lambda req: Response(307, None, {"Location": f"{hub.url}/api/models/{new}"}),
               path_contains=f"/api/models/{old}")


def test_search_prefix_is_the_shared_literal_part():
    assert search_prefix(["Qwen3.7-*"]) == "Qwen3.7-"
    assert search_prefix(["Qwen3.7-*B", "qwen3.7-?B-Instruct"]) == "Qwen3.7-"
    assert search_prefix(["*-GGUF"]) == ""
    assert search_prefix(["Llama-4-*", "Qwen*"]) == ""


def test_hub_snapshot_fields(hub):
    hub.add_model("Qwen/Qwen3.7-27B", {"README.md": 5, "model-1.safetensors": 3 * GB, "model-2.safetensors": GB,
                                       "training_args.bin": 10}, params=27_000_000_000, gated="auto")
    hub.add_model("Qwen/Qwen3.7-Plus", {"README.md": 5})
    source = hub_source(hub)
    report = source.poll(watch(huggingface={"authors": ["Qwen"], "include": ["Qwen3.7-*"],
                                            "repos": ["Qwen/Qwen3.7-Plus", "Qwen/Qwen3.7-Secret"]}), {})
    source.close()
    snaps = {s.repo_id: s for s in report.repos}
    big = snaps["Qwen/Qwen3.7-27B"]
    assert big.visible and big.gated == "auto" and big.params == 27_000_000_000
    assert big.weight_files == ("model-1.safetensors", "model-2.safetensors")  # training_args.bin is not weights
    assert big.weight_bytes == 4 * GB
    assert snaps["Qwen/Qwen3.7-Plus"].visible and not snaps["Qwen/Qwen3.7-Plus"].has_weights
    secret = snaps["Qwen/Qwen3.7-Secret"]
    assert not secret.visible and secret.status == 401
    assert report.errors == []
    assert report.complete_scopes == {"hf:author:qwen", "hf:repo:qwen/qwen3.7-plus", "hf:repo:qwen/qwen3.7-secret"}
    assert report.requests == len(hub.requests)


def test_hub_sizes_are_reused_while_the_commit_does_not_move(hub):
    hub.add_model("Qwen/Qwen3.7-8B", {"model.safetensors": 16 * GB})
    spec = watch(huggingface={"authors": ["Qwen"], "include": ["Qwen3.7-*"]})
    first = hub_source(hub).poll(spec, {})
    assert len(hub.requests_to("/tree/")) == 1
    previous = {s.key: s for s in first.repos}
    again = hub_source(hub).poll(spec, previous)
    assert len(hub.requests_to("/tree/")) == 1 and again.repos[0].weight_bytes == 16 * GB
    hub.set_files("Qwen/Qwen3.7-8B", {"model.safetensors": 17 * GB})
    moved = hub_source(hub).poll(spec, previous)
    assert len(hub.requests_to("/tree/")) == 2 and moved.repos[0].weight_bytes == 17 * GB


def test_hub_disabled_repo_is_hidden(hub):
    hub.add_model("Qwen/Qwen3.7-Old", {"model.safetensors": 1}, disabled=True)
    report = hub_source(hub).poll(watch(huggingface={"repos": ["Qwen/Qwen3.7-Old"]}), {})
    assert not report.repos[0].visible


def test_hub_retry_after_beyond_cap_is_not_waited_for(hub):
    hub.rate_limit_next(5, retry_after=300)
    sleeps: list[float] = []
    report = hub_source(hub, sleeps).poll(watch(huggingface={"authors": ["Qwen"]}), {})
    assert sleeps == []  # 300 s is past max_retry_wait: report and let the next cycle try
    assert "HTTP 429 rate limited, retry after 300s" in str(report.errors[0])
    assert report.complete_scopes == set()
    assert len(hub.requests) == 1


def test_hub_transient_503_is_retried_with_bounded_backoff(hub):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.fail_next(2, status=503)
    sleeps: list[float] = []
    report = hub_source(hub, sleeps).poll(watch(huggingface={"authors": ["Qwen"]}), {})
    assert report.errors == [] and [s.repo_id for s in report.repos] == ["Qwen/Qwen3.7-1B"]
    assert sleeps == [0.5, 1.0]


def test_hub_dead_server_fails_fast(hub):
    url = hub.url
    hub.stop()
    sleeps: list[float] = []
    source = HubSource(HubSettings(endpoint=url, retries=1, max_retry_wait="1s"), sleep=sleeps.append)
    started = time.monotonic()
    report = source.poll(watch(huggingface={"authors": ["Qwen"], "repos": ["Qwen/X"]}), {})
    assert time.monotonic() - started < 30  # no real sleep (they are recorded below); margin for a loaded machine
    assert len(report.errors) == 2 and "ConnectError" in str(report.errors[0])
    assert sleeps == [0.5, 0.5]


def test_hub_client_keeps_the_library_defaults(hub):
    """Our transport under huggingface_hub's own client: its request id hook runs, redirects are followed."""
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 1})
    renamed(hub, "Qwen/Qwen3.7-Old", "Qwen/Qwen3.7-27B")
    source = hub_source(hub)
    try:
        report = source.poll(watch(huggingface={"authors": ["Qwen"], "repos": ["Qwen/Qwen3.7-Old"]}), {})
    finally:
        source.close()
    assert report.errors == []
    assert {s.repo_id for s in report.repos} == {"Qwen/Qwen3.7-27B"}  # the probe followed the rename
    ids = [r.headers.get("X-Amzn-Trace-Id") for r in hub.requests]
    assert all(ids) and len(set(ids)) == len(ids) - 1  # one per request; the redirected one keeps its id
    assert report.requests == len(hub.requests)


def test_hub_offline_mode_is_enforced(hub, monkeypatch):
    """HF_HUB_OFFLINE=1 (read by huggingface_hub at import) stops every request before it leaves: one error each."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    source = hub_source(hub)
    try:
        report = source.poll(watch(huggingface={"authors": ["Qwen"], "repos": ["Qwen/X"]}), {})
    finally:
        source.close()
    assert hub.requests == []
    assert len(report.errors) == 2 and all("offline mode is enabled" in e for e in map(str, report.errors))


def test_close_gives_huggingface_hub_its_own_client_back(hub):
    """After a cycle, other users of huggingface_hub in the process get the library's client, not a bare one."""
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 1})
    renamed(hub, "Qwen/Qwen3.7-Old", "Qwen/Qwen3.7-27B")
    hub_source(hub).close()
    info = HfApi(endpoint=hub.url, token=False).model_info("Qwen/Qwen3.7-Old")
    assert info.id == "Qwen/Qwen3.7-27B"
    assert hub.requests[-1].headers.get("X-Amzn-Trace-Id")


def gh_source(github, **settings) -> GitHubSource:
    return GitHubSource(GitHubSettings(api_url=github.url, **{"timeout": "5s", "retries": 1,
                                                                "max_retry_wait": "0s", **settings}))


def test_github_hidden_public_and_releases(github):
    github.add_repo("QwenLM/Qwen3.7-Public", created_at=dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc))
    github.add_release("QwenLM/Qwen3.7-Public", "v1.0")
    github.add_tag("QwenLM/Qwen3.7-Public", "v0.9")
    github.add_repo("QwenLM/Qwen3.7", private=True)
    report = gh_source(github).poll(watch(github={"repos": ["QwenLM/Qwen3.7", "QwenLM/Qwen3.7-Public"]}), {})
    snaps = {s.repo_id: s for s in report.repos}
    assert not snaps["QwenLM/Qwen3.7"].visible and snaps["QwenLM/Qwen3.7"].status == 404
    public = snaps["QwenLM/Qwen3.7-Public"]
    assert public.visible and public.releases == ("v1.0",) and set(public.tags) == {"v1.0", "v0.9"}
    assert public.created_at.startswith("2026-07-01")
    assert report.errors == []
    assert report.requests == len(github.requests) == 4  # two probes, releases and tags of the public one


def test_github_secondary_limit_and_outage_do_not_hang(github):
    github.secondary_limit_next(10, retry_after=3600)
    started = time.monotonic()
    report = gh_source(github).poll(watch(github={"repos": ["QwenLM/Qwen3.7"]}), {})
    assert time.monotonic() - started < 30  # waiting as asked would take an hour; margin for a loaded machine
    assert report.repos == [] and "github QwenLM/Qwen3.7:" in str(report.errors[0])
    github.down = True
    report = gh_source(github).poll(watch(github={"repos": ["QwenLM/Qwen3.7"]}), {})
    assert report.repos == [] and report.errors


@pytest.mark.parametrize(("api", "web"), [("https://api.github.com", "https://github.com"),
                                          ("https://ghe.corp/api/v3", "https://ghe.corp")])
def test_web_url(api, web):
    assert web_url(api) == web


def test_github_token_from_gh_token_as_gh_cli_users_set_it(github, monkeypatch):
    """GH_TOKEN works when GITHUB_TOKEN is absent; GITHUB_TOKEN wins when both are set; both are redacted."""
    from watcher.redact import redact

    github.add_repo("QwenLM/Qwen3.7")
    spec = watch(github={"repos": ["QwenLM/Qwen3.7"]})
    monkeypatch.setenv("GH_TOKEN", "ghcli_token_0001")
    gh_source(github).poll(spec, {})
    assert github.requests[-1].bearer_token() == "ghcli_token_0001"
    monkeypatch.setenv("GITHUB_TOKEN", "gha_token_0002")
    gh_source(github).poll(spec, {})
    assert github.requests[-1].bearer_token() == "gha_token_0002"
    assert redact("x ghcli_token_0001 y") == "x <GH_TOKEN> y"


def test_github_default_concurrency_is_below_the_hubs():
    assert GitHubSettings().concurrency < HubSettings().concurrency


def test_user_agents_name_the_distribution(hub, github):
    """API operators see which project calls them (the index name, not the generic `watcher`)."""
    from watcher import __version__

    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    github.add_repo("QwenLM/Qwen3.7")
    source = hub_source(hub)
    try:
        source.poll(watch(huggingface={"authors": ["Qwen"], "repos": ["Qwen/Qwen3.7-1B"]}), {})
    finally:
        source.close()
    gh_source(github).poll(watch(github={"repos": ["QwenLM/Qwen3.7"]}), {})
    agents = {r.headers.get("User-Agent") for r in hub.requests} | {github.requests[-1].headers.get("User-Agent")}
    assert all(a and a.startswith(f"openweights-watcher/{__version__}") for a in agents), agents


def test_only_an_https_endpoint_loads_the_ca_bundle():
    """An http:// mirror never does TLS (other origins are refused), so its process skips the bundle's ~0.06 s;
    the context it gets instead trusts no certificate, so a handshake could only fail."""
    import ssl

    import httpx2

    from watcher.sources.hf import _tls_context, _tls_for

    plain = _tls_for(httpx2.URL("http://127.0.0.1:8080/"))
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.cert_store_stats()["x509_ca"] == 0
    assert _tls_for(httpx2.URL("https://huggingface.co/")) is _tls_context()  # httpx's default: the system's CAs
