"""Charts from fabricated runs with the real row schema, and the Pareto front as a pure function.

`fabricate` is shared with test_report.py and test_gate.py: it builds results rows with
`ocrbench.run.make_row` itself (real metrics on texts with OCR-like errors), for any configurations.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from ocrbench import metrics, plots, report, results, run
from ocrbench.datasets import Dataset
from ocrbench.types import Correction, OcrResult, Sample

LINES = [
    "Invoice No: 12345",
    "Total due: $1,230.00",
    "ACME Widgets Ltd, 4 Mill Lane",
    "Payment within 30 days of receipt",
    "VAT 20% applied to all items",
    "Thank you for your order!",
    "Ship to: Unit 7, Harbour Road",
    "Item   Qty   Price",
]
DEFAULT_ENGINE = {"lang": "eng", "psm": 3}
CONFUSIONS = {"l": "1", "o": "0", "O": "0", "e": "c", "i": "l", "S": "5", "a": "o", "m": "rn"}


@dataclass(frozen=True)
class Fake:
    """One configuration of a fabricated run: how noisy its OCR is and what its corrector does."""

    corrector: str = "identity"
    engine: str = "tesseract"
    engine_params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ENGINE))
    repo_id: str | None = None
    quantization: str | None = None
    gpu_layers: int | None = None
    effective: int | None = None
    made_from: str | None = None
    dataset: str = "invoices"
    noise: float = 0.12  # share of characters the OCR gets wrong
    fix: float = 0.0  # share of OCR errors the corrector undoes
    harm: float = 0.0  # share of characters the corrector breaks
    ocr_seconds: float = 0.3
    correct_seconds: float = 0.0

    def steps(self) -> tuple[run.Step, run.Step]:
        """The engine and corrector as `ocrbench.run` sees them (name, parameters, version)."""
        engine = _FakeEngine(name=self.engine, **self.engine_params)
        corrector: _FakeCorrector = _FakeCorrector(name=self.corrector)
        if self.repo_id is not None:
            corrector = _FakeLlmCorrector(
                name=self.corrector,
                repo_id=self.repo_id,
                quantization=self.quantization,
                gpu_layers=self.gpu_layers,
                effective=self.effective,
                made_from=self.made_from,
            )
        return run.Step(engine), run.Step(corrector)

    @property
    def label(self) -> str:
        return run.label(*self.steps())


@dataclass(frozen=True)
class _FakeEngine:
    """Parameters and defaults like Tesseract's, without the binary."""

    name: str = field(default="tesseract", compare=False)
    lang: str = DEFAULT_ENGINE["lang"]
    psm: int = DEFAULT_ENGINE["psm"]
    note: str = ""  # free text, for labels with characters a chart must escape

    def version(self) -> str:
        return "5.3.0"


@dataclass(frozen=True)
class _FakeCorrector:
    """A corrector with no parameters (identity, lexicon)."""

    name: str = field(default="identity", compare=False)

    def version(self) -> str:
        return "1"


@dataclass(frozen=True)
class _FakeLlmCorrector(_FakeCorrector):
    """An LLM corrector's model parameters, without a model."""

    repo_id: str | None = None
    quantization: str | None = None
    gpu_layers: int | None = None
    effective: int | None = field(default=None, compare=False)
    made_from: str | None = field(default=None, compare=False)  # as `models quantize` notes it

    def effective_gpu_layers(self) -> int | None:
        return self.effective

    def model_file(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "quantization": self.quantization,
                "made_from": self.made_from}  # fmt: skip


def _noisy(text: str, rate: float, rng: random.Random) -> str:
    return "".join(CONFUSIONS.get(c, c) if rng.random() < rate else c for c in text)


