"""Per-variant windows, the backtest and `basis: auto` on real histories (shipped Qwen; Gemma and Llama fixtures)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from watcher import config
from watcher.forecast import basis as forecast
from watcher.forecast import cadence, windows

D = dt.date
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = config.parse((ROOT / "config.yaml").read_text(), "config.yaml")
QWEN, WATCH = SHIPPED.cadences["qwen"], SHIPPED.watch("qwen3.7")
GENS = cadence.history_lags(QWEN.history)


def fixture(name: str) -> config.Config:
    return config.parse((ROOT / "tests" / "data" / f"{name}.yaml").read_text(), f"{name}.yaml")


def test_qwen37_per_variant_windows_are_the_analysts_numbers():
    """35B-A3B: 3.5 (02-24) -> 3.6 (04-16) = 51 days, so 3.7 around 06-06; 27B: 57 days, so around 06-18."""
    win = windows.history_window(WATCH, QWEN, "qwen", "per_variant")
    by = {v.label: v for v in win.variants}
    assert [v.label for v in win.variants] == ["27B", "35B-A3B"]
    assert (by["35B-A3B"].median, by["35B-A3B"].samples, by["35B-A3B"].anchor) == (D(2026, 6, 6), (51,), D(2026, 4, 16))
    assert (by["27B"].median, by["27B"].samples, by["27B"].anchor) == (D(2026, 6, 18), (57,), D(2026, 4, 22))
    # one interval each, so a tolerance: the two variants of that step took 51 and 57 days -> +-6
    assert by["27B"].tolerance == by["35B-A3B"].tolerance == 6
    assert "Qwen3.5 -> Qwen3.6 step took 51 to 57 days" in by["27B"].tolerance_reason
    assert (by["35B-A3B"].start, by["35B-A3B"].end) == (D(2026, 5, 31), D(2026, 6, 12))
    assert (by["27B"].start, by["27B"].end) == (D(2026, 6, 12), D(2026, 6, 24))
    # the watch's window is the first landing's: the earliest variant's
    assert (win.start, win.end, win.median) == (D(2026, 5, 31), D(2026, 6, 12), D(2026, 6, 6))
    assert win.describe() == ("27B: 57 days after Qwen3.6-27B (2026-04-22) +-6 day(s); "
                              "35B-A3B: 51 days after Qwen3.6-35B-A3B (2026-04-16) +-6 day(s)")


def test_tolerance_is_settable_and_zero_is_allowed():
    tight = QWEN.model_copy(update={"tolerance_days": 0})
    win = windows.history_window(WATCH, tight, "qwen", "per_variant")
    assert [(v.start, v.end) for v in win.variants] == [(D(2026, 6, 18), D(2026, 6, 18)), (D(2026, 6, 6), D(2026, 6, 6))]
    assert win.variants[0].tolerance_reason == "set in the cadence (tolerance_days)"


def test_default_tolerance_falls_back_to_the_history_then_a_week():
    steps = [("A", "B", {"7b": 100, "70b": 100}), ("B", "C", {"7b": 90, "70b": 110}), ("C", "D", {"7b": 50})]
    assert forecast.default_tolerance(steps, 1)[0] == 20  # this step's own spread
    assert forecast.default_tolerance(steps, 2)[0] == 20  # a lone variant: the median spread of the others
    assert forecast.default_tolerance(steps[:1], 0) == (7, "no step of the history shows a spread between variants: one week")


def test_variant_without_two_consecutive_generations_is_named_not_guessed():
    watch = WATCH.model_copy(update={"variants": ["27B", "397B-A17B"]})
    win = windows.history_window(watch, QWEN, "qwen", "per_variant")
    assert [v.label for v in win.variants] == ["27B"]
    assert "no forecast for 397b-a17b" in win.reason
    nothing = WATCH.model_copy(update={"variants": ["397B-A17B"]})
    with pytest.raises(cadence.CadenceError, match="no lags on basis per_variant"):
        windows.history_window(nothing, QWEN, "qwen", "per_variant")


def test_default_expected_variants_are_the_latest_generations():
    bare = WATCH.model_copy(update={"variants": []})
    assert [v.label for v in windows.history_window(bare, QWEN, "qwen", "per_variant").variants] == ["27B", "35B-A3B"]


def test_qwen_backtest_per_generation_checkable_by_hand():
    test = forecast.backtest(GENS, forecast.Params.of(QWEN))
    rows = {(p.generation, p.basis): p for p in test.predictions}
    # Qwen2.5 from Qwen2 (06-06) + the Qwen1.5 -> Qwen2 step (122 days) = 2024-10-06; it came 09-19
    pv = rows[("Qwen2.5", "per_variant")]
    assert (pv.check.median, pv.check.actual, pv.check.error, pv.check.inside) == (D(2024, 10, 6), D(2024, 9, 19), -17, False)
    assert sorted(v.label for v in pv.variants) == ["0.5B", "72B", "7B"]
    # Qwen3.6 on the flagship basis: -148..0 days from Qwen3.6-Max-Preview (04-20) held (04-16 is inside)
    fl = rows[("Qwen3.6", "flagship")]
    assert (fl.check.start, fl.check.end, fl.check.inside) == (D(2025, 11, 23), D(2026, 4, 20), True)
    # previous_open_weights: Qwen3.6 predicted 02-16 + median(122, 105, 222, 83, 210) = 122 days -> 06-18; came 04-16
    po = rows[("Qwen3.6", "previous_open_weights")]
    assert (po.check.median, po.check.error) == (D(2026, 6, 18), -63)
    scores = {b: (s.predicted, s.held, s.mae) for b, s in test.scores.items()}
    assert scores == {"flagship": (4, 1, 79.0), "previous_open_weights": (5, 1, 64.6), "per_variant": (2, 0, 56.0)}


def test_auto_picks_the_smallest_backtest_error_and_says_why():
    win = windows.expected_window(WATCH, SHIPPED.cadences)
    assert win.basis == "per_variant" and win.source == "cadence"
    assert win.reason.startswith("auto: per_variant had the smallest mean error in the backtest (")
    assert "previous_open_weights: most likely date off by 64.6 days on average, window held 1 of 5" in win.reason
    assert win.track == (0, 2) and win.track_clause == "windows like this held for 0 of 2 past generations"


def test_explicit_basis_and_lag_days_still_win():
    flag = QWEN.model_copy(update={"basis": "flagship"})
    win = windows.expected_window(WATCH, {"qwen": flag})
    assert (win.basis, win.start, win.end, win.track) == ("flagship", D(2025, 12, 23), D(2026, 5, 20), (1, 4))
    pinned = WATCH.model_copy(update={"lag_days": config.LagDays(min=51, max=59)})
    win = windows.expected_window(pinned, SHIPPED.cadences)
    assert (win.source, win.start, win.end) == ("lag_days", D(2026, 7, 10), D(2026, 7, 18))


@pytest.mark.parametrize(
    ("family", "basis", "scores", "window"),
    [
        # Gemma has no closed flagship and no variant in two consecutive generations before Gemma 4:
        # only previous_open_weights can be backtested, and it held 0 of 3 times.
        ("gemma", "previous_open_weights", {"flagship": (0, 0), "previous_open_weights": (3, 0), "per_variant": (0, 0)},
         (D(2026, 7, 17), D(2027, 1, 7))),
        # Llama: 70B took 275 days from Llama 2 to 3, and 3.1 came 96 days after 3: per_variant missed by 179 days.
        # The fixture watch's flagship (2026-12-01) comes after the next window counted from Llama 4 closed
        # (2025-06-08 to 2026-01-05): moved on by 4 steps of the median 96 days (384 days), see past_flagship.
        ("llama", "previous_open_weights", {"flagship": (0, 0), "previous_open_weights": (4, 2), "per_variant": (1, 0)},
         (D(2026, 6, 27), D(2027, 1, 24))),
    ],
)
def test_other_families_backtest_and_auto(family, basis, scores, window):
    cfg = fixture(family)
    cad, watch = cfg.cadences[family], cfg.watches[0]
    test = forecast.backtest(cadence.history_lags(cad.history), forecast.Params.of(cad))
    assert {b: (s.predicted, s.held) for b, s in test.scores.items()} == scores
    win = windows.expected_window(watch, cfg.cadences)
    assert (win.basis, (win.start, win.end)) == (basis, window)
    assert "is the only basis that predicted 2 or more past generations" in win.reason


def test_llama_steps_match_variants_across_naming_changes():
    steps = forecast.step_intervals(cadence.history_lags(fixture("llama").cadences["llama"].history))
    assert steps[0] == ("Llama 2", "Llama 3", {"70b": 275})  # Llama-2-70b-hf <-> Meta-Llama-3-70B
    assert steps[1] == ("Llama 3", "Llama 3.1", {"8b": 96, "70b": 96})  # Meta-Llama-3-8B <-> Llama-3.1-8B


def test_deepseek_versions_chain_and_auto_compares_two_records():
    """DeepSeek-V2 -> V2.5 -> V3 -> V3.1 -> V3.2-Exp is one variant ('V'); V4 splits into Pro/Flash."""
    cfg = fixture("deepseek")
    cad, watch = cfg.cadences["deepseek"], cfg.watches[0]
    gens = cadence.history_lags(cad.history)
    steps = forecast.step_intervals(gens)
    assert [s[2] for s in steps] == [{"v": 123}, {"v": 111}, {"v": 238}, {"v": 39}, {}, {"v-flash": 139}]
    test = forecast.backtest(gens, forecast.Params.of(cad))
    assert {b: (s.predicted, s.held, s.mae) for b, s in test.scores.items()} == {
        "flagship": (0, 0, None), "previous_open_weights": (5, 2, 64.6), "per_variant": (3, 0, 72.3)}
    win = windows.expected_window(watch, cfg.cadences)
    assert win.basis == "previous_open_weights" and win.track == (2, 5)
    assert win.reason.startswith("auto: previous_open_weights had the smallest mean error in the backtest "
                                 "(previous_open_weights: most likely date off by 64.6 days")


def _window(name: str, flagship: str, released: str, cadence_name: str, cad: config.Cadence) -> cadence.Window:
    """The expected window of a watch of that flagship on that cadence."""
    watch = config.Watch.model_validate({"name": name, "flagship": {"name": flagship, "released": released},
                                         "cadence": cadence_name, "huggingface": {"authors": ["x"]}})
    return windows.expected_window(watch, {cadence_name: cad})


def test_generations_dated_on_or_after_the_watch_flagship_are_left_out():
    """Hindsight: the Llama fixture has no flagship names to match, and it holds Llama 4 itself. A llama-4 watch
    (flagship = its first weights, 2025-04-05) must be predicted from Llama 2..3.3 only: counted from Llama 3.3
    (2024-12-06) + 64..275 days, most likely + 84 (median of 275, 96, 64, 72), not from Llama 4's own date."""
    cad = fixture("llama").cadences["llama"]
    win = _window("llama-4", "Llama 4", "2025-04-05", "llama", cad)
    watch = config.Watch.model_validate({"name": "llama-4", "flagship": {"name": "Llama 4", "released": "2025-04-05"},
                                         "cadence": "llama", "huggingface": {"authors": ["x"]}})
    without = cad.model_copy(update={"history": [g for g in cad.history if g.generation != "Llama 4"]})
    assert (win.start, win.end, win.median, win.anchor) == (D(2025, 2, 8), D(2025, 9, 7), D(2025, 2, 28), D(2024, 12, 6))
    assert win == windows.history_window(watch, without, "llama")
    assert win.start <= D(2025, 4, 5) <= win.end  # the real Llama 4 date falls inside


