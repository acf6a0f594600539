"""A corrector trained on one training set is not the configuration trained on another, though both
have the same config id: the gate and `compare` refuse to judge one against the other (NOT
COMPARABLE, one line) rather than print a regression or an improvement that is only the change of
training data. Untrained configurations, and baselines from before the training set was recorded,
compare as they did where that is honest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ocrbench import compare, gate, results
from ocrbench.errors import OcrbenchError
from ocrbench.run import config_id

from test_plots import Fake, fabricate, records

ROOT = Path(__file__).resolve().parents[1]
RAW, LEARNER = Fake(), Fake(corrector="lexicon", fix=0.5, harm=0.01)
SET_A, SET_C = ("data/trainA", "a" * 64), ("data/trainC", "c" * 64)


def trained_on(
    frame: pd.DataFrame, train: tuple[str, str], *, learned: bool = True
) -> pd.DataFrame:
    """The run with its lexicon rows given a training set, as `ocrbench run --train` writes them:
    the training set's columns, and (when the corrector learned from it) the trained config id and
    label."""
    frame = frame.copy()
    rows = frame["corrector"] == "lexicon"
    path, sha = train
    frame.loc[rows, "train"] = path
    frame.loc[rows, "train_sha256"] = sha
    frame.loc[rows, "train_samples"] = 10
    frame.loc[rows, "trained"] = learned
    if learned:
        first = frame[rows].iloc[0]
        frame.loc[rows, "config_id"] = config_id(
            first["engine"], json.loads(first["params"]),
            first["corrector"], json.loads(first["corrector_params"]), True,
        )  # fmt: skip
        frame.loc[rows, "config"] = "tesseract + trained lexicon"
    return frame


def shifted(frame: pd.DataFrame, extra_edits: int) -> pd.DataFrame:
    """`extra_edits` more (or, negative, fewer) character edits on each lexicon sample."""
    frame = frame.copy()
    rows = frame["corrector"] == "lexicon"
    frame.loc[rows, "char_edits"] = (frame.loc[rows, "char_edits"] + extra_edits).clip(lower=0)
    return frame


def run_dir(root: Path, frame: pd.DataFrame) -> Path:
    results.write(root, records(frame), {"command": "fabricated"})
    return root


def baseline_of(tmp_path: Path, frame: pd.DataFrame, name: str = "b") -> Path:
    return gate.write_baseline(run_dir(tmp_path / f"{name}-run", frame), tmp_path / f"{name}.json")


def lexicon(result: gate.GateResult) -> gate.Comparison:
    return next(c for c in result.comparisons if "lexicon" in c.config)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocrbench.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


# --- the gate -------------------------------------------------------------------------------------


def test_the_baseline_records_each_configurations_training_set(tmp_path: Path) -> None:
    baseline = baseline_of(tmp_path, trained_on(fabricate(RAW, LEARNER), SET_A))
    stored = json.loads(baseline.read_text())["datasets"]["invoices"]
    by_label = {figures["config"]: figures for figures in stored.values()}
    assert by_label["tesseract + trained lexicon"]["train_sha256"] == SET_A[1]
    assert by_label["tesseract + trained lexicon"]["train"] == SET_A[0]
    assert by_label["tesseract + identity"]["train_sha256"] is None


@pytest.mark.parametrize("extra_edits", [5, 0, -5], ids=["worse", "same", "better"])
def test_another_training_set_is_not_comparable_whatever_the_figures(
    tmp_path: Path, extra_edits: int
) -> None:
    """The audit's case: same config id, other training set. Worse, equal or better figures: the
    verdict is NOT COMPARABLE (a failure, exit 1), never WORSE, BETTER or ok."""
    frame = fabricate(RAW, LEARNER)
    baseline = baseline_of(tmp_path, trained_on(frame, SET_A))
    run = run_dir(tmp_path / "run", trained_on(shifted(frame, extra_edits), SET_C))
    result = gate.check(run, baseline)
    assert not result.passed
    verdict = lexicon(result)
    assert verdict.verdict == gate.NOT_COMPARABLE
    assert "other training set" in verdict.reason
    assert "data/trainC" in verdict.reason and "data/trainA" in verdict.reason
    assert {c.verdict for c in result.comparisons if c is not verdict} == {gate.OK}
    table = result.table()
    assert "WORSE" not in table and not result.improvements
    assert "FAILED: 1 not comparable of 2 configuration(s)" in table
    done = cli("check", run, "--baseline", baseline)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NOT COMPARABLE" in done.stdout and "WORSE" not in done.stdout


def test_another_training_set_is_not_comparable_on_shared_samples_either(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    baseline = baseline_of(tmp_path, trained_on(frame, SET_A))
    run = run_dir(tmp_path / "run", trained_on(fabricate(RAW, LEARNER, samples=4), SET_C))
    verdict = lexicon(gate.check(run, baseline, shared=True))
    assert verdict.verdict == gate.NOT_COMPARABLE and "other training set" in verdict.reason


def test_the_same_training_set_compares_as_before(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    baseline = baseline_of(tmp_path, trained_on(frame, SET_A))
    # The same content at another path (a clone elsewhere) is the same training set.
    moved = ("/elsewhere/trainA", SET_A[1])
    same = gate.check(run_dir(tmp_path / "same", trained_on(frame, moved)), baseline)
    assert same.passed and {c.verdict for c in same.comparisons} == {gate.OK}
    worse = gate.check(run_dir(tmp_path / "worse", trained_on(shifted(frame, 5), SET_A)), baseline)
    assert [c.verdict for c in worse.failures] == [gate.WORSE]
    better = gate.check(
        run_dir(tmp_path / "better", trained_on(shifted(frame, -5), SET_A)), baseline
    )
    assert better.passed and lexicon(better).verdict == gate.BETTER


def test_untrained_configurations_compare_as_before(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    baseline = baseline_of(tmp_path, frame)
    assert gate.check(run_dir(tmp_path / "same", frame), baseline).passed
    worse = gate.check(run_dir(tmp_path / "worse", shifted(frame, 5)), baseline)
    assert [c.verdict for c in worse.failures] == [gate.WORSE]
    # A corrector that learned nothing from a training set (rows say trained: false, config id
    # untrained) corrected as it does untrained: the training set it was handed does not matter.
    handed = run_dir(tmp_path / "handed", trained_on(frame, SET_C, learned=False))
    assert gate.check(handed, baseline).passed


def test_results_from_before_training_sets_are_untrained(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    old = frame.drop(columns=["train", "train_sha256", "train_samples", "trained"])
    baseline = baseline_of(tmp_path, old)
    stored = json.loads(baseline.read_text())["datasets"]["invoices"]
    assert {figures["train_sha256"] for figures in stored.values()} == {None}
    assert gate.check(run_dir(tmp_path / "run", frame), baseline).passed


def without_training_record(baseline: Path, tmp_path: Path) -> Path:
    """The baseline as a file written before baselines recorded training sets."""
    document = json.loads(baseline.read_text())
    for configs in document["datasets"].values():
        for figures in configs.values():
            figures.pop("train_sha256")
            figures.pop("train")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    return old


def test_an_old_baseline_compares_untrained_configurations(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    old = without_training_record(baseline_of(tmp_path, frame), tmp_path)
    assert gate.check(run_dir(tmp_path / "same", frame), old).passed
    worse = gate.check(run_dir(tmp_path / "worse", shifted(frame, 5)), old)
    assert [c.verdict for c in worse.failures] == [gate.WORSE]


def test_an_old_baseline_cannot_judge_a_trained_configuration(tmp_path: Path) -> None:
    """Its trained entry learned from some training set it does not name: a run trained on any set
    is not comparable with it, and the reason says to write the baseline again."""
    frame = trained_on(fabricate(RAW, LEARNER), SET_A)
    old = without_training_record(baseline_of(tmp_path, frame), tmp_path)
    result = gate.check(run_dir(tmp_path / "run", frame), old)
    verdict = lexicon(result)
    assert verdict.verdict == gate.NOT_COMPARABLE
    assert "does not record its training set" in verdict.reason
    assert "write it again" in verdict.reason
    assert {c.verdict for c in result.comparisons if c is not verdict} == {gate.OK}


@pytest.mark.parametrize("value", ["123", '["a"]', "true"])
def test_a_malformed_training_record_is_a_malformed_baseline(tmp_path: Path, value: str) -> None:
    frame = fabricate(RAW)
    document = json.loads(baseline_of(tmp_path, frame).read_text())
    figures = next(iter(document["datasets"]["invoices"].values()))
    figures["train_sha256"] = json.loads(value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(OcrbenchError, match="train_sha256 must be a sha256 .* or null"):
        gate.check(run_dir(tmp_path / "run", frame), bad)


def test_a_baseline_from_before_the_training_record_still_judges_untrained_runs(
    tmp_path: Path,
) -> None:
    """A baseline written before baselines recorded the training set (and each sample's input)
    loads as it is, and its untrained configurations are judged by an untrained run as before."""
    written = json.loads(gate.write_baseline(run_dir(tmp_path / "r", fabricate(RAW)),
                                             tmp_path / "new.json").read_text())  # fmt: skip
    for figures in written["datasets"]["invoices"].values():
        for field in ("train", "train_sha256", "inputs"):
            del figures[field]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(written))
    baseline = gate.read_baseline(old)
    assert baseline
    for key, figures in baseline.items():
        untrained_run = {**figures, "train_sha256": None, "train": None}
        assert gate._compare(key, figures, untrained_run, 0.002, None).verdict == gate.OK


def test_the_committed_baseline_records_its_untrained_configurations_and_inputs() -> None:
    baseline = gate.read_baseline(ROOT / "reports/baselines/default.json")
    assert baseline
    for figures in baseline.values():
        assert figures["train_sha256"] is None and figures["train"] is None
        assert len(figures["inputs"]) == figures["samples"] == 12


# --- compare --------------------------------------------------------------------------------------


def test_compare_refuses_a_configuration_trained_on_other_sets_in_one_line(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER)
    a = run_dir(tmp_path / "a", trained_on(frame, SET_A))
    c = run_dir(tmp_path / "c", trained_on(shifted(frame, 5), SET_C))
    with pytest.raises(OcrbenchError, match="trained on other training sets") as error:
        compare.compare(a, c)
    text = str(error.value)
    assert "\n" not in text and "tesseract + trained lexicon" in text
    assert "data/trainA" in text and "data/trainC" in text
    done = cli("compare", a, c, "--fail-if-worse")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "worse" not in done.stdout
    assert done.stderr.strip().count("\n") == 0 and "other training sets" in done.stderr


def test_compare_on_the_same_training_set_works_as_before(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER, samples=12)  # enough pages for a verdict
    a = run_dir(tmp_path / "a", trained_on(frame, SET_A))
    b = run_dir(tmp_path / "b", trained_on(shifted(frame, 5), ("/elsewhere/trainA", SET_A[1])))
    done = compare.compare(a, b)
    verdicts = dict(zip(done.table["config"], done.table["verdict"], strict=True))
    assert verdicts["tesseract + trained lexicon"] == "worse"
    assert verdicts["tesseract + identity"] == "no evidence either way"


def test_compare_untrained_configurations_as_before(tmp_path: Path) -> None:
    frame = fabricate(RAW, LEARNER, samples=12)  # enough pages for a verdict
    a = run_dir(tmp_path / "a", frame)
    # Handed a training set it learned nothing from: still the untrained configuration.
    b = run_dir(tmp_path / "b", trained_on(shifted(frame, 5), SET_C, learned=False))
    verdicts = dict(
        zip(*(compare.compare(a, b).table[k] for k in ("config", "verdict")), strict=True)
    )
    assert verdicts == {"tesseract + identity": "no evidence either way",
                        "tesseract + lexicon": "worse"}  # fmt: skip
    old = frame.drop(columns=["train", "train_sha256", "train_samples", "trained"])
    c = run_dir(tmp_path / "c", old)  # results from before training sets
    assert len(compare.compare(c, a).table) == 2
