"""RapidOCR (PP-OCRv4 on onnxruntime, offline): parameters, version, reading a real rendered page
in reading order, the sweep's thread share, and nothing heavy imported before a page is read."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from test_easyocr import render

from ocrbench import metrics, pages, registry
from ocrbench.engines import rapidocr as rapid
from ocrbench.errors import ConfigError, DatasetError

from conftest import ROOT

pytestmark = pytest.mark.rapidocr


def needs_rapidocr() -> None:
    if importlib.util.find_spec("rapidocr_onnxruntime") is None:
        pytest.skip("rapidocr_onnxruntime is not installed (pip install -e '.[rapidocr]')")


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"box_thresh": "1.5"}, r"box_thresh must be in \[0, 1\)"),
        ({"text_score": "-0.1"}, r"text_score must be in \[0, 1\)"),
        ({"layout": "pages"}, "layout must be"),
        ({"use_cls": "maybe"}, "use_cls"),
        ({"box_tresh": "0.4"}, "did you mean 'box_thresh'"),
    ],
)
def test_parameters_are_checked_when_built(params: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint) as error:
        registry.engines.create("rapidocr", params)
    assert "\n" not in str(error.value)


def test_importing_the_engine_loads_no_onnxruntime() -> None:
    code = ("import sys, ocrbench, ocrbench.engines.rapidocr; "
            "print([m for m in ('onnxruntime', 'cv2', 'torch') if m in sys.modules])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_version_names_the_packages_and_the_model_files() -> None:
    needs_rapidocr()
    version = rapid.RapidOcr().version()
    assert version.startswith("rapidocr_onnxruntime 1.4.4 / onnxruntime ")
    assert version.endswith(f"models {rapid.models_hash()[:12]} / {pages.VERSION}")


def test_it_reads_a_rendered_page_line_by_line(tmp_path: Path) -> None:
    needs_rapidocr()
    lines = ["Invoice number 12345", "Total due 68.20", "Thank you"]
    page = render(tmp_path / "page.png", lines)
    result = rapid.RapidOcr().recognize(page)
    assert result.text.count("\n") == 2 and result.seconds > 0 and result.words
    # PP-OCRv4's recogniser drops some spaces in English: compare without them
    squeezed = metrics.score("".join("".join(lines).split()), "".join(result.text.split()))
    assert squeezed.cer < 0.05, result.text
    assert result.text.split("\n")[0] == "Invoice number 12345"
    assert all(w.box is not None and 0 <= (w.confidence or 0) <= 1 for w in result.words)


def test_a_bad_image_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="bad.png is unreadable or corrupt"):
        rapid.RapidOcr().recognize(bad)


def test_the_engine_takes_the_sweeps_thread_share(monkeypatch: pytest.MonkeyPatch) -> None:
    needs_rapidocr()
    monkeypatch.setenv("OCRBENCH_THREADS", "1")
    assert rapid._threads() == 1
    engine = rapid._engine(rapid._threads())
    for session in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
        options = session.session.get_session_options()
        assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    monkeypatch.delenv("OCRBENCH_THREADS")
    assert rapid._threads() == -1  # alone: onnxruntime's own choice


def test_it_runs_from_the_command_line_on_the_bundled_invoices(tmp_path: Path) -> None:
    needs_rapidocr()
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "run", "--dataset",
         str(ROOT / "datasets/invoices-synth"), "--engine", "rapidocr", "--limit", "2",
         "--out", str(tmp_path / "out"), "--quiet", "--no-report"],
        capture_output=True, text=True, timeout=300,
        env={"OCRBENCH_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
             "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rapidocr + identity" in done.stdout
