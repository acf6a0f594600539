"""`ocrbench compare`: two runs, configurations matched by id on the samples both share, paired."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocrbench import compare, results
from ocrbench.errors import OcrbenchError

from test_plots import Fake, fabricate, records


def written(root: Path, *configs: Fake, samples: int = 6) -> Path:
    frame = fabricate(*configs, samples=samples)
    results.write(root, records(frame), {"command": "test"})
    return root


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocrbench.cli", "compare", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_corrector_made_worse_is_found_and_fails_the_command(tmp_path: Path) -> None:
    a = written(tmp_path / "a", Fake(), Fake(corrector="lexicon", fix=0.5), samples=12)
    b = written(tmp_path / "b", Fake(), Fake(corrector="lexicon", fix=0.5, harm=0.3), samples=12)
    done = compare.compare(a, b)
    verdicts = dict(zip(done.table["config"], done.table["verdict"], strict=True))
    assert verdicts == {"tesseract + identity": "no evidence either way",
                        "tesseract + lexicon": "worse"}  # fmt: skip
    assert (
        done.worse and len(done.changed) and set(done.changed["config"]) == {"tesseract + lexicon"}
    )
    assert cli(str(a), str(b)).returncode == 0
    failed = cli(str(a), str(b), "--fail-if-worse")
    assert failed.returncode == 1 and "worse" in failed.stdout
    assert cli(str(b), str(a), "--fail-if-worse").returncode == 0  # A -> B the other way: better


def test_only_the_shared_samples_and_configurations_are_compared(tmp_path: Path) -> None:
    a = written(tmp_path / "a", Fake(), Fake(corrector="lexicon", fix=0.5), samples=6)
    b = written(tmp_path / "b", Fake(), samples=3)  # a smaller run of one configuration
    done = compare.compare(a, b)
    assert list(done.table["shared samples"]) == [3]
    assert done.only_a == ["tesseract + lexicon on invoices"] and done.only_b == []
    assert "only in A: tesseract + lexicon on invoices" in done.text()


def test_a_refusal_counts_samples_not_their_rows(tmp_path: Path) -> None:
    """One sample with another reference, read by 3 configurations, was "3 such samples"."""
    a = written(tmp_path / "a", Fake(), Fake(corrector="lexicon"), Fake(corrector="noisy"))
    frame = results.load(a)
    one = frame["sample_id"] == "s00"
    other = frame.assign(reference=frame["reference"].where(~one, "changed"))
    results.write(tmp_path / "b", records(other), {"command": "test"})
    with pytest.raises(OcrbenchError, match=r"\(1 such sample\)"):
        compare.compare(a, tmp_path / "b")


def test_runs_on_other_data_or_normalisation_are_refused_in_one_line(tmp_path: Path) -> None:
    a = written(tmp_path / "a", Fake())
    frame = results.load(a)
    other = frame.assign(reference=frame["reference"] + " changed")
    results.write(tmp_path / "b", records(other), {"command": "test"})
    with pytest.raises(OcrbenchError, match="another reference in B: the runs are not on the same"):
        compare.compare(a, tmp_path / "b")
    casefolded = frame.assign(normalization="nfc+ws+casefold")
    results.write(tmp_path / "c", records(casefolded), {"command": "test"})
    done = cli(str(a), str(tmp_path / "c"))
    assert done.returncode != 0 and "normalise text differently" in done.stderr
    assert done.stderr.strip().count("\n") == 0
    missing = cli(str(a), str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "no results.parquet" in missing.stderr


def test_too_few_shared_samples_print_na_bounds(tmp_path: Path) -> None:
    a = written(tmp_path / "a", Fake(), Fake(corrector="lexicon", fix=0.5), samples=4)
    b = written(tmp_path / "b", Fake(), Fake(corrector="lexicon", fix=0.5, harm=0.3), samples=4)
    done = compare.compare(a, b)
    shown = " ".join(done.table.astype(str).to_numpy().ravel())
    assert "nan" not in shown and "[n/a, n/a]" in shown
    assert set(done.table["verdict"]) == {"no evidence either way"}


def test_runs_on_other_inputs_are_refused_in_one_line(tmp_path: Path) -> None:
    """The same ids and references, other input (another page image, or another OCR text handed
    to `given`): the change would be the data's, not the corrector's."""
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.5), samples=12)
    a = tmp_path / "a"
    results.write(a, records(frame.assign(image_sha256="1" * 64)), {"command": "test"})
    other_page = frame.assign(image_sha256=["2" * 64 if s == "s03" else "1" * 64
                                            for s in frame["sample_id"]])  # fmt: skip
    results.write(tmp_path / "b", records(other_page), {"command": "test"})
    with pytest.raises(OcrbenchError, match=r"sample 's03' .* another page image in B"):
        compare.compare(a, tmp_path / "b")
    given = frame.assign(engine="given")
    results.write(tmp_path / "c", records(given), {"command": "test"})
    retyped = given.assign(ocr_text=given["ocr_text"].where(given["sample_id"] != "s05", "other"))
    results.write(tmp_path / "d", records(retyped), {"command": "test"})
    with pytest.raises(OcrbenchError, match=r"sample 's05' .* another OCR text given in B"):
        compare.compare(tmp_path / "c", tmp_path / "d")
    # The same inputs compare; and rows from before image_sha256 existed are not judged by it.
    assert len(compare.compare(a, a).table) == 2
    results.write(tmp_path / "e", records(frame.drop(columns=["image_sha256"])), {"command": "t"})
    assert len(compare.compare(tmp_path / "e", tmp_path / "b").table) == 2


def test_runs_sharing_no_configuration_are_one_line(tmp_path: Path) -> None:
    """Nothing compared is said in one line, naming each run's datasets (a dataset named
    differently, "test" and "test (limit none)", is the usual cause), never a traceback."""
    a = written(tmp_path / "a", Fake(dataset="test"), samples=12)
    b = written(tmp_path / "b", Fake(dataset="test (limit none)"), samples=12)
    with pytest.raises(OcrbenchError, match=r"no configuration on a dataset both runs have.*"
                                            r"'test'.*'test \(limit none\)'"):  # fmt: skip
        compare.compare(a, b)
    done = cli(str(a), str(b), "--fail-if-worse")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_runs_on_one_dataset_with_no_configuration_in_common_say_so(tmp_path: Path) -> None:
    """An untrained run against a trained one (a trained corrector is a configuration of its
    own) was blamed on their datasets, "'test'" and "'test'"."""
    a = written(tmp_path / "a", Fake(dataset="test"), samples=12)
    b = written(tmp_path / "b", Fake(dataset="test", corrector="lexicon"), samples=12)
    with pytest.raises(OcrbenchError) as refused:
        compare.compare(a, b)
    said = str(refused.value)
    assert "no configuration both runs have on 'test'" in said
    assert "A's: tesseract + identity; B's: tesseract + lexicon" in said
    assert "a trained corrector is a configuration of its own" in said


def test_configurations_on_one_side_name_their_dataset(tmp_path: Path) -> None:
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.5), samples=12)
    results.write(tmp_path / "a", records(frame), {"command": "t"})
    only_one = frame[frame["corrector"] == "identity"]
    results.write(tmp_path / "b", records(only_one), {"command": "t"})
    done = compare.compare(tmp_path / "a", tmp_path / "b")
    assert done.only_a == ["tesseract + lexicon on invoices"]