def fabricate(*configs: Fake, samples: int = 6, empty_reference: bool = False) -> pd.DataFrame:
    """Rows in results.parquet's schema, one per (config, sample): `ocrbench.run.make_row` on
    fabricated OCR and corrections."""
    norm = metrics.Normalization()
    rows = []
    for fake in configs:
        engine, corrector = fake.steps()
        dataset = Dataset(Path(fake.dataset), fake.dataset, ())
        for i in range(samples):
            reference = "" if empty_reference and i == 0 else LINES[i % len(LINES)]
            # The same engine reads a sample the same way whatever the corrector.
            ocr = _noisy(reference or "stray marks", fake.noise, random.Random(f"{fake.engine}{i}"))
            rng = random.Random(f"{fake.label}{i}")
            fixed = "".join(
                r if o != r and rng.random() < fake.fix else o
                for o, r in itertools.zip_longest(ocr, reference, fillvalue="")
            )
            hypothesis = ocr if fake.corrector == "identity" else _noisy(fixed, fake.harm, rng)
            correction = Correction(
                text=hypothesis,
                seconds=fake.correct_seconds * (1 + i / 10),
                tokens=40 if fake.repo_id else 0,
            )
            sample = Sample(id=f"s{i:02d}", text=reference)
            ocr_result = OcrResult(text=ocr, seconds=fake.ocr_seconds)
            rows.append(
                run.make_row(dataset, sample, engine, corrector, ocr_result, correction, norm)
            )
    return pd.DataFrame(rows)


QWEN = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
GEMMA = "google/gemma-3-1b-it-qat-q4_0-gguf"


def sweep_configs() -> list[Fake]:
    """A sweep like the one the product runs: raw OCR, a lexicon, and an LLM over a grid."""
    configs = [Fake(), Fake(corrector="lexicon", fix=0.3, harm=0.01, correct_seconds=0.01)]
    for quantization, fix, seconds in (
        ("q4_k_m", 0.5, 1.2),
        ("q8_0", 0.7, 2.0),
        ("f16", 0.75, 3.5),
    ):
        for layers in (0, 20, -1):
            configs.append(
                Fake(
                    corrector="prompt",
                    repo_id=QWEN,
                    quantization=quantization,
                    gpu_layers=layers,
                    effective=0,
                    fix=fix,
                    harm=0.02,
                    correct_seconds=seconds,
                )  # fmt: skip
            )
    return configs


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def texts(figure: Figure) -> str:
    """Every piece of text on a figure: titles, labels, tick labels, legends, annotations."""
    return "\n".join(t.get_text() for t in figure.findobj(Text) if isinstance(t, Text))


def legend(axis: Axes) -> list[str]:
    found = axis.get_legend()
    assert found is not None, "the chart has no legend"
    return [t.get_text() for t in found.get_texts()]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as `results.write` takes them."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


# --- the Pareto front -----------------------------------------------------------------------------


def dominated(p: tuple[float, float], q: tuple[float, float]) -> bool:
    return q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1])


def test_pareto_front_is_exactly_the_non_dominated_points() -> None:
    rng = random.Random(7)
    for _ in range(200):
        # Coarse values so ties on one coordinate, and exact duplicates, happen often.
        points = [
            (rng.randint(0, 6) / 2, rng.randint(0, 6) / 10) for _ in range(rng.randint(1, 12))
        ]
        front = plots.pareto_front(points)
        expected = {i for i, p in enumerate(points) if not any(dominated(p, q) for q in points)}
        assert set(front) == expected, points
        assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)


def test_pareto_front_small_cases() -> None:
    assert plots.pareto_front([]) == []
    assert plots.pareto_front([(1.0, 0.1)]) == [0]
    # Faster and better beats everything; a tie in speed keeps only the lower CER.
    assert plots.pareto_front([(2.0, 0.2), (1.0, 0.1), (1.0, 0.3)]) == [1]
    assert plots.pareto_front([(0.1, 0.3), (1.0, 0.2), (5.0, 0.05), (6.0, 0.05)]) == [0, 1, 2]
    assert plots.pareto_front([(1.0, float("nan")), (2.0, 0.5)]) == [1]


