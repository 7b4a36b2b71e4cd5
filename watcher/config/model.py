"""The pydantic models of config.yaml: unknown keys are errors and every value is checked, so a typo
fails loudly before any work is done. Data only: consumers (forecast, sources, notify) read it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from watcher.config.values import Date, Duration, Wait, parse_duration
from watcher.models import EventKind


def _non_empty_patterns(values: list[str]) -> list[str]:
    for value in values:
        if not value or not value.strip():
            raise ValueError("patterns must be non-empty strings")
    return [v.strip() for v in values]


def _repo_ids(values: list[str]) -> list[str]:
    for value in values:
        owner, _, name = value.strip().partition("/")
        if not owner or not name or "/" in name or " " in value.strip():
            raise ValueError(f"{value!r} is not an owner/name repository id")
    return [v.strip() for v in values]


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt `incldue` must not silently watch nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Flagship(Strict):
    name: str = Field(min_length=1)
    released: Date


class LagDays(Strict):
    min: int = Field(ge=-3650, le=3650)  # ten years either way: beyond that a date overflows, not a lag
    max: int = Field(ge=-3650, le=3650)

    @model_validator(mode="after")
    def _ordered(self) -> LagDays:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is smaller than min ({self.min})")
        return self


class HubWatch(Strict):
    authors: list[str] = []
    include: list[str] = ["*"]
    exclude: list[str] = []
    repos: list[str] = []

    _patterns = field_validator("include", "exclude")(_non_empty_patterns)
    _ids = field_validator("repos")(_repo_ids)

    @field_validator("authors")
    @classmethod
    def _authors(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or "/" in value:
                raise ValueError(f"{value!r} is not a Hub user or organisation name")
        return [v.strip() for v in values]

    @model_validator(mode="after")
    def _something(self) -> HubWatch:
        if not self.include:
            raise ValueError("include needs at least one pattern")
        return self


class GitHubWatch(Strict):
    repos: list[str] = []
    orgs: list[str] = []
    include: list[str] = ["*"]
    exclude: list[str] = []

    _patterns = field_validator("include", "exclude")(_non_empty_patterns)
    _ids = field_validator("repos")(_repo_ids)


class OpenWeight(Strict):
    repo: str = Field(min_length=1)
    released: Date

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        return _repo_ids([value])[0]


class Generation(Strict):
    """One generation of a model family: when its flagship and its open weights came out, and where that is written."""

    generation: str = Field(min_length=1)
    flagship: Flagship | None = None
    open_weights: list[OpenWeight] = []
    source: list[str] = []
    observed: bool = False  # entered by the watcher from what it saw (`watcher cadence --export` prints it)

    @field_validator("source", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            return values  # pydantic names the wrong type
        for url in values:
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return values

    @model_validator(mode="after")
    def _dated(self) -> Generation:
        if self.flagship is None and not self.open_weights:
            raise ValueError(f"generation {self.generation!r} needs a flagship or open_weights")
        return self


class Percentiles(Strict):
    """Which part of the history's lags makes the window; 0..100 is min..max."""

    low: float = Field(default=0, ge=0, le=100)
    high: float = Field(default=100, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Percentiles:
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) is smaller than low ({self.low:g})")
        return self


class Cadence(Strict):
    """A family's release history; a watch that names it gets its window from these lags."""

    basis: Literal["auto", "flagship", "previous_open_weights", "per_variant"] = "auto"
    percentiles: Percentiles = Percentiles()
    tolerance_days: int | None = Field(default=None, ge=0, le=365)  # +- days around a single interval (per_variant)
    history: list[Generation] = Field(min_length=1)

    @model_validator(mode="after")
    def _usable(self) -> Cadence:
        names = [g.generation for g in self.history]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"generation {name!r} is listed twice")
        with_weights = [g for g in self.history if g.open_weights]
        if self.basis == "flagship" and not any(g.flagship for g in with_weights):
            raise ValueError("basis flagship needs a generation with both a flagship and open_weights")
        if self.basis == "previous_open_weights" and len(with_weights) < 2:
            raise ValueError("basis previous_open_weights needs two generations with open_weights")
        return self


