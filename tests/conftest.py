"""Shared fixtures: where ../shared is, and small real inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
BUNDLED = ROOT / "datasets" / "invoices-synth"


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
