"""Sweeps: spec validation, the grid, the two-phase cache, and resuming after kills."""

from __future__ import annotations

import dataclasses
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from PIL import Image

from ocrbench import results, specs, sweep
from ocrbench.cache import Cache
from ocrbench.errors import ConfigError

from conftest import make_dataset, needs_tesseract, text_dataset

LINES = [
    "Invoice No: 12345", "Date: 2023/09/15", "Total Amt: $1,230.00", "Acme Supplies Ltd",
    "12 Harbour Street", "Qty 3 Widget 4.50", "Subtotal 13.50", "VAT 20% 2.70",
    "Thank you for your business", "Payment due in 30 days", "Account 0042-7781", "Page 1 of 1",
]  # fmt: skip

# Columns that are measurements of time, which differ between any two runs of the same work.
TIMING = ["ocr_seconds", "correct_seconds", "ocr_cached", "correction_cached"]  # and where from


def write_spec(tmp: Path, dataset: Path, body: str = "") -> Path:
    spec = tmp / "spec.yaml"
    spec.write_text(
        body
        or f"""
name: tiny
datasets:
  - path: {dataset}
engines:
  tesseract:
    psm: [7, 13]
correctors:
  identity: {{}}
workers: 2
"""
    )
    return spec


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", LINES)


def test_grid_is_the_product_of_lists(dataset: Path, tmp_path: Path) -> None:
    spec = specs.load(
        write_spec(
            tmp_path,
            dataset,
            f"""
datasets: [{dataset}]
engines:
  tesseract: {{psm: [3, 6, 7], lang: [eng, eng+grc]}}
  given: {{}}
correctors: [identity]
""",
        )
    )
    assert len(spec.engines) == 7 and len(spec.correctors) == 1
    assert {e.kwargs["psm"] for e in spec.engines if e.name == "tesseract"} == {3, 6, 7}


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ("engines: [tesseract\n  datasets: x", "malformed YAML"),
        ("datasets: [DATA]\nengines: {tesseract: {pms: [3]}}", "unknown parameter 'pms' (did you mean 'psm'?)"),
        ("datasets: [DATA]\nengines: {tesseract: {psm: [3, 99]}}", "psm must be between 0 and 13"),
        ("datasets: [DATA]\nengines: {}", "'engines' is missing or empty"),
        ("datasets: [DATA]\nengines: {tesseract: {psm: []}}", "grid is empty"),
        ("datasets: [/no/such/place]\nengines: {tesseract: {}}", "/no/such/place does not exist"),
        ("datasets: [DATA]\nengines: {tesseract: {}}\ncorrector: {identity: {}}", "unknown key 'corrector'"),
        ("datasets: [DATA]\nengines: {tesseract: {}}\ncorrectors: {idenity: {}}", "did you mean 'identity'"),
    ],
)  # fmt: skip
def test_bad_specs_are_one_clear_error(
    body: str, phrase: str, dataset: Path, tmp_path: Path
) -> None:
    path = write_spec(tmp_path, dataset, body.replace("DATA", str(dataset)))
    with pytest.raises(ConfigError) as error:
        specs.load(path)
    assert phrase in str(error.value) and str(path) in str(error.value)


