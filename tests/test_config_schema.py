"""`watcher config schema`: a JSON Schema that agrees with the loader, shipped for editors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from watcher import config
from watcher.config.load import _Loader
from watcher.config.schema import build, duration_text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = build()
VALIDATOR = Draft202012Validator(SCHEMA)


def schema_ok(doc) -> bool:
    return VALIDATOR.is_valid(doc)


def loader_ok(doc) -> bool:
    try:
        config.parse(yaml.safe_dump(doc), "t.yaml")
    except config.ConfigError:
        return False
    return True


def minimal(**schedule) -> dict:
    doc = {"watches": [{"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                        "lag_days": {"min": 1, "max": 2}, "huggingface": {"authors": ["a"]}}]}
    if schedule:
        doc["schedule"] = schedule
    return doc


def test_command_prints_the_committed_schema(tmp_path):
    """config.schema.json (what config.yaml's yaml-language-server line names) is the command's output."""
    result = subprocess.run([sys.executable, "-m", "watcher", "config", "schema"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == SCHEMA
    Draft202012Validator.check_schema(printed)
    # The file is generated with the locked pydantic; older ones (the lowest-versions job) spell the same
    # schema a little differently ({"allOf": [$ref]}, 100.0), so only the locked one must match byte for byte.
    locked = re.search(r"^pydantic==(\S+)", (ROOT / "requirements-lock.txt").read_text(), re.M).group(1)
    if metadata.version("pydantic") == locked:
        committed = json.loads((ROOT / "config.schema.json").read_text())
        assert committed == printed, "regenerate: watcher config schema > config.schema.json"


def test_shipped_configs_point_at_and_satisfy_the_schema():
    first = (ROOT / "config.yaml").read_text().splitlines()[0]
    target = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert target and (ROOT / target.group(1)).resolve() == ROOT / "config.schema.json"
    for path in (ROOT / "config.yaml", ROOT / "watcher" / "default_config.yaml"):
        doc = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass; dates stay text
        errors = [e.message for e in VALIDATOR.iter_errors(doc)]
        assert not errors, f"{path.name}: {errors[:3]}"


def test_durations_are_our_strings_not_iso():
    poll = SCHEMA["$defs"]["Schedule"]["properties"]["poll_interval"]
    assert poll["default"] == "15m" and "15m" in poll["description"]
    assert "format" not in json.dumps(SCHEMA).replace('"format": "date"', "").replace('"format": "uri"', "")
    assert schema_ok(minimal(poll_interval="1h30m")) and schema_ok(minimal(poll_interval=900))
    assert not schema_ok(minimal(poll_interval="PT15M")) and not loader_ok(minimal(poll_interval="PT15M"))
    assert schema_ok(minimal(jitter="10%")) and schema_ok(minimal(jitter="90s"))
    assert not schema_ok(minimal(jitter="ten percent"))
    assert [duration_text(config.parse_duration(v)) for v in ("90s", "1h30m", "7d", "1w")] == \
        ["1m30s", "1h30m", "7d", "7d"]


def test_unknown_keys_and_secrets_are_refused_by_both():
    doc = minimal()
    doc["github"] = {"token": "ghp_x"}
    assert not schema_ok(doc) and not loader_ok(doc)
    doc = minimal()
    doc["watches"][0]["huggingface"]["incldue"] = ["x"]
    assert not schema_ok(doc) and not loader_ok(doc)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.smhdwSMHDW %PTx", min_size=1, max_size=12))
def test_schema_and_loader_agree_on_duration_strings(text):
    """Whatever the pattern accepts the loader accepts (short of its zero and one-year limits), and back."""
    try:
        seconds = config.parse_duration(text, allow_zero=True).total_seconds()
        loader = True
    except ValueError as exc:
        loader = False
        if "longer than a year" in str(exc):
            return  # a bound the schema states in words, not in the pattern
    assert schema_ok(minimal(shutdown_timeout=text)) == loader, text
    if loader:
        assert seconds >= 0


@pytest.mark.parametrize("value", ["15m", "1h 30m", " 2d ", "0.5h", "45S"])
def test_examples_from_the_docs_pass_both(value):
    doc = minimal(poll_interval=value)
    doc["huggingface"] = {"endpoint": "http://127.0.0.1:8080"}  # a mirror: no 1m floor (a cross-field rule)
    assert schema_ok(doc) and loader_ok(doc)


@pytest.mark.parametrize("value", ["never", "OFF", "0", False, "7d", 0])
def test_reminders_off_or_every(value):
    doc = minimal()
    doc["watches"][0]["notify"] = {"remind_every": value}
    assert schema_ok(doc) and loader_ok(doc)
