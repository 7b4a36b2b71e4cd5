"""Plain data passed between the pipeline's steps; no I/O here so every step stays testable alone."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

WEIGHT_SUFFIXES = (
    ".safetensors",
    ".gguf",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".npz",
    ".mlx",
    ".h5",
    ".msgpack",
    ".onnx",
    ".pdparams",
)
# Files ending in .bin that are not model weights (tokenizers, optimizer state, training args).
_NOT_WEIGHTS = ("training_args.bin", "optimizer.bin", "scheduler.bin", "rng_state.bin", "tokenizer.bin")


MAX_FILES_KEPT = 100
MAX_ID_LENGTH = 300  # Hub and GitHub names are far shorter; longer is a broken or hostile answer


def is_weight_file(path: str) -> bool:
    """True for files that carry model weights, so a placeholder repo (README, config) is not a release."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in _NOT_WEIGHTS or name.startswith(("optimizer", "rng_state")):
        return False
    return name.endswith(WEIGHT_SUFFIXES)


class Source(enum.StrEnum):
    HUGGINGFACE = "huggingface"
    GITHUB = "github"


class DeliveryState(enum.StrEnum):
    """An outbox row's `status`, as stored (the values are the database's, so no migration)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: only `watcher notify retry` queues it again


PENDING, DELIVERED, FAILED = DeliveryState.PENDING, DeliveryState.DELIVERED, DeliveryState.FAILED


class Reason(enum.StrEnum):
    """Why a source's request failed, in a closed set: a metrics label, and what tells a revoked token
    from a run of 503s without reading the message."""

    AUTH = "auth"  # 401/403: a missing, wrong or revoked token
    NOT_FOUND = "not_found"  # 404 for a listing: a renamed or deleted author/org
    RATE_LIMITED = "rate_limited"  # 429, GitHub's rate-limit 403, a server-imposed pause
    SERVER = "server"  # 5xx after the retries
    TIMEOUT = "timeout"  # no complete answer within `timeout`, or max_poll_time used up
    NETWORK = "network"  # DNS, refused or reset connections, TLS
    INVALID_RESPONSE = "invalid_response"  # malformed JSON, a pagination loop, an oversized body, another host
    CRASHED = "crashed"  # the source raised something unexpected (the pipeline caught it)
    OTHER = "other"  # any other HTTP status or library error


@dataclass(frozen=True)
class SourceProblem:
    """One failed request of a source in one cycle; `str()` is the line logs, status and alerts show.

    `scope` is what was asked: "author"/"org" (a listing; `repo` is then the owner), "repo" (a named
    repo), "file sizes"/"releases" (one repo's details), or "" for the source as a whole (`repo` None).
    """

    source: str
    scope: str
    repo: str | None
    reason: Reason
    message: str

    def __str__(self) -> str:
        if self.repo is None:
            return f"{self.source}: {self.message}"
        if self.scope in ("author", "org"):
            return f"{self.source} {self.scope} {self.repo}: {self.message}"
        if self.scope == "repo":
            return f"{self.source} {self.repo}: {self.message}"
        return f"{self.source} {self.repo} {self.scope}: {self.message}"


class EventKind(str, enum.Enum):
    WATCH_STARTED = "watch_started"
    REPO_APPEARED = "repo_appeared"
    WEIGHTS_PUBLISHED = "weights_published"
    REPO_HIDDEN = "repo_hidden"
    GATING_CHANGED = "gating_changed"
    RELEASE_PUBLISHED = "release_published"
    OVERDUE = "overdue"
    WINDOW_OPENED = "window_opened"
    REMINDER = "reminder"  # threads quietly under the first overdue alert in Slack (notify/threads.py)
    RELEASED = "released"
    VARIANT_RELEASED = "variant_released"  # a later variant's first weights, a line in the watch's thread
    SOURCE_FAILING = "source_failing"
    SOURCE_RECOVERED = "source_recovered"


class WatchState(str, enum.Enum):
    WAITING = "waiting"
    IN_WINDOW = "in_window"
    OVERDUE = "overdue"
    RELEASED = "released"
    UNKNOWN = "unknown"  # no poll has succeeded yet: nothing is known about the weights


@dataclass(frozen=True)
class RepoSnapshot:
    """What one source saw of one repo in one cycle.

    `scope` names the request that produced it (an author listing, an org listing, a direct probe):
    a repo missing from a scope that was polled successfully is gone; one missing from a failed scope
    is merely unknown this cycle.
    """

    source: str
    repo_id: str
    scope: str
    visible: bool
    url: str = ""
    status: int | None = None  # HTTP status of a hidden repo (401/404/403)
    gated: str | None = None  # None (not gated), "auto" or "manual"
    disabled: bool = False
    sha: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    weight_files: tuple[str, ...] = ()  # the first MAX_FILES_KEPT names: a 10,000-file repo stays small
    weight_count: int = 0
    weight_bytes: int | None = None
    params: int | None = None
    releases: tuple[str, ...] = ()  # GitHub release tags, newest first
    tags: tuple[str, ...] = ()  # GitHub tag names, newest first
    description: str | None = None

    @property
    def key(self) -> str:
        """The repo's identity: both services treat ids case-insensitively (`qwenlm/x` is `QwenLM/x`)."""
        return f"{self.source}:{self.repo_id.lower()}"

    @property
    def label(self) -> str:
        """As the API spells it; part of event dedup keys (kept as they were before ids were case-folded)."""
        return f"{self.source}:{self.repo_id}"

    @property
    def has_weights(self) -> bool:
        return self.visible and bool(self.weight_count or self.weight_files)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists); field by field, as asdict's deep copies cost ~0.2 ms a repo."""
        data = {name: getattr(self, name) for name in _SNAPSHOT_FIELDS}
        data["weight_files"] = list(self.weight_files)
        data["releases"] = list(self.releases)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoSnapshot:
        values = {k: v for k, v in data.items() if k in _SNAPSHOT_FIELDS}
        for name in ("weight_files", "releases", "tags"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


_SNAPSHOT_FIELDS = tuple(f.name for f in dataclasses.fields(RepoSnapshot))


@dataclass
class SourceReport:
    """Everything one source learnt about one watch in one cycle."""

    source: str
    repos: list[RepoSnapshot] = field(default_factory=list)
    complete_scopes: set[str] = field(default_factory=set)
    errors: list[SourceProblem] = field(default_factory=list)
    requests: int = 0
    deferred: list[str] = field(default_factory=list)  # work the rate-limit budget postponed to a later cycle
    problems: list[str] = field(default_factory=list)  # one repo's trouble (its sizes, its releases, a dropped value):
    # reported every cycle, but not a failure of the source while its listings work


@dataclass(frozen=True)
class Event:
    """Something a user should hear about; `dedup_key` makes it happen at most once per watch."""

    watch: str
    kind: EventKind
    dedup_key: str
    source: str | None = None
    repo_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class _Repo(Protocol):
    """A RepoSnapshot, or a stored repo row: both say their source and whether they have weights."""

    @property
    def source(self) -> str: ...

    @property
    def has_weights(self) -> bool: ...


def has_open_weights(repo: _Repo) -> bool:
    """A Hub repo with weight files: what makes a watch released (GitHub code is not open weights)."""
    return repo.source == Source.HUGGINGFACE and repo.has_weights


def released(repos: Iterable[_Repo]) -> bool:
    """Whether any of a watch's repos has open weights: the one definition of "released"."""
    return any(has_open_weights(repo) for repo in repos)