def test_bad_spec_from_the_command_line_has_no_traceback(dataset: Path, tmp_path: Path) -> None:
    path = write_spec(
        tmp_path, dataset, f"datasets: [{dataset}]\nengines: {{tesseract: {{pms: 3}}}}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "sweep", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "pms" in done.stderr


@pytest.mark.tesseract
def test_second_sweep_does_no_work_and_ocr_runs_once_per_engine(
    dataset: Path, tmp_path: Path
) -> None:
    needs_tesseract()
    spec = specs.load(
        write_spec(
            tmp_path,
            dataset,
            f"""
datasets: [{{path: {dataset}, limit: 4}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
""",
        )
    )
    cache = Cache(tmp_path / "cache")
    first = sweep.run(spec, tmp_path / "one", cache=cache, workers=2, progress=False)
    # Two correctors over one engine config: the images are read once, not twice, and the
    # corrections take the OCR results from the first phase, not from the cache.
    assert first["work"]["ocr_run"] == 4 and first["work"]["ocr_cached"] == 0
    second = sweep.run(spec, tmp_path / "two", cache=cache, workers=2, progress=False)
    assert second["work"]["ocr_run"] == 0 and second["work"]["corrections_run"] == 0
    a, b = results.load(tmp_path / "one"), results.load(tmp_path / "two")
    flags = ["ocr_cached", "correction_cached"]  # what differs: where the seconds came from
    pd.testing.assert_frame_equal(a.drop(columns=flags), b.drop(columns=flags))
    assert not a["ocr_cached"].any() and b["ocr_cached"].all()
    lexicon = b["corrector"] == "lexicon"
    assert b.loc[lexicon, "correction_cached"].all()


def journal_rows(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TIMING).reset_index(drop=True)


@pytest.mark.tesseract
@pytest.mark.llm
@pytest.mark.slow
def test_killed_sweeps_resume_to_the_same_rows(dataset: Path, tmp_path: Path) -> None:
    """Kill a sweep at random points, with SIGKILL among them, then finish it: row for row the same
    as a run that was never interrupted (timings aside)."""
    needs_tesseract()
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    # noisy-channel makes the correction phase long enough to be cut part-way through
    spec = write_spec(
        tmp_path,
        dataset,
        f"""
datasets: [{dataset}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, noisy-channel: {{}}}}
workers: 2
""",
    )
    reference_dir, resumed_dir = tmp_path / "reference", tmp_path / "resumed"
    command = [sys.executable, "-m", "ocrbench.cli", "sweep", str(spec), "--quiet", "--no-report"]
    done = subprocess.run([*command, "--out", str(reference_dir), "--cache", str(tmp_path / "c1")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rng = random.Random(7)
    kills = 0
    journal = resumed_dir / sweep.JOURNAL
    total = len(LINES) * 2
    for attempt, sig in enumerate([signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGINT]):
        before = journal_rows(journal)
        process = subprocess.Popen(
            [*command, "--out", str(resumed_dir), "--cache", str(tmp_path / "c2")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        if attempt == 0:
            time.sleep(rng.uniform(0.5, 1.5))  # during start-up or the OCR phase
        else:  # part-way through the corrections: after a random number of new rows
            target = before + rng.randint(1, max(1, (total - before) // 2))
            deadline = time.monotonic() + 60
            while process.poll() is None and journal_rows(journal) < target:
                assert time.monotonic() < deadline, "the sweep made no progress"
                time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(sig)
            kills += 1
        process.wait(timeout=60)
        # Its workers end with it, whatever the signal (the suite's last check finds any that
        # did not): nothing is cleaned up here.
    assert kills >= 3, "the sweep finished before it could be interrupted"
    done = subprocess.run([*command, "--out", str(resumed_dir), "--cache", str(tmp_path / "c2")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reference, resumed = results.load(reference_dir), results.load(resumed_dir)
    assert len(resumed) == len(LINES) * 2
    assert not resumed.duplicated(["config_id", "sample_id"]).any()
    pd.testing.assert_frame_equal(stable(reference), stable(resumed))
    keys = []
    for line in (resumed_dir / sweep.JOURNAL).read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by SIGKILL, which the journal ignores
        keys.append((row["config_id"], row["sample_id"]))
    assert len(set(keys)) == len(keys), "a row was journaled twice"


@pytest.mark.tesseract
@pytest.mark.slow
def test_dask_executor_gives_the_same_rows(dataset: Path, tmp_path: Path) -> None:
    """The same grid on a local Dask cluster and on local processes: the same results."""
    needs_tesseract()
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    body = f"""
datasets: [{{path: {dataset}, limit: 3}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
workers: 2
"""
    local = specs.load(write_spec(tmp_path, dataset, body))
    on_dask = specs.load(write_spec(tmp_path, dataset, body + "executor: dask\n"))
    assert on_dask.executor == "dask"
    sweep.run(local, tmp_path / "local", cache=Cache(tmp_path / "c1"), progress=False)
    manifest = sweep.run(on_dask, tmp_path / "dask", cache=Cache(tmp_path / "c2"), progress=False)
    assert manifest["executor"] == "dask" and manifest["work"]["ocr_run"] == 3
    a, b = results.load(tmp_path / "local"), results.load(tmp_path / "dask")
    pd.testing.assert_frame_equal(stable(a), stable(b))


# --- rows computed from what they claim: dataset identity, row keys, OCR once ------------------


FEW_ERRORS = [("Tbe cat sat", "The cat sat"), ("on the mat", "on the mat"), ("all day", "all day")]
MANY_ERRORS = [
    ("Tbe c@t s4t", "The cat sat"),
    ("0n tbe rnat", "on the mat"),
    ("a1l dav", "all day"),
]


def given_spec(tmp_path: Path, paths: list[Path], extra: str = "", name: str = "spec") -> Path:
    spec = tmp_path / f"{name}.yaml"
    listed = ", ".join(str(p) for p in paths)
    spec.write_text(f"name: given\ndatasets: [{listed}]\nengines: {{given: {{}}}}\n"
                    f"correctors: {{identity: {{}}, lexicon: {{}}}}\nworkers: 1\n{extra}")  # fmt: skip
    return spec


def corpus_cer(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
    summary = results.summary(frame)
    return {(r.dataset, r.config): r.cer for r in summary.itertuples()}


def test_datasets_whose_folders_share_a_name_keep_their_own_rows(tmp_path: Path) -> None:
    a = text_dataset(tmp_path / "a" / "inv", FEW_ERRORS)
    b = text_dataset(tmp_path / "b" / "inv", MANY_ERRORS)
    both = specs.load(given_spec(tmp_path, [a, b]))
    sweep.run(both, tmp_path / "both", cache=Cache(tmp_path / "c"), progress=False)
    frame = results.load(tmp_path / "both")
    assert set(frame["dataset"]) == {"a/inv", "b/inv"}
    assert len(frame) == 2 * 2 * 3
    together = corpus_cer(frame)
    for path, name in ((a, "a/inv"), (b, "b/inv")):
        alone_spec = specs.load(given_spec(tmp_path, [path], name=name.replace("/", "-")))
        sweep.run(alone_spec, tmp_path / name, cache=Cache(tmp_path / "c"), progress=False)
        alone = corpus_cer(results.load(tmp_path / name))
        for (_, config), cer in alone.items():
            assert together[(name, config)] == pytest.approx(cer), (name, config)
    assert together[("a/inv", "given + identity")] < together[("b/inv", "given + identity")]
    manifest = json.loads((tmp_path / "both" / "manifest.json").read_text())
    assert [d["name"] for d in manifest["datasets"]] == ["a/inv", "b/inv"]


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TIMING).sort_values(["config_id", "sample_id"], ignore_index=True)


def test_resume_recomputes_rows_whose_inputs_changed(tmp_path: Path) -> None:
    data = text_dataset(tmp_path / "data", MANY_ERRORS)
    out, cache = tmp_path / "out", Cache(tmp_path / "c")
    first = sweep.run(specs.load(given_spec(tmp_path, [data])), out, cache=cache, progress=False)
    assert first["work"]["rows_resumed"] == 0

    # Another normalisation: every row is computed again, none is borrowed.
    extra = "normalization: {casefold: true, strip_punctuation: true}\n"
    folded = specs.load(given_spec(tmp_path, [data], extra, name="folded"))
    again = sweep.run(folded, out, cache=cache, progress=False)
    assert again["work"]["rows_resumed"] == 0
    fresh = sweep.run(folded, tmp_path / "fresh", cache=cache, progress=False)
    pd.testing.assert_frame_equal(
        comparable(results.load(out)), comparable(results.load(tmp_path / "fresh"))
    )
    assert (
        set(results.load(out)["normalization"])
        == {again["normalization"]}
        == {fresh["normalization"]}
    )

    # One ground truth edited: only its rows (one per configuration) are computed again.
    edited = [("Tbe c@t s4t", "The cat sat"), ("0n tbe rnat", "on the rug"), ("a1l dav", "all day")]
    text_dataset(data, edited)
    third = sweep.run(folded, out, cache=cache, progress=False)
    assert third["work"]["rows_resumed"] == 2 * 3 - 2
    sweep.run(folded, tmp_path / "fresh2", cache=cache, progress=False)
    resumed, new = results.load(out), results.load(tmp_path / "fresh2")
    pd.testing.assert_frame_equal(comparable(resumed), comparable(new))
    assert "on the rug" in set(resumed["reference"])
    pd.testing.assert_frame_equal(results.summary(resumed), results.summary(new))
    # The journal holds exactly the rows of the results, each once.
    lines = (out / sweep.JOURNAL).read_text().splitlines()
    assert len(lines) == len(resumed) == len({json.loads(line)["row_key"] for line in lines})


def test_resumed_rows_take_the_labels_and_ids_the_code_gives_now(tmp_path: Path) -> None:
    """A label or config id is derived from the row's components, not computed from the data:
    a row journaled when they were made otherwise (values quoted since, a parameter dropped from
    ids) is resumed under today's, or one configuration is summarised as two."""
    data = text_dataset(tmp_path / "data", FEW_ERRORS)
    spec = specs.load(given_spec(tmp_path, [data]))
    out, cache = tmp_path / "out", Cache(tmp_path / "c")
    sweep.run(spec, out, cache=cache, progress=False)
    journal = out / sweep.JOURNAL
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    stale = [{**row, "config": "an old label", "config_id": "0ld1d"} for row in lines[:2]]
    journal.write_text("".join(json.dumps(row) + "\n" for row in [*stale, *lines[2:]]))
    again = sweep.run(spec, out, cache=cache, progress=False)
    assert again["work"]["rows_resumed"] == len(lines)
    sweep.run(spec, tmp_path / "fresh", cache=cache, progress=False)
    resumed, fresh = results.load(out), results.load(tmp_path / "fresh")
    pd.testing.assert_frame_equal(comparable(resumed), comparable(fresh))
    named = ["config", "config_id", "samples", "cer"]
    pd.testing.assert_frame_equal(results.summary(resumed)[named], results.summary(fresh)[named])


def test_journal_lines_that_are_not_rows_are_recomputed(tmp_path: Path) -> None:
    data = text_dataset(tmp_path / "data", FEW_ERRORS)
    spec = specs.load(given_spec(tmp_path, [data]))
    out, cache = tmp_path / "out", Cache(tmp_path / "c")
    sweep.run(spec, out, cache=cache, progress=False)
    journal = out / sweep.JOURNAL
    kept = journal.read_text().splitlines()[1:]
    journal.write_text("\n".join(["{}", "null", "[1, 2]", '{"dataset": "x"}', *kept]) + "\n")
    manifest = sweep.run(spec, out, cache=cache, progress=False)
    assert manifest["work"]["rows_resumed"] == len(kept)
    assert len(results.load(out)) == 2 * 3


def test_journal_rows_with_broken_figures_are_recomputed_not_trusted(tmp_path: Path) -> None:
    """A journal row with a count of the wrong type gave an ArrowInvalid traceback after the
    manifest was gone; one without word_edits made WER NaN unsaid; a CER that its counts do not
    give was resumed as a result."""
    data = text_dataset(tmp_path / "data", FEW_ERRORS)
    spec = specs.load(given_spec(tmp_path, [data]))
    out, cache = tmp_path / "out", Cache(tmp_path / "c")
    sweep.run(spec, out, cache=cache, progress=False)
    figures = ["config", "samples", "cer", "raw_cer", "wer", "words_fixed", "words_broken"]
    clean = results.summary(results.load(out))[figures]
    journal = out / sweep.JOURNAL
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    rows[0]["char_edits"] = "abc"
    del rows[1]["word_edits"]
    rows[2]["cer"] = 0.0 if rows[2]["cer"] else 0.5
    rows[3]["reference_chars"] = -1
    journal.write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest = sweep.run(spec, out, cache=cache, progress=False)
    assert manifest["work"]["rows_resumed"] == len(rows) - 4
    pd.testing.assert_frame_equal(results.summary(results.load(out))[figures], clean)


@pytest.mark.tesseract
def test_no_cache_reads_each_image_once_per_engine(dataset: Path, tmp_path: Path) -> None:
    needs_tesseract()
    body = f"""
datasets: [{{path: {dataset}, limit: 6}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
"""
    spec = specs.load(write_spec(tmp_path, dataset, body))
    for workers in (1, 2):
        manifest = sweep.run(spec, tmp_path / f"out{workers}", cache=Cache(None), workers=workers,
                             progress=False)  # fmt: skip
        assert manifest["work"]["ocr_run"] == 6 and manifest["work"]["ocr_cached"] == 0
    assert len(results.load(tmp_path / "out2")) == 12


@pytest.mark.tesseract
def test_progress_shows_the_ocr_phase(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_tesseract()
    body = f"datasets: [{{path: {dataset}, limit: 5}}]\nengines: {{tesseract: {{psm: 7}}}}\n"
    spec = specs.load(write_spec(tmp_path, dataset, body))
    sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1, progress=True)
    err = capsys.readouterr().err
    assert "OCR" in err and "5/5" in err and "page" in err


@pytest.mark.tesseract
def test_skip_bad_leaves_out_a_sample_whose_ocr_fails(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image that loads but that the engine cannot read: one clear error naming the sample, or,
    with skip_bad, the sample left out of every configuration and listed in the manifest."""
    needs_tesseract()
    from ocrbench.engines.tesseract import Tesseract
    from ocrbench.errors import SampleError

    real = Tesseract.recognize

    def fails_on_line2(self: Tesseract, image: Path) -> object:
        if image.name == "line2.png":
            raise RuntimeError("Error during processing.")
        return real(self, image)

    monkeypatch.setattr(Tesseract, "recognize", fails_on_line2)
    body = f"""
datasets: [{{path: {dataset}, limit: 4}}]
engines: {{tesseract: {{psm: [7, 13]}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
"""
    spec = specs.load(write_spec(tmp_path, dataset, body))
    with pytest.raises(SampleError, match="'line2'.*line2.png"):
        sweep.run(spec, tmp_path / "strict", cache=Cache(tmp_path / "c"), workers=1, progress=False)
    manifest = sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1,
                         progress=False, skip_bad=True)  # fmt: skip
    frame = results.load(tmp_path / "out")
    assert len(frame) == 2 * 2 * 3 and "line2" not in set(frame["sample_id"])
    (entry,) = manifest["datasets"]
    assert entry["samples"] == 3
    assert [s["id"] for s in entry["skipped"]] == ["line2"]
    assert "RuntimeError" in entry["skipped"][0]["reason"]


def test_run_skip_bad_leaves_out_a_sample_its_engine_cannot_read(tmp_path: Path) -> None:
    """`ocrbench run --engine given` on a sample with an image but no OCR text: one line without
    --skip-bad; with it, the sample is left out and recorded in the manifest."""
    data = text_dataset(tmp_path / "data", FEW_ERRORS)
    image = make_dataset(tmp_path / "img", ["Invoice"]) / "line0.png"
    with open(data / "manifest.jsonl", "a") as manifest:
        manifest.write(json.dumps({"id": "pic", "image": str(image), "text": "Invoice"}) + "\n")
    base = [sys.executable, "-m", "ocrbench.cli", "run", "--dataset", str(data), "--engine",
            "given", "--quiet", "--no-report", "--allow-outside", "--cache", str(tmp_path / "c")]  # fmt: skip
    strict = subprocess.run(
        [*base, "--out", str(tmp_path / "strict")], capture_output=True, text=True
    )
    assert strict.returncode == 2 and "Traceback" not in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1 and "'pic'" in strict.stderr
    done = subprocess.run([*base, "--skip-bad", "--out", str(tmp_path / "out")], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped: sample 'pic'" in done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["id"] for s in manifest["skipped"]] == ["pic"] and manifest["dataset"]["samples"] == 3
    assert sorted(results.load(tmp_path / "out")["sample_id"]) == ["s0", "s1", "s2"]


def test_dataset_names_are_readable_and_unique() -> None:
    roots = [
        Path("/d/a/inv"),
        Path("/d/b/inv"),
        Path("/x/c/set"),
        Path("/y/c/set"),
        Path("/d/solo"),
    ]
    assert sweep.dataset_names(roots, [None] * 5) == [
        "a/inv",
        "b/inv",
        "x/c/set",
        "y/c/set",
        "solo",
    ]
    same = [Path("/d/inv")] * 3
    assert sweep.dataset_names(same, [3, None, 3]) == [
        "inv (limit 3) #1", "inv (limit none)", "inv (limit 3) #2"
    ]  # fmt: skip


def test_a_row_journaled_before_made_from_existed_gets_it_from_its_model_file() -> None:
    """Resumed rows keep the mark: a q8_0 made from a Q4_K_M stays "from Q4_K_M" after a resume."""
    from ocrbench.sweep import _with_new_columns

    sha = "ab" * 32
    files = [{"sha256": sha, "made_from": "q4_k_m"}, {"sha256": "cd" * 32, "made_from": None}]
    old = {"corrector_version": f"noisy-channel-nc3 llama-cpp-python-0.3.36 sha256:{sha}"}
    assert _with_new_columns(old, files)["made_from"] == "q4_k_m"
    other = {"corrector_version": f"noisy-channel-nc3 sha256:{'cd' * 32}"}
    assert _with_new_columns(other, files)["made_from"] is None
    assert _with_new_columns({"corrector_version": "1"}, files)["made_from"] is None  # no model
    new = {**old, "made_from": None, "warning": "w"}
    assert _with_new_columns(new, files)["made_from"] == "q4_k_m"  # as its file says now
    unknown = {"corrector_version": f"x sha256:{'ef' * 32}", "made_from": "q8_0"}
    assert _with_new_columns(unknown, files)["made_from"] == "q8_0"  # no file to say otherwise
    assert _with_new_columns(new, files)["warning"] == "w"
    assert _with_new_columns(old, files)["trained"] is False
    # meta is the dataset's current one: it takes no part in what the row computed
    assert _with_new_columns(new, files, {"degrade": "mild"})["meta"] == '{"degrade": "mild"}'


def test_a_folder_listed_twice_counts_only_its_own_failures(tmp_path: Path) -> None:
    """One folder listed with and without a limit: a sample whose OCR failed beyond the limit is
    not listed as skipped, nor subtracted, for the limited entry that never held it."""
    root = tmp_path / "data"
    root.mkdir()
    items = [{"id": f"d{i:02d}", "ocr": f"line {i}", "text": f"line {i}"} for i in range(10)]
    Image.new("RGB", (8, 8), "white").save(root / "page.png")
    # A page with no OCR text: `given` fails on it, in the OCR phase.
    items += [{"id": f"d{i:02d}", "text": f"line {i}", "image": "page.png"} for i in (10, 11)]
    (root / "manifest.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    body = f"""
datasets: [{{path: {root}, limit: 5}}, {{path: {root}}}]
engines: {{given: {{}}}}
correctors: {{identity: {{}}}}
"""
    spec = specs.load(write_spec(tmp_path, root, body))
    manifest = sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1,
                         progress=False, skip_bad=True)  # fmt: skip
    limited, whole = manifest["datasets"]
    assert limited["samples"] == 5 and limited["skipped"] == []
    assert whole["samples"] == 10
    assert [s["id"] for s in whole["skipped"]] == ["d10", "d11"]


def test_a_fresh_sweep_resumes_nothing_even_with_a_folder_listed_twice(tmp_path: Path) -> None:
    """The rows two entries of one folder share are computed once and shown under both names:
    none of them was resumed, and a fresh run must not say "10 rows resumed"."""
    root = tmp_path / "data"
    root.mkdir()
    items = [{"id": f"d{i:02d}", "ocr": f"line {i}", "text": f"line {i}"} for i in range(12)]
    (root / "manifest.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    body = f"""
datasets: [{{path: {root}, limit: 5}}, {{path: {root}}}]
engines: {{given: {{}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
"""
    spec = specs.load(write_spec(tmp_path, root, body))
    first = sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1,
                      progress=False)  # fmt: skip
    assert first["work"]["rows_resumed"] == 0
    again = sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1,
                      progress=False)  # fmt: skip
    assert again["work"]["rows_resumed"] == 2 * (5 + 12)


def test_a_folder_listed_twice_is_read_once_per_engine(tmp_path: Path) -> None:
    """The train/test spec lists its test folder twice (without and with `train:`): each entry
    read the pages again, so the counts said twice the work, and with two workers the second
    reading of a page came from the cache as the first was written, flagged "read from the cache"
    on an empty cache."""
    needs_tesseract()
    test = make_dataset(tmp_path / "test", ["Invoice 1", "Total 2", "Due 3"])
    train = make_dataset(tmp_path / "train", ["Invoice 4", "Total 5"])
    spec = specs.load(write_spec(tmp_path, test, f"""
datasets: [{{path: {test}}}, {{path: {test}, train: {train}}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}}}
workers: 2
"""))  # fmt: skip
    manifest = sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "cache"), workers=2,
                         progress=False)  # fmt: skip
    # 3 pages (identity learns nothing, so the training pages are not read)
    assert manifest["work"]["ocr_run"] == 3 and manifest["work"]["ocr_cached"] == 0
    frame = results.load(tmp_path / "out")
    assert len(frame) == 6 and not frame["ocr_cached"].any()


@pytest.mark.parametrize("library", ["jiwer", "rapidfuzz", "unicode"])
def test_a_row_key_names_the_libraries_that_score_it(
    monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    """Edits come from jiwer and rapidfuzz (flexible accuracy, word alignment), NFC and grapheme
    clusters from Python's Unicode database: another version of any may count otherwise."""
    from ocrbench import rowkey
    from ocrbench.types import Sample

    sample = Sample(id="a", text="Invoice", ocr="Inv0ice")
    before = rowkey.row_key("/d", sample, [("given", {}, "1")], "nfc+ws")
    real = rowkey.scoring_libraries()
    monkeypatch.setattr(rowkey, "scoring_libraries",
                        lambda: {**real, library: "another"})  # fmt: skip
    assert rowkey.row_key("/d", sample, [("given", {}, "1")], "nfc+ws") != before


def test_a_journal_that_cannot_be_written_is_said_before_any_work(tmp_path: Path) -> None:
    """A rows.jsonl linked to nowhere was found only at the first row, after all the OCR."""
    from ocrbench.errors import OcrbenchError
    from ocrbench.journal import Journal

    path = tmp_path / "rows.jsonl"
    path.symlink_to(tmp_path / "gone" / "rows.jsonl")
    with pytest.raises(OcrbenchError, match=r"^cannot write the journal .*rows.jsonl"):
        Journal(path)


@dataclasses.dataclass(frozen=True)
class TupleEngine:
    """A plugin engine whose parameters JSON does not keep as they are (a tuple, a path)."""

    name: ClassVar[str] = "tuple-engine"
    langs: tuple[str, ...] = ("en",)
    where: Path = Path("/data")

    def version(self) -> str:
        return "1"


def test_labels_remade_from_a_rows_json_are_the_live_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed row is relabelled from its params as JSON holds them: a tuple default read back
    as a list counted as changed, and gave the configuration another id than the live one."""
    from ocrbench import registry, run
    from ocrbench.sweep import _with_new_columns

    monkeypatch.setitem(registry.engines._builtins, "tuple-engine", "test_sweep:TupleEngine")
    identity = run.Step(registry.correctors.get("identity")())
    for engine in (TupleEngine(), TupleEngine(langs=("en", "de")), TupleEngine(where=Path("/x"))):
        step = run.Step(engine)
        live = {"config_id": run.config_id("tuple-engine", step.params, "identity", {}),
                "config": run.label(step, identity)}  # fmt: skip
        row = {"engine": "tuple-engine", "params": json.dumps(step.params, default=str),
               "corrector": "identity", "corrector_params": "{}", "trained": False,
               "corrector_version": "1"}  # fmt: skip
        again = _with_new_columns(row, [])
        assert {k: again[k] for k in live} == live


def test_a_sweep_whose_every_page_fails_says_so(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With skip_bad and every page failing, the sweep wrote a results file with no columns,
    which report then called "not an ocrbench run's rows: run it again" (again the same)."""
    from ocrbench.engines.tesseract import Tesseract
    from ocrbench.errors import OcrbenchError

    def fails(self: Tesseract, image: Path) -> object:
        raise RuntimeError("Error during processing.")

    monkeypatch.setattr(Tesseract, "recognize", fails)
    body = f"datasets: [{{path: {dataset}, limit: 2}}]\nengines: {{tesseract: {{}}}}\n"
    spec = specs.load(write_spec(tmp_path, dataset, body))
    with pytest.raises(OcrbenchError, match="^no sample could be read"):
        sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "c"), workers=1, progress=False,
                  skip_bad=True)  # fmt: skip
    assert not (tmp_path / "out" / "results.parquet").exists()
