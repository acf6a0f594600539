from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from ocrbench import datasets, run
from ocrbench.cache import Cache
from ocrbench.cli import Terminated
from ocrbench.engines import tesseract as tesseract_module
from ocrbench.engines.tesseract import Tesseract
from ocrbench.errors import DatasetError, SetupError

from conftest import needs_tesseract, shared_data

pytestmark = pytest.mark.tesseract

# The acceptance bounds, from Tesseract 5.3 on ../shared/data/tesseract-test.
CER_BOUNDS = {"phototest": 0.01, "eurotext": 0.12, "8071_093.3B": 0.12, "8087_054.3B": 0.12}


@pytest.mark.shared
@pytest.mark.slow
def test_cer_on_real_scanned_pages(tmp_path: Path) -> None:
    """The scanned pages, converted with `pairs` and run through the pipeline as a user would."""
    needs_tesseract()
    dataset = datasets.convert("pairs", shared_data("tesseract-test"), tmp_path / "tt")
    rows = run.run(dataset, Tesseract(), cache=Cache(None), progress=False)
    cer = {row["sample_id"]: row["cer"] for row in rows}
    assert set(cer) == set(CER_BOUNDS)
    for page, bound in CER_BOUNDS.items():
        assert cer[page] <= bound, (page, cer[page])
    assert all(row["ocr_seconds"] > 0 for row in rows)


def test_missing_language_pack_says_how_to_install() -> None:
    needs_tesseract()
    with pytest.raises(SetupError, match="apt-get install tesseract-ocr-klingon"):
        Tesseract(lang="eng+klingon").version()


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    tesseract_module.forget()
    try:
        with pytest.raises(SetupError, match="apt-get install tesseract-ocr"):
            Tesseract().version()
    finally:
        tesseract_module.forget()


def test_corrupt_and_missing_images_name_the_file(tmp_path: Path) -> None:
    needs_tesseract()
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError, match="broken.png is unreadable or corrupt"):
        Tesseract().recognize(corrupt)
    with pytest.raises(DatasetError, match="nothing.png not found"):
        Tesseract().recognize(tmp_path / "nothing.png")


def test_layout_matches_tesseract_plain_text() -> None:
    needs_tesseract()
    import pytesseract
    from PIL import Image

    page = shared_data("tesseract-test") / "phototest.tif"
    with Image.open(page) as image:
        plain = pytesseract.image_to_string(image)
    assert Tesseract().recognize(page).text == plain.strip()


def _tessdata(folder: Path, eng_from: str) -> Path:
    """A tessdata folder whose eng.traineddata is a copy of the installed `eng_from` model."""
    installed = tesseract_module.tessdata_dir("")
    folder.mkdir()
    (folder / "eng.traineddata").write_bytes((installed / f"{eng_from}.traineddata").read_bytes())
    return folder


def test_the_version_names_the_files_its_options_read(tmp_path: Path) -> None:
    """`config="--user-words words.txt"` entered the cache key as a string: a changed word list
    (or patterns, or config file) was served the OCR the old one gave."""
    needs_tesseract()
    words, patterns, settings = tmp_path / "words.txt", tmp_path / "patterns.txt", tmp_path / "cfg"
    words.write_text("Zorblaxian\n")
    patterns.write_text("\\d\\d\\d\n")
    settings.write_text("tessedit_do_invert 0\n")
    config = (
        f"--user-words {words} -c user_patterns_file={patterns} -c load_system_dawg=0 {settings}"
    )
    engine = Tesseract(config=config)
    before = engine.version()
    for file in (words, patterns, settings):
        file.write_text(file.read_text() + "more\n")
        after = engine.version()
        assert after != before, file.name
        before = after
    assert Tesseract(config=f"--user-words {tmp_path / 'none.txt'}").version()  # Tesseract's to say


def test_config_files_in_tessconfigs_and_the_files_they_name_are_in_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tesseract finds a config name in tessdata/tessconfigs/ too, and a config file can name a
    word list (user_words_file): editing either was served the old OCR."""
    needs_tesseract()
    folder = _tessdata(tmp_path / "tessdata", "eng")
    monkeypatch.setenv("TESSDATA_PREFIX", str(folder))
    (folder / "tessconfigs").mkdir()
    words = tmp_path / "words.txt"
    words.write_text("Zorblaxian\n")
    setting = folder / "tessconfigs" / "mine"
    setting.write_text(f"tessedit_char_blacklist xyz\nuser_words_file {words}\n")
    engine = Tesseract(config="mine")
    before = engine.version()
    for file in (setting, words):
        file.write_text(file.read_text() + "# more\n")
        after = engine.version()
        assert after != before, file.name
        before = after


@pytest.mark.parametrize("option", ["-l grc", "--psm 1", "--oem 0", "--psm=6", "-l=eng"])
def test_lang_psm_and_oem_are_set_by_their_parameters_not_in_config(option: str) -> None:
    """Tesseract obeys the last -l/--psm/--oem it is given, the one in config, while the cache
    key hashed the language data of `lang`: its own parameters say them, or nothing does."""
    with pytest.raises(ValueError, match="lang=, psm= and oem="):
        Tesseract(config=f"-c preserve_interword_spaces=1 {option}")


def test_the_version_names_the_language_data_so_other_models_miss_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping eng.traineddata (fast for best, a retrained model, TESSDATA_PREFIX) changes what
    Tesseract reads: the cache must not serve the other model's OCR as this one's."""
    needs_tesseract()
    if not (tesseract_module.tessdata_dir("") / "grc.traineddata").exists():
        pytest.skip("needs tesseract-ocr-grc (make setup installs it)")
    same = _tessdata(tmp_path / "same", "eng")
    other = _tessdata(tmp_path / "other", "grc")
    versions = {}
    for name, folder in (("same", same), ("other", other)):
        monkeypatch.setenv("TESSDATA_PREFIX", str(folder))
        versions[name] = Tesseract().version()
    monkeypatch.delenv("TESSDATA_PREFIX")
    installed = Tesseract().version()
    assert versions["same"] == installed  # the same bytes elsewhere are the same model
    assert versions["other"] != installed
    # and through the cache, as a user runs it twice
    invoices = datasets.load(Path(__file__).parent.parent / "datasets" / "invoices-synth")
    dataset = replace(invoices, samples=invoices.samples[:1])
    cache = Cache(tmp_path / "cache")
    first = run.run(dataset, Tesseract(), cache=cache, progress=False)
    monkeypatch.setenv("TESSDATA_PREFIX", str(other))
    second = run.run(dataset, Tesseract(), cache=cache, progress=False)
    assert first[0]["ocr_text"] != second[0]["ocr_text"]


