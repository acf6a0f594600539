"""Fitting as part of the protocol: a corrector learns from a training set read by the same engine,
what it learned is cached and fitted once, rows say what they were trained on, and training data
that overlaps the test set, has no references, or is no dataset at all is refused in one line."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from ocrbench import cli, datasets, registry, report, results, rowkey, run, specs, sweep, training
from ocrbench.cache import Cache, key
from ocrbench.correctors.base import learns
from ocrbench.correctors.channel import edited_runs
from ocrbench.errors import ConfigError, DatasetError, SampleError
from ocrbench.types import Correction, OcrResult, Sample

from conftest import make_dataset, needs_tesseract, text_dataset

FIT_LOG = "OCRBENCH_TEST_FIT_LOG"  # a file each fit (and each trained build) appends a line to


def _log(what: str) -> None:
    path = os.environ.get(FIT_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{what} {os.getpid()}\n")


@dataclass(frozen=True)
class Memorize:
    """A small learning corrector: replaces each OCR word it saw misread in training by the word
    the reference had there (pairs of the same word count only)."""

    name: ClassVar[str] = "memorize"
    cacheable: ClassVar[bool] = True
    min_count: int = 1
    # The state, when trained: compare=False keeps it out of the parameters (and the row key).
    table: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    def version(self) -> str:
        return "1" if self.table is None else f"1+{key(dict(self.table))[:16]}"

    def fit(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        _log("fit")
        seen: Counter[tuple[str, str]] = Counter()
        for ocr, truth in pairs:
            words, truths = ocr.split(), truth.split()
            if len(words) == len(truths):
                seen.update((a, b) for a, b in zip(words, truths, strict=True) if a != b)
        table = {a: b for (a, b), n in seen.most_common() if n >= self.min_count}
        return {"pairs": len(pairs), "table": table, "counts": [[a, b, n] for (a, b), n in
                                                                 seen.most_common()]}  # fmt: skip

    def trained(self, state: dict[str, Any]) -> Memorize:
        _log("trained")
        return replace(self, table=state["table"])

    def describe(self, state: dict[str, Any]) -> dict[str, Any]:
        confusions: Counter[tuple[str, str]] = Counter()
        for a, b, n in state["counts"]:
            for edited in edited_runs(a, b):  # neighbouring edits joined: "rn" -> "m" is one
                confusions[(a[edited[0][0] : edited[-1][1]], b[edited[0][2] : edited[-1][3]])] += n
        return {
            "pairs": state["pairs"],
            "confusions": [
                {"ocr": o, "truth": t, "count": n, "cost": 1.0 / n}
                for (o, t), n in confusions.most_common()
            ],  # fmt: skip
            "vocabulary": len(set(state["table"].values())),
        }

    def correct(self, ocr: OcrResult) -> Correction:
        table = self.table or {}
        words = ocr.text.split(" ")
        fixed = [table.get(word, word) for word in words]
        changes = tuple((a, b) for a, b in zip(words, fixed, strict=True) if a != b)
        return Correction(text=" ".join(fixed), changes=changes)


@pytest.fixture(autouse=True)
def memorize(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """`memorize` installed as a third party's corrector is (an entry point, which worker
    processes find too: they start fresh, with this sys.path), and the log its fits and trained
    builds write to."""
    installed = tmp_path / "site" / "memorize_plugin-0.dist-info"
    installed.mkdir(parents=True)
    (installed / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: memorize-plugin\nVersion: 0\n"
    )
    (installed / "entry_points.txt").write_text(
        "[ocrbench.correctors]\nmemorize = test_training:Memorize\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "memorize" in registry.correctors.names()
    log = tmp_path / "fits.log"
    monkeypatch.setenv(FIT_LOG, str(log))
    yield log


def logged(log: Path, what: str) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.split()[0] == what)


# The same OCR errors in both parts ("Tbe", "rnat", "c@t"), different lines.
TRAIN = [
    ("Tbe dog ran", "The dog ran"), ("a c@t and a rnat", "a cat and a mat"),
    ("Tbe end", "The end"), ("tbe rnat is red", "the mat is red"), ("one c@t", "one cat"),
]  # fmt: skip
TEST = [
    ("Tbe c@t sat", "The cat sat"), ("on tbe rnat", "on the mat"), ("all day long", "all day long"),
    ("Tbe rnat", "The mat"),
]  # fmt: skip


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path]:
    return text_dataset(tmp_path / "train", TRAIN, "t"), text_dataset(tmp_path / "test", TEST)


def spec_file(tmp_path: Path, body: str, name: str = "spec") -> specs.Spec:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body)
    return specs.load(path)


def given_spec(tmp_path: Path, datasets_yaml: str, workers: int = 1, name: str = "spec") -> Any:
    return spec_file(tmp_path, f"""name: learn
