"""Optional Prometheus endpoint (`metrics: {port: 9108}`).

Counters (polls, failures, API requests, events) count what this process did since it started, as
Prometheus expects; gauges about stored state (deliveries, watch states, last success) are read from
the database at scrape time, so they are right even just after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select

from watcher import telemetry
from watcher.config import Config
from watcher.daemon.webhooks import REASONS
from watcher.engine.pipeline import Clock, CycleResult, utcnow
from watcher.models import DeliveryState, Source, WatchState
from watcher.sources import SOURCES
from watcher.store.tables import Delivery

log = logging.getLogger(__name__)


class StoreCollector:
    """Gauges computed from the database on every scrape (the same numbers `watcher status` shows)."""

    def __init__(self, config: Config, engine: Engine, clock: Clock) -> None:
        self.config, self.engine, self.clock = config, engine, clock

    def collect(self):
        from watcher.engine import source_health, status
        from watcher.store.db import transaction

        up = GaugeMetricFamily("watcher_store_up", "1 when the database could be read for this scrape")
        try:
            doc = status.build(self.config, self.engine, self.clock())
            with transaction(self.engine) as session:
                health = [(r.watch, r.source, r.last_success_at, r.consecutive_failures)
                          for r in source_health.rows(session)]
                oldest = session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status == DeliveryState.PENDING))
        except Exception as exc:  # noqa: BLE001 - a scrape reports the failure instead of a 500
            log.warning("metrics: cannot read the database: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _gauge("watcher_deliveries_pending", "Alerts waiting in the outbox", [], [([], doc["pending_alerts"])])
        yield _gauge("watcher_deliveries_failed", "Alerts that failed permanently", [],
                     [([], doc.get("failed_alerts", 0))])
        age = (self.clock() - oldest).total_seconds() if oldest is not None else 0
        yield _gauge("watcher_delivery_oldest_pending_age_seconds",
                     "Age of the oldest alert still waiting in the outbox (0 when none waits)", [], [([], max(0.0, age))])
        yield _gauge("watcher_watch_state", "1 for the watch's current state", ["watch", "state"],
                     [([w["name"], s.value], 1 if w["state"] == s.value else 0)
                      for w in doc["watches"] for s in WatchState])
        yield _gauge("watcher_watch_days_overdue", "Days past the expected window (0 when not overdue)", ["watch"],
                     [([w["name"]], w["days_overdue"] or 0) for w in doc["watches"]])
        yield _gauge("watcher_source_last_success_timestamp_seconds", "Last poll of a source without errors",
                     ["watch", "source"], [([w, s], t.timestamp()) for w, s, t, _ in health if t])
        yield _gauge("watcher_source_consecutive_failures", "Failed polls in a row", ["watch", "source"],
                     [([w, s], n) for w, s, _, n in health])


def _gauge(name: str, doc: str, labels: list[str], samples) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


class Metrics:
    """The registry and the hooks that feed it; `serve()` starts the HTTP endpoint."""

    def __init__(self, config: Config, engine: Engine, clock: Clock = utcnow,
                 registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter("watcher_polls", "Polls of a source for one watch", ["source"], registry=r)
        self.failures = Counter("watcher_poll_failures", "Polls of a source that reported errors", ["source"], registry=r)
        self.requests = Counter("watcher_api_requests", "HTTP requests to an API by status", ["source", "status"],
                                registry=r)
        self.rate_limit = Gauge("watcher_github_rate_limit_remaining", "X-RateLimit-Remaining of the last GitHub answer",
                                registry=r)
        self.events = Counter("watcher_events", "Events detected by this process", ["kind"], registry=r)
        self.cycle_seconds = Gauge("watcher_last_cycle_seconds", "Duration of the last poll cycle", registry=r)
        self.webhooks_received = Counter("watcher_webhooks_received", "Requests to the webhook receiver", registry=r)
        self.webhooks_accepted = Counter("watcher_webhooks_accepted", "Webhooks with the right secret and a Hub payload",
                                         ["outcome"], registry=r)  # queued (a watch covers the repo) or ignored
        self.webhooks_rejected = Counter("watcher_webhooks_rejected", "Webhook requests refused", ["reason"], registry=r)
        self.detection = Histogram("watcher_webhook_detection_seconds",
                                   "From a webhook's arrival to the end of the poll that delivered its alerts",
                                   buckets=(0.5, 1, 2, 3, 5, 10, 30, 60, 300), registry=r)
        for source in SOURCES:  # series exist at 0 from the start, so rate() and alerts work at once
            self.polls.labels(source)
            self.failures.labels(source)
        for outcome in ("queued", "ignored"):
            self.webhooks_accepted.labels(outcome)
        for reason in REASONS:
            self.webhooks_rejected.labels(reason)
        r.register(StoreCollector(config, engine, clock))
        self.server: Any = None

    def on_webhook(self, outcome: str, detail: str, seconds: float | None) -> None:
        """telemetry.webhook listener: the receiver's verdicts and the detections they led to."""
        if outcome == "detected" and seconds is not None:
            self.detection.observe(seconds)
            return
        self.webhooks_received.inc()
        if outcome == "accepted":
            self.webhooks_accepted.labels(detail).inc()
        else:
            self.webhooks_rejected.labels(detail).inc()

    def on_job(self, job: str, outcome: object) -> None:
        """Daemon listener: every finished job's CycleResult."""
        if not isinstance(outcome, CycleResult):
            return
        for item in outcome.health:
            self.polls.labels(item.source).inc()
            if not item.ok:
                self.failures.labels(item.source).inc()
        for event in outcome.events:
            self.events.labels(event.kind.value).inc()
        if job.startswith("poll"):
            self.cycle_seconds.set(outcome.seconds)

    def on_response(self, source: str, status: str, headers: Mapping[str, str]) -> None:
        self.requests.labels(source, status).inc()
        remaining = headers.get("x-ratelimit-remaining") or headers.get("X-RateLimit-Remaining")
        if source == Source.GITHUB and remaining is not None:
            try:
                self.rate_limit.set(float(remaining))
            except ValueError:
                pass

    def serve(self) -> int:
        """Listen on metrics.host:port; return the port (0 in the config picks a free one, for tests)."""
        settings = self.config.metrics
        telemetry.subscribe(self.on_response)
        telemetry.subscribe_webhooks(self.on_webhook)
        self.server, _thread = start_http_server(settings.port, addr=settings.host, registry=self.registry)
        port = self.server.server_address[1]
        log.info("metrics on http://%s:%d/metrics", settings.host, port)
        return port

    def close(self) -> None:
        telemetry.unsubscribe(self.on_response)
        telemetry.unsubscribe_webhooks(self.on_webhook)
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

