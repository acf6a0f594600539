"""The regression gate on fabricated runs: within tolerance passes, beyond it fails and names the
configuration; improvements and new configurations are reported; a baseline configuration the run
lacks fails unless allowed; a bad baseline is one clear error."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from ocrbench import gate, results
from ocrbench.errors import OcrbenchError
from ocrbench.run import config_id

from test_plots import Fake, fabricate, records

ROOT = Path(__file__).resolve().parents[1]

RAW, LEXICON = Fake(), Fake(corrector="lexicon", fix=0.5, harm=0.01)


def run_dir(root: Path, frame: pd.DataFrame) -> Path:
    results.write(root, records(frame), {"command": "fabricated"})
    return root


def shifted(frame: pd.DataFrame, config: str, extra_edits: int) -> pd.DataFrame:
    """The same run with `extra_edits` more character edits on each of one config's samples."""
    frame = frame.copy()
    rows = frame["config"] == config
    frame.loc[rows, "char_edits"] = frame.loc[rows, "char_edits"] + extra_edits
    return frame


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    return gate.write_baseline(
        run_dir(tmp_path / "base", fabricate(RAW, LEXICON)), tmp_path / "b.json"
    )


def test_baseline_file_holds_corpus_figures_with_sorted_keys(baseline: Path) -> None:
    text = baseline.read_text()
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    frame = fabricate(RAW, LEXICON)
    lexicon = frame[frame["config"] == "tesseract + lexicon"]
    stored = document["datasets"]["invoices"][lexicon["config_id"].iloc[0]]
    assert stored["config"] == "tesseract + lexicon"
    assert stored["samples"] == 6
    assert stored["cer"] == pytest.approx(
        lexicon["char_edits"].sum() / lexicon["reference_chars"].sum()
    )
    assert stored["wer"] == pytest.approx(
        lexicon["word_edits"].sum() / lexicon["reference_words"].sum()
    )


def test_the_same_run_passes(tmp_path: Path, baseline: Path) -> None:
    result = gate.check(run_dir(tmp_path / "run", fabricate(RAW, LEXICON)), baseline)
    assert result.passed
    assert {c.verdict for c in result.comparisons} == {gate.OK}
    assert "PASSED: 2 configuration(s)" in result.table()


def test_within_tolerance_passes_beyond_it_fails_naming_the_config(
    tmp_path: Path, baseline: Path
) -> None:
    frame = fabricate(RAW, LEXICON)
    chars = frame[frame["config"] == "tesseract + lexicon"]["reference_chars"].sum()
    # One extra edit per sample: 6 edits over `chars` characters.
    rise = 6 / chars
    worse = run_dir(tmp_path / "worse", shifted(frame, "tesseract + lexicon", 1))
    assert gate.check(worse, baseline, cer_tolerance=rise + 0.001).passed
    result = gate.check(worse, baseline, cer_tolerance=rise - 0.001)
    assert not result.passed
    (failure,) = result.failures
    assert failure.config == "tesseract + lexicon" and failure.verdict == gate.WORSE
    assert failure.cer_delta == pytest.approx(rise)
    table = result.table()
    first = table.splitlines()[2]  # failures lead, under the header and its rule
    assert first.startswith("tesseract + lexicon") and "WORSE" in first
    assert f"+{rise:.4f}" in first
    assert "FAILED: 1 worse of 2 configuration(s) compared with" in table
    assert table.splitlines()[0].split() == ["config", "dataset", "baseline", "CER", "run", "CER",
                                             "delta", "verdict"]  # fmt: skip


def test_a_delta_next_to_the_tolerance_is_shown_with_the_digits_that_decide_it(
    tmp_path: Path, baseline: Path
) -> None:
    """+0.00204 (worse) and +0.0019996 (ok) both printed "+0.0020", and the reason read
    "CER +0.0020 > 0.002": equal-looking rows with opposite verdicts."""
    run = run_dir(tmp_path / "run", fabricate(RAW, LEXICON))
    document = json.loads(baseline.read_text())
    for figures in document["datasets"]["invoices"].values():
        figures["cer"] -= 0.00204 if figures["config"] == "tesseract + lexicon" else 0.0019996
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    table = gate.check(run, moved).table()
    worse = next(line for line in table.splitlines() if line.startswith("tesseract + lexicon"))
    ok = next(line for line in table.splitlines() if line.startswith("tesseract + identity"))
    assert "+0.00204" in worse and "WORSE (CER +0.00204 > 0.002)" in worse
    assert "+0.0019996" in ok and ok.endswith("ok")


