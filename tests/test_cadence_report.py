"""`watcher cadence`: the table and --json follow the config; --plot writes a real PNG whose data is the config's."""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from watcher import config
from watcher.forecast import report as cadence_report

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TEXT = (ROOT / "tests" / "data" / "legacy_qwen.yaml").read_text()
NOW = {"WATCHER_NOW": "2026-11-29T12:00:00Z"}


@pytest.fixture
def cad(watcher):
    """The test watch with the shipped Qwen history attached."""
    shipped = yaml.safe_load(SHIPPED_TEXT)
    watcher.config["cadences"] = shipped["cadences"]
    watcher.config["watches"][0]["cadence"] = "qwen"
    return watcher


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data.endswith(b"IEND\xaeB`\x82")
    return struct.unpack(">II", data[16:24])


def test_table_shows_history_lags_windows_and_today(cad):
    result = cad("cadence", env=NOW)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Qwen2.5-Max", "2025-01-28", "Qwen/Qwen3.6-35B-A3B", "2026-04-16", "-131", "-148",
                 "+293 (from Qwen3)", "+59 (from Qwen3.5)", "https://github.com/QwenLM/Qwen3.5"):
        assert text in out
    assert "Window for qwen3.7: 2026-07-10 to 2026-07-18, most likely 2026-07-14" in out
    assert "basis flagship, from explicit lag_days" in out
    assert "history on basis flagship: 2025-12-23 to 2026-05-20" in out
    assert "history on basis previous_open_weights: 2026-06-14 to 2027-02-03, most likely 2026-11-24" in out
    assert "Today 2026-11-29: unknown - 134 day(s) after the window closed (no poll yet, so whether weights exist " \
           "is unknown; by the window alone: overdue)" in out


def test_json_follows_config_and_database(cad, hub):
    doc = json.loads(cad("cadence", "qwen3.7", "--json", env=NOW).stdout)
    rows = {r["generation"]: r for r in doc["history"]}
    assert rows["Qwen3.5"]["lag_from_flagship"] == 0 and rows["Qwen3.5"]["lag_from_previous_open_weights"] == 293
    assert [w["lag_from_flagship"] for w in rows["Qwen3.6"]["open_weights"]] == [-4, 2]
    assert doc["history_windows"]["previous_open_weights"]["samples"] == [222, 293, 59]
    assert doc["released"] is None and (doc["state"], doc["state_by_window"]) == ("unknown", "overdue")
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 1})
    assert cad("poll").exit_code == 0
    doc = json.loads(cad("cadence", "--json", env=NOW).stdout)
    assert doc["released"] is True and doc["state"] == "released"
    cad.config["cadences"]["qwen"]["history"][2]["flagship"]["released"] = "2026-02-10"  # Qwen3.5-Plus
    doc = json.loads(cad("cadence", "--json", env=NOW).stdout)
    assert {r["generation"]: r for r in doc["history"]}["Qwen3.5"]["lag_from_flagship"] == 6


def test_unknown_watch_is_one_line(cad):
    result = cad("cadence", "nope")
    assert result.exit_code == 2
    assert result.stderr.strip() == "watcher: unknown watch 'nope' (watches: qwen3.7)"


def test_watch_without_history_prints_its_explicit_window(watcher):
    out = watcher("cadence", env=NOW).stdout
    assert "qwen3.7 names no cadence history" in out and "2026-07-10 to 2026-07-18" in out


def test_plot_is_a_png_of_sensible_size_and_draws_the_config(cad, tmp_path):
    out = tmp_path / "cadence.png"
    result = cad("cadence", "--plot", str(out), env=NOW)
    assert result.exit_code == 0, result.output
    assert f"chart written to {out}" in result.stdout
    width, height = png_size(out)
    assert 1000 <= width <= 2000 and 500 <= height <= 1500
    assert 30_000 < out.stat().st_size < 2_000_000
    first = out.read_bytes()
    cad.config["cadences"]["qwen"]["history"][0]["flagship"]["released"] = "2025-03-28"  # move Qwen2.5-Max
    assert cad("cadence", "--plot", str(out), env=NOW).exit_code == 0
    assert out.read_bytes() != first


def test_plot_data_comes_from_the_config():
    cfg = config.parse(SHIPPED_TEXT, "config.yaml")
    data = cadence_report.plot_data(cfg.watch("qwen3.7"), cfg.cadences, dt.date(2026, 11, 29))
    assert [r.label for r in data.rows] == ["Qwen2.5", "Qwen3", "Qwen3.5", "Qwen3.6", "qwen3.7 (watched)"]
    assert data.rows[3].flagship == ("Qwen3.6-Max-Preview", dt.date(2026, 4, 20))
    assert [day.isoformat() for _, day in data.rows[3].open_weights] == ["2026-04-16", "2026-04-22"]
    assert data.rows[1].note == "-148 d"
    assert [w.isoformat() for w in data.window] == ["2026-07-10", "2026-07-18", "2026-07-14"]
    assert [(label, s.isoformat(), e.isoformat()) for label, s, e in data.other_windows] == [
        ("history, basis flagship", "2025-12-23", "2026-05-20"),
        ("history, basis previous_open_weights", "2026-06-14", "2027-02-03"),
        ("history, basis per_variant", "2026-05-31", "2026-06-12")]
    moved = config.parse(SHIPPED_TEXT.replace("{repo: Qwen/Qwen3.6-35B-A3B, released: 2026-04-16}",
                                              "{repo: Qwen/Qwen3.6-35B-A3B, released: 2026-04-18}"), "c.yaml")
    data = cadence_report.plot_data(moved.watch("qwen3.7"), moved.cadences, dt.date(2026, 11, 29))
    assert data.rows[3].open_weights[0][1] == dt.date(2026, 4, 18) and data.rows[3].note == "-2 d"
    # the anchor moves 2 days and the shortest lag (Qwen3.5 -> Qwen3.6) grows by 2: the window starts 4 days later
    assert data.other_windows[1][1:] == (dt.date(2026, 6, 18), dt.date(2027, 2, 5))


