"""Replays of other families' real next generation, day by day through the pipeline (fake Hub and Slack), with
the history before it only: Gemma 1..3n -> Gemma 4, Llama 2..3.3 -> Llama 4, DeepSeek V2..V3.2 -> V4, and
Qwen1.5..3.6 -> Qwen3.8 (Qwen3.7 had no open weights). Repo names and dates: tests/data/*.yaml and the shipped
config.yaml, each with its source; Qwen3.8's from QwenLM/Qwen3.8's README News (2026-08-12 2.4T-A95B, 08-14 27B),
its 401 placeholder Qwen/Qwen3.8-35B-A3B from https://github.com/modelscope/ms-swift/pull/9914.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from test_replay import Replay, W, days, shipped_cadences

from watcher.engine import status as status_mod

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def family(name: str) -> dict:
    """The fixture's cadence as written: it holds the generation being replayed too (left out as hindsight)."""
    return yaml.safe_load((ROOT / "tests" / "data" / f"{name}.yaml").read_text())["cadences"][name]


def watch(name: str, flagship: str, released: str, cadence: str, author: str, include: str, **extra) -> dict:
    hub = {"authors": [author], "include": [include], **extra}
    return {"name": name, "flagship": {"name": flagship, "released": released}, "cadence": cadence, "huggingface": hub}


def check_released_once(run: Replay, repo: str, day: str) -> None:
    released = run.events("released")
    assert [(r[1], r[3]) for r in released] == [(repo, day)]
    assert run.slack_text().count("Released:") == 1


GEMMA4 = [
    ("2025-03-12", "google/gemma-3-27b-it", W),  # the previous generation: not gemma-4-*
    ("2026-04-02", "google/gemma-4-31B-it", W), ("2026-04-02", "google/gemma-4-31B", W),
    ("2026-04-02", "google/gemma-4-26B-A4B-it", W), ("2026-04-02", "google/gemma-4-E4B-it", W),
    ("2026-04-02", "google/gemma-4-E2B-it", W), ("2026-04-02", "google/gemma-4-E2B", W),
    ("2026-04-03", "unsloth/gemma-4-31B-it-GGUF", {"q4.gguf": 1_000}),  # third party, not followed
    ("2026-06-03", "google/gemma-4-12B", W), ("2026-06-03", "google/gemma-4-12B-it", W),
]


def test_gemma4_from_gemma_1_to_3n(tmp_path, hub, github, slack):
    """Gemma 1 -> 2 -> 3 -> 3n took 127, 258 and 106 days; counted from 3n (2025-06-26) that window closed on
    2026-03-11, before Gemma 4 (2026-04-02): one more step of the median 127 days, 2026-02-14 to 2026-07-16."""
    run = Replay(tmp_path, hub, github, slack, watch("gemma-4", "Gemma 4", "2026-04-02", "gemma", "google",
                                                      "gemma-4-*"), {"gemma": family("gemma")})
    seen = {d: run.day(d, GEMMA4) for d in days("2026-03-30", "2026-04-04") + ["2026-06-03"]}
    assert {s["expected_window"]["start"] for s in seen.values()} == {"2026-02-14"}
    assert {s["expected_window"]["end"] for s in seen.values()} == {"2026-07-16"}
    assert [seen[d]["state"] for d in sorted(seen)] == ["in_window"] * 3 + ["released"] * 4
    # several variants on the first day: the smallest (E2B), and of its forms the plain repo, not -it
    check_released_once(run, "google/gemma-4-E2B", "2026-04-02")
    landed = {v["variant"]: v["repo"] for v in seen["2026-06-03"]["variants"]}
    assert landed == {"E2B": "google/gemma-4-E2B", "E4B": "google/gemma-4-E4B-it", "12B": "google/gemma-4-12B",
                      "26B-A4B": "google/gemma-4-26B-A4B-it", "31B": "google/gemma-4-31B"}
    assert "unsloth" not in run.slack_text() and "gemma-3" not in run.slack_text()


LLAMA4 = [
    ("2024-12-06", "meta-llama/Llama-3.3-70B-Instruct", W),
    ("2025-04-05", "meta-llama/Llama-4-Scout-17B-16E-Instruct", W), ("2025-04-05", "meta-llama/Llama-4-Scout-17B-16E", W),
    ("2025-04-05", "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", W),
    ("2025-04-05", "meta-llama/Llama-4-Maverick-17B-128E-Instruct", W),
    ("2025-04-05", "meta-llama/Llama-4-Maverick-17B-128E", W),
]


def test_llama4_from_llama_2_to_3_3(tmp_path, hub, github, slack):
    """Llama 2 -> 3 -> 3.1 -> 3.2 -> 3.3: 275, 96, 64, 72 days; from 3.3 (2024-12-06): 2025-02-08 to 2025-09-07."""
    run = Replay(tmp_path, hub, github, slack, watch("llama-4", "Llama 4", "2025-04-05", "llama", "meta-llama",
                                                      "Llama-4-*"), {"llama": family("llama")})
    seen = {d: run.day(d, LLAMA4) for d in days("2025-04-03", "2025-04-07")}
    assert {(s["expected_window"]["start"], s["expected_window"]["end"]) for s in seen.values()} == \
        {("2025-02-08", "2025-09-07")}
    assert [seen[d]["state"] for d in sorted(seen)] == ["in_window"] * 2 + ["released"] * 3
    check_released_once(run, "meta-llama/Llama-4-Maverick-17B-128E", "2025-04-05")
    assert "120 days after Llama 3.3 open weights" in run.events("released")[0][2]["summary"]