def test_improvement_is_reported_and_passes(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEXICON)
    baseline = gate.write_baseline(
        run_dir(tmp_path / "base", shifted(frame, "tesseract + identity", 2)), tmp_path / "b.json"
    )
    result = gate.check(run_dir(tmp_path / "run", frame), baseline)
    assert result.passed
    assert [c.config for c in result.improvements] == ["tesseract + identity"]
    assert "better" in result.table() and "1 better" in result.table()


def test_wer_is_gated_only_when_asked(tmp_path: Path, baseline: Path) -> None:
    frame = fabricate(RAW, LEXICON)
    frame.loc[frame["config"] == "tesseract + lexicon", "word_edits"] += 3
    run = run_dir(tmp_path / "run", frame)
    assert gate.check(run, baseline).passed
    result = gate.check(run, baseline, wer_tolerance=0.01)
    assert [c.config for c in result.failures] == ["tesseract + lexicon"]
    assert "WER +" in result.table()


LLM = Fake(corrector="prompt", repo_id="Qwen/Qwen2.5-0.5B-Instruct-GGUF", quantization="q8_0",
           gpu_layers=0, effective=0, fix=0.7)  # fmt: skip


def test_configs_on_one_side_only_are_listed_and_pass_when_allowed(
    tmp_path: Path, baseline: Path
) -> None:
    result = gate.check(
        run_dir(tmp_path / "run", fabricate(RAW, LLM)), baseline, allow_missing=True
    )
    assert result.passed
    assert [c.config for c in result.new] == [LLM.label]
    assert [c.config for c in result.missing] == ["tesseract + lexicon"]
    table = result.table()
    assert "new (not in baseline)" in table and "not in this run" in table
    assert "1 new, 1 missing from this run (allowed)" in table


def test_a_baseline_config_missing_from_the_run_fails(tmp_path: Path, baseline: Path) -> None:
    """It was not judged, so it cannot pass: a sweep that silently dropped a configuration must
    not get through the gate."""
    result = gate.check(run_dir(tmp_path / "run", fabricate(RAW, LLM)), baseline)
    assert not result.passed
    (failure,) = result.failures
    assert failure.config == "tesseract + lexicon" and failure.verdict == gate.MISSING
    assert [c.config for c in result.missing] == ["tesseract + lexicon"]
    lines = result.table().splitlines()
    assert lines[2].startswith("tesseract + lexicon")
    assert "MISSING (in the baseline, not in this run)" in lines[2]
    assert lines[-1].startswith(
        "FAILED: 1 baseline configuration(s) missing from this run (--allow-missing"
    )
    assert "1 configuration(s) compared with" in lines[-1]


def test_missing_and_worse_are_both_named(tmp_path: Path, baseline: Path) -> None:
    frame = shifted(fabricate(RAW), "tesseract + identity", 5)
    verdict = gate.check(run_dir(tmp_path / "run", frame), baseline).table().splitlines()[-1]
    assert verdict.startswith("FAILED: 1 baseline configuration(s) missing from this run")
    assert "; 1 worse of 1 configuration(s) compared with" in verdict


def test_different_samples_are_not_compared(tmp_path: Path, baseline: Path) -> None:
    result = gate.check(run_dir(tmp_path / "run", fabricate(RAW, LEXICON, samples=4)), baseline)
    assert not result.passed
    assert {c.verdict for c in result.failures} == {gate.NOT_COMPARABLE}
    assert "4 samples, baseline 6" in result.table()
    assert "FAILED: 2 not comparable of 2 configuration(s)" in result.table()
    # No delta between CERs of different samples: it read as a change.
    rows = [line for line in result.table().splitlines() if "NOT COMPARABLE (" in line]
    deltas = [re.search(r"(\S+)\s+NOT COMPARABLE", line).group(1) for line in rows]  # type: ignore[union-attr]
    assert deltas == ["-", "-"], rows