def test_pareto_chart_numbers_every_point_names_them_and_draws_intervals() -> None:
    summary = results.summary(fabricate(*sweep_configs()))  # sorted by CER: point n is row n-1
    figure = plots.pareto(summary)
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    assert axis.get_xlabel().startswith("seconds per sample")
    assert axis.get_ylabel().startswith("corpus CER, 95% interval")
    front = plots.pareto_front(
        list(zip(summary["seconds_per_sample"], summary["cer"], strict=True))
    )
    numbers = {t.get_text(): t.get_color() for t in axis.texts if t.get_text().isdigit()}
    assert set(numbers) == {str(n) for n in range(1, len(summary) + 1)}
    assert {n for n, color in numbers.items() if color == plots.FRONT} == {
        str(i + 1) for i in front
    }  # fmt: skip
    legend = next(t.get_text() for t in axis.texts if t.get_text().startswith("1. "))
    for number, name in enumerate(plots.names(summary), start=1):
        assert f"{number}. {name}" in legend
    assert 1 < len(front) < len(summary)
    bars = [c for c in axis.collections if c.__class__.__name__ == "LineCollection"]
    assert len(bars) == 1 and len(bars[0].get_segments()) == len(summary)  # one interval each


def test_a_pareto_axis_that_does_not_start_at_zero_says_so() -> None:
    summary = results.summary(fabricate(*sweep_configs()))
    narrow = summary.assign(
        cer=0.5 + summary["cer"] / 100, cer_low=0.5 + summary["cer"] / 100 - 0.001,
        cer_high=0.5 + summary["cer"] / 100 + 0.001,
    )  # fmt: skip
    label = plots.pareto(narrow).axes[0].get_ylabel()
    assert "not 0" in label
    low, _ = plots.pareto(narrow).axes[0].get_ylim()
    assert f"axis from {low:.3g}" in label


def test_names_say_what_differs_between_configs() -> None:
    summary = results.summary(fabricate(*sweep_configs()))
    short = dict(zip(summary["config"], plots.names(summary), strict=True))
    assert short["tesseract + identity"] == "identity"
    assert short["tesseract + lexicon"] == "lexicon"
    llm = f"tesseract + prompt(repo_id={QWEN},quantization=q8_0,gpu_layers=20)"
    assert short[llm] == "prompt, gpu_layers=20, quantization=q8_0"
    # One configuration keeps its full name; two datasets are told apart.
    assert plots.names(summary.head(1)) == [summary["config"][0]]
    two = results.summary(fabricate(Fake(dataset="a"), Fake(dataset="b")))
    assert sorted(plots.names(two)) == ["a", "b"]


def test_a_value_with_a_comma_cannot_pass_for_two_parameters() -> None:
    """Labels name a configuration in every chart and table; two configurations must not share
    one, or a chart draws them as one series."""
    one = Fake(engine_params={"lang": "deu,psm=6", "psm": 3})
    two = Fake(engine_params={"lang": "deu", "psm": 6})
    assert one.label != two.label
    assert one.label == 'tesseract(lang="deu,psm=6") + identity'
    assert two.label == "tesseract(lang=deu,psm=6) + identity"


def test_configurations_that_share_a_label_stay_apart_in_charts() -> None:
    """A label is for reading; a configuration's identity is its id (a label may still repeat,
    e.g. a plugin that prints its parameters alike)."""
    summary = results.summary(fabricate(Fake(), Fake(corrector="lexicon")))
    summary["config"], summary["corrector"] = "same", "identity"
    shown = plots.names(summary)
    assert len(set(shown)) == 2 and all(name.startswith("same") for name in shown), shown


def test_pareto_one_panel_per_dataset() -> None:
    frame = fabricate(Fake(dataset="a"), Fake(dataset="b"), Fake(dataset="b", corrector="lexicon"))
    figure = plots.pareto(results.summary(frame))
    titles = [a.get_title() for a in figure.axes if a.get_visible()]
    assert titles == ["a", "b"]


# --- every chart, on a full sweep and on what a small run has -------------------------------------


