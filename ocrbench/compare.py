"""`ocrbench compare RUN_A RUN_B`: configurations matched by id, on the samples both runs share,
each with the change in corpus CER from A to B and its paired bootstrap interval, how many samples
got better, worse or stayed the same, and the samples that changed most.

Two runs are compared only on the same data: a shared sample whose reference differs, or runs
under another text normalisation, are refused in one line rather than compared; so is a
configuration whose corrector learned from another training set in B than in A (its config id
says "trained", not on what: the change would be the training data's, not a regression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ocrbench import gate, metrics, results
from ocrbench.errors import OcrbenchError

KEYS = ["dataset", "config_id", "sample_id"]


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame  # one row per configuration both runs have
    changed: pd.DataFrame  # the samples whose edits changed most
    only_a: list[str]
    only_b: list[str]

    @property
    def worse(self) -> bool:
        return bool((self.table["verdict"] == "worse").any())

    def text(self) -> str:
        lines = (
            [self.table.to_string(index=False)]
            if len(self.table)
            else ["no configuration in both runs"]
        )
        for side, names in (("A", self.only_a), ("B", self.only_b)):
            if names:
                lines.append(f"only in {side}: {', '.join(names)}")
        if len(self.changed):
            lines.append("samples that changed most (char edits A -> B):")
            lines.append(self.changed.to_string(index=False))
        return "\n".join(lines)


def _such(rows: pd.DataFrame) -> str:
    """How many samples the rows are (a sample has a row per configuration)."""
    count = len(rows[["dataset", "sample_id"]].drop_duplicates())
    return f"{count} such sample{'s' if count != 1 else ''}"


def compare(run_a: Path, run_b: Path, *, most: int = 5) -> Comparison:
    a, b = results.load(run_a), results.load(run_b)
    for name, frame in (("A", a), ("B", b)):
        norms = set(frame["normalization"])
        if len(norms) > 1:
            raise OcrbenchError(f"run {name} mixes normalisations ({', '.join(sorted(norms))})")
    if set(a["normalization"]) != set(b["normalization"]):
        raise OcrbenchError(
            f"the runs normalise text differently ({a['normalization'].iloc[0]} vs "
            f"{b['normalization'].iloc[0]}): their CERs do not compare"
        )
    a, b = a.assign(input=results.inputs(a)), b.assign(input=results.inputs(b))
    joined = a.merge(b, on=KEYS, suffixes=("_a", "_b"))
    if joined.empty and (shared := set(a["dataset"]) & set(b["dataset"])):
        configs = [", ".join(sorted(set(side["config"]))) for side in (a, b)]
        raise OcrbenchError(
            f"no configuration both runs have on {', '.join(map(repr, sorted(shared)))}, so "
            f"nothing to compare (A's: {configs[0]}; B's: {configs[1]}); compare pairs each "
            "configuration with itself, and a trained corrector is a configuration of its own: "
            "to see two side by side, run both in one sweep"
        )
    if joined.empty:
        raise OcrbenchError(
            "no configuration on a dataset both runs have, so nothing to compare (A's datasets: "
            f"{_names_of(a)}; B's: {_names_of(b)}); a sweep names a folder listed twice by its "
            "entries, as in 'test (limit none)'"
        )
    known = joined["input_a"].notna() & joined["input_b"].notna()
    other_input = joined[known & (joined["input_a"] != joined["input_b"])]
    if len(other_input):
        first = other_input.iloc[0]
        what = str(first["input_b"]).rsplit(" ", 1)[0]  # "page image", "OCR text given"
        raise OcrbenchError(
            f"sample {first['sample_id']!r} of {first['dataset']} was read from another {what} "
            f"in B: the runs are not on the same input ({_such(other_input)})"
        )
    differs = joined[joined["reference_a"] != joined["reference_b"]]
    if len(differs):
        first = differs.iloc[0]
        raise OcrbenchError(
            f"sample {first['sample_id']!r} of {first['dataset']} has another reference in B: "
            f"the runs are not on the same data ({_such(differs)})"
        )
    trained_a, trained_b = _training(a), _training(b)
    # The sha256 says which set (the path differs between clones of the same data).
    other = sorted(
        k for k in trained_a.keys() & trained_b.keys() if trained_a[k][0] != trained_b[k][0]
    )
    if other:
        key = other[0]  # (dataset, config_id)
        on_a, on_b = (gate.trained_on(*side[key]) for side in (trained_a, trained_b))
        raise OcrbenchError(
            f"{_names(b)[key[1]]} on {key[0]} was trained on other training sets (A: {on_a}, "
            f"B: {on_b}): not the same configuration, its CERs do not compare ({len(other)} such "
            "configuration(s))"
        )
    names = _names(b)
    rows = []
    for (dataset, config_id), group in joined.groupby(["dataset", "config_id"], sort=False):
        paired = metrics.paired_change(
            group["char_edits_b"].tolist(), group["char_edits_a"].tolist(),
            group["reference_chars_a"].tolist(),
        )  # fmt: skip
        cer_a = metrics.rate(group["char_edits_a"], group["reference_chars_a"])
        cer_b = metrics.rate(group["char_edits_b"], group["reference_chars_a"])
        rows.append({
            "dataset": dataset, "config": names[str(config_id)], "shared samples": len(group),
            "CER A": _rounded(cer_a), "CER B": _rounded(cer_b),
            "change [95% CI]": "-" if paired.change is None else
                               f"{paired.change:+.4f} [{_signed(paired.low)}, "
                               f"{_signed(paired.high)}]",
            "verdict": paired.verdict,
            "better/worse/same": f"{paired.better}/{paired.worse}/{paired.same}",
        })  # fmt: skip
    change = joined.assign(delta=joined["char_edits_b"] - joined["char_edits_a"])
    change = change[change["delta"] != 0]
    top = change.reindex(change["delta"].abs().sort_values(ascending=False).index).head(most)
    changed = pd.DataFrame({
        "dataset": top["dataset"], "config": top["config_b"], "sample": top["sample_id"],
        "A": top["char_edits_a"], "B": top["char_edits_b"],
    })  # fmt: skip
    shared = set(zip(joined["dataset"], joined["config_id"], strict=True))
    return Comparison(pd.DataFrame(rows), changed, _only(a, shared), _only(b, shared))


def _signed(value: float) -> str:
    """A bound of the interval; "n/a" where there is none (too few shared samples)."""
    return "n/a" if math.isnan(value) else f"{value:+.4f}"


def _rounded(value: float | None) -> float | str:
    return "-" if value is None else round(value, 4)


def _training(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """Per (dataset, config_id): the training set its corrector learned from (gate.training)."""
    return {
        (str(dataset), str(config_id)): gate.training(group)
        for (dataset, config_id), group in frame.groupby(["dataset", "config_id"], sort=True)
    }


def _names(frame: pd.DataFrame) -> dict[str, str]:
    return dict(zip(frame["config_id"], frame["config"], strict=True))


def _only(frame: pd.DataFrame, shared: set[tuple[str, str]]) -> list[str]:
    """The configurations of a run that the other one lacks, each with its dataset."""
    pairs = zip(frame["dataset"], frame["config_id"], frame["config"], strict=True)
    return sorted(
        {f"{name} on {dataset}" for dataset, config_id, name in pairs
         if (dataset, config_id) not in shared}
    )  # fmt: skip


def _names_of(frame: pd.DataFrame) -> str:
    return ", ".join(repr(str(name)) for name in sorted(set(frame["dataset"])))