def test_a_tessdata_dir_in_config_is_the_one_named(tmp_path: Path) -> None:
    needs_tesseract()
    other = _tessdata(tmp_path / "other", "eng")
    assert tesseract_module.tessdata_dir(f"--tessdata-dir {other}") == other
    named = Tesseract(config=f"--tessdata-dir {other}").version()
    assert named.startswith(Tesseract().version().split()[0])


INVOICES = Path(__file__).parent.parent / "datasets" / "invoices-synth"


@pytest.mark.parametrize(
    ("name", "psm", "config"),
    [("000-invoice.png", 3, ""), ("001-invoice.png", 3, ""), ("005-receipt.jpg", 3, ""),
     ("002-invoice.jpg", 6, "-c preserve_interword_spaces=1"), ("004-receipt.png", 4, "")],
)  # fmt: skip
def test_the_words_and_text_are_those_pytesseract_read(name: str, psm: int, config: str) -> None:
    """Tesseract runs as ocrbench's own child process now (so an interrupt can end it): its word
    table, and the text and layout made of it, are what pytesseract.image_to_data gave, byte for
    byte, or the OCR cached under the same version would differ from a fresh reading."""
    needs_tesseract()
    import pytesseract

    image = INVOICES / "images" / name
    options = f"--psm {psm} --oem 3 {config}".strip()
    expected = pytesseract.image_to_data(
        str(image), lang="eng", config=options, output_type=pytesseract.Output.DICT
    )
    assert tesseract_module._image_to_data(image, "eng", options) == expected
    words, text = tesseract_module._layout(expected)
    result = Tesseract(psm=psm, config=config).recognize(image)
    assert (result.text, result.words) == (text, words)
    assert result.seconds > 0


def _slow_page(folder: Path) -> Path:
    """Four bundled invoices on one page: more than a second of Tesseract's reading."""
    from PIL import Image

    page = Image.new("L", (2000, 2828), 255)
    for k, name in enumerate(["000-invoice.png", "001-invoice.png", "006-invoice.png",
                              "007-invoice.png"]):  # fmt: skip
        with Image.open(INVOICES / "images" / name) as invoice:
            page.paste(invoice.convert("L"), ((k % 2) * 1000, (k // 2) * 1414))
    folder.mkdir(parents=True, exist_ok=True)
    page.save(folder / "slow.png")
    return folder / "slow.png"


def _tesseracts(process: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name() == "tesseract" and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found


@pytest.mark.parametrize("stop", [KeyboardInterrupt, Terminated])
def test_an_interrupted_page_leaves_no_tesseract_running_and_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    """Ctrl-C, or the CLI's SIGTERM handler, raised while Tesseract reads: pytesseract stopped
    waiting and left Tesseract running (re-parented to init once ocrbench ended), which then
    wrote its output into the temporary folder after pytesseract had cleaned it up."""
    needs_tesseract()
    page = _slow_page(tmp_path / "page")
    Tesseract().version()  # asked before the timer starts: only the page's reading is stopped
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    me = psutil.Process()

    def stop_while_tesseract_reads() -> None:
        deadline = time.monotonic() + 30
        while not _tesseracts(me) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # well into the page
        os.kill(os.getpid(), signal.SIGALRM)

    def raise_stop(signum: int, frame: object) -> None:
        raise stop(signum)

    previous = signal.signal(signal.SIGALRM, raise_stop)
    timer = threading.Thread(target=stop_while_tesseract_reads, daemon=True)
    try:
        timer.start()
        with pytest.raises(stop):
            Tesseract().recognize(page)
        timer.join()
    finally:
        signal.signal(signal.SIGALRM, previous)
    left = _tesseracts(me)
    psutil.wait_procs(left, timeout=30)  # a Tesseract left running writes its files when done
    assert not left, "Tesseract outlived the interrupt"
    assert not list(temporary.iterdir())