def test_quantization_chart_orders_by_bits_and_has_two_panels() -> None:
    figure = plots.by_quantization(results.summary(fabricate(*sweep_configs())))
    cer_axis, speed_axis = figure.axes
    assert [t.get_text() for t in cer_axis.get_xticklabels()] == ["q4_k_m", "q8_0", "f16"]
    assert cer_axis.get_ylabel().startswith("corpus CER")
    assert speed_axis.get_ylabel() == plots.SPEED_LABEL
    # Lines differ by what varies besides quantization: the GPU layers here.
    assert sorted(legend(speed_axis)) == ["gpu_layers=-1", "gpu_layers=0", "gpu_layers=20"]
    # Speed lines rise with bits, as fabricated.
    for line in speed_axis.get_lines():
        seconds = np.asarray(line.get_ydata()).tolist()
        assert seconds == sorted(seconds)


def test_a_quantization_made_from_a_quantized_file_is_marked_everywhere() -> None:
    """A q8_0 that `models quantize` made from a Q4_K_M is its own point, never a q8_0: in the
    results column, the chart's axis and the summary table."""
    configs = [
        Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m", correct_seconds=1.0),
        Fake(
            corrector="prompt",
            repo_id=QWEN,
            quantization="q8_0",
            made_from="q4_k_m",
            correct_seconds=2.0,
        ),  # fmt: skip
        Fake(corrector="prompt", repo_id=GEMMA, quantization="q8_0", correct_seconds=2.0),
    ]
    frame = fabricate(*configs)
    assert sorted(frame["made_from"].dropna().unique()) == ["q4_k_m"]
    summary = results.summary(frame)
    cer_axis, _ = plots.by_quantization(summary).axes
    ticks = [t.get_text() for t in cer_axis.get_xticklabels()]
    assert ticks == ["q4_k_m", "q8_0", "q8_0\nfrom Q4_K_M"]
    table = report.summary_table(summary)
    assert sorted(table["quantization"]) == ["q4_k_m", "q8_0", "q8_0, from Q4_K_M"]
    # By model: one tick per repo, each point named by its quantization.
    cer_axis, speed_axis = plots.by_repo(summary).axes
    assert [t.get_text().replace("\n", "") for t in cer_axis.get_xticklabels()] == [
        "Qwen2.5-0.5B-Instruct-GGUF", "gemma-3-1b-it-qat-q4_0-gguf"]  # fmt: skip
    named = [t.get_text().replace("\n", ", ") for t in speed_axis.texts]
    assert sorted(named) == ["q4_k_m", "q8_0", "q8_0, from Q4_K_M"]
    assert speed_axis.get_ylabel() == plots.SPEED_LABEL


def test_gpu_layers_chart_says_offload_was_not_effective() -> None:
    figure = plots.by_gpu_layers(results.summary(fabricate(*sweep_configs())))
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["0", "20", "all (-1)"]
    words = texts(figure)
    assert "Offload not effective: 6 of 9 configurations" in words
    assert "0 on GPU" in words


def test_gpu_layers_chart_says_when_offload_is_unverified() -> None:
    llm = Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m", gpu_layers=-1)
    words = texts(plots.by_gpu_layers(results.summary(fabricate(llm))))
    assert "1 configuration did not report how many layers ran on a GPU" in words
    assert "not effective" not in words


def test_gpu_layers_chart_has_no_warning_when_offload_worked() -> None:
    configs = [
        Fake(corrector="prompt", repo_id=QWEN, quantization="q4_k_m", gpu_layers=n, effective=n)
        for n in (0, 24)
    ]
    words = texts(plots.by_gpu_layers(results.summary(fabricate(*configs))))
    assert "not effective" not in words and "on GPU" not in words


