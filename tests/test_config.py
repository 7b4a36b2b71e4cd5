"""Config validation: every bad input is one line naming the file, the field path and the problem."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from watcher import config
from watcher.forecast import windows

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "config.yaml").read_text()
GOOD = (ROOT / "tests" / "data" / "legacy_qwen.yaml").read_text()  # the edits below are made against its text


def test_shipped_config_is_valid_and_has_the_qwen_watch():
    cfg = config.parse(SHIPPED, "config.yaml")
    watch = cfg.watch("qwen3.7")
    assert watch.flagship.released == dt.date(2026, 5, 20) and watch.lag_days is None
    win = windows.expected_window(watch, cfg.cadences)
    assert (win.start, win.end) == (dt.date(2026, 5, 31), dt.date(2026, 6, 12))  # per variant: 35B-A3B's window first
    assert watch.variants == ["27B", "35B-A3B"] and win.basis == "per_variant"
    assert watch.huggingface.authors == ["Qwen"]
    assert watch.github.repos == ["QwenLM/Qwen3.7"]
    assert cfg.schedule.poll_interval == dt.timedelta(minutes=15)


def test_embedded_default_matches_shipped_watches(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHER_CONFIG", raising=False)
    cfg = config.load(None)
    assert cfg.source_path == "(embedded default config)"
    assert cfg.slack is None
    assert [w.name for w in cfg.watches] == ["qwen3.7"]
    assert cfg.database == "sqlite:///watcher.db"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('include: ["Qwen3.7-*"]', 'incldue: ["Qwen3.7-*"]', "watches[0].huggingface.incldue: unknown key 'incldue'"),
        ("released: 2026-05-20", "released: 2026-02-30", "watches[0].flagship.released: '2026-02-30' is not a real date"),
        ("released: 2026-05-20", "released: soon", "watches[0].flagship.released: 'soon' is not a real date"),
        ("poll_interval: 15m", "poll_interval: 15 minutes", "schedule.poll_interval: '15 minutes' is not a duration"),
        ("poll_interval: 15m", "poll_interval: 0s", "schedule.poll_interval: a duration must be positive"),
        ('include: ["Qwen3.7-*"]', 'include: [""]', "watches[0].huggingface.include: patterns must be non-empty"),
        ("lag_days: {min: 51, max: 59}", "lag_days: {min: 59, max: 51}", "watches[0].lag_days: max (51) is smaller than min (59)"),
        ("repos: [QwenLM/Qwen3.7]", "repos: [Qwen3.7]", "watches[0].github.repos: 'Qwen3.7' is not an owner/name"),
        ("# slack: {channel: \"#open-weights\"}", "slack: {channel: \"#open-weights\", token: xoxb-123}", "slack.token: unknown key 'token' (secrets come from the environment"),
        ("endpoint: https://huggingface.co", "endpoint: huggingface.co", "huggingface.endpoint: 'huggingface.co' is not an http(s) URL"),
        ("  - name: qwen3.7", "  - name: \"qwen 3.7\"", "watches[0].name: String should match pattern"),
    ],
)
def test_bad_config_is_one_line_naming_field(old, new, expected):
    assert old in GOOD
    with pytest.raises(config.ConfigError) as info:
        config.parse(GOOD.replace(old, new, 1), "cfg.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cfg.yaml: ")
    assert expected in message


def test_missing_required_field_and_duplicate_watch():
    with pytest.raises(config.ConfigError, match=r"watches\[0\]\.flagship: required field is missing"):
        config.parse(GOOD.replace("    flagship: {name: Qwen3.7-Max, released: 2026-05-20}\n", ""), "c.yaml")
    watch = GOOD[GOOD.index("  - name: qwen3.7"):]
    with pytest.raises(config.ConfigError, match="watch name 'qwen3.7' is used twice"):
        config.parse(GOOD + watch, "c.yaml")


def test_yaml_syntax_error_names_line():
    with pytest.raises(config.ConfigError, match=r"^c.yaml: line \d+: invalid YAML"):
        config.parse("watches: [\n  - {name: x\n", "c.yaml")


def test_watch_without_any_source_is_rejected():
    text = """
watches:
  - name: empty
    flagship: {name: X, released: 2026-01-01}
    lag_days: {min: 1, max: 2}
    huggingface: {authors: []}
