"""Does a corrector lower corpus CER on real OCR? Raw OCR vs each corrector, side by side.

Datasets (each a fixed, seeded sample, named in the output):
- icdar2017-eng, split into lines: the competition's own OCR against its gold standard;
- gt4histcomment-en line images through Tesseract (--psm 7), with `eng` and with `eng+grc`;
- datasets/invoices-synth pages through Tesseract (--psm 3, `eng`).

Tesseract's output is cached under $TMPDIR/ocrbench-bench (keyed by Tesseract's version, the
language, the page segmentation mode and the image's sha256), so a second run only corrects.

    .venv/bin/python benchmarks/corrector_accuracy.py                  # noisy-channel and lexicon
    .venv/bin/python benchmarks/corrector_accuracy.py --lines 100 --correctors lexicon

With `--protocol`, each corrector is also fitted on a training part and scored on a test part
that shares no document, book or page with it: raw OCR, untrained and trained, side by side.

    .venv/bin/python benchmarks/corrector_accuracy.py --protocol             # the test parts
    .venv/bin/python benchmarks/corrector_accuracy.py --protocol --part dev  # for development

`--part dev` splits each training part again (seed 1) and scores on that: what a developer may
look at. `--part folds` looks more like the test parts, still inside the training parts: ICDAR's
training periodicals held out one at a time, fitted on the rest of the training part (its test
part is mostly periodicals, while its training part is mostly one monograph), and each book's
development part scored by a fit on the other book's development training part. Not so for the
books: each book is the whole test part of one direction, so what `dev` and `folds` score of a
book is inside the test part of the other direction (RESULTS.md, "Read first"). The test parts
are meant to be read as totals only (RESULTS.md says how often they were).

Corpus CER is total character edits / total reference characters after NFC and whitespace
collapsing (ocrbench.metrics). Needs ../shared (the real data) and Tesseract with eng and grc.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shlex
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ocrbench import datasets, metrics, splits
from ocrbench.registry import correctors
from ocrbench.types import Correction, OcrResult, Sample

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = Path(tempfile.gettempdir()) / "ocrbench-bench"


@dataclass(frozen=True)
class Item:
    """One sample: its id, the OCR text a corrector gets, and the ground truth."""

    id: str
    ocr: str
    truth: str


def seeded(items: Sequence[Item], lines: int, seed: int) -> list[Item]:
    """`lines` items drawn with a fixed seed (all of them, in order, when lines >= len)."""
    if lines >= len(items):
        return list(items)
    return random.Random(seed).sample(list(items), lines)


def icdar_lines(lines: int, seed: int) -> list[Item]:
    """ICDAR 2017 English, as ocrbench's converter splits it into lines; the given OCR text."""
    dest = CACHE / "icdar2017-eng-lines"
    if not (dest / datasets.MANIFEST).is_file():
        datasets.convert("icdar2017", SHARED / "icdar2017-eng", dest, split="lines")
    samples = datasets.load(dest).samples
    return seeded([Item(s.id, s.ocr or "", s.text) for s in samples], lines, seed)


def _tesseract(image: Path, lang: str, psm: int) -> str:
    """Tesseract's text for an image, from the cache when this version read it before."""
    from ocrbench.engines.tesseract import Tesseract

    engine = Tesseract(lang=lang, psm=psm)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    cached = CACHE / f"tesseract-{engine.version()}-{lang}-psm{psm}" / f"{digest}.txt"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    text = engine.recognize(image).text
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(text, encoding="utf-8")
    return text


def tesseract_items(
    folder: Path, lang: str, psm: int, lines: int, seed: int, fmt: str = "pairs"
) -> list[Item]:
    """A seeded sample of an image dataset, read by Tesseract."""
    if (folder / datasets.MANIFEST).is_file():
        samples = datasets.load(folder).samples
    else:
        dest = CACHE / f"{folder.name}-{fmt}"
        if not (dest / datasets.MANIFEST).is_file():
            datasets.convert(fmt, folder, dest)
        samples = datasets.load(dest).samples
    chosen = seeded([Item(s.id, str(s.image), s.text) for s in samples], lines, seed)
    return [Item(i.id, _tesseract(Path(i.ocr), lang, psm), i.truth) for i in chosen]


