"""The report: one self-contained page with every chart, the summary, the time budgets, the worst
samples and the manifest; `summary.md` beside it. Fabricated sweeps, then real runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ocrbench import datasets, report, results

from conftest import BUNDLED, needs_tesseract, shared_data
from test_plots import QWEN, Fake, fabricate, records, sweep_configs

IMAGE = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+">')
CHARTS = 7


def rendered(root: Path, frame: pd.DataFrame, manifest: dict[str, object] | None = None) -> str:
    results.write(root, records(frame), manifest or {"command": "fabricated"})
    path = report.render(root)
    assert path == root / "index.html"
    return path.read_text(encoding="utf-8")


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    for link in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert link.startswith(("data:image/png;base64,", "#")), link


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("sweep")
    frame = fabricate(*sweep_configs())
    page = rendered(root, frame, {"command": "ocrbench sweep", "git": {"revision": "abc123"}})
    return root, page, frame


def test_page_has_every_chart_embedded_and_nothing_external(
    sweep: tuple[Path, str, pd.DataFrame],
) -> None:
    _, page, _ = sweep
    assert len(IMAGE.findall(page)) == CHARTS
    assert page.count("<img") == CHARTS
    assert_self_contained(page)
    for heading in ("Pareto front", "by quantization", "GPU layers", "fixed vs broken",
                    "corrected vs raw", "CER per sample", "CER distribution"):  # fmt: skip
        assert heading in page


def test_page_summary_is_sorted_by_cer(sweep: tuple[Path, str, pd.DataFrame]) -> None:
    _, page, frame = sweep
    summary = results.summary(frame)
    summary_html = page.split('id="summary"')[1].split('id="budgets"')[0]
    positions = [summary_html.index(f"<td>{config}</td>") for config in summary["config"]]
    assert positions == sorted(positions)
    assert list(summary["cer"]) == sorted(summary["cer"])
    assert "CER [95% CI]" in summary_html and "GPU layers asked/ran" in summary_html
    assert "<td>20/0</td>" in summary_html  # asked for 20, ran 0: shown, not hidden


def test_page_warns_that_offload_was_not_effective(sweep: tuple[Path, str, pd.DataFrame]) -> None:
    _, page, _ = sweep
    assert "GPU offload was not effective: 6 configuration(s)" in page


def test_budget_table_picks_the_lowest_cer_that_fits(sweep: tuple[Path, str, pd.DataFrame]) -> None:
    _, page, frame = sweep
    summary = results.summary(frame)
    budgets = report.best_per_budget(summary)
    limits = [0.1, 0.5, 1.0, 5.0, float("inf")]
    assert list(budgets["budget per sample"]) == ["≤ 0.1 s", "≤ 0.5 s", "≤ 1 s", "≤ 5 s",
                                                  "unlimited"]  # fmt: skip
    for limit, best in zip(limits, budgets["best config"], strict=True):
        fits = summary[summary["seconds_per_sample"] <= limit].sort_values("cer")
        assert best == (fits["config"].iloc[0] if len(fits) else "none is this fast")
    # Raw OCR alone takes 0.3 s here, so nothing fits 0.1 s; the LLMs need more than 1 s.
    assert list(budgets["best config"])[:3] == ["none is this fast"] + 2 * ["tesseract + lexicon"]
    assert QWEN in list(budgets["best config"])[3]
    assert list(budgets["best config"])[-1] == summary["config"][0]
    assert "Best configuration per time budget" in page and "none is this fast" in page


def test_worst_samples_show_raw_corrected_and_reference_with_differences(
    sweep: tuple[Path, str, pd.DataFrame],
) -> None:
    _, page, frame = sweep
    worst = page.split('id="worst"')[1].split('id="hurt"')[0]
    best = results.summary(frame)["config"][0]
    assert f"<h3>invoices: {best}</h3>" in worst
    wrong = frame[(frame["config"] == best) & (frame["char_edits"] > 0)]
    assert 0 < len(wrong) < 6
    assert worst.count("<tr>") == 1 + len(wrong)  # a header, then only samples with an error
    assert f"{6 - len(wrong)} of 6 samples have no error; the {len(wrong)} with the most" in worst
    for sample_id in wrong["sample_id"]:
        assert f"<td>{sample_id}<br>" in worst
    assert "<del>" in worst and "<ins>" in worst
    assert "<th>raw OCR</th><th>corrected</th><th>reference</th>" in worst
    hurt = page.split('id="hurt"')[1].split('id="manifest"')[0]
    assert "<ins>" in hurt  # the fabricated correctors do break some samples


def test_manifest_and_summary_markdown(sweep: tuple[Path, str, pd.DataFrame]) -> None:
    root, page, frame = sweep
    assert "abc123" in page.split('id="manifest"')[1]
    markdown = (root / "summary.md").read_text(encoding="utf-8")
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    summary = results.summary(frame)
    assert table[0].startswith("| dataset | config | samples | CER [95% CI]")
    assert len(table) == 2 + len(summary) + 2 + 5  # summary, then the five budgets
    assert f"| {summary['config'][0]} |" in table[2]
    assert "### Best configuration per time budget" in markdown


def test_everything_from_data_is_escaped(tmp_path: Path) -> None:
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3)
    frame["sample_id"] = "<b>id</b>"
    frame["reference"] = frame["reference"] + " <script>alert(1)</script>"
    frame["config"] = "lexicon <img src=x>"
    page = rendered(tmp_path, frame, {"note": "<iframe>"})
    assert "<script>" not in page and "<iframe>" not in page and "<b>id</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<img") == CHARTS  # the config name did not become an image
    assert "| lexicon &lt;img src=x&gt; |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert_self_contained(page)


def test_long_texts_are_clipped_with_a_note(tmp_path: Path) -> None:
    frame = fabricate(Fake(), samples=1)
    frame["reference"] = frame["ocr_text"] = frame["hypothesis"] = "word " * 1000
    frame["char_edits"] = 1  # the worst samples show only samples with an error
    page = rendered(tmp_path, frame)
    assert f"… {5000 - report.SHOWN_CHARS} more characters" in page


def test_a_plain_run_says_what_it_lacks(tmp_path: Path) -> None:
    page = rendered(tmp_path, fabricate(Fake(), samples=3, empty_reference=True))
    assert len(IMAGE.findall(page)) == CHARTS
    assert "No corrector in this run." in page
    perfect = fabricate(Fake(noise=0.0), samples=2)
    assert "Every sample is right: s00, s01." in report.worst_samples(perfect)
    assert "GPU offload was not effective" not in page
    assert "fixed/broken" not in page  # identity fixes nothing: no column for it


def test_offload_nobody_reported_is_called_unverified(tmp_path: Path) -> None:
    frame = fabricate(Fake(corrector="prompt", repo_id=QWEN, quantization="q8_0", gpu_layers=-1))
    page = rendered(tmp_path, frame)
    assert "GPU offload unverified: 1 configuration(s)" in page
    assert "<td>-1/?</td>" in page


def test_offload_that_worked_is_not_flagged() -> None:
    frame = fabricate(Fake(corrector="prompt", repo_id=QWEN, quantization="q8_0", gpu_layers=-1,
                           effective=24))  # fmt: skip
    summary = results.summary(frame)
    assert report.offload_not_effective(summary).empty
    assert report.offload_unverified(summary).empty
    assert list(report.summary_table(summary)["GPU layers asked/ran"]) == ["-1/24"]


def test_diff_marks_missing_and_wrong_characters() -> None:
    assert report.diff_html("Total: 10", "Tota1: 10") == "Tota<del>l</del><ins>1</ins>: 10"
    assert report.diff_html("a<b", "a<b") == "a&lt;b"


# --- real runs ------------------------------------------------------------------------------------


def run_cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "run", *args, "--quiet", "--cache", str(cache)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_real_report(out: Path) -> pd.DataFrame:
    page = (out / "index.html").read_text(encoding="utf-8")
    assert len(IMAGE.findall(page)) == CHARTS
    assert_self_contained(page)
    frame = results.load(out)
    best = results.summary(frame)["config"][0]
    wrong = frame[(frame["config"] == best) & (frame["char_edits"] > 0)]
    for sample_id in wrong.sort_values("char_edits", ascending=False)["sample_id"].head(10):
        assert f"<td>{sample_id}<br><small>{best}</small>" in page
    assert "<del>" in page or "<ins>" in page or frame["char_edits"].sum() == 0
    assert f"| {best} |" in (out / "summary.md").read_text(encoding="utf-8")
    return frame


@pytest.mark.tesseract
@pytest.mark.slow
def test_report_of_a_real_tesseract_run(tmp_path: Path) -> None:
    needs_tesseract()
    if not (BUNDLED / "manifest.jsonl").is_file():
        pytest.skip(f"{BUNDLED} is not generated yet")
    out = tmp_path / "run"
    done = run_cli("--dataset", str(BUNDLED), "--engine", "tesseract", "--out", str(out),
                   "--limit", "4", cache=tmp_path / "cache")  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = assert_real_report(out)
    assert len(frame) == 4 and frame["cer"].max() < 0.5


@pytest.mark.shared
def test_report_of_real_icdar_ocr(tmp_path: Path) -> None:
    """Real OCR output from ICDAR 2017 against its gold standard, with the `given` engine."""
    source = shared_data("icdar2017-eng")
    subset = tmp_path / "icdar"
    for path in sorted(source.rglob("*.txt"))[:4]:
        (subset / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, subset / path.parent.name / path.name)
    datasets.convert("icdar2017", subset, tmp_path / "data")
    out = tmp_path / "run"
    done = run_cli("--dataset", str(tmp_path / "data"), "--engine", "given", "--out", str(out),
                   cache=tmp_path / "cache")  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = assert_real_report(out)
    corpus = frame["char_edits"].sum() / frame["reference_chars"].sum()
    assert 0 < corpus < 0.2  # real OCR errors, measured (the whole set: 0.0325)