def test_a_baseline_sharing_no_config_is_an_error(tmp_path: Path, baseline: Path) -> None:
    other = run_dir(tmp_path / "run", fabricate(Fake(dataset="receipts")))
    with pytest.raises(OcrbenchError, match="has none of this run's configs; write one with"):
        gate.check(other, baseline)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", '"ocrbench_baseline": 1'),
        ('{"ocrbench_baseline": 1}', '"datasets"'),
        ('{"ocrbench_baseline": 1, "datasets": {"d": {"c": {"cer": "x", "wer": 0, "samples": 3}}}}',
         "d/c: cer and wer must be numbers"),
        ('{"ocrbench_baseline": 1, "datasets": {"d": {"c": {"cer": 0.1, "wer": 0.1}}}}',
         "d/c: samples must be a count"),
    ],
)  # fmt: skip
def test_malformed_baseline_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    run = run_dir(tmp_path / "run", fabricate(RAW))
    with pytest.raises(OcrbenchError) as error:
        gate.check(run, path)
    text = str(error.value)
    assert "\n" not in text and str(path) in text and message in text
    assert "--write-baseline" in text


@pytest.mark.parametrize(
    ("figure", "value", "shown"),
    [("cer", "NaN", "nan"), ("cer", "Infinity", "inf"), ("wer", "-Infinity", "-inf")],
)
def test_a_non_finite_figure_is_a_malformed_baseline(
    tmp_path: Path, baseline: Path, figure: str, value: str, shown: str
) -> None:
    """Python's json reads NaN and Infinity; NaN compares False with everything, so the gate
    printed "ok +nan" and passed. Such a figure is no measurement: the baseline is rejected."""
    document = json.loads(baseline.read_text())
    (config_id, figures), *_ = document["datasets"]["invoices"].items()
    figures[figure] = float(value)
    baseline.write_text(json.dumps(document))  # json writes them as NaN, Infinity, -Infinity
    assert value in baseline.read_text()
    run = run_dir(tmp_path / "run", fabricate(RAW, LEXICON))
    with pytest.raises(OcrbenchError) as error:
        gate.check(run, baseline)
    message = str(error.value)
    assert "\n" not in message and str(baseline) in message
    assert f"invoices/{config_id}: cer and wer must be numbers (or null), {figure} is {shown}" in (
        message
    )


def test_a_baseline_path_that_is_a_folder_is_one_clear_error(tmp_path: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW))
    with pytest.raises(OcrbenchError, match="is a folder, not a baseline file"):
        gate.read_baseline(tmp_path)
    with pytest.raises(OcrbenchError, match="is a folder; give --write-baseline a file path"):
        gate.write_baseline(run, tmp_path)


def test_a_baseline_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OcrbenchError) as error:
        gate.write_baseline(run, blocker / "b.json")  # a file where its folder should be
    assert "cannot write the baseline" in str(error.value) and "\n" not in str(error.value)
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders: the read-only case needs another user")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(OcrbenchError, match="cannot write the baseline.*Permission denied"):
        gate.write_baseline(run, locked / "b.json")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_prints_baseline_path_errors_as_one_line(tmp_path: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW))
    for flag in ("--baseline", "--write-baseline"):
        done = cli("check", run, flag, tmp_path)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ocrbench: error: "), done.stderr
        assert "is a folder" in lines[0]


def test_the_cli_fails_on_missing_configs_unless_allowed(tmp_path: Path, baseline: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW))
    strict = cli("check", run, "--baseline", baseline)
    assert strict.returncode == 1, strict.stderr
    assert "FAILED: 1 baseline configuration(s) missing from this run" in strict.stdout
    allowed = cli("check", run, "--baseline", baseline, "--allow-missing")
    assert allowed.returncode == 0, allowed.stderr
    assert "PASSED: 1 configuration(s)" in allowed.stdout