def test_newer_generation_in_the_history_does_not_leak_into_an_older_watch():
    """A Qwen history that already lists Qwen3.8 (flagship 2026-08-03, weights 08-12/08-14) gives the qwen3.7
    watch (flagship 2026-05-20) the same window as the history through Qwen3.6."""
    q38 = config.Generation(generation="Qwen3.8", flagship={"name": "Qwen3.8-Max", "released": "2026-08-03"},
                            open_weights=[{"repo": "Qwen/Qwen3.8-2.4T-A95B", "released": "2026-08-12"},
                                          {"repo": "Qwen/Qwen3.8-27B", "released": "2026-08-14"}])
    later = QWEN.model_copy(update={"history": [*QWEN.history, q38]})
    for basis in (*cadence.BASES, cadence.AUTO):
        assert windows.history_window(WATCH, later, "qwen", basis) == windows.history_window(WATCH, QWEN, "qwen", basis)


def test_window_that_closed_before_the_flagship_counts_a_skipped_generation():
    """Qwen never released 3.7 weights. A qwen3.8 watch (Qwen3.8-Max 2026-08-03) on the history through 3.6 gets
    3.7's per-variant windows (27B 06-12..06-24, 35B-A3B 05-31..06-12), both closed before its flagship: it would be
    overdue the day it starts. Each variant is moved on by whole steps of its own interval until its window
    reaches the flagship: 27B 04-22 + 2 x 57 = 08-14 (+-6), 35B-A3B 04-16 + 3 x 51 = 09-16 (+-6). The real
    Qwen3.8-27B came on 08-14 and Qwen3.8-2.4T-A95B on 08-12, inside the generation's window."""
    win = _window("qwen3.8", "Qwen3.8-Max", "2026-08-03", "qwen", QWEN)
    by = {v.label: v for v in win.variants}
    assert (by["27B"].start, by["27B"].median, by["27B"].end, by["27B"].skipped) == \
        (D(2026, 8, 8), D(2026, 8, 14), D(2026, 8, 20), 1)
    assert (by["35B-A3B"].start, by["35B-A3B"].median, by["35B-A3B"].end, by["35B-A3B"].skipped) == \
        (D(2026, 9, 10), D(2026, 9, 16), D(2026, 9, 22), 2)
    assert (win.basis, win.start, win.end) == ("per_variant", D(2026, 8, 8), D(2026, 8, 20))
    assert "closed before Qwen3.8-Max (2026-08-03)" in win.reason and win.track == (0, 2)
    assert "2 steps of 57 days" in by["27B"].describe()
    # the qwen3.7 watch (flagship 05-20) is not moved: its windows open after its flagship
    assert all(v.skipped == 0 for v in windows.expected_window(WATCH, SHIPPED.cadences).variants)
    # previous_open_weights: Gemma 1..3n (lags 127, 258, 106; median 127) counted from Gemma 3n (2025-06-26)
    # closes 2026-03-11, before Gemma 4 (2026-04-02): one more step of 127 days -> 2026-02-14..2026-07-16
    gemma = fixture("gemma").cadences["gemma"]
    g4 = _window("gemma-4", "Gemma 4", "2026-04-02", "gemma", gemma)
    assert (g4.basis, g4.start, g4.median, g4.end) == ("previous_open_weights", D(2026, 2, 14), D(2026, 3, 7),
                                                       D(2026, 7, 16))
    assert "1 more step(s) of 127 days" in g4.reason
    assert g4.describe() == "233 to 385 days after Gemma 3n open weights (2025-06-26)"  # the moved window, in words
