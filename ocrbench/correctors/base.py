"""The corrector interface: an `OcrResult` in, a `Correction` out; and, optionally, learning."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ocrbench.types import Correction, OcrResult

if TYPE_CHECKING:
    from ocrbench.models import ModelSpec


@runtime_checkable
class Corrector(Protocol):
    """What every corrector provides. Its parameters are the fields of a frozen dataclass.

    `version()` must change whenever the output could: an LLM corrector includes its model file's
    sha256 there, so the correction cache never serves another model's output.
    """

    name: ClassVar[str]

    def version(self) -> str: ...

    def correct(self, ocr: OcrResult) -> Correction: ...


@runtime_checkable
class Learner(Protocol):
    """A corrector that can learn from a training set: the optional `fit` step of the protocol.

    `fit` sees the training set's (OCR text, reference) pairs, each the OCR of the same engine
    configuration the corrector will correct, and returns what it learned as JSON-serialisable
    state (cached by the caller, keyed by the training data's content, the engine and this
    corrector's configuration and version). `trained(state)` is a copy of the corrector that uses
    it, whose `version()` names the state, so caches and results rows never mix a trained
    corrector's output with an untrained one's. `describe(state)` is what a report shows of it.
    Optional class attributes: `FIT_VERSION`, bumped when `fit` could learn another state from
    the same pairs, and `TRAINED_VERSION`, bumped when a trained corrector could correct
    differently with the same state; a sweep's trained rows are keyed by both.
    """

    def fit(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]: ...

    def trained(self, state: dict[str, Any]) -> Corrector: ...

    def describe(self, state: dict[str, Any]) -> dict[str, Any]: ...


def learns(corrector: object) -> bool:
    """Whether a corrector can learn from a training set, as configured: a learner may say it
    would use nothing of one (`uses_training` False: a prompt shown no examples), and so is
    neither fitted nor labelled "trained"."""
    return isinstance(corrector, Learner) and bool(getattr(corrector, "uses_training", True))


def learned_anything(corrector: object, state: dict[str, Any]) -> bool:
    """Whether a fitted state changes how the corrector corrects (a learner's optional
    `learned_anything(state)`): a prompt that found no example in its training set has not, and
    its rows are the untrained corrector's."""
    check = getattr(corrector, "learned_anything", None)
    return bool(check(state)) if callable(check) else True


def with_state(corrector: Any, state: dict[str, Any]) -> Any:
    """A copy of a learner that uses `state`, the state's digest kept beside it for `version()`:
    hashed once, since a state can be half a megabyte of JSON and each sweep task asks the
    version."""
    copy = replace(corrector)
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    object.__setattr__(copy, "_state_", state)
    object.__setattr__(copy, "_digest_", digest)
    return copy


def model_spec_of(corrector: object) -> ModelSpec | None:
    """The model a corrector uses (its `model_spec()`); None for one without a model."""
    model_spec = getattr(corrector, "model_spec", None)
    return model_spec() if callable(model_spec) else None
