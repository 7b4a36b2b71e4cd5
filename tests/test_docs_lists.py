"""The lists in docs/ that users and scripts rely on (event kinds, config keys, status fields) match the code.

A new event kind, config key or `status --json` field that nobody documented fails here, and so does a
documented one the code no longer has.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from watcher.config import Config
from watcher.models import EventKind

DOCS = Path(__file__).resolve().parent.parent / "docs"
MAP_KEYS = {"qwen"}  # names a user chooses (a `cadences:` entry), not keys of the model


def section(doc: str, heading: str) -> str:
    text = (DOCS / doc).read_text()
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start: end if end != -1 else None]


def first_column(table: str) -> list[str]:
    """Backticked names in the first cell of each table row (`a`, `b` (...) counts a and b)."""
    names = []
    for row in table.splitlines():
        if row.startswith("|") and not row.startswith("|---"):
            cell = row.split("|")[1]
            names += re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cell))
    return names


def test_event_kinds_table_is_every_kind():
    documented = first_column(section("how-it-works.md", "## Event kinds"))
    assert len(documented) == len(set(documented))
    assert set(documented) == {kind.value for kind in EventKind}


def model_keys(model: type[BaseModel], seen: set | None = None) -> set[str]:
    """Every key a config file can spell, at any depth."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    keys = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue  # set by the loader (source_path), never written in a file
        keys.add(field.alias or name)
        for inner in nested_models(field.annotation):
            keys |= model_keys(inner, seen)
    return keys


def nested_models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]
    return []


def documented_config_keys() -> set[str]:
    block = re.search(r"```yaml\n(.*?)```", (DOCS / "configuration.md").read_text(), re.S).group(1)
    keys = set()
    for line in block.splitlines():
        line = re.sub(r"^(\s*)#(\s*(?:-\s+)?[a-z_]+:)", r"\1\2", line)  # a key shown commented out
        code = re.sub(r"\s+#.*$", "", line)
        keys |= set(re.findall(r"(?:^\s*(?:-\s+)?|[{,]\s*)([a-z_]+):", code))
    return keys


def test_configuration_md_shows_every_config_key_and_no_other():
    documented, model = documented_config_keys(), model_keys(Config)
    assert model - documented == set(), "config keys missing from docs/configuration.md"
    assert documented - model - MAP_KEYS == set(), "docs/configuration.md shows keys the config rejects"


def braced(text: str, name: str) -> set[str]:
    """The names in `name {a, b, c}` or `name[] {a, b}` as docs/operations.md writes them."""
    match = re.search(rf"`{re.escape(name)}(?:\[\])? \{{([^}}]*)\}}`", text)
    assert match, f"docs/operations.md lists no fields for {name}"
    return {part.strip() for part in match.group(1).split(",")}


def test_status_json_fields_are_the_documented_ones(watcher, hub):
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 54_600_000_000}, params=27_300_000_000)
    assert watcher("poll").exit_code == 0
    doc = watcher.status({"WATCHER_NOW": "2026-11-29T12:00:00Z"})
    ops = section("operations.md", "## `status --json`")
    assert set(doc) == set(first_column(ops))
    assert set(doc["last_poll"]) == braced(ops, "last_poll")
    assert set(doc["watches"][0]["repos"][0]) == braced(ops, "repos")
    watch_table = section("forecast.md", "## JSON fields").split("`watcher cadence --backtest --json`")[0]
    assert set(doc["watches"][0]) == set(first_column(watch_table))


def test_status_json_undelivered_fields_are_the_documented_ones(watcher, slack):
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token-123456"}
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    slack.channels = {"#elsewhere"}  # the bot is not in the channel: Slack answers channel_not_found
    assert "failed 1" in watcher("poll", env=env).stdout
    doc = watcher.status(env)
    assert doc["undelivered"], "a channel Slack rejects leaves an undelivered row"
    assert set(doc["undelivered"][0]) == braced(section("operations.md", "## `status --json`"), "undelivered")


def test_development_md_maps_every_module():
    """docs/development.md's layout names each module once, under its package, and no module that is gone."""
    block = section("development.md", "## Layout").split("```")[1]
    listed, package = set(), None
    for line in block.splitlines():
        head = re.match(r"(watcher/(?:\w+/)?)\s", line)
        if head:
            package = head.group(1)
            continue
        entry = re.match(r"  (\w+\.py)\s", line)
        if entry and package:
            listed.add(package + entry.group(1))
    root = DOCS.parent
    actual = {str(p.relative_to(root)) for p in (root / "watcher").rglob("*.py") if "migrations" not in p.parts}
    actual -= {f"watcher/{pkg}/__init__.py" for pkg in ("cli", "daemon", "engine", "forecast", "store")}
    actual -= {"watcher/__init__.py"}
    assert listed == actual