class WatchNotify(Strict):
    """Cadence alerts of one watch: the window opening, and how often to remind while overdue (never/0 = no reminders)."""

    window_opened: bool = True
    remind_every: Wait = dt.timedelta(days=7)

    @field_validator("remind_every", mode="before")
    @classmethod
    def _never(cls, value: Any) -> Any:
        return 0 if value is False or str(value).strip().lower() in ("never", "off", "0") else value


class Watch(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a 200-wide column
    title: str = ""
    flagship: Flagship
    lag_days: LagDays | None = None  # explicit window; wins over the cadence's
    cadence: str | None = None  # name of a `cadences:` entry
    variants: list[str] = []  # expected variants ("27B", "35B-A3B"); default: the latest generation's
    notify: WatchNotify = WatchNotify()
    huggingface: HubWatch | None = None
    github: GitHubWatch | None = None
    poll_interval: Duration | None = None  # overrides schedule.poll_interval for this watch

    @model_validator(mode="after")
    def _has_source(self) -> Watch:
        hub, gh = self.huggingface, self.github
        if not (hub and (hub.authors or hub.repos)) and not (gh and (gh.repos or gh.orgs)):
            raise ValueError("a watch needs huggingface authors/repos or github repos/orgs")
        if self.lag_days is None and self.cadence is None:
            raise ValueError("a watch needs lag_days or a cadence to know when to expect open weights")
        return self

    @field_validator("variants")
    @classmethod
    def _variants(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$", value.strip()):
                raise ValueError(f"{value!r} is not a variant name such as 27B or 35B-A3B")
        seen = [v.strip().lower() for v in values]
        for value in values:  # a second 27B would be a variant that never lands: late forever
            if seen.count(value.strip().lower()) > 1:
                raise ValueError(f"{value.strip()!r} is listed twice")
        return [v.strip() for v in values]

    @property
    def display_title(self) -> str:
        return self.title or self.name


class ApiSettings(Strict):
    """Shared by the HTTP APIs: every call has a timeout and a bounded retry, so no cycle can hang."""

    timeout: Duration = dt.timedelta(seconds=20)
    retries: int = Field(default=2, ge=0, le=10)
    max_retry_wait: Wait = dt.timedelta(seconds=30)

    @field_validator("endpoint", "api_url", check_fields=False)
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value or ""):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


class SourceSettings(ApiSettings):
    """A polled API: besides each request's bound, all of one cycle's work for it ends by `max_poll_time`."""

    concurrency: int = Field(default=8, ge=1, le=32)  # requests in flight to this host at once
    max_poll_time: Duration = dt.timedelta(minutes=5)  # see docs/hostile-data.md, "A cycle ends"


class HubSettings(SourceSettings):
    endpoint: str = "https://huggingface.co"


class GitHubSettings(SourceSettings):
    api_url: str = "https://api.github.com"
    # Lower than the Hub's on purpose: GitHub's REST guidance is to make one account's requests serially
    # (concurrent ones trip the secondary rate limit). 2 lets one slow answer overlap with the next; most
    # of a quiet cycle is free 304s, so throughput hardly needs more. Raise it knowingly.
    concurrency: int = Field(default=2, ge=1, le=32)  # requests in flight to this host at once


def _event_kinds(values: list[str] | None) -> list[str] | None:
    """Route filters name event kinds; a typo would silently route nothing, so unknown kinds are errors."""
    if values is None:
        return None
    known = {kind.value for kind in EventKind}
    for value in values:
        if value not in known:
            raise ValueError(f"{value!r} is not an event kind (one of: {', '.join(sorted(known))})")
    return list(values)


class SlackRoute(Strict):
    """One channel and the event kinds it gets (all of them when `events` is left out)."""

    channel: str = Field(min_length=1, max_length=100)  # Slack allows 80; "slack:<channel>" fits its column
    events: list[str] | None = None
    webhook_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    _kinds = field_validator("events")(_event_kinds)

    def accepts(self, kind: str) -> bool:
        return self.events is None or kind in self.events


class SlackSettings(ApiSettings):
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    routes: list[SlackRoute] = []
    api_url: str = "https://slack.com/api/"
    max_age: Duration = dt.timedelta(days=7)
    max_delivery_time: Duration = dt.timedelta(seconds=60)

    @model_validator(mode="after")
    def _one_way(self) -> SlackSettings:
        if self.channel and self.routes:
            raise ValueError("use either channel (one route) or routes, not both")
        if not self.channel and not self.routes:
            raise ValueError("needs a channel or at least one route")
        channels = [r.channel.lstrip("#").lower() for r in self.routes]
        if len(set(channels)) != len(channels):
            raise ValueError("a channel appears in two routes; merge their events")
        return self

    def all_routes(self) -> list[SlackRoute]:
        """`channel: X` is shorthand for one route that gets every event."""
        return list(self.routes) if self.routes else [SlackRoute(channel=self.channel)]


def _jitter(value: Any) -> Any:
    """'10%' of the interval, or a duration ('90s'); 0 turns jitter off."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            percent = float(value.strip()[:-1])
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage such as 10%") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"{value!r} must be between 0% and 100%")
        return f"{percent:g}%"
    return parse_duration(value, allow_zero=True)


class Schedule(Strict):
    poll_interval: Duration = dt.timedelta(minutes=15)
    jitter: Annotated[str | dt.timedelta, BeforeValidator(_jitter)] = "10%"
    deliver_interval: Duration = dt.timedelta(seconds=30)
    cadence_interval: Duration = dt.timedelta(hours=1)
    run_at_start: bool = True
    shutdown_timeout: Wait = dt.timedelta(seconds=20)
    startup_grace: Wait = dt.timedelta(minutes=5)
    alert_after_failures: int = Field(default=3, ge=1)

    def jitter_for(self, interval: dt.timedelta) -> dt.timedelta:
        """Spread polls so many watchers (or watches) do not hit an API at the same second."""
        if isinstance(self.jitter, str):
            return interval * (float(self.jitter[:-1]) / 100)
        return self.jitter


def _at_least_a_day(value: dt.timedelta) -> dt.timedelta:
    if value < dt.timedelta(days=1):
        raise ValueError("must be at least 1d (status reads the last day of poll records)")
    return value


class Retention(Strict):
    """How long history is kept. Events (the dedup memory and the cadence history) are always kept."""

    poll_runs: Annotated[Duration, AfterValidator(_at_least_a_day)] = dt.timedelta(days=30)
    delivered_alerts: Annotated[Duration, AfterValidator(_at_least_a_day)] = dt.timedelta(days=180)


class Metrics(Strict):
    port: int = Field(default=9108, ge=0, le=65535)  # 0: any free port
    host: str = "0.0.0.0"


class Webhooks(Strict):
    """The Hub webhook receiver inside `watcher run`; its secret comes from WATCHER_WEBHOOK_SECRET only."""

    host: str = Field(default="0.0.0.0", min_length=1)
    port: int = Field(default=9109, ge=0, le=65535)  # 0: any free port
    path: str = Field(default="/hooks/huggingface", pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=200)


class Config(Strict):
    database: str = "sqlite:///watcher.db"
    huggingface: HubSettings = HubSettings()
    github: GitHubSettings = GitHubSettings()
    slack: SlackSettings | None = None
    schedule: Schedule = Schedule()
    cadences: dict[str, Cadence] = {}
    metrics: Metrics | None = None
    webhooks: Webhooks | None = None  # absent: no receiver, polling only
    retention: Retention = Retention()
    watches: list[Watch] = Field(min_length=1)
    source_path: str = Field(default="", exclude=True)

    @field_validator("database", mode="after")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"{value!r} is not a database URL such as sqlite:///watcher.db")
        try:
            urlsplit(value).port  # noqa: B018 - parsing is the check; the URL itself is not echoed (password)
        except ValueError:
            raise ValueError("the port of the database URL is not a number") from None
        return value

    @field_validator("cadences")
    @classmethod
    def _cadence_names(cls, value: dict[str, Cadence]) -> dict[str, Cadence]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
                raise ValueError(f"{name!r} is not a cadence name (letters, digits, . _ -)")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for watch in self.watches:
            if watch.name in seen:
                raise ValueError(f"watch name {watch.name!r} is used twice")
            seen.add(watch.name)
        return self

    def watch(self, name: str) -> Watch:
        for watch in self.watches:
            if watch.name == name:
                return watch
        raise KeyError(name)