datasets: {datasets_yaml}
engines: {{given: {{}}}}
correctors: {{identity: {{}}, memorize: {{}}}}
workers: {workers}
""", name)  # fmt: skip


def test_memorize_is_a_learner_and_so_are_the_llm_correctors() -> None:
    assert learns(Memorize())
    for name in ("identity", "lexicon"):
        assert not learns(registry.correctors.get(name)())
    for name in ("noisy-channel", "prompt"):  # the learned channel; few-shot examples
        assert learns(registry.correctors.get(name)())


def test_sweep_fits_once_across_sweeps_and_workers_and_rows_record_the_training_set(
    split: tuple[Path, Path], tmp_path: Path, memorize: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {train}}}]", workers=2)
    cache = Cache(tmp_path / "cache")
    first = sweep.run(spec, tmp_path / "one", cache=cache, progress=False, chunk_size=1)
    assert logged(memorize, "fit") == 1 and first["work"]["fits_run"] == 1
    # Four correction tasks of one row each, on two workers: the trained corrector is built
    # once per process that corrected with it, not once per task.
    assert 1 <= logged(memorize, "trained") <= 2
    warning = capsys.readouterr().err
    assert "corrector identity learns nothing from a training set; train: is ignored" in warning

    frame = results.load(tmp_path / "one")
    trained = frame[frame["corrector"] == "memorize"]
    untrained = frame[frame["corrector"] == "identity"]
    assert trained["trained"].all() and not untrained["trained"].any()
    assert set(frame["train"]) == {str(train.resolve())} and set(frame["train_samples"]) == {5}
    assert set(frame["train_sha256"]) == {datasets.load(train).content_hash()}
    assert set(trained["config"]) == {"given + trained memorize"}
    assert trained["char_edits"].sum() == 0 < untrained["char_edits"].sum()
    assert trained["corrector_version"].iloc[0].startswith("1+")

    manifest = first
    (entry,) = manifest["training"]
    assert entry["path"] == str(train.resolve()) and entry["samples"] == 5
    assert entry["sha256"] == datasets.load(train).content_hash()
    by_corrector = {f["config"]: f for f in manifest["fits"]}
    assert by_corrector["given + identity"]["trained"] is False
    learned = by_corrector["given + trained memorize"]["learned"]
    assert learned["pairs"] == 5 and learned["vocabulary"] == 4
    assert {"ocr": "rn", "truth": "m", "count": 2, "cost": 0.5} in learned["confusions"]

    # Another sweep, another folder, the same cache: nothing is fitted again.
    second = sweep.run(spec, tmp_path / "two", cache=cache, progress=False)
    assert logged(memorize, "fit") == 1
    assert second["work"]["fits_cached"] == 1 and second["work"]["fits_run"] == 0
    assert second["fits"] == first["fits"]
    stable = ["ocr_seconds", "correct_seconds", "ocr_cached", "correction_cached"]  # and whence
    pd.testing.assert_frame_equal(
        frame.drop(columns=stable), results.load(tmp_path / "two").drop(columns=stable)
    )


def test_a_new_version_of_fit_fits_again(
    split: tuple[Path, Path], tmp_path: Path, memorize: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What fit learns may change while how the corrector corrects does not: the cached state of
    the old fit is not used."""
    train, test = split
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {train}}}]")
    cache = Cache(tmp_path / "cache")
    sweep.run(spec, tmp_path / "one", cache=cache, progress=False)
    sweep.run(spec, tmp_path / "two", cache=cache, progress=False)
    assert logged(memorize, "fit") == 1
    monkeypatch.setattr(Memorize, "FIT_VERSION", "2", raising=False)
    again = sweep.run(spec, tmp_path / "three", cache=cache, progress=False)
    assert logged(memorize, "fit") == 2 and again["work"]["fits_run"] == 1
    argv = ["run", "--dataset", str(test), "--engine", "given", "--corrector", "memorize",
            "--train", str(train), "--cache", str(tmp_path / "cache"), "--out",
            str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    assert logged(memorize, "fit") == 2  # the sweep's fit at FIT_VERSION 2, found by run


def test_a_resumed_sweep_does_not_keep_rows_of_another_fit_or_trained_code(
    split: tuple[Path, Path], tmp_path: Path, memorize: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that changes how a corrector learns (FIT_VERSION) or how it corrects with what
    it learned (TRAINED_VERSION), its untrained version unchanged, makes its trained rows anew:
    a resumed sweep must not keep rows computed by the old code beside the new fit's manifest."""
    train, test = split
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {train}}}]")
    out, cache = tmp_path / "out", Cache(tmp_path / "cache")
    trained_rows = len(TEST)  # memorize's rows; identity learns nothing and keeps its rows
    first = sweep.run(spec, out, cache=cache, progress=False)
    assert first["work"]["rows_resumed"] == 0
    again = sweep.run(spec, out, cache=cache, progress=False)
    assert again["work"]["rows_resumed"] == 2 * len(TEST)
    monkeypatch.setattr(Memorize, "FIT_VERSION", "2", raising=False)
    refit = sweep.run(spec, out, cache=cache, progress=False)
    assert refit["work"]["fits_run"] == 1
    assert refit["work"]["rows_resumed"] == 2 * len(TEST) - trained_rows
    monkeypatch.setattr(Memorize, "TRAINED_VERSION", "2", raising=False)
    recorrected = sweep.run(spec, out, cache=cache, progress=False)
    assert recorrected["work"]["fits_run"] == 0  # the same fit, corrected with by new code
    assert recorrected["work"]["rows_resumed"] == 2 * len(TEST) - trained_rows