"""
    with pytest.raises(config.ConfigError, match=r"watches\[0\]: a watch needs huggingface authors/repos"):
        config.parse(text, "c.yaml")


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("WATCHER_DATABASE_URL", "sqlite:////tmp/other.db")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    cfg = config.parse(GOOD, "c.yaml")
    assert cfg.database == "sqlite:////tmp/other.db"
    assert cfg.huggingface.endpoint == "http://127.0.0.1:9"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("7d", 604800), (45, 45)])
def test_durations(text, seconds):
    assert config.parse_duration(text).total_seconds() == seconds


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(config.ConfigError, match="nope.yaml: file not found"):
        config.load(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    cadence: qwen ", "    cadence: qwn ", "watches[0].cadence: unknown cadence 'qwn' (cadences: qwen)"),
        ("    basis: flagship ", "    basis: flagships ", "cadences.qwen.basis: Input should be 'auto', 'flagship', 'previous_open_weights' or 'per_variant'"),
        ("percentiles: {low: 0, high: 100}", "percentiles: {low: 90, high: 10}", "cadences.qwen.percentiles: high (10) is smaller than low (90)"),
        ("percentiles: {low: 0, high: 100}", "percentiles: {low: 0, high: 101}", "cadences.qwen.percentiles.high: Input should be less than or equal to 100"),
        ("released: 2024-09-19}", "released: 2024-09-31}", "cadences.qwen.history[0].open_weights[0].released: '2024-09-31' is not a real date"),
        ("{repo: Qwen/Qwen2.5-72B,", "{repo: Qwen2.5-72B,", "cadences.qwen.history[0].open_weights[0].repo: 'Qwen2.5-72B' is not an owner/name"),
        ("source: https://github.com/QwenLM/Qwen3\n", "source: github.com/QwenLM/Qwen3\n", "cadences.qwen.history[1].source: 'github.com/QwenLM/Qwen3' is not an http(s) URL"),
        ("- generation: Qwen3\n", "- generation: Qwen2.5\n", "cadences.qwen: generation 'Qwen2.5' is listed twice"),
        ("notify: {window_opened: true, remind_every: 7d}", "notify: {window_opend: false}", "watches[0].notify.window_opend: unknown key"),
        ("remind_every: 7d", "remind_every: weekly", "watches[0].notify.remind_every: 'weekly' is not a duration"),
    ],
)
def test_bad_cadence_config_is_one_line_naming_field(old, new, expected):
    assert old in GOOD
    with pytest.raises(config.ConfigError) as info:
        config.parse(GOOD.replace(old, new, 1), "cfg.yaml")
    assert "\n" not in str(info.value)
    assert expected in str(info.value)


def test_watch_needs_lag_days_or_cadence():
    text = GOOD.replace("    lag_days: {min: 51, max: 59}", "    # no lag_days", 1)
    cfg = config.parse(text, "c.yaml")
    win = windows.expected_window(cfg.watch("qwen3.7"), cfg.cadences)
    assert (win.start, win.end) == (dt.date(2025, 12, 23), dt.date(2026, 5, 20))
    text = text.replace("    cadence: qwen ", "    # no cadence ", 1)
    with pytest.raises(config.ConfigError, match=r"watches\[0\]: a watch needs lag_days or a cadence"):
        config.parse(text, "c.yaml")


def test_cadence_basis_needs_enough_history():
    one = GOOD[:GOOD.index("      - generation: Qwen3\n")] + GOOD[GOOD.index("watches:\n"):]
    assert config.parse(one, "c.yaml").cadences["qwen"].history[0].generation == "Qwen2.5"
    with pytest.raises(config.ConfigError, match=r"cadences.qwen: basis previous_open_weights needs two generations"):
        config.parse(one.replace("    basis: flagship ", "    basis: previous_open_weights ", 1), "c.yaml")


def test_shipped_and_embedded_configs_carry_the_same_history():
    embedded = config.load(None)
    assert embedded.cadences == config.parse(SHIPPED, "config.yaml").cadences
    assert embedded.watch("qwen3.7").cadence == "qwen" and embedded.watch("qwen3.7").lag_days is None
    shipped = config.parse(SHIPPED, "config.yaml")
    assert windows.expected_window(embedded.watch("qwen3.7"), embedded.cadences) == \
        windows.expected_window(shipped.watch("qwen3.7"), shipped.cadences)


def test_cadence_whose_only_lag_is_the_watch_own_generation_is_a_config_error():
    text = """