def corpus_cer(truths: Sequence[str], texts: Sequence[str]) -> tuple[float, int, int]:
    """(corpus CER, char edits, reference chars)."""
    scores = [metrics.score(t, h) for t, h in zip(truths, texts, strict=True)]
    total = metrics.corpus(scores)
    return total["corpus_cer"], total["char_edits"], total["reference_chars"]


@dataclass(frozen=True)
class Outcome:
    cer: float
    edits: int
    seconds: float
    tokens: int
    changes: int


def run(
    correct: Callable[[OcrResult], Correction], items: Sequence[Item]
) -> tuple[list[str], Outcome]:
    texts: list[str] = []
    tokens = changes = 0
    start = time.perf_counter()
    for item in items:
        result = correct(OcrResult(text=item.ocr))
        texts.append(result.text)
        tokens += result.tokens
        changes += len(result.changes)
    seconds = time.perf_counter() - start
    cer, edits, _ = corpus_cer([i.truth for i in items], texts)
    return texts, Outcome(cer, edits, seconds, tokens, changes)


def has_greek(text: str) -> bool:
    return any("GREEK" in unicodedata.name(c, "") for c in text)


def datasets_to_run(lines: int, seed: int, only: set[str] | None) -> dict[str, list[Item]]:
    """The samples per dataset; for gt4histcomment also its lines with no Greek in the ground
    truth, the part an English corrector can act on (Greek read by `eng` is beyond any fix)."""
    makers: dict[str, Callable[[], list[Item]]] = {
        "icdar2017-eng lines": lambda: icdar_lines(lines, seed),
        "gt4histcomment-en tesseract eng": lambda: tesseract_items(
            SHARED / "gt4histcomment-en", "eng", 7, lines, seed
        ),
        "gt4histcomment-en tesseract eng+grc": lambda: tesseract_items(
            SHARED / "gt4histcomment-en", "eng+grc", 7, lines, seed
        ),
        "invoices-synth tesseract eng": lambda: tesseract_items(
            ROOT / "datasets" / "invoices-synth", "eng", 3, lines, seed
        ),
    }
    chosen = {name: make() for name, make in makers.items() if only is None or name in only}
    for name in [n for n in chosen if n.startswith("gt4histcomment")]:
        chosen[f"{name}, no Greek"] = [i for i in chosen[name] if not has_greek(i.truth)]
    return chosen


# -- the train/test protocol --------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """One dataset under the protocol: its training and scored parts, and the corrector's spec."""

    name: str
    train: list[Item]
    test: list[Item]
    corrector: str


def _read(samples: Sequence[Sample], lang: str, psm: int) -> list[Item]:
    return [Item(s.id, _tesseract(Path(str(s.image)), lang, psm), s.text) for s in samples]


def _given(samples: Sequence[Sample]) -> list[Item]:
    return [Item(s.id, s.ocr or "", s.text) for s in samples]


def _parts(
    samples: list[Sample], group_by: str | None, part: str
) -> tuple[list[Sample], list[Sample]]:
    """70/30 by group with seed 0; `dev`: the training part split again the same way, seed 1."""
    train, test = splits.assign(samples, 0.3, 0, group_by)
    if part == "dev":
        train, test = splits.assign(train, 0.3, 1, group_by)
    return train, test


