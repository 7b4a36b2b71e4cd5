"""Property-based: any single mutation of a valid config either still validates or fails with one line
naming the mutated field; never a traceback, never a write to the database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher import config
from watcher.forecast import windows

ROOT = Path(__file__).resolve().parents[1]
GOOD = yaml.safe_load((ROOT / "config.yaml").read_text())

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
    st.text(max_size=30), st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2),
    st.sampled_from(["2026-02-30", "15 minutes", "", "*", "a/b/c", "-1d", "1h30m", "sqlite://", "http://x"]),
)


def paths(node, prefix=()):
    """Every key path in the config tree (lists indexed)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, prefix + (i,))


ALL_PATHS = [p for p in paths(GOOD) if p]


def dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def mutate(doc, path, how, value):
    import copy

    doc = copy.deepcopy(doc)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "replace":
        parent[last] = value
    elif how == "unknown" and isinstance(parent, dict):
        parent["zz_" + str(last)] = value
    return doc


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS), st.sampled_from(["delete", "replace", "unknown"]), VALUES)
def test_any_mutation_is_valid_or_one_clear_line(path, how, value):
    text = yaml.safe_dump(mutate(GOOD, path, how, value), sort_keys=False)
    try:
        windows.checked(config.parse(text, "c.yaml"))
    except config.ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("c.yaml: ")
        named = message.split(": ", 2)[1]
        # the error names the mutated field, a field under its parent, or an ancestor (model-level checks)
        related = dotted(path).startswith(named) or named.startswith(dotted(path[:-1])) or named == "(top level)"
        # a cross-reference: removing or renaming a cadence is reported on the watch that names it
        related = related or (dotted(path).startswith("cadences") and named.endswith(".cadence")
                              and "unknown cadence" in message)
        assert related, (message, path, how)

def dump(db: Path) -> str:
    """The database's content (a WAL checkpoint may rewrite the file's bytes without changing data)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def test_invalid_config_via_cli_exits_2_and_leaves_database_alone(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    db = tmp_path / "watcher.db"
    before = dump(db)
    for mutation in (("watches", 0, "flagship", "released"), ("schedule", "poll_interval"), ("database",)):
        broken = mutate(watcher.config, mutation, "replace", "2026-02-30" if mutation[-1] == "released" else "??")
        watcher.path.write_text(yaml.safe_dump(broken))
        result = watcher.runner.invoke(__import__("watcher.cli.app", fromlist=["app"]).app,
                                       ["--config", str(watcher.path), "poll"])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and result.stderr.count("\n") == 1
        assert dotted(mutation) in result.stderr
    assert dump(db) == before
