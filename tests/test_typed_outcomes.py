"""Typed outcomes: source problems, delivery states, claims and the notifier base, against the fakes."""

from __future__ import annotations

import json
import re
import threading

import pytest
import yaml
from fakes.server import Response
from helpers import base_config
from slack_sdk.webhook import WebhookClient
from test_faults import GH_WATCH, HUB_WATCH, gh_poll, hang, hub_poll

from watcher import config as config_mod
from watcher.engine import delivery as outbox
from watcher.engine.pipeline import run_cycle, utcnow
from watcher.engine.polling import fetch
from watcher.models import DeliveryState, Reason, RepoSnapshot, Source, SourceProblem, has_open_weights, released
from watcher.notify.base import DeliveryError, Notifier
from watcher.notify.render import Message, plain_text
from watcher.store import outbox as store_outbox
from watcher.store.db import transaction
from watcher.store.schema import open_current
from watcher.store.tables import Delivery

# What source_health parsed the repo out of error lines with before problems were typed.
OLD_REPO_PATTERN = re.compile(r"^(?:huggingface|github) (?:author |org )?([\w.-]+(?:/[\w.-]+)?)")


def old_line(source: str, scope: str, repo: str | None, message: str) -> str:
    """The error lines as the sources wrote them before (one f-string per call site)."""
    if repo is None:
        return f"{source}: {message}"
    return {"author": f"{source} author {repo}: {message}", "org": f"{source} org {repo}: {message}",
            "repo": f"{source} {repo}: {message}"}.get(scope, f"{source} {repo} {scope}: {message}")


@pytest.mark.parametrize("scope, repo", [("author", "Qwen"), ("org", "QwenLM"), ("repo", "QwenLM/Qwen3.7"),
                                         ("file sizes", "Qwen/Qwen3.7-1B"), ("releases", "QwenLM/Qwen3.7"),
                                         ("", None)])
@pytest.mark.parametrize("reason", list(Reason))
def test_problem_str_is_the_old_line_and_its_repo_what_the_old_regex_found(scope, repo, reason):
    problem = SourceProblem("github", scope, repo, reason, "401 Bad credentials")
    line = str(problem)
    assert line == old_line("github", scope, repo, "401 Bad credentials")
    match = OLD_REPO_PATTERN.match(line)
    assert (match.group(1) if match else None) == problem.repo
    assert json.loads(json.dumps(reason)) == reason.value  # stored and labelled as its plain value


HUB_FAULTS = {
    Reason.AUTH: lambda hub: hub.fail_next(50, status=401, body={"error": "Invalid credentials in Authorization header"}),
    Reason.NOT_FOUND: lambda hub: hub.fail_next(50, status=404, body={"error": "Not Found"}),
    Reason.RATE_LIMITED: lambda hub: hub.rate_limit_next(50, retry_after=300),
    Reason.SERVER: lambda hub: hub.fail_next(50, status=503),
    Reason.INVALID_RESPONSE: lambda hub: hub.inject(50, lambda r: Response(200, '{"id": "Qwen/Qw')),
    Reason.NETWORK: lambda hub: hub.stop(),
}
GITHUB_FAULTS = {
    Reason.AUTH: lambda gh: gh.fail_next(50, status=401, body={"message": "Bad credentials"}),
    Reason.NOT_FOUND: lambda gh: gh.fail_next(50, status=404, body={"message": "Not Found"}),
    Reason.RATE_LIMITED: lambda gh: gh.secondary_limit_next(50, retry_after=900),
    Reason.SERVER: lambda gh: gh.fail_next(50, status=502),
    Reason.INVALID_RESPONSE: lambda gh: gh.inject(50, lambda r: Response(200, {"unexpected": [1, 2, 3]})),
    Reason.NETWORK: lambda gh: gh.stop(),
}


@pytest.mark.parametrize("reason", sorted(HUB_FAULTS))
def test_hub_fault_is_filed_under_its_reason(hub, reason):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    HUB_FAULTS[reason](hub)
    [problem] = hub_poll(hub).errors
    assert (problem.source, problem.scope, problem.repo, problem.reason) == ("huggingface", "author", "Qwen", reason)
    assert str(problem) == f"huggingface author Qwen: {problem.message}"


@pytest.mark.parametrize("reason", sorted(GITHUB_FAULTS))
def test_github_fault_is_filed_under_its_reason(github, reason):
    github.add_repo("QwenLM/Qwen3.7")
    GITHUB_FAULTS[reason](github)
    problem = gh_poll(github).errors[0]
    assert (problem.source, problem.scope, problem.repo, problem.reason) == ("github", "org", "QwenLM", reason)
    assert str(problem) == f"github org QwenLM: {problem.message}"


@pytest.mark.slow
def test_no_answer_in_time_is_a_timeout_for_both_sources(hub, github):
    github.add_repo("QwenLM/Qwen3.7")
    hub.inject(50, hang(3))
    github.inject(50, hang(3))
    assert [p.reason for p in hub_poll(hub).errors] == [Reason.TIMEOUT]
    assert {p.reason for p in gh_poll(github).errors} == {Reason.TIMEOUT}


def test_named_repo_problem_names_the_repo(github):
    github.fail_next(50, status=401, body={"message": "Bad credentials"})
    watch = GH_WATCH.model_copy(update={"github": GH_WATCH.github.model_copy(update={"orgs": [],
                                                                                     "repos": ["QwenLM/Qwen3.7"]})})
    from watcher.config import GitHubSettings
    from watcher.sources.github import GitHubSource

    source = GitHubSource(GitHubSettings(api_url=github.url, retries=0, max_retry_wait="0s"))
    try:
        [problem] = source.poll(watch, {}).errors
    finally:
        source.close()
    assert (problem.scope, problem.repo, problem.reason) == ("repo", "QwenLM/Qwen3.7", Reason.AUTH)
    assert str(problem) == "github QwenLM/Qwen3.7: 401 Bad credentials"