def protocols(part: str, only: set[str] | None) -> list[Protocol]:
    found: list[Protocol] = []

    def wanted(name: str) -> bool:
        return only is None or any(name.startswith(o) for o in only)

    name = "icdar2017-eng lines, by document"
    if wanted(name):
        icdar_lines(0, 0)  # converts once
        samples = datasets.load(CACHE / "icdar2017-eng-lines").samples
        if part == "folds":
            found += _periodical_folds(name, samples)
        else:
            train, test = _parts(samples, "meta.group", part)
            found.append(Protocol(name, _given(train), _given(test), "noisy-channel"))
    books = {}
    if wanted("gt4histcomment-en"):
        dest = CACHE / "gt4histcomment-en-pairs"
        if not (dest / datasets.MANIFEST).is_file():
            datasets.convert("pairs", SHARED / "gt4histcomment-en", dest)
        for sample in datasets.load(dest).samples:
            books.setdefault(str(sample.meta[datasets.GROUP]), []).append(sample)
    for first, second in [sorted(books), sorted(books)[::-1]] if books else []:
        name = f"gt4histcomment-en eng+grc, {first} -> {second}"
        train, test = books[first], books[second]
        # dev and folds read the books' own lines: each book is the other direction's test part
        if part == "dev":  # the training book's pages, split
            train, test = splits.assign(books[first], 0.3, 1, None)
        elif part == "folds":  # across books, on the parts `dev` reads
            train = splits.assign(books[first], 0.3, 1, None)[0]
            test = splits.assign(books[second], 0.3, 1, None)[1]
            name += " (dev parts)"
        found.append(
            Protocol(
                name,
                _read(train, "eng+grc", 7),
                _read(test, "eng+grc", 7),
                "noisy-channel:lang=eng+grc",
            )
        )
    name = "invoices-synth tesseract eng, by id"
    if wanted(name) and part != "folds":
        samples = datasets.load(ROOT / "datasets" / "invoices-synth").samples
        train, test = _parts(samples, None, part)
        found.append(Protocol(name, _read(train, "eng", 3), _read(test, "eng", 3), "noisy-channel"))
    return found


def _periodical_folds(name: str, samples: list[Sample]) -> list[Protocol]:
    """ICDAR's training periodicals, each held out in turn from the training part."""
    train, _ = _parts(samples, "meta.group", "test")
    periodicals = [s for s in train if "periodical" in str(s.meta["source"])]
    held = sorted({str(s.meta[datasets.GROUP]) for s in periodicals})
    return [
        Protocol(
            f"{name}, {doc} held out",
            _given([s for s in train if s.meta[datasets.GROUP] != doc]),
            _given([s for s in train if s.meta[datasets.GROUP] == doc]),
            "noisy-channel",
        )
        for doc in held
    ]


def with_params(spec: str, params: str) -> str:
    """A corrector spec with more parameters: ("noisy-channel:lang=eng+grc", "margin=1") ->
    "noisy-channel:lang=eng+grc,margin=1"."""
    if not params:
        return spec
    return spec + ("," if ":" in spec else ":") + params