def test_words_fixed_broken_bars_match_the_summary() -> None:
    summary = results.summary(fabricate(*sweep_configs()[:3]))
    figure = plots.words_fixed_broken(summary)
    axis = figure.axes[0]
    assert axis.get_title() == "Words fixed vs broken per corrector configuration"
    widths = sorted(round(p.get_width()) for p in axis.patches if isinstance(p, Rectangle))
    corrected = summary[summary["corrector"] != "identity"]
    assert widths == sorted([*corrected["words_fixed"], *corrected["words_broken"]])
    assert corrected["words_fixed"].sum() > 0  # the fabricated correctors do fix words


def test_corrected_vs_raw_counts_better_and_worse_in_the_legend() -> None:
    frame = fabricate(Fake(), Fake(corrector="lexicon", fix=0.6, harm=0.02))
    figure = plots.corrected_vs_raw(frame)
    lexicon = frame[frame["corrector"] == "lexicon"]
    better = int((lexicon["cer"] < lexicon["raw_cer"]).sum())
    worse = int((lexicon["cer"] > lexicon["raw_cer"]).sum())
    labels = legend(figure.axes[0])
    assert any(f"{better} better (below), {worse} worse (above)" in t for t in labels), labels
    assert "unchanged (y = x)" in labels
    assert not any("identity" in t for t in labels)  # raw vs raw says nothing


@pytest.mark.parametrize(
    "chart", [plots.by_repo, plots.by_quantization, plots.by_gpu_layers, plots.words_fixed_broken]
)
def test_summary_charts_say_what_is_missing_instead_of_failing(chart: Any) -> None:
    figure = chart(results.summary(fabricate(Fake())))
    assert isinstance(figure, Figure)
    words = texts(figure)
    assert plots.NO_LLM in words or plots.NO_CORRECTOR in words


def test_lexicon_only_run_has_no_llm_but_has_fixed_words() -> None:
    summary = results.summary(fabricate(Fake(corrector="lexicon", fix=0.5)))
    assert plots.NO_LLM in texts(plots.by_quantization(summary))
    assert plots.NO_CORRECTOR not in texts(plots.words_fixed_broken(summary))


def test_every_chart_copes_with_one_config_and_empty_references(tmp_path: Path) -> None:
    frame = fabricate(Fake(corrector="lexicon", fix=0.5), samples=3, empty_reference=True)
    assert frame["cer"].isna().sum() == 1
    summary = results.summary(frame)
    figures = [plots.pareto(summary), plots.by_quantization(summary), plots.by_gpu_layers(summary),
               plots.words_fixed_broken(summary), plots.corrected_vs_raw(frame),
               plots.cer_per_sample(frame), plots.cer_histogram(frame), plots.by_repo(summary)]  # fmt: skip
    assert all(isinstance(f, Figure) for f in figures)
    assert "1 rows with an empty reference left out" in figures[4].axes[0].get_title()
    png, svg = (
        plots.save(figures[0], tmp_path / "p.png"),
        plots.save(figures[5], tmp_path / "c.svg"),
    )
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in svg.read_bytes()[:500]


def test_every_reference_empty_is_said_not_drawn() -> None:
    frame = fabricate(Fake(), samples=1, empty_reference=True)
    assert frame["cer"].isna().all()
    summary = results.summary(frame)
    assert "no CER to plot" in texts(plots.pareto(summary))
    assert "no sample has a reference" in texts(plots.cer_per_sample(frame))
    assert "no sample has a reference" in texts(plots.cer_histogram(frame))


def test_line_charts_show_at_most_ten_configs_and_say_so() -> None:
    configs = [Fake(corrector="lexicon", fix=i / 20, engine_params={"psm": i}) for i in range(12)]
    figure = plots.cer_per_sample(fabricate(*configs, samples=2))
    axis = figure.axes[0]
    assert len(axis.get_lines()) == 10
    assert "the 10 best of 12 configurations" in axis.get_title()


def test_dollar_signs_in_names_do_not_become_mathtext() -> None:
    frame = fabricate(Fake(corrector="lexicon", engine_params={"note": "$5 and $6"}))
    figure = plots.cer_per_sample(frame.assign(config="cost $5 and $6"))
    figure.canvas.draw()  # mathtext would fail or swallow the dollars here
    assert r"cost \$5 and \$6" in texts(figure)