class Broken:
    name = Source.HUGGINGFACE.value

    def poll(self, watch, previous):
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def test_crashing_source_is_a_crashed_problem_with_the_old_line():
    [report] = fetch(HUB_WATCH, {"huggingface": Broken()}, {})
    [problem] = report.errors
    assert problem.reason is Reason.CRASHED and problem.repo is None
    assert str(problem) == "huggingface: unexpected RuntimeError: boom"


def test_released_is_a_hub_repo_with_weights_only():
    hub = RepoSnapshot("huggingface", "Qwen/Qwen3.7-1B", "s", visible=True, weight_count=1)
    hidden = RepoSnapshot("huggingface", "Qwen/Qwen3.7-2B", "s", visible=False, weight_count=1)
    code = RepoSnapshot("github", "QwenLM/Qwen3.7", "s", visible=True, weight_count=1)
    assert has_open_weights(hub) and not has_open_weights(hidden) and not has_open_weights(code)
    assert released([code, hub]) and not released([code, hidden]) and not released([])


# -- the outbox: states, claims, a notifier with only `send` ------------------------------------
@pytest.fixture
def engine(tmp_path):
    return open_current(f"sqlite:///{tmp_path / 'w.db'}")


def add_delivery(engine, status=DeliveryState.PENDING) -> int:
    with transaction(engine) as session:
        row = Delivery(watch="w", destination="console", event_ids=[], status=status,
                       created_at=utcnow())
        session.add(row)
        session.flush()
        return row.id


def test_delivery_states_are_the_stored_strings(engine):
    ids = {state: add_delivery(engine, state) for state in DeliveryState}
    with transaction(engine) as session:
        stored = {d.id: d.status for d in session.query(Delivery)}
    assert {stored[i] for i in ids.values()} == {"pending", "delivered", "failed"}
    assert all(type(stored[i]) is str and stored[i] == state for state, i in ids.items())


def test_claim_leases_pending_rows_and_is_busy_while_another_sender_holds_them(engine):
    pending, done = add_delivery(engine), add_delivery(engine, DeliveryState.DELIVERED)
    with transaction(engine) as session:
        mine = store_outbox.claim(session, [pending, done])
    assert mine == store_outbox.Claim((pending,)) and not mine.busy
    other: list[store_outbox.Claim] = []

    def claim_elsewhere() -> None:  # another thread is another sender (owner() includes the thread)
        with transaction(engine) as session:
            other.append(store_outbox.claim(session, [pending]))

    thread = threading.Thread(target=claim_elsewhere)
    thread.start()
    thread.join()
    assert other == [store_outbox.Claim(busy=True)]
    with transaction(engine) as session:
        store_outbox.release(session, [pending])
        assert store_outbox.claim(session, [done]) == store_outbox.Claim()


class WebhookOnly(Notifier):
    """A new channel written against the base: `send` and nothing else."""

    def __init__(self, url: str) -> None:
        self.destination = "webhook:test"
        self.client = WebhookClient(url, timeout=5)

    def send(self, message: Message) -> str | None:
        response = self.client.send(text=plain_text(message))
        if response.status_code != 200 or response.body != "ok":
            raise DeliveryError(f"webhook answered {response.status_code} {response.body}")
        return None


def test_notifier_with_only_send_is_delivered_through_the_outbox(hub, github, slack, tmp_path):
    github.add_org("QwenLM")
    cfg = base_config(hub.url, github.url, tmp_path / "w.db")
    config = config_mod.parse(yaml.safe_dump(cfg), "test")
    engine = open_current(config.database)
    notifier = WebhookOnly(slack.webhook_url)
    first = run_cycle(config, engine, notifiers=[notifier])
    assert first.delivered == 1 and first.pending == 0 and len(slack.messages) == 1
    assert "watching started" in slack.messages[0]["text"].lower()
    slack.webhook_error_next(1, status=500)
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 10})
    failing = run_cycle(config, engine, notifiers=[notifier])
    assert failing.delivered == 0 and failing.pending == 1 and len(slack.messages) == 1
    again = outbox.deliver(config, engine, [notifier], utcnow)
    assert again.delivered == 1 and len(slack.messages) == 2 and "Qwen/Qwen3.7-1B" in slack.messages[1]["text"]
    with transaction(engine) as session:
        assert {d.status for d in session.query(Delivery)} == {DeliveryState.DELIVERED}


# -- imports point one way inside sources/ and notify/ -------------------------------------------
def _imports(package: str) -> dict[str, set[str]]:
    """module -> the modules of `package` it imports (inside functions too), by walking the source."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "watcher" / package
    names = {f"watcher.{package}" if p.stem == "__init__" else f"watcher.{package}.{p.stem}": p
             for p in root.glob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module in names:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    graph[name].add(sub if sub in names else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in names)
        graph[name].discard(name)
    return graph


@pytest.mark.parametrize("package", ["sources", "notify"])
def test_implementations_never_import_their_registry(package):
    graph = _imports(package)
    registry = f"watcher.{package}"
    assert f"watcher.{package}.base" in graph
    importers = {name for name, targets in graph.items() if registry in targets}
    assert importers == set(), f"{sorted(importers)} import the registry {registry}; import {registry}.base instead"
