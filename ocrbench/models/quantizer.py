"""`ocrbench models quantize`: a model in other quantizations, made locally with llama.cpp, each
beside its source (so the same repo id resolves it) with a note of what it was made from."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

from ocrbench import signals
from ocrbench.errors import ConfigError, SetupError
from ocrbench.models.files import (
    Log,
    clear_partials,
    made_from_quantized,
    matching,
    origin,
    origin_path,
    partial_name,
    record_origin,
    resolve,
    say,
)
from ocrbench.models.gguf_header import check_header
from ocrbench.models.loading import check_gguf, llama_cpp_module
from ocrbench.models.quantizations import (
    FLOAT,
    LADDER,
    canonical_quantization,
    quantization_of,
    strip_quantization,
)
from ocrbench.models.spec import ModelSpec


def quantize(spec: ModelSpec, targets: Sequence[str], *, logging: Log | None = None) -> list[Path]:
    """Make the spec's model in other quantizations, beside it so the same repo id resolves them.

    Each target lands at model_dir/<repo_id>/<stem>-<QUANT>.gguf (skipped when that quantization
    is already there), written under a temporary name and renamed when complete.

    Quantizing from an already quantized file (llama.cpp's allow_requantize) cannot restore what
    the first quantization threw away: an f16 made from a Q4_K_M holds the Q4_K_M's weights, no
    better. It is still a real f16 file, with f16's size and speed, for speed comparisons; for
    quality comparisons start from an f16/f32 original. So each file made gets a note of its
    source (`files.record_origin`), every listing and result marks it ("q8_0, from Q4_K_M"), and
    a quantized source is warned about once.

    Unlike `resolve`, it creates a models folder that does not exist yet (the embedded default is
    assembled there first).
    """
    wanted = [canonical_quantization(t) for t in targets]
    unknown = [t for t in wanted if t not in LADDER]
    if unknown:
        raise ConfigError(
            f"cannot quantize to {', '.join(unknown)}: known targets are {', '.join(LADDER)}"
        )
    source = resolve(spec, logging=logging, create=True)  # writing models is this command's job
    clear_partials(source.parent)
    check_gguf(source)
    llama_cpp = llama_cpp_module()
    made = []
    lossy = made_from_quantized(source, spec.repo_id) or quantization_of(source.name)
    warned = lossy in FLOAT
    for quantization in wanted:
        existing = matching(source.parent, quantization)
        if existing:
            check_header(existing[0], quantization)
            if origin_path(existing[0]).is_file() and origin(existing[0]) is None:
                raise SetupError(  # cut short, or replaced: its note is for another file
                    f"{existing[0]} is not the file quantize made (its size or content differs "
                    f"from {origin_path(existing[0]).name}): delete it and run again"
                )
            say(logging, f"{quantization}: {existing[0].name} is already there")
            made.append(existing[0])
            continue
        target = source.parent / f"{strip_quantization(source.stem)}-{quantization.upper()}.gguf"
        partial = partial_name(target)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_{LADDER[quantization]}")
        params.allow_requantize = True
        if not warned:
            say(
                logging,
                f"warning: {source.name} is a {lossy.upper() if lossy else 'quantized'} file, not "
                f"a float one: what is made from it holds its information only, and is marked "
                f"'from {lossy.upper() if lossy else 'a quantized file'}' wherever it is listed",
            )
            warned = True
        say(logging, f"quantizing {source.name} to {target.name}")
        try:
            with _stops_held():
                status = llama_cpp.llama_model_quantize(
                    str(source).encode(), str(partial).encode(), ctypes.byref(params)
                )
            if status != 0:
                free = shutil.disk_usage(source.parent).free / 2**20
                raise SetupError(
                    f"llama.cpp could not quantize {source} to {quantization} (status {status}; "
                    f"{free:,.0f} MiB free there: a full disk or a read-only folder?)"
                )
            check_header(partial, quantization)  # llama.cpp's numbers are the ones copied
            record_origin(target, source, partial)  # before the rename: never unmarked a moment
            os.replace(partial, target)
        except OSError as error:  # a read-only or full disk, the name held by a folder
            with contextlib.suppress(OSError):
                origin_path(target).unlink(missing_ok=True)  # no note for a file never made
            path = error.filename2 or error.filename  # a rename names its target second
            where = f" ({path})" if path and str(path) != str(target) else ""
            raise SetupError(f"cannot write {target}: {error.strerror or error}{where}") from None
        finally:
            with contextlib.suppress(OSError):  # a read-only folder: nothing was made to remove
                partial.unlink(missing_ok=True)
        made.append(target)
    return made


@contextlib.contextmanager
def _stops_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP while llama.cpp quantizes (in C, for seconds or minutes) would be
    raised in its logging callback, where ctypes swallows it and the command goes on: held until
    the call returns, then delivered as usual (the partial file is removed on the way out)."""
    caught: list[int] = []
    try:
        # Only those a Python handler takes (Ctrl-C's, the CLI's): one left to the system still
        # ends the process at once, as it did.
        with signals.set_for(signals.STOPS, lambda signum, frame: caught.append(signum),
                             where=callable):  # fmt: skip
            yield
    finally:
        if caught:
            signal.raise_signal(caught[0])
