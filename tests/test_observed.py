"""Observed history: what one watch saw becomes history for the next watch of the same cadence, without YAML edits."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml
from test_replay import QWEN36_TIMELINE, ROOT, Replay, days, qwen36_watch
from typer.testing import CliRunner

from watcher.cli.app import app
from watcher.engine import status as status_mod
from watcher.forecast import windows as windows_mod

pytestmark = pytest.mark.slow


def history_until_35() -> dict:
    """The shipped Qwen cadence without its Qwen3.6 entry: 3.6 is what the watcher will observe."""
    cadences = yaml.safe_load((ROOT / "config.yaml").read_text())["cadences"]
    cadences["qwen"]["history"] = [g for g in cadences["qwen"]["history"] if g["generation"] != "Qwen3.6"]
    return cadences


def qwen37_watch() -> dict:
    return {"name": "qwen3.7", "flagship": {"name": "Qwen3.7-Max", "released": "2026-05-20"}, "cadence": "qwen",
            "variants": ["27B", "35B-A3B"],
            "huggingface": {"authors": ["Qwen"], "include": ["Qwen3.7-*"], "exclude": ["*Max*"]}}


def test_a_later_watch_uses_what_the_earlier_one_saw(tmp_path, hub, github, slack):
    run = Replay(tmp_path, hub, github, slack, qwen36_watch(), history_until_35())
    for day in days("2026-04-14", "2026-04-23"):
        run.day(day, QWEN36_TIMELINE)
    # Next: the qwen3.7 watch is added to the same config; nobody edits the cadence's history.
    raw = {**run.raw, "watches": [*run.raw["watches"], qwen37_watch()]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    from watcher import config as config_mod

    cfg = config_mod.load(str(path))
    now = dt.datetime(2026, 6, 25, 12, tzinfo=dt.timezone.utc)
    doc = {w["name"]: w for w in status_mod.build(cfg, run.engine, now)["watches"]}
    later = doc["qwen3.7"]
    # 35B-A3B: 3.5 on 02-24 -> observed 3.6 on 04-16 = 51 days -> 06-06; 27B: 02-24 -> 04-22 = 57 -> 06-18
    assert later["basis"] == "per_variant"
    windows = {v["variant"]: v["median"] for v in later["window"]["variants"]}
    assert windows == {"27B": "2026-06-18", "35B-A3B": "2026-06-06"}
    # without the database the configured history alone cannot say this (27B/35B-A3B were new in 3.5)
    assert windows_mod.expected_window(cfg.watch("qwen3.7"), cfg.cadences).basis != "per_variant"

    runner = CliRunner()
    env = {"WATCHER_NOW": "2026-06-25"}
    out = runner.invoke(app, ["--config", str(path), "cadence", "qwen3.7"], env=env, catch_exceptions=False).stdout
    assert "qwen3.6 (observed)" in out and "Window for qwen3.7: 2026-05-31 to 2026-06-12" in out
    exported = runner.invoke(app, ["--config", str(path), "cadence", "qwen3.7", "--export"], env=env,
                             catch_exceptions=False).stdout
    assert exported.startswith("# cadence qwen: 6 configured generation(s), 1 observed by this watcher")
    history = yaml.safe_load(exported)["history"]
    assert history[-1] == {"generation": "qwen3.6", "flagship": {"name": "Qwen3.6-Max-Preview", "released": "2026-04-20"},
                           "open_weights": [{"repo": "Qwen/Qwen3.6-35B-A3B", "released": "2026-04-16"},
                                            {"repo": "Qwen/Qwen3.6-27B", "released": "2026-04-22"}],
                           "observed": True}
    report = json.loads(runner.invoke(app, ["--config", str(path), "cadence", "qwen3.7", "--json"], env=env,
                                      catch_exceptions=False).stdout)
    assert [r["generation"] for r in report["history"] if r["observed"]] == ["qwen3.6"]


def test_configured_generations_win_over_observed_ones(tmp_path, hub, github, slack):
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())["cadences"]
    run = Replay(tmp_path, hub, github, slack, qwen36_watch(), shipped)
    for day in days("2026-04-15", "2026-04-16"):
        run.day(day, QWEN36_TIMELINE)
    from watcher.engine import observed
    from watcher.store.db import transaction

    with transaction(run.engine) as session:
        assert observed.generations(session)["qwen"][0].open_weights[0].repo == "Qwen/Qwen3.6-35B-A3B"
        attached = observed.attach(run.config, session)
    # the YAML lists Qwen3.6 (same flagship): the observed copy is not added twice
    assert [g.generation for g in attached.cadences["qwen"].history] == \
        [g.generation for g in run.config.cadences["qwen"].history]