DEEPSEEK4 = [
    ("2025-12-01", "deepseek-ai/DeepSeek-V3.2", W),
    ("2026-04-24", "deepseek-ai/DeepSeek-V4-Pro-Base", W), ("2026-04-24", "deepseek-ai/DeepSeek-V4-Pro", W),
    ("2026-04-24", "deepseek-ai/DeepSeek-V4-Flash", W), ("2026-04-24", "deepseek-ai/DeepSeek-V4-Flash-Base", W),
    ("2026-07-31", "deepseek-ai/DeepSeek-V4-Flash-0731", W),  # a refresh: the same variant, no second release
]


def test_deepseek_v4_from_v2_to_v3_2(tmp_path, hub, github, slack):
    run = Replay(tmp_path, hub, github, slack, watch("deepseek-v4", "DeepSeek-V4", "2026-04-24", "deepseek",
                                                      "deepseek-ai", "DeepSeek-V4*"), {"deepseek": family("deepseek")})
    seen = {d: run.day(d, DEEPSEEK4) for d in ["2026-04-23", "2026-04-24", "2026-04-25", "2026-07-31"]}
    # V2 -> V2.5 -> V3 -> V3.1 -> V3.2: 123, 111, 238, 39 days, counted from V3.2-Exp (2025-09-29)
    assert seen["2026-04-23"]["expected_window"] == {"start": "2025-11-07", "end": "2026-05-25"}
    assert [seen[d]["state"] for d in sorted(seen)] == ["in_window", "released", "released", "released"]
    check_released_once(run, "deepseek-ai/DeepSeek-V4-Flash", "2026-04-24")
    assert {v["variant"]: v["repo"] for v in seen["2026-07-31"]["variants"]} == \
        {"V-Flash": "deepseek-ai/DeepSeek-V4-Flash", "V-Pro": "deepseek-ai/DeepSeek-V4-Pro"}


QWEN38 = [
    ("2026-04-16", "Qwen/Qwen3.6-35B-A3B", W), ("2026-04-22", "Qwen/Qwen3.6-27B", W),
    ("2026-06-25", "Qwen/Qwen-AgentWorld-35B-A3B", W),  # official look-alike of 35B-A3B, not a 3.8 variant
    ("2026-08-12", "Qwen/Qwen3.8-2.4T-A95B-FP8", W), ("2026-08-12", "Qwen/Qwen3.8-2.4T-A95B", W),
    ("2026-08-13", "unsloth/Qwen3.8-27B-GGUF", {"q4.gguf": 1_000}),  # a third party's copy before the real one
    ("2026-08-14", "Qwen/Qwen3.8-27B-FP8", W), ("2026-08-14", "Qwen/Qwen3.8-27B", W),
]


def test_qwen38_after_a_generation_without_weights(tmp_path, hub, github, slack):
    """History through Qwen3.6 predicts 3.7's windows (closed in June), before Qwen3.8-Max (08-03): each variant
    moves on by its own steps, 27B 08-08..08-20 (2 x 57 days), 35B-A3B 09-10..09-22 (3 x 51). The 401 placeholder
    Qwen3.8-35B-A3B (listed in repos:) never ships and never counts; 35B-A3B is late after 09-22."""
    hub.add_model("Qwen/Qwen3.8-35B-A3B", W, private=True, created_at="2026-08-10T00:00:00Z")
    cfg = watch("qwen3.8", "Qwen3.8-Max", "2026-08-03", "qwen", "Qwen", "Qwen3.8-*", exclude=["*Max*"],
                repos=["Qwen/Qwen3.8-35B-A3B"])
    cfg["variants"] = ["27B", "35B-A3B"]
    run = Replay(tmp_path, hub, github, slack, cfg, shipped_cadences())
    before = status_mod.build(run.config, run.engine, dt.datetime(2026, 8, 3, tzinfo=dt.timezone.utc))["watches"][0]
    seen = {d: run.day(d, QWEN38) for d in days("2026-08-03", "2026-08-15") + ["2026-09-23"]}
    # status --json has the same keys before any poll (state unknown) as after, for scripts reading it
    assert (before["state"], before["state_by_window"]) == ("unknown", "waiting")
    assert {tuple(sorted(s)) for s in [before, *seen.values()]} == {tuple(sorted(before))}
    assert {tuple(sorted(v)) for s in seen.values() for v in s["variants"]} == {tuple(sorted(before["variants"][0]))}
    assert seen["2026-08-03"]["expected_window"] == {"start": "2026-08-08", "end": "2026-08-20"}
    assert "closed before Qwen3.8-Max (2026-08-03)" in seen["2026-08-03"]["window_reason"]
    states = [seen[d]["state"] for d in days("2026-08-03", "2026-08-15")]
    assert states == ["waiting"] * 5 + ["in_window"] * 4 + ["released"] * 4
    check_released_once(run, "Qwen/Qwen3.8-2.4T-A95B", "2026-08-12")
    later = run.events("variant_released")
    assert [(e[2]["variant"], e[2]["repo"], e[3]) for e in later] == [("27B", "Qwen/Qwen3.8-27B", "2026-08-14")]
    assert "the same day as its most likely date (2026-08-14), inside its window" in later[0][2]["summary"]
    last = {v["variant"]: v for v in seen["2026-09-23"]["variants"]}
    assert (last["35B-A3B"]["state"], last["35B-A3B"]["repo"], last["35B-A3B"]["days_overdue"]) == ("overdue", None, 1)
    assert (last["27B"]["state"], last["27B"]["days_from_most_likely"]) == ("released", 0)
    text = run.slack_text()
    assert "AgentWorld" not in text and "unsloth" not in text and "Qwen3.8-35B-A3B" not in text
