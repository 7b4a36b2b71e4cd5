"""Which repos of two generations are "the same model": the variant a repo name stands for.

A lab names a generation's open weights `<family><version>-<size>[-<form>]`: `Qwen/Qwen3.6-27B-FP8`,
`google/gemma-3-27b-it`, `meta-llama/Meta-Llama-3-70B`, `deepseek-ai/DeepSeek-V3.1`. The variant is what
is left when the family words and the version are removed and the form suffixes are dropped:

1. Split the repo's name (after the owner) at `-`, `_` and spaces.
2. The *version* is the first token carrying a number that is not a size (`Qwen3.6`, `3`, `3.1`, `V3`).
   Every token before it, and the version's own digits and family letters, are dropped (`Qwen`, `Meta`,
   `Llama`, `gemma`). A one-letter prefix glued to the version (`V3`, `R1`) names a product line and stays;
   so do letters glued after it (`3n`: `n`). A name without a version (`gemma-7b`, `QwQ-32B`) drops only its
   first word, the family: `Qwen/Qwen-AgentWorld-35B-A3B` is `AgentWorld-35B-A3B`, not `35B-A3B`.
   A name that is only family and version (`Qwen/Qwen3.6`, `GLM-4.5`) is its family (`Qwen`, `GLM`).
3. Sizes stay wherever they are (`27B`, `35B-A3B`, `0.5B`, `E4B`, `8x7B`, `16E`), upper-cased.
4. Form tokens are dropped: precision and packaging (`FP8`, `GGUF`, `AWQ`, `GPTQ`, `Int4`, `MLX`, `4bit`...),
   training stage (`Base`, `Instruct`, `Chat`, `it`, `pt`, `Thinking`), `hf`, and date stamps (`2507`,
   `20250528`): a refresh of the same model is a new generation, not a new variant.
5. Other words stay (`Coder`, `VL`, `Vision`, `Scout`, `MoE`): `Qwen2.5-Coder-7B` is not `Qwen2.5-7B`.

Two repos are the same variant when their keys (the remaining tokens, lower-case, joined by `-`) are equal.
Nothing here knows a lab: the rule is about the shape of names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_SIZE = re.compile(r"^(?:\d+x)?\d+(?:\.\d+)?[bmtk]$|^[ae]\d+(?:\.\d+)?b$|^\d+e$", re.I)
_VERSION = re.compile(r"^([a-z]*?)(\d+(?:\.\d+)*)([a-z]*)$", re.I)
_DATE = re.compile(r"^(?:\d{4}|\d{6}|\d{8})$")
_FORMS = {
    "base", "instruct", "chat", "it", "pt", "hf", "thinking", "original",
    "fp8", "fp4", "fp16", "bf16", "nvfp4", "mxfp4", "int4", "int8", "w4a16", "w8a8", "w4a8",
    "gguf", "awq", "gptq", "mlx", "bnb", "nf4", "exl2", "qat", "dynamic", "quantized", "unsloth",
    "qlora", "lora", "spinquant", "exp", "preview",
}
_FORM_PATTERN = re.compile(r"^(?:\d+bit|q\d+(?:_[a-z0-9]+)*|int\d+|fp\d+)$", re.I)


@dataclass(frozen=True)
class Variant:
    """A repo's variant: `key` compares across generations, `label` is what people read."""

    key: str
    label: str
    form: str  # the dropped form tokens ("" for the main repo), e.g. "Instruct-FP8"

    @property
    def is_main(self) -> bool:
        """The plain repo (no precision or packaging suffix) is the one to name when a variant lands."""
        return not any(_is_packaging(t) for t in self.form.split("-") if t)


def _is_size(token: str) -> bool:
    return bool(_SIZE.match(token))


def _is_form(token: str) -> bool:
    return token.lower() in _FORMS or bool(_FORM_PATTERN.match(token)) or bool(_DATE.match(token))


def _is_packaging(token: str) -> bool:
    """Forms that are copies of a main repo (quantised, converted), as opposed to Base/Instruct."""
    return token.lower() not in {"base", "instruct", "chat", "it", "pt", "hf", "thinking", "original", "exp", "preview"} \
        and not _DATE.match(token)


def _version_index(tokens: list[str]) -> int | None:
    for i, token in enumerate(tokens):
        if _is_size(token) or _DATE.match(token):
            continue
        if _VERSION.match(token):
            return i
    return None


@lru_cache(maxsize=4096)
def variant_of(repo_id: str) -> Variant:
    """The variant a repo stands for (see the module docstring for the rule, step by step)."""
    name = repo_id.rsplit("/", 1)[-1]
    tokens = [t for t in re.split(r"[-_ ]+", name) if t]
    at = _version_index(tokens)
    kept: list[str] = []
    forms: list[str] = []
    family = ""
    if at is not None:
        prefix, _, suffix = _VERSION.match(tokens[at]).groups()
        line = (prefix.upper() if len(prefix) == 1 else "") + suffix
        family = prefix if len(prefix) > 1 else ""
        if line:
            kept.append(line)
        rest = [t for t in tokens[:at] if _is_size(t)] + tokens[at + 1:]
    else:  # no version: the first word is the family (gemma-7b); the words after it stay (Qwen-AgentWorld-35B-A3B)
        rest = tokens[1:] if len(tokens) > 1 and not _is_size(tokens[0]) else tokens
    for token in rest:
        if forms and _is_packaging(forms[-1]):
            forms.append(token)  # after a quantisation suffix everything is its detail (QLORA_INT4_EO8)
        elif _is_size(token):
            kept.append(token.upper().replace("X", "x"))
        elif _is_form(token):
            forms.append(token)
        else:
            kept.append(token)
    if not kept:  # nothing but the family and the version: the family, the same in every generation (Qwen3.6, GLM-4.5)
        kept = [family] if family else [tokens[0]] if tokens else [name]
    label = "-".join(kept)
    return Variant(label.lower(), label, "-".join(forms))


def size_order(label: str) -> tuple[float, str]:
    """Sort key for variants: by parameter count (0.5B < 3B < 14B), not as text (14B < 3B)."""
    scale = {"k": 1e-6, "m": 1e-3, "b": 1.0, "t": 1e3}
    for token in label.split("-"):
        match = re.match(r"^e?(?:(\d+)x)?(\d+(?:\.\d+)?)([bmtk])$", token, re.I)  # E2B: effective 2B
        if match:
            experts = int(match.group(1) or 1)
            return experts * float(match.group(2)) * scale[match.group(3).lower()], label.lower()
    return float("inf"), label.lower()


def main_repo(repo_ids: Iterable[str]) -> str | None:
    """Of several repos of one variant, the one to name: the plain one before its -FP8/-GGUF copies."""
    ids = sorted(repo_ids, key=lambda r: (not variant_of(r).is_main, len(r), r.lower()))
    return ids[0] if ids else None


def sort_labels(labels: Iterable[str]) -> list[str]:
    return sorted(set(labels), key=size_order)