def test_a_spec_gate_passes_allow_missing_through(tmp_path: Path, baseline: Path) -> None:
    from ocrbench.cli import _gate

    run = run_dir(tmp_path / "run", fabricate(RAW))
    spec = SimpleNamespace(name="s", path=tmp_path / "s.yaml", gate={"baseline": baseline.name})
    assert _gate(spec, run) == 1
    spec.gate["allow_missing"] = True
    assert _gate(spec, run) == 0
    spec.gate["allow_missing"] = "yes"
    with pytest.raises(OcrbenchError, match="allow_missing must be true or false, not 'yes'"):
        _gate(spec, run)
    spec.gate["cer_tolerance"] = "lots"  # was float("lots"): a traceback
    with pytest.raises(OcrbenchError, match="cer_tolerance must be a number >= 0"):
        _gate(spec, run)


@pytest.mark.parametrize("gate_part", ["", "gate: {cer_tolerance: 0.01}\n",
                                       "gate: {baseline: nowhere.json}\n"])  # fmt: skip
def test_sweep_gate_without_a_baseline_refuses_before_the_sweep(
    tmp_path: Path, gate_part: str
) -> None:
    """`sweep --gate` on a spec whose gate cannot run said so only after the whole sweep."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text('{"id": "a", "ocr": "Inv0ice", "text": "Invoice"}\n')
    spec = tmp_path / "s.yaml"
    spec.write_text(f"datasets: [{data}]\nengines: {{given: {{}}}}\n{gate_part}")
    done = cli("sweep", spec, "--out", tmp_path / "run", "--gate")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ocrbench: error: --gate: "), done.stderr
    assert not (tmp_path / "run").exists(), "the sweep ran before the refusal"


def test_missing_baseline_and_bad_tolerance(tmp_path: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW))
    with pytest.raises(OcrbenchError, match="no such baseline; write one"):
        gate.check(run, tmp_path / "nowhere.json")
    with pytest.raises(OcrbenchError, match="cer_tolerance must be a number >= 0"):
        gate.check(run, tmp_path / "nowhere.json", cer_tolerance=-0.1)


def test_empty_references_store_null_and_compare(tmp_path: Path) -> None:
    frame = fabricate(RAW, samples=1, empty_reference=True)
    path = gate.write_baseline(run_dir(tmp_path / "base", frame), tmp_path / "b.json")
    (figures,) = json.loads(path.read_text())["datasets"]["invoices"].values()
    assert figures["cer"] is None and figures["wer"] is None
    assert gate.check(run_dir(tmp_path / "run", frame), path).passed


def test_config_ids_survive_a_new_parameter_with_a_default() -> None:
    """Baselines are keyed by config id: parameters at their defaults do not count, so adding one
    (as noisy-channel's `lang` was added) leaves every baseline comparable."""
    from ocrbench.run import config_id

    bare = config_id("tesseract", {}, "noisy-channel", {})
    spelled_out = config_id(
        "tesseract", {"lang": "eng", "psm": 3}, "noisy-channel", {"lang": "eng"}
    )
    assert bare == spelled_out
    assert config_id("tesseract", {}, "noisy-channel", {"lang": "eng+grc"}) != bare
    assert config_id("tesseract", {"psm": 6}, "noisy-channel", {}) != bare
    # A component that is not registered has no defaults to leave out: every parameter counts.
    assert config_id("mine", {"x": 1}, "identity", {}) != config_id("mine", {}, "identity", {})
    # Whether a missing model file may be downloaded changes where it comes from, not what the
    # configuration computes: one configuration (two had shown the same CER side by side).
    assert config_id("tesseract", {}, "noisy-channel", {"allow_download": True}) == bare


BASELINE_IDS = {  # reports/baselines/default.json's ids, from before the model settings had one home
    "c5265d0e77c1": "tesseract + identity",
    "3ccecf50b39f": "tesseract + lexicon",
    "83e34fbaa520": "tesseract + noisy-channel",
    "e6f18b7e3e79": "tesseract + noisy-channel(gpu_layers=-1)",
    "d485c6bb019f": "tesseract + noisy-channel(quantization=q8_0)",
    "2265fe84502e": "tesseract + noisy-channel(quantization=q8_0,gpu_layers=-1)",
    "9224938dffb8": "easyocr + identity",
    "d6fe9acca277": "easyocr + lexicon",
    "4ce1cd2753c3": "easyocr + noisy-channel",
    "ca75bc0cfa4b": "easyocr + noisy-channel(gpu_layers=-1)",
    "40663d1bb7c4": "easyocr + noisy-channel(quantization=q8_0)",
    "fb246818daff": "easyocr + noisy-channel(quantization=q8_0,gpu_layers=-1)",
}


def test_the_committed_baselines_configuration_ids_stay_the_same() -> None:
    """A spec's grid (the model fields nested under `model:`, as sweeps/default.yaml has them)
    gives the ids the baseline was written with."""
    import yaml

    from ocrbench import registry, specs

    section = yaml.safe_load("""
engines: {tesseract: {}, easyocr: {}}
correctors:
  identity: {}
  lexicon: {}
  noisy-channel: {model: {quantization: [q4_k_m, q8_0], gpu_layers: [0, -1]}}
""")  # fmt: skip
    engines = specs._components("engine", section["engines"], "engines", registry.engines)
    correctors = specs._components(
        "corrector", section["correctors"], "correctors", registry.correctors
    )
    found = {
        config_id(engine.name, engine.kwargs, corrector.name, corrector.kwargs)
        for engine in engines
        for corrector in correctors
    }
    assert found == set(BASELINE_IDS)
    committed = json.loads((ROOT / "reports/baselines/default.json").read_text())
    labels = {i: c["config"] for i, c in committed["datasets"]["invoices-synth"].items()}
    assert {i: labels[i] for i in labels if i in BASELINE_IDS} == {
        i: BASELINE_IDS[i] for i in labels if i in BASELINE_IDS
    }


def test_a_run_on_fewer_samples_compares_on_the_shared_ones_when_asked(
    tmp_path: Path, baseline: Path
) -> None:
    """6 baseline samples, a run on 4 of them: not comparable, unless --shared, when both sides'
    figures are those of the 4 samples (a known answer: worse by the edits added there)."""
    small = fabricate(RAW, LEXICON, samples=4)
    assert not gate.check(run_dir(tmp_path / "same", small), baseline).passed
    same = gate.check(run_dir(tmp_path / "same", small), baseline, shared=True)
    assert same.passed and {c.verdict for c in same.comparisons} == {gate.OK}
    assert "on 4 of the baseline's 6 samples" in same.table()
    expected = small[small["config"] == "tesseract + lexicon"]
    lexicon = next(c for c in same.comparisons if c.config == "tesseract + lexicon")
    assert lexicon.baseline_cer == pytest.approx(
        expected["char_edits"].sum() / expected["reference_chars"].sum()
    )
    worse = gate.check(
        run_dir(tmp_path / "worse", shifted(small, "tesseract + lexicon", 5)), baseline, shared=True
    )
    assert [c.config for c in worse.failures] == ["tesseract + lexicon"]
    assert worse.failures[0].verdict == gate.WORSE


def test_other_samples_of_the_same_count_are_not_compared(tmp_path: Path, baseline: Path) -> None:
    frame = fabricate(RAW, LEXICON)
    renamed = frame.assign(sample_id=frame["sample_id"].where(frame["sample_id"] != "s00", "zz"))
    result = gate.check(run_dir(tmp_path / "run", renamed), baseline)
    assert {c.verdict for c in result.failures} == {gate.NOT_COMPARABLE}
    assert "other samples than the baseline's (5 shared; --shared)" in result.table()


def test_a_shared_sample_with_another_reference_is_not_compared(
    tmp_path: Path, baseline: Path
) -> None:
    frame = fabricate(RAW, LEXICON)
    longer = frame.assign(reference_chars=frame["reference_chars"] + 1)
    result = gate.check(run_dir(tmp_path / "run", longer), baseline, shared=True)
    assert {c.verdict for c in result.failures} == {gate.NOT_COMPARABLE}
    assert "has another reference than the baseline's" in result.table()


def test_a_reference_edited_to_the_same_length_is_not_compared(
    tmp_path: Path, baseline: Path
) -> None:
    """ "Mill Lane" corrected to "Mill Lena" in the ground truth: the same counts of characters
    and words, so the gate compared, and passed a CER that moved only because the truth did."""
    frame = fabricate(RAW, LEXICON)
    first = frame["sample_id"] == "s00"
    edited = frame.assign(
        reference=frame["reference"].where(~first, frame["reference"].str.swapcase())
    )
    assert (edited["reference"] != frame["reference"]).any()
    for shared in (False, True):
        result = gate.check(run_dir(tmp_path / f"run{shared}", edited), baseline, shared=shared)
        assert {c.verdict for c in result.comparisons} == {gate.NOT_COMPARABLE}
        assert "sample 's00' has another reference than the baseline's" in result.table()


def test_shared_needs_a_baseline_with_per_sample_counts(tmp_path: Path, baseline: Path) -> None:
    document = json.loads(baseline.read_text())
    for configs in document["datasets"].values():
        for figures in configs.values():
            del figures["per_sample"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    run = run_dir(tmp_path / "run", fabricate(RAW, LEXICON))
    assert gate.check(run, old).passed  # as before: counts compared
    result = gate.check(run, old, shared=True)
    assert "write it again for --shared" in result.table() and not result.passed


def test_the_cli_check_takes_shared(tmp_path: Path, baseline: Path) -> None:
    run = run_dir(tmp_path / "run", fabricate(RAW, LEXICON, samples=4))
    command = [sys.executable, "-m", "ocrbench.cli", "check", str(run), "--baseline", str(baseline)]
    assert subprocess.run(command, capture_output=True, text=True).returncode == 1
    done = subprocess.run([*command, "--shared"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout and "on 4 of the baseline's 6 samples" in done.stdout


def test_a_sample_read_from_another_input_is_not_comparable(tmp_path: Path) -> None:
    """The baseline records each sample's input (its page image, or the OCR text handed to
    `given`): the same ids and references over other inputs are not the same benchmark."""
    frame = fabricate(RAW, LEXICON).assign(image_sha256="1" * 64)
    path = gate.write_baseline(run_dir(tmp_path / "base", frame), tmp_path / "b.json")
    assert gate.check(run_dir(tmp_path / "same", frame), path).passed
    other = frame.assign(image_sha256=frame["image_sha256"].where(frame["sample_id"] != "s02",
                                                                  "2" * 64))  # fmt: skip
    result = gate.check(run_dir(tmp_path / "other", other), path)
    assert not result.passed
    assert {c.verdict for c in result.comparisons} == {gate.NOT_COMPARABLE}
    assert "sample 's02' was read from another input than the baseline's" in result.table()
    # A baseline from before inputs were recorded is judged as before.
    old = json.loads(path.read_text())
    for configs in old["datasets"].values():
        for figures in configs.values():
            figures.pop("inputs")
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert gate.check(run_dir(tmp_path / "other2", other), tmp_path / "old.json").passed


def test_a_baseline_write_that_fails_leaves_the_old_baseline_whole(
    tmp_path: Path, full_disk: Path
) -> None:
    """--write-baseline on a full disk left a 0-byte file where the good baseline was."""
    run = run_dir(tmp_path / "run", fabricate(RAW, LEXICON, samples=4))
    good = gate.write_baseline(run, full_disk / "b.json")
    before = good.read_bytes()
    with open(full_disk / "more", "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:  # the last free blocks
            out.write(b"\0" * 1024)
    with pytest.raises(OcrbenchError, match="cannot write the baseline.*No space left"):
        gate.write_baseline(run_dir(tmp_path / "run2", fabricate(RAW, LEXICON, samples=40)), good)
    assert good.read_bytes() == before