def _with_an_unreadable_sample(train: Path) -> Path:
    """The training set, plus a sample with a page and no OCR text: `given` cannot read it."""
    from PIL import Image

    Image.new("L", (8, 8), 255).save(train / "page.png")
    with (train / "manifest.jsonl").open("a", encoding="utf-8") as manifest:
        manifest.write(json.dumps({"id": "unread", "text": "Tbe end", "image": "page.png"}) + "\n")
    return train


def test_a_fit_made_without_a_training_sample_is_not_reused_as_if_it_had_all(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fit made under --skip-bad learned from fewer samples than the set holds: a later run
    without --skip-bad must fail as an empty cache would, and one with it must say what was
    left out, not reuse the fit and record nothing skipped."""
    train, test = split
    _with_an_unreadable_sample(train)
    cache = tmp_path / "cache"
    run = ["run", "--dataset", str(test), "--engine", "given", "--corrector", "memorize",
           "--train", str(train), "--cache", str(cache), "--quiet", "--no-report"]  # fmt: skip
    assert cli.main([*run, "--out", str(tmp_path / "a"), "--skip-bad"]) == 0
    first = results.load_manifest(tmp_path / "a")["training"][0]
    assert [s["id"] for s in first["skipped"]] == ["unread"]
    capsys.readouterr()
    assert cli.main([*run, "--out", str(tmp_path / "b")]) != 0  # as with an empty cache
    assert "unread" in capsys.readouterr().err
    assert cli.main([*run, "--out", str(tmp_path / "c"), "--skip-bad"]) == 0
    again = results.load_manifest(tmp_path / "c")["training"][0]
    assert [s["id"] for s in again["skipped"]] == ["unread"]
    # and a sweep, fitted or not
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {train}}}]")
    with pytest.raises(SampleError, match="unread"):
        sweep.run(spec, tmp_path / "s1", cache=Cache(cache), progress=False)
    swept = sweep.run(spec, tmp_path / "s2", cache=Cache(cache), progress=False, skip_bad=True)
    assert [s["id"] for s in swept["training"][0]["skipped"]] == ["unread"]


def test_rows_of_another_training_set_or_none_are_never_reused(
    split: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = split
    other = text_dataset(tmp_path / "other", TRAIN[:2], "o")
    out, cache = tmp_path / "out", Cache(tmp_path / "cache")
    plain = sweep.run(given_spec(tmp_path, f"[{test}]", name="a"), out, cache=cache, progress=False)
    assert "training" not in plain and "fits" not in plain
    untrained = results.load(out)
    assert untrained["train"].isna().all() and not untrained["trained"].any()
    for body, resumed in [
        (f"[{{path: {test}, train: {train}}}]", 0),
        (f"[{{path: {test}, train: {other}}}]", 0),
        (f"[{{path: {test}, train: {other}}}]", 2 * len(TEST)),
    ]:
        manifest = sweep.run(given_spec(tmp_path, body, name="b"), out, cache=cache,
                             progress=False)  # fmt: skip
        assert manifest["work"]["rows_resumed"] == resumed, body
    # Untrained rows keep the keys they had before training sets existed.
    identities = [run.Step(registry.engines.create("given")).identity,
                  run.Step(registry.correctors.create("identity")).identity]  # fmt: skip
    sample = datasets.load(test).samples[0]
    old_key = rowkey.row_key(str(test.resolve()), sample, identities, "nfc+ws")
    row = untrained[(untrained["sample_id"] == "s0") & (untrained["corrector"] == "identity")]
    assert row["normalization"].iloc[0] == "nfc+ws"
    assert row["row_key"].iloc[0] == old_key
    assert training.row_components(*identities, None) == identities


def test_one_folder_with_and_without_training_gets_two_names(
    split: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = split
    spec = given_spec(tmp_path, f"[{test}, {{path: {test}, train: {train}}}]")
    sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "cache"), progress=False)
    summary = results.summary(results.load(tmp_path / "out"))
    configs = {(r.dataset, r.config): r.cer for r in summary.itertuples()}
    assert configs[("test (train: train)", "given + trained memorize")] == 0
    assert configs[("test (no train)", "given + memorize")] > 0
    ids = set(summary["config_id"])
    assert len(ids) == 3  # identity, memorize, trained memorize


def test_overlap_is_refused_in_one_line_unless_allowed(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    leaky = text_dataset(tmp_path / "leaky", [*TRAIN, TEST[1]], "t")
    with pytest.raises(ConfigError) as error:
        sweep.run(given_spec(tmp_path, f"[{{path: {test}, train: {leaky}}}]"), tmp_path / "out",
                  cache=Cache(tmp_path / "cache"), progress=False)  # fmt: skip
    message = str(error.value)
    assert "overlaps the test set" in message and "1 of its 6 samples" in message
    assert "'t5'" in message and "'s1'" in message and "(OCR, reference) pair" in message
    assert "allow_overlap: true" in message and "\n" not in message
    allowed = given_spec(tmp_path, f"[{{path: {test}, train: {leaky}, allow_overlap: true}}]")
    manifest = sweep.run(allowed, tmp_path / "out", cache=Cache(tmp_path / "cache"),
                         progress=False)  # fmt: skip
    assert results.load(tmp_path / "out")["trained"].any()
    # Allowed is not forgotten: the figures rest on a test part that is partly training data.
    assert [t["overlap_allowed"] for t in manifest["training"]] == [1]
    report.render(tmp_path / "out")
    said = "1 of its samples are test data (allowed): these figures are not on held-out data"
    assert said in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert said in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    run = ["run", "--dataset", str(test), "--engine", "given", "--corrector", "memorize",
           "--train", str(leaky), "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert cli.main([*run, "--allow-overlap"]) == 0
    assert said in (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    # and on the terminal, under the table (it named neither the set nor the overlap)
    capsys.readouterr()
    assert cli.main([*run[:-1], "--allow-overlap"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"training set {leaky}" in printed and said in printed
    out = str(tmp_path / "swept")
    assert cli.main(["sweep", str(tmp_path / "spec.yaml"), "--out", out, "--no-report"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert f"training set {leaky}" in printed and said in printed


def test_pairs_overlap_whatever_their_unicode_form_or_spacing(
    split: tuple[Path, Path], tmp_path: Path
) -> None:
    """The same pair in NFD, or with other spacing, is the same data to every metric (they apply
    NFC and collapse whitespace first), so it is test data in a training set too."""
    import unicodedata

    train, test = split
    ocr, text = TEST[1]
    variants = [
        (unicodedata.normalize("NFD", ocr + " café"), unicodedata.normalize("NFD", text + " café")),
        (f" {ocr}  ", text.replace(" ", "\n")),
    ]
    leaky = text_dataset(tmp_path / "leaky", [*TRAIN, *variants], "t")
    tested = text_dataset(tmp_path / "tested", [*TEST, (ocr + " café", text + " café")], "s")
    with pytest.raises(ConfigError, match="2 of its 7 samples are test data"):
        training.check_overlap(datasets.load(leaky), datasets.load(tested), "allow it")


def test_images_overlap_by_their_bytes(tmp_path: Path) -> None:
    test = make_dataset(tmp_path / "test", ["Invoice 1", "Total 2"])
    train = make_dataset(tmp_path / "train", ["Total 2", "Page 3"])  # line0 is test's line1
    with pytest.raises(ConfigError, match=r"1 of its 2 samples .*'line0' and test sample 'line1': "
                       r"the same image bytes\); pass --allow-overlap"):  # fmt: skip
        training.check_overlap(datasets.load(train), datasets.load(test), "pass --allow-overlap")


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda p: p, "is not a dataset: no such folder"),
        (lambda p: (p.mkdir(), p)[1], "is not a dataset: it has no manifest.jsonl"),
        (lambda p: text_dataset(p, []), "is empty: its manifest.jsonl has no samples"),
        (lambda p: text_dataset(p, [("abc", ""), ("d", " ")]), "has no references"),
    ],
)  # fmt: skip
def test_bad_training_sets_are_one_line(make: Any, phrase: str, tmp_path: Path) -> None:
    folder = make(tmp_path / "train")
    with pytest.raises((ConfigError, DatasetError)) as error:
        training.load(folder)
    assert phrase in str(error.value) and "\n" not in str(error.value)


def test_bad_training_set_in_a_spec_names_its_place(tmp_path: Path) -> None:
    test = text_dataset(tmp_path / "test", TEST)
    empty = text_dataset(tmp_path / "empty", [])
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {empty}}}]")
    with pytest.raises(ConfigError, match=r"spec.yaml: datasets\[0\]: training set .* is empty"):
        sweep.run(spec, tmp_path / "out", cache=Cache(tmp_path / "cache"), progress=False)
    with pytest.raises(ConfigError, match=r"datasets\[0\].train: .*nowhere does not exist"):
        given_spec(tmp_path, f"[{{path: {test}, train: {tmp_path / 'nowhere'}}}]")
    with pytest.raises(ConfigError, match="allow_overlap applies with a train"):
        given_spec(tmp_path, f"[{{path: {test}, allow_overlap: true}}]")


def main(*args: str) -> int:
    return cli.main(list(args))


def test_run_trains_records_and_reports_what_was_learned(
    split: tuple[Path, Path], tmp_path: Path, memorize: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    base = ["run", "--dataset", str(test), "--engine", "given", "--quiet", "--cache",
            str(tmp_path / "cache")]  # fmt: skip
    assert main(*base, "--corrector", "memorize", "--train", str(train), "--out",
                str(tmp_path / "out")) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "fits: 0 cached, 1 run" in out and "trained memorize" in out
    frame = results.load(tmp_path / "out")
    assert frame["trained"].all() and frame["char_edits"].sum() == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["training"][0]["samples"] == 5 and manifest["fits"][0]["trained"] is True
    page = (tmp_path / "out" / "index.html").read_text()
    assert 'id="learned"' in page and str(train.resolve()) in page
    # "rn" -> "m", learned twice, undone in this run's corrections of "rnat" (twice).
    assert (
        "<tr><td><code>rn</code></td><td><code>m</code></td><td>2</td><td>0.50</td><td>2</td>"
        in page
    )
    assert main(*base, "--corrector", "memorize", "--train", str(train), "--out",
                str(tmp_path / "again")) == 0  # fmt: skip
    assert "fits: 1 cached, 0 run" in capsys.readouterr().out and logged(memorize, "fit") == 1


def test_run_with_a_corrector_that_learns_nothing_warns_and_records_it(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    assert main("run", "--dataset", str(test), "--engine", "given", "--corrector", "identity",
                "--train", str(train), "--out", str(tmp_path / "out"), "--quiet", "--no-report",
                "--no-cache") == 0  # fmt: skip
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "ocrbench: warning: corrector identity learns nothing from a training set; --train is "
        "ignored for it"
    ]
    frame = results.load(tmp_path / "out")
    assert not frame["trained"].any() and set(frame["train"]) == {str(train.resolve())}
    assert set(frame["config"]) == {"given + identity"}


def test_run_refuses_bad_training_input_in_one_line(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = split
    images = make_dataset(tmp_path / "images", ["a", "b"])
    lines = (images / "manifest.jsonl").read_text().splitlines()
    unlabelled = [json.dumps({**json.loads(line), "text": ""}) for line in lines]
    (images / "manifest.jsonl").write_text("\n".join(unlabelled) + "\n")
    text_dataset(tmp_path / "empty", [])
    for folder, phrase in [
        (images, "has no references"),
        (tmp_path / "empty", "is empty"),
        (test, "overlaps the test set"),
        (tmp_path / "nowhere", "is not a dataset"),
    ]:
        code = main("run", "--dataset", str(test), "--engine", "given", "--corrector", "memorize",
                    "--train", str(folder), "--out", str(tmp_path / "out"), "--quiet",
                    "--no-cache")  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and phrase in err[0], err
    assert main("run", "--dataset", str(test), "--engine", "given", "--allow-overlap", "--out",
                str(tmp_path / "out")) == 2  # fmt: skip
    assert "--allow-overlap applies to a training set" in capsys.readouterr().err


@pytest.mark.tesseract
def test_the_engine_reads_the_training_images_once_through_the_ocr_phase(tmp_path: Path) -> None:
    needs_tesseract()
    test = make_dataset(tmp_path / "test", ["Invoice No 12345", "Total due 1230"])
    train = make_dataset(tmp_path / "train", ["Account 0042", "Page 1 of 1", "Thank you"])
    spec = spec_file(tmp_path, f"""name: images
datasets: [{{path: {test}, train: {train}}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: [memorize, {{name: memorize, min_count: 2}}, identity]
workers: 2
""")  # fmt: skip
    cache = Cache(tmp_path / "cache")
    first = sweep.run(spec, tmp_path / "out", cache=cache, progress=False)
    # Two learners fitted on one engine's reading: the 3 training images read once, not twice.
    assert first["work"]["ocr_run"] == 2 + 3 and first["work"]["fits_run"] == 2
    second = sweep.run(spec, tmp_path / "again", cache=cache, progress=False)
    assert second["work"]["ocr_run"] == 0 and second["work"]["fits_cached"] == 2
    frame = results.load(tmp_path / "out")
    assert set(frame.loc[frame["corrector"] == "memorize", "trained"]) == {True}


def test_dataset_names_say_which_training_set_when_that_is_what_differs() -> None:
    same, train = [Path("/d/test")] * 3, Path("/d/train")
    assert sweep.dataset_names(same[:2], [None, None], [None, train]) == [
        "test (no train)", "test (train: train)"
    ]  # fmt: skip
    assert sweep.dataset_names(same, [5, None, None], [train, train, None]) == [
        "test (limit 5, train: train)", "test (limit none, train: train)",
        "test (limit none, no train)",
    ]  # fmt: skip
    # Without training sets, the names of before.
    assert sweep.dataset_names(same, [3, None, 3]) == [
        "test (limit 3) #1", "test (limit none)", "test (limit 3) #2"
    ]  # fmt: skip


def test_a_prompt_shown_no_examples_learns_nothing_and_says_so(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`prompt:examples=0` corrects exactly as untrained: with --train it is not labelled
    "trained", it warns, and its rows say trained: false."""
    from ocrbench.correctors.base import learns

    assert learns(registry.correctors.from_spec("prompt"))
    assert not learns(registry.correctors.from_spec("prompt:examples=0"))
    assert not learns(registry.correctors.from_spec("identity"))


def test_a_prompt_that_found_no_examples_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training set whose pages pair no lines (OCR right everywhere, or line counts that
    differ) leaves a prompt no example: its rows, labelled trained, correct as untrained, and
    nothing said so. Now a run and a sweep warn."""
    from ocrbench.engines.given import Given

    train_root = text_dataset(tmp_path / "train", [("right", "right")] * 3, "t")
    prompt = registry.correctors.from_spec("prompt")
    _, applied, learned = training.prepare(
        datasets.load(train_root), Given(), prompt, cache=Cache(None), counts=run.Counts()
    )
    assert learned == {"examples": 0, "per piece": prompt.examples}
    said = capsys.readouterr().err
    assert "corrector prompt learned nothing from the training set" in said, said
    test_root = text_dataset(tmp_path / "test", [("rihgt", "right")])
    spec = spec_file(tmp_path, f"""name: learn
datasets: [{{path: {test_root}, train: {train_root}}}]
engines: {{given: {{}}}}
correctors: {{prompt: {{}}}}
workers: 1
""")  # fmt: skip
    sweep.run(spec, tmp_path / "out", cache=Cache(None), workers=1, progress=False)
    said = capsys.readouterr().err
    assert "corrector prompt learned nothing from the training set" in said, said


def test_training_sets_of_one_name_are_told_apart_by_their_folders() -> None:
    """Two training folders both named "train" gave "A (train: train) #1" and "#2", which said
    nothing of which was which, and changed with the order of the spec."""
    test = [Path("/d/A")] * 2
    assert sweep.dataset_names(test, [None, None], [Path("/x/train"), Path("/y/train")]) == [
        "A (train: x/train)", "A (train: y/train)"
    ]  # fmt: skip


def test_a_test_line_inside_a_training_page_is_said_too() -> None:
    """ICDAR 2017 converted as whole documents for training and as lines for testing: the test
    lines sat inside the training references, and nothing said so (the same data cut otherwise).
    A line of five words or more inside a longer training reference is counted with the shared
    references; a short one (a running head, "INTRODUCTION.") only when it is a reference itself."""
    test = [Sample("l1", "the  quick brown fox jumps"), Sample("l2", "INTRODUCTION."),
            Sample("l3", "over the lazy dog"), Sample("l4", "quick brown fox jumped over")]  # fmt: skip
    train = [
        Sample("d1", "Once the quick brown fox jumps over the lazy dog. INTRODUCTION. The end")
    ]
    shared = training.shared_references(datasets.Dataset(Path("train"), "train", tuple(train)),
                                        datasets.Dataset(Path("test"), "test", tuple(test)))  # fmt: skip
    assert shared == ["the quick brown fox jumps"]


def test_a_reference_both_sides_hold_is_said_though_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test line read again in the training set (other OCR, the same reference) passed the
    overlap check unsaid, and its words were learned: the same text read twice is a leak, a
    running head two books share is not, so it is said (counted, named), not refused."""
    test = text_dataset(tmp_path / "test", [("we met Zorb1axian at noon", "we met Zorblaxian at noon"),
                                            ("INTR0DUCTION.", "INTRODUCTION.")])  # fmt: skip
    train = text_dataset(tmp_path / "train", [("we rnet Zorblaxian at n0on", "we met Zorblaxian at noon"),
                                              ("lNTRODUCTION.", "INTRODUCTION."),
                                              ("tbe cat", "the cat")], "t")  # fmt: skip
    shared = training.shared_references(datasets.load(train), datasets.load(test))
    assert shared == ["we met Zorblaxian at noon", "INTRODUCTION."]
    run = ["run", "--dataset", str(test), "--engine", "given", "--corrector", "memorize",
           "--train", str(train), "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert cli.main(run) == 0
    said = "2 of the test set's references are in the training set too"
    assert said in capsys.readouterr().err
    assert said in (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    spec = given_spec(tmp_path, f"[{{path: {test}, train: {train}}}]")
    manifest = sweep.run(spec, tmp_path / "out", cache=Cache(None), progress=False)
    assert [t["shared_references"] for t in manifest["training"]] == [2]
