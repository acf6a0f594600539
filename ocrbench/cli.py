"""The `ocrbench` command: a thin layer over the Python API.

Every user mistake surfaces as an `OcrbenchError` and is printed as one line, with a non-zero exit
code; a traceback means a bug in ocrbench.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ocrbench import signals
from ocrbench.errors import OcrbenchError

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(text: str) -> int:
    """A count option (--workers, --limit): a whole number of at least 1, said in one line."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _cache(args: argparse.Namespace) -> Any:
    from ocrbench.cache import Cache, default_root

    if args.no_cache:
        return Cache(None)
    # Absolute: the manifest records it, and not the working directory it was relative to.
    return Cache((Path(args.cache).expanduser() if args.cache else default_root()).resolve())


def _normalization(args: argparse.Namespace) -> Any:
    from ocrbench.metrics import Normalization

    return Normalization(
        casefold=args.casefold,
        collapse_whitespace=not args.keep_whitespace,
        strip_punctuation=args.strip_punctuation,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from ocrbench import datasets, models, provenance, report, results, run, rundir, training
    from ocrbench.correctors.base import model_spec_of
    from ocrbench.registry import correctors, engines
    from ocrbench.terminal import text as summary_text

    engine = engines.from_spec(args.engine)
    corrector = correctors.from_spec(args.corrector)
    if args.allow_overlap and not args.train:
        raise OcrbenchError("--allow-overlap applies to a training set: give --train DIR too")
    if args.sample and args.limit:
        raise OcrbenchError("--sample and --limit both choose samples: give one of them")
    out = Path(args.out)
    with rundir.locked(out):  # writable, and ours alone, before any work
        train = None
        if args.train:
            train = training.load(
                args.train, skip_bad=args.skip_bad, allow_outside=args.allow_outside
            )
        dataset = datasets.load(
            args.dataset, skip_bad=args.skip_bad, limit=args.limit, allow_outside=args.allow_outside
        )
        if args.sample:
            dataset = datasets.pick(dataset, [i for given in args.sample for i in given.split(",")])
        for where, bad in (
            ("", dataset.skipped),
            ("training set: ", train.skipped if train else ()),
        ):
            for skipped in bad:
                print(f"skipped: {where}line {skipped.get('line')}: {skipped.get('reason')}",
                      file=sys.stderr)  # fmt: skip
        if train is not None and not args.allow_overlap:
            training.check_overlap(train, dataset, "pass --allow-overlap")
        shared = training.say_shared_references(train, dataset) if train is not None else {}
        cache, norm, counts = _cache(args), _normalization(args), run.Counts()
        unreadable: list[dict[str, Any]] = []
        unread_training: list[dict[str, Any]] = []
        start = time.perf_counter()
        used, applied, learned = corrector, None, None
        try:
            if train is not None:
                used, applied, learned = training.prepare(
                    train, engine, corrector, cache=cache, counts=counts,
                    skipped=unread_training if args.skip_bad else None,
                )  # fmt: skip
            rows = run.run(
                dataset, engine, used, cache=cache, norm=norm, counts=counts,
                progress=not args.quiet, skipped=unreadable if args.skip_bad else None,
                training=applied,
            )  # fmt: skip
        finally:
            for component in {id(c): c for c in (used, corrector)}.values():
                close = getattr(component, "close", None)
                if close is not None:
                    close()
        seconds = time.perf_counter() - start
        for skipped in unread_training:
            print(f"skipped: {skipped['reason']}", file=sys.stderr)
        for skipped in unreadable:
            print(f"skipped: {skipped['reason']}", file=sys.stderr)
        if not rows:
            raise OcrbenchError(f"no sample of {dataset.root} could be read; nothing to report")
        learning = {}  # what the manifest says of the training set, when there was one
        if train is not None and applied is not None:
            learning["training"] = [
                {
                    **applied.train.record(),
                    **shared,
                    **(
                        {"overlap_allowed": len(training.overlap(train, dataset))}
                        if args.allow_overlap
                        else {}
                    ),  # fmt: skip
                    "dataset": dataset.name,
                    "skipped": [*train.skipped, *unread_training],
                }
            ]
            learning["fits"] = [training.record(applied, dataset.name, rows[0]["config_id"],
                                                rows[0]["config"], learned)]  # fmt: skip
        manifest = provenance.manifest(
            dataset={"path": str(dataset.root.resolve()), "name": dataset.name,
                     "sha256": dataset.content_hash(), "samples": len(rows)},
            engine={"name": engine.name, "spec": args.engine, "version": rows[0]["engine_version"]},
            corrector={"name": corrector.name, "spec": args.corrector,
                       "version": rows[0]["corrector_version"]},
            model=models.model_file(model_spec_of(corrector)),
            normalization=norm.name(),
            skipped=[*dataset.skipped, *unreadable],
            work={"ocr_run": counts.ocr_run, "ocr_cached": counts.ocr_cached,
                  "corrections_run": counts.correct_run,
                  "corrections_cached": counts.correct_cached, "fits_run": counts.fit_run,
                  "fits_cached": counts.fit_cached, "wall_seconds": round(seconds, 3)},
            cache=str(cache.root) if cache.root else None,
            **learning,
        )  # fmt: skip
        results.write(out, rows, manifest)
        frame = results.load(out)
        page = None if args.no_report else report.render(out)  # before a reader can go away
        print(summary_text(results.summary(frame), wide=args.wide, manifest=manifest))
        _print_warnings(frame)
        print(f"{counts.describe()}; {seconds:.1f} s")
        if page is not None:
            print(f"report: {page}")
    print(f"results: {out / results.RESULTS}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from ocrbench import datasets

    dataset = datasets.convert(args.format, Path(args.src), Path(args.dest), split=args.split)
    print(f"wrote {len(dataset.samples)} samples to {dataset.root / 'manifest.jsonl'}")
    if dataset.skipped:  # pairs missing a half: the user has more samples than were written
        named = [f"{entry['id']} ({entry['reason']})" for entry in dataset.skipped[:5]]
        more = len(dataset.skipped) - len(named)
        print(
            f"skipped {len(dataset.skipped)} of {len(dataset.skipped) + len(dataset.samples)} "
            f"pairs: {', '.join(named)}" + (f" and {more} more" if more > 0 else ""),
            file=sys.stderr,
        )
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from ocrbench import splits

    done = splits.write(
        Path(args.src), Path(args.dest), test=args.test, seed=args.seed, group_by=args.group_by,
        allow_outside=args.allow_outside,
    )  # fmt: skip
    if done.group_by is None:
        print(f"grouped by sample (no sample has meta.{splits.GROUP})")
    elif args.group_by is None:
        print(f"grouped by meta.{splits.GROUP} (every sample has one)")
    else:
        print(f"grouped by {done.group_by}")
    if done.merged:
        print(done.merged_note())
    for name, part in (("train", done.train), ("test", done.test)):
        print(f"{name}: {part.samples} samples, {part.groups} groups -> {part.root}")
    print(f"(--test {args.test:g} --seed {args.seed}: the same arguments give the same split)")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from ocrbench import synth

    dataset = synth.generate(Path(args.dest), n=args.n, seed=args.seed, degrade=args.degrade)
    print(f"wrote {len(dataset.samples)} pages to {dataset.root / 'manifest.jsonl'}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ocrbench import report, results, rundir, specs, sweep, terminal

    spec = specs.load(args.spec)
    for note in spec.notes:
        print(f"note: {note}", file=sys.stderr)
    out = Path(args.out or f"runs/{spec.name}")
    # A gate that cannot run is said before the sweep, not after it.
    baseline = _gate_baseline(spec) if args.gate else None
    with rundir.locked(out):  # the report too: no other run may write between
        manifest = sweep.run(
            spec, out, cache=_cache(args), workers=args.workers, progress=not args.quiet,
            skip_bad=args.skip_bad,
        )  # fmt: skip
        for dataset in manifest["datasets"]:
            for skipped in dataset["skipped"]:
                print(f"skipped: {dataset['name']}: {skipped['reason']}", file=sys.stderr)
        frame = results.load(out)
        page = None if args.no_report else report.render(out)  # before a reader can go away
        print(terminal.text(results.summary(frame), wide=args.wide, manifest=manifest))
        _print_warnings(frame)
        work = manifest["work"]
        fits = work["fits_cached"] + work["fits_run"]
        print(
            f"OCR: {work['ocr_cached']} cached, {work['ocr_run']} run; corrections: "
            f"{work['corrections_cached']} cached, {work['corrections_run']} run; "
            + (f"fits: {work['fits_cached']} cached, {work['fits_run']} run; " if fits else "")
            + f"{work['rows_resumed']} rows resumed; {work['wall_seconds']:.1f} s"
        )
        print(f"results: {out / results.RESULTS}")
        if page is not None:
            print(f"report: {page}")
    return _gate(spec, out, baseline) if baseline is not None else 0


def _gate_baseline(spec: Any) -> Path:
    """The spec's gate baseline (relative to the spec), refused in one line if it cannot be read."""
    from ocrbench import gate

    settings = dict(spec.gate or {})
    if "baseline" not in settings:
        raise OcrbenchError(f"--gate: the spec {spec.name!r} has no gate: baseline")
    baseline = Path(settings["baseline"])
    if not baseline.is_absolute():
        baseline = Path(spec.path).parent / baseline
    try:
        gate.read_baseline(baseline)
    except OcrbenchError as error:
        raise OcrbenchError(f"--gate: {error}") from None
    return baseline


def _gate(spec: Any, out: Path, baseline: Path | None = None) -> int:
    """The spec's own gate: its baseline (`_gate_baseline`'s, found already or now) and
    tolerance."""
    from ocrbench import gate

    settings = dict(spec.gate or {})
    baseline = baseline or _gate_baseline(spec)
    # gate.check validates the values (float() here would turn a typo into a traceback).
    result = gate.check(
        out, baseline,
        cer_tolerance=settings.get("cer_tolerance", 0.002),
        wer_tolerance=settings.get("wer_tolerance"),
        allow_missing=settings.get("allow_missing", False),
        shared=settings.get("shared", False),
    )  # fmt: skip
    print(result.table())
    return 0 if result.passed else 1


def cmd_report(args: argparse.Namespace) -> int:
    from ocrbench import report, results, rundir, terminal

    # No run here is one line before the lock would make the folder; a bad --by is said before
    # anything is written; a run writing the folder meanwhile is refused, not read half-way.
    if not (Path(args.run_dir) / results.RESULTS).is_file():
        results.load(args.run_dir)  # its one line
    with rundir.locked(Path(args.run_dir)):
        sliced = results.summary(results.load(args.run_dir), by=args.by) if args.by else None
        path = report.render(Path(args.run_dir), by=[args.by] if args.by else [])
    print(f"report: {path}\nsummary: {path.with_name('summary.md')}")
    if sliced is not None:
        print(terminal.text(sliced, wide=args.wide, by=args.by))
        written = Path(args.run_dir) / f"summary-by-{args.by.removeprefix('meta.')}.md"
        print(f"by {args.by}: {written}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ocrbench import compare

    done = compare.compare(Path(args.run_a), Path(args.run_b))
    print(done.text())
    return 1 if args.fail_if_worse and done.worse else 0


def cmd_check(args: argparse.Namespace) -> int:
    from ocrbench import gate

    if args.write_baseline:
        path = gate.write_baseline(Path(args.run_dir), Path(args.write_baseline))
        print(f"baseline written: {path}")
        return 0
    if not args.baseline:
        raise OcrbenchError("check needs --baseline FILE (or --write-baseline FILE to make one)")
    result = gate.check(
        Path(args.run_dir), Path(args.baseline),
        cer_tolerance=args.tolerance, wer_tolerance=args.wer_tolerance,
        allow_missing=args.allow_missing, shared=args.shared,
    )  # fmt: skip
    print(result.table())
    return 0 if result.passed else 1


def cmd_models_list(args: argparse.Namespace) -> int:
    from ocrbench import models

    print("embedded (installed from PyPI, resolved with no network):")
    for entry in models.EMBEDDED:
        state = "installed" if entry.installed() else "not installed"
        print(f"  {entry.repo_id:44} {entry.quantization:8} {entry.kind:9} "
              f"{entry.distribution} ({state}); file from {entry.origin}")  # fmt: skip
    root = models.model_root(args.model_dir)
    found = models.available(args.model_dir)
    if not found:
        print(f"no model files in {root} yet; `ocrbench models path REPO_ID` puts an embedded "
              "one there")  # fmt: skip
        return 0
    print(f'files in {root} ("from Q4_K_M": made by `models quantize` from a quantized file):')
    for model in found:
        print(f"  {model.repo_id:44} {model.label:16} {model.size / 2**20:8.1f} MiB  {model.path}")
    return 0


def cmd_models_path(args: argparse.Namespace) -> int:
    from ocrbench import models

    print(models.resolve(models.parse_model_spec(args.spec), logging=_stderr))
    return 0


def cmd_models_quantize(args: argparse.Namespace) -> int:
    from ocrbench import models

    spec = models.parse_model_spec(args.spec)
    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    for path in models.quantize(spec, targets, logging=_stderr):
        print(path)
    return 0


def _print_warnings(frame: Any) -> None:
    """Each configuration's warning once (the rows carry it: a `prompt` on a base model)."""
    if "warning" in frame:
        for warning in frame["warning"].dropna().unique():
            print(f"warning: {warning}", file=sys.stderr)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_notebook(args: argparse.Namespace) -> int:
    from ocrbench import notebooks

    parameters = notebooks.parse_parameters(args.parameters or [])
    path = notebooks.run_notebook(args.name, parameters, Path(args.out) if args.out else None)
    print(f"notebook: {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ocrbench import doctor

    for line in doctor.report():
        print(line)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ocrbench.registry import correctors, engines

    if not args.verbose:
        print("engines:    " + ", ".join(engines.names()))
        print("correctors: " + ", ".join(correctors.names()))
        return 0
    for title, kind in (("engines", engines), ("correctors", correctors)):
        print(f"{title} (parameters: name: type = default; set them as NAME:key=value,...):")
        for name in kind.names():
            print("\n".join("  " + line for line in kind.describe(name)))
    return 0


def _add_wide_option(parser: argparse.ArgumentParser, which: str = "the summary") -> None:
    parser.add_argument(
        "--wide", action="store_true",
        help=f"print every column of {which} (default: what fits 120 columns)",
    )  # fmt: skip


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--cache", metavar="DIR", help="cache folder (default $OCRBENCH_CACHE or ~/.cache/ocrbench)"
    )
    group.add_argument(
        "--no-cache",
        action="store_true",
        help="read and write no cache (a sweep still resumes the rows its --out folder holds: "
        "give a new --out to compute everything afresh)",
    )


def _add_normalization_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("text normalisation (Unicode NFC always comes first)")
    group.add_argument("--casefold", action="store_true", help="ignore case")
    group.add_argument("--strip-punctuation", action="store_true", help="ignore punctuation")
    group.add_argument(
        "--keep-whitespace", action="store_true", help="count every space and newline"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ocrbench",
        description="Benchmark OCR engines and LLM post-correctors: CER, WER and seconds.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    run = commands.add_parser("run", help="run one engine (and corrector) over a dataset")
    run.add_argument("--dataset", required=True, metavar="DIR", help="folder with manifest.jsonl")
    run.add_argument(
        "--engine",
        default="tesseract",
        metavar="NAME[:k=v,...]",
        help="e.g. tesseract:lang=eng,psm=6 or given (default tesseract)",
    )
    run.add_argument(
        "--corrector",
        default="identity",
        metavar="NAME[:k=v,...]",
        help="e.g. noisy-channel:quantization=q8_0 (default identity)",
    )
    run.add_argument("--out", required=True, metavar="DIR", help="where results and report go")
    run.add_argument("--limit", type=_count, metavar="N", help="only the first N samples")
    run.add_argument(
        "--sample", action="append", metavar="ID[,ID...]",
        help="only these samples (repeat it, or separate ids by commas)",
    )  # fmt: skip
    _add_wide_option(run)
    run.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out invalid samples and samples whose OCR fails (listed in the manifest)",
    )
    run.add_argument(
        "--allow-outside",
        action="store_true",
        help="read images outside the dataset folder (.., absolute paths, symlinks out of it)",
    )
    run.add_argument(
        "--train",
        metavar="DIR",
        help="a training dataset the corrector learns from first (read by the same engine)",
    )
    run.add_argument(
        "--allow-overlap",
        action="store_true",
        help="train even on data the test set also holds (refused by default)",
    )
    run.add_argument("--no-report", action="store_true", help="skip index.html")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_cache_options(run)
    _add_normalization_options(run)
    run.set_defaults(handler=cmd_run)

    data = commands.add_parser("datasets", help="convert, split or generate datasets")
    data_commands = data.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    data_commands.required = True
    convert = data_commands.add_parser("convert", help="turn a known layout into a dataset")
    convert.add_argument("--format", required=True, choices=["pairs", "icdar2017"])
    convert.add_argument(
        "--split",
        default="documents",
        choices=["documents", "lines"],
        help="icdar2017: one sample per document or per line (default documents)",
    )
    convert.add_argument("src")
    convert.add_argument("dest")
    convert.set_defaults(handler=cmd_convert)
    split = data_commands.add_parser(
        "split", help="split a dataset into DEST/train and DEST/test, groups kept whole"
    )
    split.add_argument("src", help="the dataset folder to split")
    split.add_argument("dest", help="where train/ and test/ go")
    split.add_argument(
        "--test", type=float, default=0.3, help="the test part's share of the samples (default 0.3)"
    )
    split.add_argument(
        "--seed", type=int, default=0, help="the same seed, the same split (default 0)"
    )
    split.add_argument(
        "--group-by",
        metavar="meta.KEY",
        help="samples with the same meta.KEY stay on one side; `id`: each sample alone (default: "
        "meta.group where the samples have it, each sample alone where none has)",
    )
    split.add_argument(
        "--allow-outside",
        action="store_true",
        help="the source's images may lie outside its folder",
    )
    split.set_defaults(handler=cmd_split)
    synth = data_commands.add_parser("synth", help="render synthetic invoices and receipts")
    synth.add_argument("--n", type=int, default=48, help="pages (default 48)")
    synth.add_argument(
        "--seed", type=int, default=2026, help="the same seed, the same pages (default 2026)"
    )
    synth.add_argument(
        "--degrade", default="mixed", choices=["clean", "mild", "heavy", "mixed"],
        help="how damaged the scans are; mixed: the three levels in turn (default mixed)",
    )  # fmt: skip
    synth.add_argument("dest")
    synth.set_defaults(handler=cmd_synth)

    sweep = commands.add_parser("sweep", help="run a grid of configurations from a YAML spec")
    sweep.add_argument("spec", help="e.g. sweeps/default.yaml")
    sweep.add_argument("--out", metavar="DIR", help="run directory (default runs/NAME)")
    sweep.add_argument(
        "--workers",
        type=_count,
        metavar="N",
        help="processes (default: the spec's, or one per core)",
    )
    sweep.add_argument("--no-report", action="store_true", help="skip index.html")
    sweep.add_argument(
        "--gate", action="store_true", help="then check the spec's gate: exit 1 if accuracy dropped"
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out invalid samples and samples whose OCR fails (listed in the manifest)",
    )
    _add_cache_options(sweep)
    _add_wide_option(sweep)
    sweep.set_defaults(handler=cmd_sweep)

    report = commands.add_parser("report", help="write index.html and summary.md for a run")
    report.add_argument("run_dir")
    report.add_argument(
        "--by", metavar="meta.KEY",
        help="also the summary per value of a sample meta key (meta.degrade, meta.group), "
        "printed and written to summary-by-KEY.md",
    )  # fmt: skip
    _add_wide_option(report, "the summary --by prints")
    report.set_defaults(handler=cmd_report)

    compare = commands.add_parser(
        "compare", help="two runs' configurations on the samples both share, paired"
    )
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    compare.add_argument(
        "--fail-if-worse", action="store_true",
        help="exit 1 when B is worse than A for some configuration (its paired interval above 0)",
    )  # fmt: skip
    compare.set_defaults(handler=cmd_compare)

    check = commands.add_parser("check", help="fail when accuracy dropped against a baseline")
    check.add_argument("run_dir")
    check.add_argument("--baseline", metavar="FILE", help="e.g. reports/baselines/default.json")
    check.add_argument("--write-baseline", metavar="FILE", help="store this run as the baseline")
    check.add_argument(
        "--tolerance",
        type=float,
        default=0.002,
        help="allowed rise in corpus CER, absolute (default 0.002)",
    )
    check.add_argument(
        "--wer-tolerance",
        type=float,
        help="allowed rise in corpus WER, absolute (default: WER is not gated)",
    )
    check.add_argument(
        "--allow-missing",
        action="store_true",
        help="pass when a baseline configuration is not in the run (default: that fails)",
    )
    check.add_argument(
        "--shared", action="store_true",
        help="compare on the samples the run and the baseline share (default: the same samples "
        "or not comparable)",
    )  # fmt: skip
    check.set_defaults(handler=cmd_check)

    model = commands.add_parser("models", help="find, fetch and quantize GGUF models")
    model_commands = model.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    model_commands.required = True
    spec_help = "REPO_ID[:QUANT][,key=value...] or key=value,...; empty = the embedded default"
    listing = model_commands.add_parser("list", help="the GGUF files in the model folder")
    listing.add_argument(
        "--model-dir", help="default $OCRBENCH_MODEL_DIR or ~/.cache/ocrbench/models"
    )
    listing.set_defaults(handler=cmd_models_list)
    path = model_commands.add_parser("path", help="resolve a model spec to its file")
    path.add_argument("spec", nargs="?", default="", help=spec_help)
    path.set_defaults(handler=cmd_models_path)
    quantize = model_commands.add_parser("quantize", help="make other quantizations of a model")
    quantize.add_argument("spec", nargs="?", default="", help=spec_help)
    quantize.add_argument("--to", required=True, help="comma-separated, e.g. f16,q8_0,q4_0")
    quantize.set_defaults(handler=cmd_models_quantize)

    notebook = commands.add_parser("notebook", help="execute a notebook headless, with parameters")
    notebook.add_argument(
        "name", help="quickstart, sweep, report or training (or 01-quickstart, ...)"
    )
    notebook.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("KEY", "VALUE"),
        help="a parameter of the notebook, repeatable; VALUE: a decimal number (4, 0.5), "
        "true/false, null, else text; relative paths are relative to the repository",
    )  # fmt: skip
    notebook.add_argument(
        "--out", metavar="DIR", help="where the executed copy goes (default runs/notebooks)"
    )
    notebook.set_defaults(handler=cmd_notebook)

    listing = commands.add_parser("list", help="the engines and correctors available")
    listing.add_argument(
        "-v", "--verbose", action="store_true", help="with each one's parameters and defaults"
    )
    listing.set_defaults(handler=cmd_list)

    doctor = commands.add_parser("doctor", help="what this machine can do (GPU, engines, models)")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


class Terminated(BaseException):
    """SIGTERM (a CI runner's stop) or SIGHUP (a closed terminal), raised where the program is, so
    cleanup (worker processes, temporary files) runs as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminated(signum: int, frame: Any) -> NoReturn:
    raise Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    # `nohup ocrbench sweep ...` must outlive its terminal: an ignored SIGHUP stays ignored.
    with signals.set_for(("SIGTERM", "SIGHUP"), _terminated, where=signals.not_ignored):
        return _handled(handler, args)


def _handled(handler: Handler, args: argparse.Namespace) -> int:
    """The command, with what a user gets wrong, a stop and a closed pipe each said in one line."""
    try:
        code = handler(args)
        sys.stdout.flush()  # a pipe closed early shows here, where it is said quietly
        return code
    except OcrbenchError as error:
        print(f"ocrbench: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`ocrbench doctor | head -1`): stop quietly, as a SIGPIPE would,
        # and point stdout at nothing so the flush at exit finds no pipe to fail on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (KeyboardInterrupt, Terminated) as stop:
        what = "terminated" if isinstance(stop, Terminated) else "interrupted"
        print(f"ocrbench: {what}; finished work is kept, run again to resume", file=sys.stderr)
        return 128 + stop.signum if isinstance(stop, Terminated) else 130
    finally:
        if "ocrbench.models" in sys.modules:  # free what a corrector loaded
            sys.modules["ocrbench.models"].close_all()


if __name__ == "__main__":
    sys.exit(main())
