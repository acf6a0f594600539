"""The report: one self-contained page with every chart, the summary, the time budgets, the worst
samples and the manifest; `summary.md` beside it. Fabricated sweeps, then real runs."""

from __future__ import annotations

import errno
import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ocrbench import datasets, plots, report, results, terminal
from ocrbench.errors import OcrbenchError

from conftest import BUNDLED, needs_tesseract, shared_data
from test_plots import QWEN, Fake, fabricate, records, sweep_configs

IMAGE = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+">')
CHARTS = 8  # every chart; a run with no LLM corrector shows each, saying why it is empty
SWEEP_CHARTS = 7  # the fabricated sweep has one model repo: the by-model chart is left out


def rendered(root: Path, frame: pd.DataFrame, manifest: dict[str, object] | None = None) -> str:
    results.write(root, records(frame), manifest or {"command": "fabricated"})
    path = report.render(root)
    assert path == root / "index.html"
    return path.read_text(encoding="utf-8")


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    for link in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert link.startswith(("data:image/png;base64,", "data:image/jpeg;base64,", "#")), link


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
    assert len(IMAGE.findall(page)) == SWEEP_CHARTS
    assert page.count("<img") == SWEEP_CHARTS
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


def test_a_budget_without_any_cer_says_so_rather_than_none_is_this_fast() -> None:
    """Every reference empty: no configuration has a CER to rank by, however fast it is."""
    frame = fabricate(Fake(), Fake(corrector="lexicon"), samples=1, empty_reference=True)
    budgets = report.best_per_budget(results.summary(frame))
    assert set(budgets["best config"]) == {"no configuration has a CER (no reference text)"}


def test_edits_on_pages_without_reference_text_are_said_beside_the_cer(tmp_path: Path) -> None:
    """A blank page's characters are all edits in the corpus CER's numerator (as documented): one
    such page can make most of it, and no summary said there was one."""
    frame = fabricate(Fake(), samples=6, empty_reference=True)  # s00: "stray marks" on a blank
    blank = int(frame.loc[frame["reference_chars"] == 0, "char_edits"].sum())
    total = int(frame["char_edits"].sum())
    assert blank > 0
    said = (f"invoices: 1 of 6 samples has no reference text; what a configuration reads there "
            f"counts whole as edits (tesseract + identity: {blank} of its {total} character "
            "edits)")  # fmt: skip
    page = rendered(tmp_path, frame)
    assert said in html.unescape(page)
    assert said in (tmp_path / "summary.md").read_text(encoding="utf-8")
    printed = terminal.text(results.summary(frame), width=400)
    assert said in " ".join(printed.split())
    assert "no reference text" not in terminal.text(results.summary(fabricate(Fake())), width=400)


def test_worst_samples_show_raw_corrected_and_reference_with_differences(
    sweep: tuple[Path, str, pd.DataFrame],
) -> None:
    _, page, frame = sweep
    worst = page.split('id="worst"')[1].split('id="hurt"')[0]
    best = results.summary(frame)["config"][0]
    assert f"<h3>invoices: {best}</h3>" in worst
    wrong = frame[(frame["config"] == best) & (frame["char_edits"] > 0)]
    assert 0 < len(wrong) < 6
    assert worst.count('<tbody class="sample">') == len(wrong)  # only samples with an error
    assert f"{6 - len(wrong)} of 6 samples have no error; the {len(wrong)} with the most" in worst
    for sample_id in wrong["sample_id"]:
        assert f">{sample_id}<br><small>" in worst
    assert "<del>" in worst and "<ins>" in worst
    assert (
        "<th>sample</th><th>reference</th><th>raw OCR (errors)</th>"
        "<th>corrector's edits (raw → corrected)</th><th>corrected (errors)</th>"
    ) in worst
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


# --- what a report keeps between renders, and whole files only ------------------------------------


