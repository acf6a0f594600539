"""Quantization names: the tutorial's spellings, the ladder `quantize` makes, and how a file name
carries one ("...-Q4_K_M.gguf")."""

from __future__ import annotations

import re

# The tutorial's names for quantizations, and a few common spellings.
ALIASES = {
    "int8": "q8_0",
    "int4": "q4_0",
    "fp16": "f16",
    "half": "f16",
    "float16": "f16",
    "fp32": "f32",
    "float32": "f32",
    "float": "f32",
}

# What `quantize` can make: our name -> the LLAMA_FTYPE_* constant of llama_cpp, most precise first.
LADDER = {
    "f32": "ALL_F32",
    "f16": "MOSTLY_F16",
    "bf16": "MOSTLY_BF16",
    "q8_0": "MOSTLY_Q8_0",
    "q6_k": "MOSTLY_Q6_K",
    "q5_k_m": "MOSTLY_Q5_K_M",
    "q5_k_s": "MOSTLY_Q5_K_S",
    "q5_1": "MOSTLY_Q5_1",
    "q5_0": "MOSTLY_Q5_0",
    "q4_k_m": "MOSTLY_Q4_K_M",
    "q4_k_s": "MOSTLY_Q4_K_S",
    "q4_1": "MOSTLY_Q4_1",
    "q4_0": "MOSTLY_Q4_0",
    "iq4_nl": "MOSTLY_IQ4_NL",
    "iq4_xs": "MOSTLY_IQ4_XS",
    "q3_k_l": "MOSTLY_Q3_K_L",
    "q3_k_m": "MOSTLY_Q3_K_M",
    "q3_k_s": "MOSTLY_Q3_K_S",
    "q2_k": "MOSTLY_Q2_K",
}

FLOAT = ("f32", "f16", "bf16")  # quantizations that lose nothing a model was trained with


def canonical_quantization(name: str) -> str:
    """ "INT8" -> "q8_0", "Q4_K_M" -> "q4_k_m": lower case, aliases resolved."""
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def _token_pattern(quantization: str) -> re.Pattern[str]:
    # A whole token: "q8_0" must not match "q8_0_l", "f16" must not match "bf16".
    return re.compile(rf"(?<![a-z0-9]){re.escape(quantization)}(?![a-z0-9_])")


def names_quantization(filename: str, quantization: str) -> bool:
    """Whether a file name carries this quantization as a whole token (case-insensitive)."""
    pattern = _token_pattern(canonical_quantization(quantization))
    return pattern.search(filename.lower()) is not None


def quantization_of(filename: str) -> str | None:
    """The known quantization a file name carries, if any."""
    for name in sorted(LADDER, key=len, reverse=True):
        if names_quantization(filename, name):
            return name
    return None


def strip_quantization(stem: str) -> str:
    """ "gemma-3-270m-q4_k_m" -> "gemma-3-270m": the name every quantization of it shares."""
    quantization = quantization_of(stem)
    if quantization is None:
        return stem
    pattern = rf"[-_.]?(?<![a-z0-9]){re.escape(quantization)}(?![a-z0-9_])"
    return re.sub(pattern, "", stem, flags=re.IGNORECASE).strip("-_.") or stem
