"""The Prometheus endpoint, scraped over HTTP after real cycles against the fakes."""

from __future__ import annotations

import datetime as dt
import io
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from watcher import config as config_mod
from watcher.daemon.metrics import Metrics
from watcher.engine.pipeline import run_cycle
from watcher.notify.console import ConsoleNotifier
from watcher.store.schema import open_current

NOW = dt.datetime(2026, 7, 25, 12, tzinfo=dt.timezone.utc)  # a week past the window: overdue


def scrape(port: int) -> dict[tuple, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def served(watcher):
    watcher.config["metrics"] = {"port": 0, "host": "127.0.0.1"}
    watcher.save()
    cfg = config_mod.load(str(watcher.path))
    engine = open_current(cfg.database)
    metrics = Metrics(cfg, engine, lambda: NOW)
    port = metrics.serve()
    yield cfg, engine, metrics, port
    metrics.close()


def test_metrics_after_cycles(served, hub, github):
    cfg, engine, metrics, port = served
    before = scrape(port)
    assert before[("watcher_store_up", ())] == 1
    assert before[("watcher_polls_total", (("source", "huggingface"),))] == 0
    console = [ConsoleNotifier(io.StringIO())]
    metrics.on_job("poll", run_cycle(cfg, engine, lambda: NOW, notifiers=console))
    hub.down = True
    metrics.on_job("poll", run_cycle(cfg, engine, lambda: NOW, notifiers=console))
    got = scrape(port)
    assert got[("watcher_polls_total", (("source", "huggingface"),))] == 2
    assert got[("watcher_poll_failures_total", (("source", "huggingface"),))] == 1
    assert got[("watcher_poll_failures_total", (("source", "github"),))] == 0
    assert got[("watcher_api_requests_total", (("source", "huggingface"), ("status", "503")))] >= 1
    assert got[("watcher_api_requests_total", (("source", "huggingface"), ("status", "200")))] >= 1
    assert got[("watcher_api_requests_total", (("source", "github"), ("status", "200")))] >= 1
    assert got[("watcher_api_requests_total", (("source", "github"), ("status", "404")))] >= 1  # hidden repo probe
    assert 0 < got[("watcher_github_rate_limit_remaining", ())] < 5000
    assert got[("watcher_events_total", (("kind", "watch_started"),))] == 1
    assert got[("watcher_events_total", (("kind", "overdue"),))] == 1
    assert got[("watcher_watch_state", (("state", "overdue"), ("watch", "qwen3.7")))] == 1
    assert got[("watcher_watch_state", (("state", "released"), ("watch", "qwen3.7")))] == 0
    assert got[("watcher_watch_days_overdue", (("watch", "qwen3.7"),))] == 7
    assert got[("watcher_deliveries_pending", ())] == 0 and got[("watcher_deliveries_failed", ())] == 0
    assert got[("watcher_source_last_success_timestamp_seconds", (("source", "github"), ("watch", "qwen3.7")))] == \
        NOW.timestamp()
    assert got[("watcher_source_consecutive_failures", (("source", "huggingface"), ("watch", "qwen3.7")))] == 1


def test_store_trouble_is_a_gauge_not_a_500(served, tmp_path):
    cfg, engine, metrics, port = served
    engine.dispose()
    (tmp_path / "watcher.db").write_bytes(b"garbage" * 1000)
    assert scrape(port)[("watcher_store_up", ())] == 0


def test_github_answers_counted_on_one_kept_alive_connection(served, github):
    """Metrics on must not change how PyGithub talks: 5 requests of one client share 1 TCP connection."""
    from watcher.sources.budget import Budget
    from watcher.sources.cache import HttpCache
    from watcher.sources.gh_http import GitHubHttp

    cfg, _engine, _metrics, port = served
    github.add_repo("QwenLM/Qwen3.7")
    before, counted = github.connections, _github_answers(scrape(port))
    http = GitHubHttp(cfg.github, Budget("github"), HttpCache(), 1)
    try:
        statuses = [http.get("/repos/QwenLM/Qwen3.7").fresh for _ in range(5)]
    finally:
        http.close()
    assert statuses == [True, False, False, False, False]  # one 200, then 304s from the ETag
    assert github.connections - before == 1
    got = scrape(port)
    assert _github_answers(got) - counted == 5
    assert got[("watcher_api_requests_total", (("source", "github"), ("status", "304")))] >= 4


def _github_answers(samples: dict[tuple, float]) -> float:
    return sum(v for (name, labels), v in samples.items()
               if name == "watcher_api_requests_total" and ("source", "github") in labels)


def test_oldest_pending_alert_age(served):
    """The alert rule 'an alert waits too long' needs the age of the oldest pending delivery, not a count."""
    from watcher.store.db import transaction
    from watcher.store.tables import Delivery

    cfg, engine, _metrics, port = served
    assert scrape(port)[("watcher_delivery_oldest_pending_age_seconds", ())] == 0
    with transaction(engine) as session:
        for hours, status in ((2, "pending"), (1, "pending"), (5, "delivered")):
            session.add(Delivery(watch="qwen3.7", destination="slack:#x", event_ids=[], status=status,
                                 created_at=NOW - dt.timedelta(hours=hours)))
    got = scrape(port)
    assert got[("watcher_delivery_oldest_pending_age_seconds", ())] == 7200
    assert got[("watcher_deliveries_pending", ())] == 2
