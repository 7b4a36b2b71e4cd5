"""The source boundary: every value an API returned is made storable (and harmless) before anything keeps it.

Why: SQLite stores whatever it is given, PostgreSQL does not. A NUL character ("unsupported Unicode
escape sequence" in jsonb), a lone surrogate (not UTF-8) or a 2,000-character tag (past a column's
width) made every later cycle fail there, with no alert. So values are cleaned here, once, for every
source and every back end: control and invisible characters removed, names checked against what the
services allow, lengths bounded. What had to be dropped is said in one line naming the repo (a
`problem`: reported, but not a failure of the source).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from watcher.models import MAX_FILES_KEPT, MAX_ID_LENGTH, RepoSnapshot, Source, SourceProblem, SourceReport
from watcher.plaintext import INVISIBLE

MAX_TAG = 200  # git allows longer ref names; no release tag is anywhere near this
MAX_TEXT = 1000  # descriptions, error lines
MAX_SHORT = 64  # dates, gating modes
MAX_VALIDATOR = 300  # an ETag longer than this is not worth a conditional request (and its column is 300)
MAX_DATE_HEADER = 100  # Last-Modified is a 29-character HTTP date; its column is 100

_INVISIBLE = INVISIBLE
_JSON_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_HUB_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}", re.ASCII)
_GH_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", re.ASCII)
_GH_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
_SHA = re.compile(r"[0-9a-f]{7,64}")


def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """One line of plain text: invisible and control characters removed, at most `limit` characters."""
    if value is None:
        return None
    cleaned = _INVISIBLE.sub("", str(value))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def clean_problem(value: SourceProblem) -> SourceProblem:
    """The problem's text cleaned like any error line: its str() is text(str(value)), fields kept apart."""
    repo = None if value.repo is None else _INVISIBLE.sub("", value.repo)
    cleaned = dataclasses.replace(value, repo=repo, message=_INVISIBLE.sub("", value.message))
    over = len(str(cleaned)) - MAX_TEXT
    if over > 0:
        cleaned = dataclasses.replace(cleaned, message=cleaned.message[: max(0, len(cleaned.message) - over - 1)] + "…")
    return cleaned


def json_safe(value: Any) -> Any:
    """Any JSON value with the characters no database accepts (NUL, lone surrogates) removed, recursively."""
    if isinstance(value, str):
        return _JSON_UNSAFE.sub("", value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def validator(value: str | None, limit: int = MAX_VALIDATOR) -> str | None:
    """An ETag / Last-Modified we can store and send back, else None (the request is simply unconditional)."""
    if value is None or len(value) > limit or _INVISIBLE.search(value):
        return None
    return value


def valid_repo_id(source: str, repo_id: Any) -> bool:
    """Whether the id is one the service could have returned: `owner/name` in its character set, no `..`."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or len(repo_id) > MAX_ID_LENGTH:
        return False
    owner, name = repo_id.split("/")
    if ".." in repo_id or name in (".", ".."):
        return False
    if source == Source.GITHUB:
        return bool(_GH_OWNER.fullmatch(owner) and _GH_NAME.fullmatch(name))
    return bool(_HUB_PART.fullmatch(owner) and _HUB_PART.fullmatch(name) and "--" not in repo_id)


def same_repo(a: str, b: str) -> bool:
    """Both services treat repo ids case-insensitively: `qwenlm/qwen3.7` is `QwenLM/Qwen3.7`."""
    return a.lower() == b.lower()


def snapshot(snap: RepoSnapshot) -> tuple[RepoSnapshot | None, str | None]:
    """A storable snapshot (or None when its id is impossible) and the one line saying what was dropped."""
    label = f"{snap.source} {text(snap.repo_id, 120)!r}"
    if not valid_repo_id(snap.source, snap.repo_id):
        return None, f"{label}: not a valid {snap.source} repo id; ignored"
    names = [n for n in (*snap.releases, *snap.tags) if isinstance(n, str)]
    long_names = {n for n in names if len(n) > MAX_TAG or _JSON_UNSAFE.search(n)}
    sha = snap.sha if snap.sha is None or _SHA.fullmatch(str(snap.sha)) else None
    cleaned = dataclasses.replace(
        snap,
        gated=text(snap.gated, MAX_SHORT), sha=sha,
        created_at=text(snap.created_at, MAX_SHORT), last_modified=text(snap.last_modified, MAX_SHORT),
        weight_files=tuple(text(f, MAX_ID_LENGTH) for f in snap.weight_files[:MAX_FILES_KEPT]),
        releases=_names(snap.releases), tags=_names(snap.tags), description=text(snap.description),
    )
    dropped = []
    if long_names:
        dropped.append(f"{len(long_names)} release/tag name(s) longer than {MAX_TAG} characters or with NUL dropped")
    if sha != snap.sha:
        dropped.append("a commit id that is not hex dropped")
    return cleaned, (f"{snap.source} {snap.repo_id}: " + "; ".join(dropped)) if dropped else None


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(text(v, MAX_TAG) for v in values
                 if isinstance(v, str) and len(v) <= MAX_TAG and not _JSON_UNSAFE.search(v))


def report(rep: SourceReport) -> SourceReport:
    """The whole report made storable: snapshots cleaned or dropped, error lines one clean line each."""
    repos, problems = [], [text(p) for p in rep.problems]
    for snap in rep.repos:
        cleaned, problem = snapshot(snap)
        if cleaned is not None:
            repos.append(cleaned)
        if problem:
            problems.append(text(problem))
    return dataclasses.replace(rep, repos=repos, errors=[clean_problem(e) for e in rep.errors], problems=problems,
                               deferred=[text(d) for d in rep.deferred])