def protocol_main(part: str, lines: int | None, only: set[str] | None, params: str = "") -> int:
    """Raw OCR, untrained and trained corrector on each dataset's scored part; `params` are
    added to every protocol's corrector (both the untrained and the trained one)."""
    again = {
        "dev": "; then the training part split again, seed 1",
        "folds": "; then folds of the training parts",
    }.get(part, "")
    print(f"part: {part} (70/30 by group, seed 0{again})")
    header = (
        f"{'dataset':52} {'corrector':10} {'CER':>7} {'change':>8} {'words':>6} "
        f"{'lines/s':>8} {'tok/line':>8}"
    )
    print(header)
    worst_rise = 0.0
    for protocol in protocols(part, only):
        tests = [protocol.test]
        if protocol.name.startswith("gt4histcomment"):
            tests.append([i for i in protocol.test if not has_greek(i.truth)])
        spec = with_params(protocol.corrector, params)
        corrector = correctors.from_spec(spec)
        start = time.perf_counter()
        state = corrector.fit([(i.ocr, i.truth) for i in protocol.train])  # type: ignore[attr-defined]
        state = json.loads(json.dumps(state, ensure_ascii=False))  # as the run's cache holds it
        fitted = time.perf_counter() - start
        trained = corrector.trained(state)  # type: ignore[attr-defined]
        print(f"{protocol.name}: {spec}, fitted on {len(protocol.train)} samples in {fitted:.1f} s")
        for k, items in enumerate(tests):
            if lines is not None and lines < len(items):
                items = random.Random(0).sample(items, lines)
            truths = [i.truth for i in items]
            raw, _, chars = corpus_cer(truths, [i.ocr for i in items])
            label = protocol.name if k == 0 else "  the lines with no Greek"
            print(
                f"{label[:52]:52} {'raw OCR':10} {raw:7.4f}   ({len(items)} samples, {chars} chars)"
            )
            speeds = []
            for which, chosen in (("untrained", corrector), ("trained", trained)):
                _, out = run(chosen.correct, items)
                worst_rise = max(worst_rise, out.cer - raw)
                relative = (out.cer - raw) / raw if raw else 0.0
                speeds.append(len(items) / out.seconds if out.seconds else float("inf"))
                print(
                    f"{'':52} {which:10} {out.cer:7.4f} {relative:+8.1%} {out.changes:6d} "
                    f"{speeds[-1]:8.2f} {out.tokens / len(items):8.1f}"
                )
                sys.stdout.flush()
            print(f"{'':52} trained lines/s over untrained: {speeds[1] / speeds[0]:.2f}")
        corrector.close()
    print("change: relative to raw OCR's corpus CER; words: words the corrector changed")
    print(f"largest CER rise of any corrector: {worst_rise:+.4f} (the bar: +0.0010)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=300, help="samples per dataset (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--correctors",
        default="noisy-channel,noisy-channel:lang=eng+grc,lexicon",
        help="comma-separated corrector specs; ';' separates specs that have parameters",
    )
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: all)")
    parser.add_argument(
        "--params",
        default="",
        help="with --protocol: k=v[,k=v] added to each protocol's corrector (as in rare_ratio=20)",
    )
    parser.add_argument("--protocol", action="store_true", help="train/test: fit, then score")
    parser.add_argument(
        "--part", choices=("test", "dev", "folds"), default="test", help="with --protocol"
    )
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(
            f"{SHARED} is absent: this benchmark reads the real data in ../shared", file=sys.stderr
        )
        return 2
    separator = ";" if ";" in args.correctors else ","
    specs = [s.strip() for s in args.correctors.split(separator) if s.strip()]
    only = set(args.datasets.split(",")) if args.datasets else None
    command = "python benchmarks/corrector_accuracy.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    print(f"command: {command.strip()}")
    if args.params and not args.protocol:
        parser.error("--params goes with --protocol; give parameters in --correctors' specs")
    if args.protocol:
        lines = args.lines if "--lines" in (argv if argv is not None else sys.argv) else None
        return protocol_main(args.part, lines, only, args.params)
    print(f"sample: {args.lines} samples per dataset, random.Random({args.seed}).sample")
    built = [correctors.from_spec(spec) for spec in specs]
    header = f"{'dataset':46} {'corrector':28} {'CER':>7} {'edits':>6} {'change':>8} " + (
        f"{'words':>6} {'s/sample':>8} {'tok/sample':>10}"
    )
    print(header)
    worst_rise = 0.0
    for name, items in datasets_to_run(args.lines, args.seed, only).items():
        truths = [i.truth for i in items]
        raw_cer, raw_edits, chars = corpus_cer(truths, [i.ocr for i in items])
        print(
            f"{name:46} {'raw OCR':28} {raw_cer:7.4f} {raw_edits:6d} {'':>8} "
            f"{'':>6} {'':>8} {'':>10}   ({len(items)} samples, {chars} chars)"
        )
        for spec, corrector in zip(specs, built, strict=True):
            _, out = run(corrector.correct, items)
            relative = (raw_cer - out.cer) / raw_cer if raw_cer else 0.0
            worst_rise = max(worst_rise, out.cer - raw_cer)
            print(
                f"{'':46} {spec[:28]:28} {out.cer:7.4f} {out.edits:6d} {-relative:+8.1%} "
                f"{out.changes:6d} {out.seconds / len(items):8.2f} {out.tokens / len(items):10.1f}"
            )
            sys.stdout.flush()
    for corrector in built:
        close = getattr(corrector, "close", None)
        if close is not None:
            close()
    print("change: relative to raw OCR's corpus CER; words: words the corrector changed")
    print(f"largest CER rise of any corrector: {worst_rise:+.4f} (the bar: +0.0010)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