def counted_charts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the default charts with one cheap chart, and count how often they are drawn."""
    drawn: list[int] = []

    def one_chart(frame: pd.DataFrame, summary: pd.DataFrame) -> list[tuple[str, object]]:
        drawn.append(len(frame))
        return [("CER distribution", plots.cer_histogram(frame))]

    monkeypatch.setattr(report, "default_charts", one_chart)
    return drawn


def small_run() -> pd.DataFrame:
    return fabricate(Fake(), Fake(corrector="lexicon", fix=0.5, harm=0.05), samples=4)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def test_the_same_results_reuse_their_charts_and_a_changed_one_draws_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = counted_charts(monkeypatch)
    diffed: list[int] = []  # the sample tables' marked differences cost almost as much
    real_worst_samples = report.worst_samples

    def worst_samples(frame: pd.DataFrame, **options: Any) -> str:
        diffed.append(len(frame))
        return real_worst_samples(frame, **options)

    monkeypatch.setattr(report, "worst_samples", worst_samples)
    frame = small_run()
    first = rendered(tmp_path, frame)
    assert len(drawn) == len(diffed) == 1
    again = report.render(tmp_path).read_text(encoding="utf-8")
    assert len(drawn) == 1, "the same results drew their charts again"
    assert len(diffed) == 1, "the same results marked their differences again"
    assert again == first
    best = results.summary(frame)["config"][0]
    shown = frame[(frame["config"] == best) & (frame["char_edits"] > 0)].index[0]
    changed = frame.copy()
    changed.loc[shown, "hypothesis"] = str(changed.loc[shown, "hypothesis"]) + " Edited"
    page = rendered(tmp_path, changed)
    assert len(drawn) == len(diffed) == 2, "a changed result reused the old charts"
    assert page != first and "Edited" in page


def test_a_fresh_process_rendering_unchanged_results_does_not_import_matplotlib(
    tmp_path: Path,
) -> None:
    first = rendered(tmp_path, small_run())
    probe = (
        "import sys\n"
        "from ocrbench import report\n"
        f"report.render({str(tmp_path)!r})\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "the charts were drawn again"
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page == first and len(IMAGE.findall(page)) == CHARTS


def test_a_corrupt_report_cache_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = counted_charts(monkeypatch)
    first = rendered(tmp_path, small_run())
    cache = tmp_path / report.REPORT_CACHE
    key = json.loads(cache.read_text(encoding="utf-8"))["key"]
    corrupt = [
        b"\xff\xfe not UTF-8",
        b'{"key": "cut short',
        b"[]",
        json.dumps({"key": key, "charts": "<p>stale</p>", "worst": "", "hurt": 7}).encode(),
        json.dumps({"key": key, "charts": "<p>stale</p>"}).encode(),
        json.dumps(
            {"key": "other rows", "charts": "<p>stale</p>", "worst": "", "hurt": ""}
        ).encode(),
    ]
    for count, content in enumerate(corrupt, start=2):
        cache.write_bytes(content)
        page = report.render(tmp_path).read_text(encoding="utf-8")
        assert len(drawn) == count, content
        assert page == first
        report.render(tmp_path)  # the entry was written again: now it is reused
        assert len(drawn) == count, content


def test_charts_given_by_the_caller_are_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = counted_charts(monkeypatch)
    frame = small_run()
    first = rendered(tmp_path, frame)
    given = [("Only this chart", plots.pareto(results.summary(frame)))]
    page = report.render(tmp_path, charts=given).read_text(encoding="utf-8")
    assert page.count("<img") == 1 and 'alt="Only this chart"' in page
    assert report.render(tmp_path).read_text(encoding="utf-8") == first
    assert len(drawn) == 1  # the given charts neither drew nor replaced the kept ones


def test_a_full_disk_while_writing_the_page_leaves_the_old_page_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted_charts(monkeypatch)
    frame = small_run()
    old = rendered(tmp_path, frame)
    # (New results would have removed the old page: results.write takes away what described the
    # old ones. The same results rendered again on a full disk keep their page whole.)
    real_write_text = Path.write_text

    def disk_fills_up(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if "index.html" not in self.name:
            return real_write_text(self, data, *args, **kwargs)  # type: ignore[arg-type]
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", disk_fills_up)
    with pytest.raises(OcrbenchError) as failed:
        report.render(tmp_path)
    assert str(failed.value) == f"cannot write {tmp_path / 'index.html'}: No space left on device"
    assert (tmp_path / "index.html").read_text(encoding="utf-8") == old
    assert leftovers(tmp_path) == []


def test_a_real_full_disk_leaves_no_page_and_no_temporary_file(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(disk)],
                                 capture_output=True, text=True)  # fmt: skip
    except OSError as error:
        pytest.skip(f"cannot mount a small disk here: {error}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.strip()}")
    try:
        results.write(disk, records(small_run()), {"command": "fabricated"})
        room = os.statvfs(disk)
        with open(disk / "filler", "wb") as filler:  # leave room for summary.md, not the page
            filler.write(b"\0" * (room.f_bavail * room.f_frsize - 32 * 1024))
        with pytest.raises(OcrbenchError, match="index.html: No space left on device"):
            report.render(disk)
        assert (disk / "summary.md").is_file()
        assert not (disk / "index.html").exists()
        assert leftovers(disk) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_results_written_at_once_by_two_writers_do_not_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [small_run(), fabricate(Fake(noise=0.3), samples=2)]
    both_hold_a_temporary_file = threading.Barrier(2, timeout=30)
    real_to_parquet = pd.DataFrame.to_parquet

    def meet(self: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        both_hold_a_temporary_file.wait()
        real_to_parquet(self, path, *args, **kwargs)  # type: ignore[arg-type]
        both_hold_a_temporary_file.wait()  # both written before either is renamed

    monkeypatch.setattr(pd.DataFrame, "to_parquet", meet)
    errors: list[BaseException] = []

    def write(frame: pd.DataFrame) -> None:
        try:
            results.write(tmp_path, records(frame), {"rows": len(frame)})
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(frame,)) for frame in frames]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    written = results.load(tmp_path)
    assert any(written.equals(pd.DataFrame(records(frame))) for frame in frames)
    assert leftovers(tmp_path) == []


def test_a_full_disk_while_writing_results_keeps_the_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results.write(tmp_path, records(small_run()), {"command": "first"})
    old = (tmp_path / results.RESULTS).read_bytes()

    def disk_fills_up(self: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_fills_up)
    with pytest.raises(OcrbenchError, match="results.parquet: No space left on device"):
        results.write(tmp_path, records(small_run()), {"command": "second"})
    assert (tmp_path / results.RESULTS).read_bytes() == old
    assert leftovers(tmp_path) == []


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
        assert f">{sample_id}<br><small>{best}</small>" in page
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


# --- what a corrector learned from a training set ----------------------------------------------


def test_confusions_used_match_edited_spans_with_their_context() -> None:
    changes = [
        json.dumps([["tbe", "the"], ["rnay", "may"], ["clog", "dog"]]),
        json.dumps([["Tbe", "The"]]),
        "not json",
        json.dumps([["tbe", "tbe"]]),
    ]
    confusions = [("tb", "th"), ("rn", "m"), ("cl", "d"), ("b", "h"), ("e", "c"), ("x", "x")]
    # "tbe" -> "the" is "tb" -> "th" (the most specific), "Tbe" -> "The" only "b" -> "h": each
    # edit once, so the column adds up to the edits made.
    assert report.confusions_used(changes, confusions) == [1, 1, 1, 1, 0, 0]
    widened = [("0", "o"), ("0v", "ov"), ("0ve", "ove")]  # one rule, learned widened
    assert report.confusions_used([json.dumps([["0ver", "over"]])], widened) == [0, 0, 1]


def learned_manifest(frame: pd.DataFrame, ocr: str = "rn", truth: str = "m") -> dict[str, object]:
    row = frame.iloc[0]
    return {
        "training": [{"dataset": row["dataset"], "path": "/data/<train>", "samples": 70,
                      "sha256": "ab" * 32}],
        "fits": [
            {"dataset": row["dataset"], "config_id": row["config_id"], "config": row["config"],
             "train": "/data/<train>", "trained": True,
             "learned": {"pairs": 70, "vocabulary": 123,
                         "joins": {"seen": 12, "right": 2, "used": False},
                         "abbreviations": {"seen": 9, "kept": 2, "left alone": False},
                         "prior_scale": 1.538,
                         "rewrites": [{"ocr": "᾽", "truth": "ʼ", "right": 13, "printed": 20}],
                         "confusions": [
                 {"ocr": ocr, "truth": truth, "count": 9, "cost": 0.25},
                 {"ocr": "<", "truth": "c", "count": 3, "cost": 1.5},
                 {"ocr": " ", "truth": "", "count": 2, "cost": 2.0}]}},
            {"dataset": row["dataset"], "config_id": "other", "config": "tess + identity",
             "train": "/data/<train>", "trained": False, "learned": None},
        ],
    }  # fmt: skip


def test_the_page_shows_the_training_set_and_what_was_learned_and_used(tmp_path: Path) -> None:
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3)
    frame["changes"] = [json.dumps([["rnat", "mat"], ["<at", "cat"]]), json.dumps([]),
                        json.dumps([["rnany", "many"]])]  # fmt: skip
    page = rendered(tmp_path, frame, learned_manifest(frame))
    assert '<a href="#learned">' in page and '<h2 id="learned">' in page
    assert "/data/&lt;train&gt;" in page and "ab" * 32 in page and "<train>" not in page
    assert "Learned from 70 (OCR, reference) pairs; 123 words of vocabulary" in page
    assert "in training, kept as printed 2 times, so they are corrected." in page
    # "rn" -> "m" undone twice ("rnany" has it once: its span is "rn" -> "m"), "<" -> "c" once.
    assert (
        "<td><code>rn</code></td><td><code>m</code></td><td>9</td><td>0.25</td><td>2</td>" in page
    )
    assert (
        "<td><code>&lt;</code></td><td><code>c</code></td><td>3</td><td>1.50</td><td>1</td>" in page
    )
    assert '<td><code>␣</code></td><td><span class="note">nothing</span></td>' in page
    assert "Learned nothing from it (these correctors do not learn): tess + identity." in page
    assert (
        "Tokens OCR split that make a word: 12 in training, joined in the reference 2 times, "
        "so joins are not proposed." in page
    )
    assert "are multiplied by 1.54 here." in page
    assert (
        "Characters the references never hold, rewritten everywhere: <code>᾽</code> -> "
        "<code>ʼ</code> (right 13 of 20 times)." in page
    )
    assert_self_contained(page)


def test_the_learned_part_is_made_from_the_manifest_every_time(tmp_path: Path) -> None:
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3)
    page = rendered(tmp_path, frame)
    assert 'id="learned"' not in page and "#learned" not in page  # no training set: no section
    # The same rows (their charts and tables kept), another manifest: the section follows it.
    manifest = learned_manifest(frame, "li", "h")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    page = report.render(tmp_path).read_text(encoding="utf-8")
    assert "<td><code>li</code></td><td><code>h</code></td>" in page


def test_the_summary_shows_the_mean_and_the_bag_of_words_error_beside_corpus_cer() -> None:
    frame = fabricate(Fake(corrector="lexicon", fix=0.5))
    summary = results.summary(frame)
    row = summary.iloc[0]
    assert row["mean_cer"] == pytest.approx(frame["cer"].mean())
    assert row["bow_error"] == pytest.approx(
        frame["bow_errors"].sum() / frame["reference_words"].sum()
    )
    assert row["grapheme_cer"] == pytest.approx(row["cer"])  # no combining marks fabricated
    table = report.summary_table(summary)
    assert {"mean CER", "BoW error"} <= set(table.columns) and "grapheme CER" not in table
    # Rows written before these columns existed: no figure rather than a wrong one.
    old = results.summary(
        frame.drop(columns=["bow_errors", "grapheme_edits", "reference_graphemes"])
    )
    assert pd.isna(old.iloc[0]["bow_error"]) and pd.isna(old.iloc[0]["grapheme_cer"])
    assert report.summary_table(old)["BoW error"].tolist() == ["n/a"]


def test_each_corrector_is_compared_with_its_own_raw_ocr_on_the_same_samples() -> None:
    frame = fabricate(
        Fake(), Fake(corrector="lexicon", fix=0.6), Fake(corrector="prompt", harm=0.2), samples=12
    )
    summary = results.summary(frame).set_index("corrector")
    lexicon, harmful = summary.loc["lexicon"], summary.loc["prompt"]
    assert lexicon["cer_change"] == pytest.approx(lexicon["cer"] - lexicon["raw_cer"])
    assert lexicon["verdict"] == "better" and lexicon["change_high"] < 0
    assert harmful["verdict"] == "worse" and harmful["change_low"] > 0
    assert lexicon["samples_better"] + lexicon["samples_worse"] + lexicon["samples_same"] == 12
    table = report.summary_table(summary.reset_index()).set_index("config")
    assert table.loc[lexicon["config"], "vs raw OCR [95% CI]"].endswith("better")
    assert table.loc[summary.loc["identity", "config"], "vs raw OCR [95% CI]"] == ""


def test_a_chart_of_one_value_is_left_out() -> None:
    """Two model repos, one GPU setting: the by-model chart is drawn, the GPU-layers one is not."""
    configs = [Fake(), Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m", gpu_layers=0),
               Fake(corrector="prompt", repo_id="other/model-GGUF", quantization="q4_1",
                    gpu_layers=0)]  # fmt: skip
    import matplotlib.pyplot as plt

    def titles(frame: pd.DataFrame) -> list[str]:
        charts = report.default_charts(frame, results.summary(frame))
        for _, figure in charts:
            plt.close(figure)
        return [title for title, _ in charts]

    drawn = titles(fabricate(*configs))
    assert "CER and speed by model" in drawn and "CER and speed by quantization" in drawn
    assert "Speed by GPU layers" not in drawn
    lexicon_only = titles(fabricate(Fake(corrector="lexicon", fix=0.5)))  # no LLM: each says why
    assert "Speed by GPU layers" in lexicon_only and "CER and speed by model" in lexicon_only


def test_a_report_by_a_meta_key_summarises_each_value(tmp_path: Path) -> None:
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.5))
    frame = frame.assign(meta=[json.dumps({"degrade": ["clean", "heavy"][int(s[1:]) % 2]})
                               for s in frame["sample_id"]])  # fmt: skip
    sliced = results.summary(frame, by="meta.degrade")
    assert len(sliced) == 4 and set(sliced["slice"]) == {"clean", "heavy"}
    assert (sliced["samples"] == 3).all()
    whole = results.summary(frame).set_index("config")["cer"]
    for config, group in sliced.groupby("config"):  # the slices add up to the whole
        edits = sum(frame[(frame["config"] == config)]["char_edits"])
        assert edits / frame[frame["config"] == config]["reference_chars"].sum() == whole[config]
        assert set(group["slice"]) == {"clean", "heavy"}
    with pytest.raises(OcrbenchError, match="no sample has meta.font; their meta keys: degrade"):
        results.summary(frame, by="meta.font")
    with pytest.raises(OcrbenchError, match="takes a sample meta key"):
        results.summary(frame, by="degrade")
    with pytest.raises(OcrbenchError, match="predate rows carrying sample meta"):
        results.summary(frame.drop(columns=["meta"]), by="meta.degrade")
    results.write(tmp_path, records(frame), {"command": "test"})
    done = subprocess.run([sys.executable, "-m", "ocrbench.cli", "report", str(tmp_path), "--by",
                           "meta.degrade"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "meta.degrade" in done.stdout and (tmp_path / "summary-by-degrade.md").is_file()
    bad = subprocess.run([sys.executable, "-m", "ocrbench.cli", "report", str(tmp_path), "--by",
                          "meta.nope"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "no sample has meta.nope" in bad.stderr


def test_every_summary_column_is_defined_where_it_appears(
    sweep: tuple[Path, str, pd.DataFrame],
) -> None:
    import html

    from ocrbench import glossary

    root, page, frame = sweep
    columns = report.summary_table(results.summary(results.load(root))).columns
    assert "preference" in columns and "flex. char. accuracy" in columns
    markdown = (root / "summary.md").read_text(encoding="utf-8")
    for column in columns:
        meaning = glossary.COLUMNS[column]  # a KeyError names a column with no definition
        assert f"<dt>{html.escape(column)}</dt><dd>{html.escape(meaning)}</dd>" in page
        assert f"- **{column}**: {meaning}" in markdown


def test_a_spec_slice_gets_its_own_section_chart_and_table(tmp_path: Path) -> None:
    from ocrbench import plots

    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.5))
    frame = frame.assign(meta=[json.dumps({"degrade": ["clean", "heavy"][int(s[1:]) % 2]})
                               for s in frame["sample_id"]])  # fmt: skip
    manifest = {"command": "sweep", "spec": {"slices": ["meta.degrade", "meta.font"]}}
    page = rendered(tmp_path, frame, manifest)
    slices = page.split('id="slices"')[1].split('id="worst"')[0]
    assert "<h3>By meta.degrade</h3>" in slices and '<img alt="CER by meta.degrade"' in slices
    assert "no sample has meta.font" in slices  # said on the page, not a failed report
    assert "| heavy |" in (tmp_path / "summary-by-degrade.md").read_text(encoding="utf-8")
    sliced = results.summary(frame, by="meta.degrade")
    axis = plots.by_slice(sliced, "meta.degrade", plots.ranking(results.summary(frame))).axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["clean", "heavy"]
    assert len(axis.get_legend().get_texts()) == 2  # a line per configuration
    plain = rendered(tmp_path / "plain", frame)
    assert 'id="slices"' not in plain  # no slice asked for: no section


def test_too_few_samples_for_an_interval_print_na_not_nan() -> None:
    """Under metrics.MIN_BOOTSTRAP_SAMPLES the paired interval is (nan, nan): "n/a", as the CER
    column says it, never "[+nan, +nan]"."""
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.6), samples=4)
    table = report.summary_table(results.summary(frame))
    shown = " ".join(table.astype(str).to_numpy().ravel())
    assert "nan" not in shown
    lexicon = table[table["config"].str.contains("lexicon")].iloc[0]
    assert lexicon["vs raw OCR [95% CI]"].endswith("[n/a, n/a] no evidence either way")


def test_a_configuration_is_one_row_whether_or_not_its_model_was_loaded_for_each_sample() -> None:
    """Effective GPU layers are known only once the model loads (not for rows served from the
    cache, nor for samples a corrector left alone): rows of one configuration with and without
    it are one configuration, scored on all its samples, not two rows on a part each."""
    llm = Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m", gpu_layers=-1, fix=0.5)
    loaded = fabricate(replace(llm, effective=31), samples=12)
    frame = pd.concat([loaded.iloc[:5], fabricate(llm, samples=12).iloc[5:]], ignore_index=True)
    assert frame["gpu_layers_effective"].isna().sum() == 7
    summary = results.summary(frame)
    assert len(summary) == 1
    (row,) = summary.itertuples()
    assert row.samples == 12 and row.gpu_layers_effective == 31
    assert row.cer == pytest.approx(results.summary(loaded).iloc[0]["cer"])


def test_numeric_slices_are_in_numeric_order() -> None:
    frame = fabricate(Fake(), samples=12)
    levels = [5, 10, 20]
    frame["meta"] = [json.dumps({"level": levels[i % 3]}) for i in range(len(frame))]
    sliced = results.summary(frame, by="meta.level")
    assert list(sliced["slice"]) == ["5", "10", "20"]
    named = frame.assign(meta=[json.dumps({"level": ["b", "a", "c"][i % 3]}) for i in range(12)])
    assert list(results.summary(named, by="meta.level")["slice"]) == ["a", "b", "c"]
    assert results.slice_order(["10", "5", "(none)", "20"]) == ["5", "10", "20", "(none)"]


def test_replies_a_guard_rejected_are_counted_and_shown() -> None:
    """A prompt configuration whose guard threw its replies away is not one that tried and did
    nothing: the summary counts the samples with a rejected reply, and the table shows it."""
    frame = fabricate(Fake(), Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m"),
                      samples=12)  # fmt: skip
    prompt = frame["corrector"] == "prompt"
    frame.loc[prompt & frame["sample_id"].isin(["s01", "s04", "s07"]), "rejected"] = (
        "the reply changed too much (edit ratio 0.9 > 0.3)"
    )
    summary = results.summary(frame).set_index("corrector")
    assert summary.loc["prompt", "rejected"] == 3 and summary.loc["identity", "rejected"] == 0
    table = report.summary_table(summary.reset_index()).set_index("config")
    assert table.loc[summary.loc["prompt", "config"], "samples with a reply rejected"] == "3"
    assert "samples with a reply rejected" not in report.summary_table(
        results.summary(frame.assign(rejected=None))
    )


def test_samples_left_out_are_said_in_the_summary_and_the_page(tmp_path: Path) -> None:
    """With --skip-bad, a dataset's figures cover fewer samples than it holds: summary.md and the
    page say so, not only the raw manifest."""
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.5), samples=12)
    skipped = [{"id": "s99", "reason": "cannot read image", "phase": "ocr"},
               {"id": "s98", "reason": "bad JSON", "line": 3}]  # fmt: skip
    manifest = {"command": "t", "datasets": [
        {"name": "invoices", "path": "x", "samples": 12, "skipped": skipped}]}  # fmt: skip
    results.write(tmp_path, records(frame), manifest)
    page = report.render(tmp_path).read_text(encoding="utf-8")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for text in (page, summary):
        assert "2 samples of invoices were left out" in text and "s99" in text
    results.write(tmp_path / "clean", records(frame), {"command": "t", "datasets": [
        {"name": "invoices", "path": "x", "samples": 12, "skipped": []}]})  # fmt: skip
    report.render(tmp_path / "clean")
    assert "were left out" not in (tmp_path / "clean" / "summary.md").read_text(encoding="utf-8")


def test_the_learned_section_counts_every_rule_and_says_what_a_prompt_learned(
    tmp_path: Path,
) -> None:
    """`describe` lists the 30 most frequent confusions of 114 learned: the page says 114; a
    trained prompt learned few-shot examples, not confusions, and the page says that."""
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3)
    manifest = learned_manifest(frame)
    manifest["fits"][0]["learned"]["rules"] = 114  # type: ignore[index]
    page = rendered(tmp_path / "channel", frame, manifest)
    assert "114 confusions (learned rules), the 3 most frequent below" in page
    prompt = learned_manifest(frame)
    prompt["fits"][0]["learned"] = {"examples": 20, "per piece": 3}  # type: ignore[index]
    page = rendered(tmp_path / "prompt", frame, prompt)
    assert "20 few-shot examples from the training lines, up to 3 shown per piece" in page
    assert "It learned no confusion" not in page and "?" not in page.split('id="learned"')[1][:600]


def test_a_report_cache_that_cannot_be_kept_does_not_fail_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cache is kept last, for a faster next render: on a full disk the report was written
    and the command still failed (exit 2) on that file."""
    (tmp_path / report.REPORT_CACHE).mkdir(parents=True)  # where the file should go: unwritable
    page = rendered(tmp_path, small_run())
    assert "<html" in page
    said = capsys.readouterr().err
    assert "warning" in said and report.REPORT_CACHE in said and len(said.splitlines()) == 1


