"""The notebooks: committed without outputs, and executed headless (papermill) on small inputs so
they never rot. The executed copies are checked against numbers computed here independently."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrbench import datasets, metrics, notebooks, results
from ocrbench.errors import ConfigError, OcrbenchError, SetupError

from conftest import BUNDLED, ROOT, needs_tesseract, text_dataset

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMALL_SPEC = ROOT / "sweeps" / "notebook-small.yaml"
SWEEP_LIMIT = 2  # the spec says 3: the notebook's `limit` must override it
CONFIGS = ("tesseract + identity", "tesseract + lexicon", "tesseract + noisy-channel")


def cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return cells


def cell(path: Path, cell_id: str) -> dict[str, Any]:
    return next(c for c in cells(path) if c.get("id") == cell_id)


def outputs(path: Path, cell_id: str, kind: str) -> str:
    """Everything a cell showed as `kind` ("text/html", "image/png", "stream"), joined."""
    found = []
    for output in cell(path, cell_id).get("outputs", []):
        if kind == "stream" and output["output_type"] == "stream":
            found.append("".join(output["text"]))
        elif kind in output.get("data", {}):
            data = output["data"][kind]
            found.append("".join(data) if isinstance(data, list) else data)
    return "".join(found)


def parameters_cell(path: Path) -> dict[str, Any]:
    tagged = [c for c in cells(path) if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    return tagged[0]


def needs_notebook_tools() -> None:
    pytest.importorskip("papermill", reason="needs the notebooks extra (papermill)")


# --- the committed notebooks ----------------------------------------------------------------------


def test_the_notebooks_are_there() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {
        "01-quickstart.ipynb",
        "02-sweep.ipynb",
        "03-report.ipynb",
        "04-training.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_stripped(path: Path) -> None:
    """Outputs and execution counts stay out of git: they are noise in diffs and go stale."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for number, c in enumerate(notebook["cells"]):
        if c["cell_type"] == "code":
            assert c["outputs"] == [], f"{path.name} cell {number} has outputs: strip them"
            assert c["execution_count"] is None, f"{path.name} cell {number} has a count"
    assert "papermill" not in notebook["metadata"], f"{path.name} is an executed copy"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_an_intro_and_has_parameters(path: Path) -> None:
    first = cells(path)[0]
    assert first["cell_type"] == "markdown"
    assert "".join(first["source"]).startswith("# ")
    assert ast.parse("".join(parameters_cell(path)["source"])).body, "empty parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(path: Path) -> None:
    """papermill skips a line it cannot parse (an '=' in a comment is enough) and would then
    refuse that parameter: every assignment of the cell must be seen."""
    needs_notebook_tools()
    import papermill

    tree = ast.parse("".join(parameters_cell(path)["source"]))
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)]  # fmt: skip
    assert list(papermill.inspect_notebook(str(path))) == assigned


# --- finding notebooks and reading parameters -----------------------------------------------------


def test_a_notebook_is_found_by_short_or_full_name() -> None:
    path = ROOT / "notebooks" / "01-quickstart.ipynb"
    for name in ("quickstart", "01-quickstart", "01-quickstart.ipynb", "quickstart.ipynb"):
        assert notebooks.find(name) == path


def test_an_unknown_notebook_lists_them_and_suggests() -> None:
    with pytest.raises(ConfigError) as error:
        notebooks.find("quikstart")
    message = str(error.value)
    assert "did you mean 'quickstart'" in message
    assert "known: quickstart, sweep, report" in message


@pytest.mark.parametrize(
    ("text", "value"),
    [("4", 4), ("0.5", 0.5), ("true", True), ("null", None), ("q4_k_m", "q4_k_m"),
     ("sweeps/default.yaml", "sweeps/default.yaml"), ("[1", "[1"), ("a: b", "a: b"),
     # YAML 1.1's surprises are not taken: an octal, a sexagesimal, yes/no/on/off.
     ("010", 10), ("1:30", "1:30"), ("yes", "yes"), ("no", "no"), ("on", "on"), ("-3", -3),
     ("1e3", 1000.0), ("False", False), ("nan", "nan"), (".inf", ".inf"), ("0x1F", "0x1F")],
)  # fmt: skip
def test_command_line_values_are_yaml_scalars(text: str, value: Any) -> None:
    parsed = notebooks.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parameters_from_pairs() -> None:
    assert notebooks.parse_parameters([("limit", "4"), ("out", "runs/x")]) == {
        "limit": 4,
        "out": "runs/x",
    }


def test_an_unknown_parameter_is_refused_before_running(tmp_path: Path) -> None:
    needs_notebook_tools()
    with pytest.raises(ConfigError) as error:
        notebooks.run_notebook("sweep", {"limt": 3}, tmp_path)
    assert "did you mean 'limit'" in str(error.value)
    assert "spec, limit, out, workers" in str(error.value)
    assert not list(tmp_path.iterdir()), "nothing should run"