def test_line_charts_show_each_datasets_best_not_the_easiest_datasets() -> None:
    """With two datasets, the best 10 were ranked on one CER scale: every configuration of the
    easy dataset came before any of the hard one's."""
    easy = [Fake(dataset="easy", noise=0.02, corrector="lexicon", fix=i / 10,
                 engine_params={"psm": i}) for i in range(6)]  # fmt: skip
    hard = [Fake(dataset="hard", noise=0.3, corrector="lexicon", fix=i / 10,
                 engine_params={"psm": i}) for i in range(6)]  # fmt: skip
    frame = fabricate(*easy, *hard, samples=2)
    for figure in (plots.cer_per_sample(frame), plots.cer_histogram(frame),
                   plots.corrected_vs_raw(frame)):  # fmt: skip
        shown = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
        assert sum("easy" in s for s in shown) == 5, shown
        assert sum("hard" in s for s in shown) == 5, shown


def test_the_slice_chart_ranks_each_dataset_by_its_own_cer() -> None:
    """The slice chart's panels took the first dataset's ranking for every dataset."""
    configs = [Fake(corrector="lexicon", fix=i / 10, engine_params={"psm": i}) for i in range(10)]
    # On "reversed" the configurations rank the other way round: the higher psm, the more harm.
    reverse = [Fake(dataset="reversed", corrector="lexicon", harm=i / 20,
                    engine_params={"psm": i}) for i in range(10)]  # fmt: skip
    frame = fabricate(*configs, *reverse, samples=4)
    frame = frame.assign(meta=[json.dumps({"degrade": ["clean", "heavy"][int(s[1:]) % 2]})
                               for s in frame["sample_id"]])  # fmt: skip
    summary = results.summary(frame)
    figure = plots.by_slice(results.summary(frame, by="meta.degrade"), "meta.degrade",
                            plots.ranking(summary))  # fmt: skip
    shown = {a.get_title(): [t.get_text() for t in a.get_legend().get_texts()] for a in figure.axes
             if a.get_legend() is not None}  # fmt: skip
    for dataset in ("invoices", "reversed"):
        best = summary[summary["dataset"] == dataset].sort_values("cer").head(plots.SLICE_CONFIGS)
        expected = sorted(json.loads(p)["psm"] for p in best["params"])
        drawn = sorted(int(re.search(r"psm=(\d+)", s).group(1)) for s in shown[dataset])
        assert drawn == expected, dataset


def test_with_two_datasets_no_panel_is_drawn_over_the_names_of_another() -> None:
    """The Pareto chart's list of point names, and the slice chart's legend, sit right of their
    panel; with two datasets side by side the second panel covered them."""
    configs = [Fake(corrector="lexicon", fix=i / 10, engine_params={"psm": i}) for i in range(6)]
    other = [Fake(dataset="other", corrector="lexicon", fix=i / 10, engine_params={"psm": i})
             for i in range(6)]  # fmt: skip
    frame = fabricate(*configs, *other, samples=4)
    frame = frame.assign(meta=[json.dumps({"degrade": ["clean", "heavy"][int(s[1:]) % 2]})
                               for s in frame["sample_id"]])  # fmt: skip
    summary = results.summary(frame)
    sliced = results.summary(frame, by="meta.degrade")
    for figure in (plots.pareto(summary), plots.by_slice(sliced, "meta.degrade")):
        figure.canvas.draw()
        panels = [a for a in figure.axes if a.get_visible()]
        assert len(panels) == 2
        for panel in panels:
            names = [t for t in panel.texts if t.get_text().startswith("1. ")]
            legend = panel.get_legend()
            boxes = [t.get_window_extent() for t in names]
            boxes += [legend.get_window_extent()] if legend is not None else []
            assert boxes
            for other_panel in panels:
                if other_panel is not panel:
                    for box in boxes:
                        assert not box.overlaps(other_panel.get_window_extent())