def test_summary_md_names_each_training_set(tmp_path: Path) -> None:
    """summary.md said "trained noisy-channel" and nothing of what it was trained on: its path,
    size and hash were only in the page's learned section and the manifest."""
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3)
    rendered(tmp_path, frame, learned_manifest(frame))
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    dataset = frame["dataset"].iloc[0]
    assert f"{dataset}: training set /data/<train> (70 samples, sha256 {'ab' * 6})" in summary
    manifest = learned_manifest(frame)
    manifest["training"][0]["skipped"] = [{"id": "t3", "reason": "unreadable", "phase": "ocr"}]
    rendered(tmp_path, frame, manifest)  # a sample the fit could not read is not among its 70
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "(70 samples, 1 of them left out: unreadable; sha256" in summary


def test_rows_resumed_from_an_earlier_run_are_said_beside_the_seconds(tmp_path: Path) -> None:
    """A sweep resumed from its folder's journal shows rows an earlier run measured, under its own
    settings: said in summary.md and the page, as cached seconds are."""
    frame = fabricate(Fake(), samples=3)
    rendered(tmp_path, frame, {"command": "sweep", "work": {"rows_resumed": 2}})
    said = "2 rows were resumed from an earlier run into this folder: their seconds are that run's"
    assert said in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert html.escape(said) in (tmp_path / "index.html").read_text(encoding="utf-8")