def test_without_papermill_it_says_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "papermill", None)  # makes `import papermill` fail
    with pytest.raises(SetupError, match=r"ocrbench\[notebooks\]"):
        notebooks.run_notebook("report", {}, tmp_path)


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    needs_notebook_tools()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OcrbenchError, match=r"^cannot write the executed notebook into .*file"):
        notebooks.run_notebook("report", {}, tmp_path / "file" / "out")


def test_a_full_disk_leaves_no_half_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill writes the notebook in place: a full disk left a file of the notebook's name
    that is not JSON, beside a traceback."""
    needs_notebook_tools()
    import errno

    import papermill.execute

    def disk_full(nb: Any, path: str) -> None:
        Path(path).write_text('{"cells": [{"cell_')
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(papermill.execute, "write_ipynb", disk_full)
    with pytest.raises(OcrbenchError, match="No space left on device"):
        notebooks.run_notebook("report", {}, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []

    def no_kernel(*args: Any, **kwargs: Any) -> None:  # a kernelspec's interpreter gone
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/old/venv/bin/python")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    with pytest.raises(OcrbenchError, match=r"could not be run: .*\(/old/venv/bin/python\)"):
        notebooks.run_notebook("report", {}, tmp_path / "out")


# --- executing them -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_failing_cell_names_the_error_and_the_partial_notebook(tmp_path: Path) -> None:
    needs_notebook_tools()
    missing = tmp_path / "no-such-run"
    with pytest.raises(OcrbenchError) as error:
        notebooks.run_notebook("report", {"run_dir": str(missing)}, tmp_path / "out")
    message = str(error.value)
    partial = tmp_path / "out" / "03-report.ipynb"
    assert f"OcrbenchError: {missing}: no results.parquet here" in message
    assert str(partial) in message
    assert partial.is_file()
    assert "\n" not in message


@pytest.mark.slow
@pytest.mark.tesseract
@pytest.mark.llm
def test_quickstart_shows_the_page_the_texts_and_their_cer(tmp_path: Path, cache_dir: Path) -> None:
    """On its defaults: a heavy bundled page, Tesseract, the noisy-channel corrector."""
    needs_notebook_tools()
    needs_tesseract()
    pytest.importorskip("llama_cpp")
    import papermill

    from ocrbench.registry import engines

    default = papermill.inspect_notebook(str(notebooks.find("quickstart")))["image"]["default"]
    image = ROOT / ast.literal_eval(default)  # a bundled page, relative to the repository
    done = notebooks.run_notebook("quickstart", {}, tmp_path)  # on its defaults
    assert done == tmp_path / "01-quickstart.ipynb"
    assert outputs(done, "page", "image/png"), "the page is shown"
    # The raw CER, computed here from Tesseract's own reading of the page, is in the table.
    reference = next(s.text for s in datasets.load(BUNDLED).samples if s.image == image.resolve())
    raw = engines.create("tesseract").recognize(image).text
    table = outputs(done, "scores", "text/html")
    assert f"{metrics.score(reference, raw).cer:.4f}" in table
    assert "raw OCR" in table and "corrected" in table
    # The tutorial's logger saw the correction and the freeing of the model.
    assert "[ocrbench] corrected in" in outputs(done, "run", "stream")
    assert "[ocrbench] freed" in outputs(done, "free", "stream")
    lines = outputs(done, "lines", "text/html")
    assert lines.count("<tr>") > 10, "one table row per OCR line"


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """02-sweep executed once on the small spec, in a private cache: (its output, the run)."""
    needs_notebook_tools()
    needs_tesseract()
    pytest.importorskip("llama_cpp")
    base = tmp_path_factory.mktemp("notebook-sweep")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OCRBENCH_CACHE", str(base / "cache"))
        run_dir = base / "run"
        parameters = {"spec": str(SMALL_SPEC), "limit": SWEEP_LIMIT, "out": str(run_dir)}
        done = notebooks.run_notebook("sweep", parameters, base / "notebooks")
        yield done, run_dir


@pytest.mark.slow
@pytest.mark.tesseract
@pytest.mark.llm
def test_sweep_notebook_shows_the_summary_and_every_chart(sweep_run: tuple[Path, Path]) -> None:
    done, run_dir = sweep_run
    frame = results.load(run_dir)
    assert sorted(frame["config"].unique()) == sorted(CONFIGS)
    assert frame.groupby("config").size().eq(SWEEP_LIMIT).all(), "limit overrides the spec's"
    table = outputs(done, "summary", "text/html")
    for row in results.summary(frame).itertuples():
        assert row.config in table
        assert f"{row.cer:.4f}" in table
    for chart in ("pareto", "quantization", "layers", "words", "raw"):
        assert outputs(done, chart, "image/png"), f"chart {chart!r} is not shown"
    assert (run_dir / "index.html").is_file()


@pytest.mark.slow
@pytest.mark.tesseract
@pytest.mark.llm
def test_report_notebook_on_the_sweep(sweep_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, run_dir = sweep_run
    (run_dir / "index.html").unlink()
    done = notebooks.run_notebook("report", {"run_dir": str(run_dir)}, tmp_path)
    frame = results.load(run_dir)
    summary = results.summary(frame)
    lowest = summary[summary["cer"] == summary["cer"].min()]  # more than one on a tie
    assert any(config in outputs(done, "budget", "text/html") for config in lowest["config"])
    worst = outputs(done, "worst", "text/html")
    best = next(config for config in lowest["config"] if f": {config}</h3>" in worst)
    wrong = frame[(frame["config"] == best) & (frame["char_edits"] > 0)]
    for sample_id in wrong["sample_id"]:
        assert sample_id in worst
    assert ("<del>" in worst or "<ins>" in worst) == (not wrong.empty)
    assert (run_dir / "index.html").is_file() and (run_dir / "summary.md").is_file()
    assert f"report: {run_dir / 'index.html'}" in outputs(done, "render", "stream")
    # What summary.md says beside the table, the notebook says too (it printed the table alone).
    resumed = tmp_path / "resumed"
    shutil.copytree(run_dir, resumed)
    manifest = json.loads((resumed / "manifest.json").read_text(encoding="utf-8"))
    manifest["work"]["rows_resumed"] = 2
    (resumed / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    again = notebooks.run_notebook("report", {"run_dir": str(resumed)}, tmp_path / "again")
    said = outputs(again, "summary", "stream")
    assert "note: 2 rows were resumed from an earlier run into this folder" in said, said


# The training notebook on a text-only dataset (the `given` engine: no Tesseract needed): six
# documents of three lines whose OCR prints "c" for "e" in "the" ("thc"), as a collection's might.
TRAINING_LINES = [
    "the mill on the river was built in the spring",
    "they carried the grain to the market by cart",
    "the weather turned cold before the harvest ended",
    "a letter from the town council reached the farm",
    "the children walked to the school across the field",
    "the old bridge was repaired after the flood",
    "the baker opened his shop at the corner",
    "rain fell on the roofs of the village all night",
    "the doctor was called to the house at dawn",
    "the road to the coast was closed for a week",
    "she read the news aloud to the family",
    "the church bells rang for the wedding",
    "the ship left the harbour with the evening tide",
    "the price of coal rose again in the winter",
    "the new railway reached the valley last year",
    "a fire broke out in the warehouse by the docks",
    "the band played in the park on sunday",
    "the judge heard the case in the morning",
]


@pytest.mark.slow
@pytest.mark.llm
def test_training_notebook_splits_fits_and_shows_what_was_learned(
    tmp_path: Path, cache_dir: Path
) -> None:
    needs_notebook_tools()
    pytest.importorskip("llama_cpp")
    from ocrbench import splits

    pairs = [(line.replace("the ", "thc "), line) for line in TRAINING_LINES]
    groups = [f"doc{n // 3}" for n in range(len(TRAINING_LINES))]
    source = text_dataset(tmp_path / "lines", pairs, groups=groups)
    out = tmp_path / "training"
    parameters = {"dataset": str(source), "engine": "given", "out": str(out), "test": 0.5}
    done = notebooks.run_notebook("training", parameters, tmp_path / "notebooks")
    # The split: the one splits.assign makes on its own, documents kept whole.
    train, test = splits.assign(datasets.load(source).samples, 0.5, 0, "meta.group")
    shown = outputs(done, "split", "text/html")
    assert "grouped by meta.group" in outputs(done, "split", "stream")
    for part, chosen in (("train", train), ("test", test)):
        groups = len({s.meta["group"] for s in chosen})
        assert f"<th>{part}</th>\n      <td>{len(chosen)}</td>\n      <td>{groups}</td>" in shown
    # Both configurations, scored on the test part, as the results hold them.
    frame = results.load(out / "run")
    assert set(frame["sample_id"]) == {s.id for s in test}
    assert sorted(frame["trained"].unique()) == [False, True]
    table = outputs(done, "summary", "text/html")
    for row in results.summary(frame).itertuples():
        assert row.dataset in table and f"{row.cer:.4f}" in table
    # What it learned: from the training part's pairs, the collection's own confusion among them.
    learned = outputs(done, "learned", "text/html")
    assert f"Learned from {len(train)} (OCR, reference) pairs" in learned
    assert "<td><code>thc</code></td><td><code>the</code></td>" in learned.replace(" ", "")
    by_part = frame.set_index(["sample_id", "trained"])["hypothesis"].unstack("trained")
    differ = int((by_part[False] != by_part[True]).sum())
    assert f"{differ} of {len(test)} test samples corrected differently" in outputs(
        done, "changes", "stream"
    )