def test_plot_to_unwritable_path_is_one_line(cad, tmp_path):
    result = cad("cadence", "--plot", str(tmp_path / "missing-dir" / "x.png"), env=NOW)
    assert result.exit_code == 1
    assert result.stderr.startswith("watcher: --plot ") and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_only_the_plot_loads_matplotlib(cad, tmp_path):
    """status and the plain table stay light; matplotlib is imported by --plot alone."""
    assert cad("db", "upgrade").exit_code == 0  # status reads a database; it never creates one

    def imported(*args: str) -> set[str]:
        env = {**os.environ, **NOW, "PYTHONPROFILEIMPORTTIME": "1"}
        result = subprocess.run([sys.executable, "-m", "watcher", "--config", str(cad.path), *args],
                                env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}

    assert "matplotlib" not in imported("status")
    assert "matplotlib" not in imported("cadence")
    assert "matplotlib" in imported("cadence", "--plot", str(tmp_path / "c.png"))


# --- the shipped per-variant history: table width, size order, the reason, the backtest ---------------------

SHIPPED_NOW = {"WATCHER_NOW": "2026-06-25T12:00:00Z"}


@pytest.fixture
def shipped(watcher):
    """The test watch with the shipped (per-variant) Qwen cadence and the shipped qwen3.7 watch's settings."""
    real = yaml.safe_load((ROOT / "config.yaml").read_text())
    watcher.config["cadences"] = real["cadences"]
    watcher.config["watches"][0].pop("lag_days", None)
    watcher.config["watches"][0].update(cadence="qwen", variants=["27B", "35B-A3B"])
    return watcher


def test_table_fits_160_columns_and_sorts_sizes_as_numbers(shipped):
    out = shipped("cadence", env=SHIPPED_NOW).stdout
    table = out[:out.index("Sources:")]
    assert max(len(line) for line in table.splitlines()) <= 160
    qwen25 = table[table.index("│ Qwen2.5"):table.index("│ Qwen3 ")]
    sizes = [line.split("│")[3].strip() for line in qwen25.splitlines() if line.count("│") > 3]
    assert [s for s in sizes if s] == ["0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B"]
    assert "  Qwen3.6: https://huggingface.co/collections/Qwen/qwen36\n" in out  # a source per line, never wrapped


def test_report_says_why_in_checkable_numbers(shipped):
    out = shipped("cadence", env=SHIPPED_NOW).stdout
    assert "Window for qwen3.7: 2026-05-31 to 2026-06-12, most likely 2026-06-06; basis per_variant" in out
    assert "why: auto: per_variant had the smallest mean error in the backtest" in out
    assert "27B: expected 2026-06-12 to 2026-06-24, most likely 2026-06-18 (57 days after Qwen3.6-27B (2026-04-22)" in out
    assert "Qwen3.5 -> Qwen3.6 step took 51 to 57 days" in out
    assert "track record: windows like this held for 0 of 2 past generations" in out
    assert "Today 2026-06-25: unknown - 13 day(s) after the window closed" in out


def test_backtest_command_table_and_json(shipped):
    result = shipped("cadence", "--backtest", env=SHIPPED_NOW)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Backtest of cadence qwen" in out and "Per basis" in out
    assert "In use for qwen3.7: basis per_variant (auto: per_variant had the smallest mean error" in out
    assert "Forecasting a lab from a handful of generations is uncertain: flagship held 1 of 4 (25%)" in out
    doc = json.loads(shipped("cadence", "--backtest", "--json", env=SHIPPED_NOW).stdout)
    assert doc["scores"]["previous_open_weights"] == {
        "basis": "previous_open_weights", "generations_predicted": 5, "held": 1, "coverage": 0.2,
        "mean_width_days": 83.4, "mean_abs_error_days": 64.6, "variants_predicted": 0, "variants_held": 0}
    first = next(p for p in doc["predictions"] if p["basis"] == "per_variant")
    assert (first["generation"], first["median"], first["actual"], first["error_days"]) == \
        ("Qwen2.5", "2024-10-06", "2024-09-19", -17)
    assert [v["label"] for v in first["variants"]] == ["0.5B", "7B", "72B"]


def test_generation_names_are_data_not_markup(cad):
    """A history entry named `[/]...` or carrying a terminal escape prints literally (issue 16)."""
    history = cad.config["cadences"]["qwen"]["history"]
    history[0]["generation"] = "Qwen[/]2.5 [link=https://evil.example]x[/link]\x1b[2J"
    result = cad("cadence", env=NOW)
    assert result.exit_code == 0, result.output
    assert "Qwen[/]2.5" in result.stdout and "\x1b" not in result.stdout
def test_plot_without_matplotlib_says_what_to_install(cad, tmp_path):
    """matplotlib is the `[plot]` extra: without it, one line naming the extra, and no chart file."""
    cad.save()
    # The interpreter as if matplotlib were not installed (None in sys.modules makes its import fail).
    code = ("import sys; sys.modules['matplotlib'] = None; from watcher.cli.app import main; "
            "sys.argv = ['watcher', *sys.argv[1:]]; main()")
    out = tmp_path / "c.png"
    result = subprocess.run([sys.executable, "-c", code, "--config", str(cad.path), "cadence", "--plot", str(out)],
                            env={**os.environ, **NOW}, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "watcher: --plot needs matplotlib: pip install 'openweights-watcher[plot]'\n"
    assert not out.exists()