cadences:
  fam:
    history:
      - generation: G1
        flagship: {name: G1-Max, released: 2026-01-01}
        open_weights: [{repo: o/G1-7B, released: 2026-02-01}]
watches:
  - name: g1
    flagship: {name: G1-Max, released: 2026-01-01}
    cadence: fam
    huggingface: {authors: [o]}
"""
    with pytest.raises(config.ConfigError, match=r"watches\[0\]\.cadence: cadence fam: every generation is the "
                                                 r"watch's own or newer \(dated on or after G1-Max, 2026-01-01\)"):
        windows.checked(config.parse(text, "c.yaml"))
    newer = text.replace("name: G1-Max, released: 2026-01-01}\n    cadence", "name: G0-Max, released: 2025-06-01}\n    cadence")
    with pytest.raises(config.ConfigError, match=r"every generation is the watch's own or newer"):
        windows.checked(config.parse(newer, "c.yaml"))  # a history that only holds later generations: nothing to learn from


@pytest.mark.parametrize("history", [
    [{"generation": "A", "flagship": {"name": "A", "released": "0001-01-02"},
      "open_weights": [{"repo": "o/A1-7B", "released": "9000-01-02"}]}],
    [{"generation": "A", "open_weights": [{"repo": "o/A1-7B", "released": "0001-01-02"}]},
     {"generation": "B", "open_weights": [{"repo": "o/A2-7B", "released": "0001-01-03"}]}],
])
def test_history_dates_at_the_ends_of_the_calendar_are_a_config_error(history):
    """Lags of thousands of years put a window past 9999-12-31: one line naming the field, not an OverflowError."""
    raw = {"cadences": {"c": {"basis": "per_variant" if len(history) == 2 else "flagship", "history": history}},
           "watches": [{"name": "w", "flagship": {"name": "X", "released": "9999-12-20"}, "cadence": "c",
                        "huggingface": {"authors": ["o"]}}]}
    with pytest.raises(config.ConfigError, match=r"watches\[0\]\.cadence: .*outside the calendar"):
        windows.checked(config.parse(json.dumps(raw), "c.yaml"))


@pytest.mark.parametrize(("variants", "message"), [
    (["27B", "27b"], r"watches\[0\]\.variants: '27B' is listed twice"),
    (["27B", "bad name!"], r"watches\[0\]\.variants: .*'bad name!' is not a variant name"),
])
def test_variants_list_errors_name_the_field(variants, message):
    raw = {"cadences": {"c": {"history": [
        {"generation": "A", "open_weights": [{"repo": "o/A1-27B", "released": "2026-01-10"}]},
        {"generation": "B", "open_weights": [{"repo": "o/A2-27B", "released": "2026-03-10"}]}]}},
        "watches": [{"name": "w", "flagship": {"name": "X", "released": "2026-04-01"}, "cadence": "c",
                     "variants": variants, "huggingface": {"authors": ["o"]}}]}
    with pytest.raises(config.ConfigError, match=message):
        windows.checked(config.parse(json.dumps(raw), "c.yaml"))


def test_poll_floor_for_the_public_apis_only():
    """Seconds against the public Hub/GitHub only burn rate limits; a mirror or local server may go faster."""
    text = GOOD.replace("poll_interval: 15m", "poll_interval: 30s")
    with pytest.raises(config.ConfigError) as err:
        config.parse(text, "config.yaml")
    assert str(err.value).startswith("config.yaml: schedule.poll_interval: 30s is below the 1m floor for the public")
    mirrored = text.replace("https://huggingface.co", "http://127.0.0.1:8080").replace(
        "https://api.github.com", "http://127.0.0.1:8081")
    assert config.parse(mirrored, "config.yaml").schedule.poll_interval.total_seconds() == 30
    own = GOOD.replace("    cadence: qwen", "    poll_interval: 10s\n    cadence: qwen", 1)
    with pytest.raises(config.ConfigError, match=r"watches\[0\]\.poll_interval: 10s is below the 1m floor"):
        config.parse(own, "config.yaml")
