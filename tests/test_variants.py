"""The variant rule on real repo names of four labs (names as they are on the Hub)."""

from __future__ import annotations

import pytest

from watcher.forecast import variants


@pytest.mark.parametrize(
    ("newer", "older", "label"),
    [
        ("Qwen/Qwen3.6-27B", "Qwen/Qwen3.5-27B", "27B"),
        ("Qwen/Qwen3.6-35B-A3B", "Qwen/Qwen3.5-35B-A3B", "35B-A3B"),
        ("Qwen/Qwen3-235B-A22B-Thinking-2507", "Qwen/Qwen3-235B-A22B", "235B-A22B"),  # 2507: a date stamp
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen1.5-7B-Chat", "7B"),
        ("google/gemma-3-27b-it", "google/gemma-2-27b-it", "27B"),
        ("google/gemma-2-2b", "google/gemma-2b", "2B"),  # Gemma 1 has no version number in its names
        ("meta-llama/Llama-3.1-70B", "meta-llama/Meta-Llama-3-70B", "70B"),
        ("meta-llama/Llama-3.1-405B-Instruct-FP8", "meta-llama/Llama-3.1-405B", "405B"),
        ("meta-llama/Llama-3.2-1B-Instruct-QLORA_INT4_EO8", "meta-llama/Llama-3.2-1B", "1B"),
        ("deepseek-ai/DeepSeek-V3.1", "deepseek-ai/DeepSeek-V3", "V"),
        ("deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3", "V"),
        ("deepseek-ai/DeepSeek-V3.1-Base", "deepseek-ai/DeepSeek-V3-Base", "V"),
        ("deepseek-ai/DeepSeek-V3.2-Exp", "deepseek-ai/DeepSeek-V3.1", "V"),  # -Exp: a release stage
        ("deepseek-ai/DeepSeek-V4.1-Flash", "deepseek-ai/DeepSeek-V4-Flash", "V-Flash"),
        ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-2-70b-hf", "70B"),
        ("google/gemma-4-12B-it", "google/gemma-3-12b-it", "12B"),
        ("Qwen/Qwen3-4B-Thinking-2507", "Qwen/Qwen3-4B", "4B"),
        ("unsloth/Qwen3.6-27B-GGUF", "Qwen/Qwen3.6-27B", "27B"),
        ("Qwen/Qwen3.8", "Qwen/Qwen3.6-FP8", "Qwen"),  # no size: the family, not "Qwen3.8" (never matched)
        ("zai-org/GLM-4.6", "zai-org/GLM-4.5", "GLM"),
    ],
)
def test_same_variant_across_generations_and_forms(newer, older, label):
    assert variants.variant_of(newer).key == variants.variant_of(older).key
    assert variants.variant_of(newer).label == label


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Qwen/Qwen2.5-Coder-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),  # another line, same size
        ("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3.6-35B-A3B"),  # another size
        ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3"),  # R and V are different lines
        ("meta-llama/Llama-3.2-11B-Vision", "meta-llama/Llama-3.1-8B"),
        ("google/gemma-3n-E4B-it", "google/gemma-4-E4B-it"),  # 3n is its own line
        ("meta-llama/Llama-4-Scout-17B-16E", "meta-llama/Llama-4-Maverick-17B-128E-Instruct"),
        ("Qwen/Qwen-AgentWorld-35B-A3B", "Qwen/Qwen3.6-35B-A3B"),  # official, built on 3.5, not a generation
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "Qwen/Qwen2.5-7B"),  # another family's size inside the name
        ("google/gemma-3n-E4B-it", "google/gemma-3-4b-it"),
    ],
)
def test_different_variants_stay_apart(one, other):
    assert variants.variant_of(one).key != variants.variant_of(other).key


def test_main_repo_is_named_before_its_copies():
    repos = ["Qwen/Qwen3.6-27B-FP8", "Qwen/Qwen3.6-27B-GGUF", "Qwen/Qwen3.6-27B"]
    assert variants.main_repo(repos) == "Qwen/Qwen3.6-27B"
    assert variants.main_repo(["Qwen/Qwen3.6-27B-FP8", "Qwen/Qwen3.6-27B-Base"]) == "Qwen/Qwen3.6-27B-Base"
    assert variants.variant_of("Qwen/Qwen3.6-27B-FP8").is_main is False
    assert variants.variant_of("google/gemma-3-27b-it").is_main is True


def test_sizes_sort_by_parameters_not_as_text():
    assert variants.sort_labels(["E4B", "31B", "E2B", "26B-A4B"]) == ["E2B", "E4B", "26B-A4B", "31B"]  # Gemma's E = effective
    assert variants.sort_labels(["14B", "3B", "32B", "0.5B", "1.5B", "270M", "8x7B"]) == \
        ["270M", "0.5B", "1.5B", "3B", "14B", "32B", "8x7B"]


@pytest.mark.parametrize("hostile", ["", "/", "a/", "Qwen/" + "9" * 400, "x/<b>-27B", "x/../../27B-FP8"])
def test_odd_names_give_a_variant_not_an_exception(hostile):
    var = variants.variant_of(hostile)
    assert isinstance(var.key, str)
