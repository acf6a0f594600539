"""Where a model's file is: found in the models folder, put there from an embedded package, or
downloaded from the Hugging Face Hub; what the folder holds; and what a file was made from.

A model lives at `model_dir/<repo_id>/<name>.gguf`, its quantization a token of the file name
("...-Q4_K_M.gguf"), so one repo id names every quantization of a model; a file whose GGUF header
says another quantization is refused (`gguf_header`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ocrbench import rundir
from ocrbench.errors import SetupError
from ocrbench.models import catalogue
from ocrbench.models.gguf_header import check_header, contradiction
from ocrbench.models.hashing import sha256_of
from ocrbench.models.quantizations import (
    FLOAT,
    LADDER,
    canonical_quantization,
    names_quantization,
    quantization_of,
)
from ocrbench.models.spec import DEFAULT_MODEL_DIR, ModelSpec, model_root

Log = Callable[[str], None]


def _check_root(model_dir: str | os.PathLike[str] | None) -> None:
    """A models folder the user named must exist: a typo would otherwise get a fresh folder and
    the 242 MB default written into it. Only the default folder is ours to create."""
    if model_dir:
        named = "model_dir"
    elif os.environ.get("OCRBENCH_MODEL_DIR"):
        named = "$OCRBENCH_MODEL_DIR"
    else:
        return
    root = model_root(model_dir)
    if root.is_dir():
        return
    if root.exists():
        raise SetupError(
            f"model folder {root} (from {named}) is a file, not a folder: name a folder, or "
            f"leave {named} unset to use the default {DEFAULT_MODEL_DIR}, which ocrbench creates"
        )
    raise SetupError(
        f"model folder {root} (from {named}) does not exist; create it (mkdir -p {root}), or "
        f"leave {named} unset to use the default {DEFAULT_MODEL_DIR}, which ocrbench creates"
    )


def say(logging: Log | None, message: str) -> None:
    """A message to the user's logging callback. One that raises is warned about, not passed
    on: its error must not replace a correction, nor drop a model being loaded (which then no
    close could reach)."""
    if logging is None:
        return
    try:
        logging(message)
    except Exception as error:
        warnings.warn(
            f"the logging callback raised {type(error).__name__}: {error}", RuntimeWarning,
            stacklevel=2,
        )  # fmt: skip


def _gguf_files(folder: Path) -> list[Path]:
    # Dot-files are our own half-written temporaries: never a candidate.
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.gguf") if p.is_file() and not p.name.startswith("."))


def matching(folder: Path, quantization: str) -> list[Path]:
    return [p for p in _gguf_files(folder) if names_quantization(p.name, quantization)]


def resolve(spec: ModelSpec, *, logging: Log | None = None, create: bool = False) -> Path:
    """The .gguf file for (repo_id, quantization): found, assembled or downloaded; or SetupError,
    also when its GGUF header says another quantization than its name.

    A models folder named by model_dir or $OCRBENCH_MODEL_DIR must exist unless `create` (for
    commands whose job is to write models there)."""
    path = _resolve(spec, logging, create)
    check_header(path, canonical_quantization(spec.quantization))
    _check_published(spec, path)
    return path


def _not_published(repo_id: str, quantization: str | None, path: Path) -> bool:
    """Whether a file stands for an embedded model's published file (its name; any file of a
    one-file repo at its quantization) but holds other bytes than it."""
    entry = catalogue.embedded(repo_id, quantization or "") if quantization else None
    # A repo of one file: whatever resolves for its quantization stands for that file.
    if entry is None or (path.name != entry.file and not entry.single_file):
        return False
    return sha256_of(path) != entry.sha256


def _check_published(spec: ModelSpec, path: Path) -> None:
    """A file under an embedded model's name must be that model's published file (its sha256 is
    known): other weights there would be measured and labelled as it."""
    quantization = canonical_quantization(spec.quantization)
    if not _not_published(spec.repo_id, quantization, path):
        return
    entry = catalogue.embedded(spec.repo_id, quantization)
    assert entry is not None  # a file not published stands for an embedded one
    raise SetupError(
        f"model file {path} is not the published {entry.repo_id} {entry.quantization} file "
        f"(its sha256 is {sha256_of(path)[:16]}..., the published one's {entry.sha256[:16]}...): "
        "remove it, and it is put back from the installed package"
    )


def _resolve(spec: ModelSpec, logging: Log | None, create: bool) -> Path:
    if not create:
        _check_root(spec.model_dir)
    quantization = canonical_quantization(spec.quantization)
    folder = spec.folder
    found = matching(folder, quantization)
    if len(found) > 1:
        raise SetupError(
            f"several {quantization} files for {spec.repo_id} in {folder}: "
            f"{', '.join(p.name for p in found)}; keep one of them there"
        )
    if found:
        return found[0]
    entry = catalogue.embedded(spec.repo_id, quantization)
    if entry is not None:
        if not entry.installed():
            raise SetupError(entry.missing())
        say(logging, f"putting the embedded model {entry.repo_id} into {folder}")
        target = folder / entry.file
        return entry.install(target, partial_name(target))
    if spec.allow_download:
        return _download(spec.repo_id, quantization, folder, logging)
    raise SetupError(_missing_message(spec, quantization, folder))


def _missing_message(spec: ModelSpec, quantization: str, folder: Path) -> str:
    download = "set allow_download=true to fetch it from the Hugging Face Hub"
    present = _gguf_files(folder)
    if not present:
        known = sorted({m.repo_id for m in available(spec.model_dir)})
        return (
            f"no model files for repo {spec.repo_id!r} in {folder} "
            f"(local repos: {', '.join(known) or 'none'}); {download}, "
            f"or put its {quantization} .gguf file in that folder"
        )
    have = [f"{p.name} ({quantization_of(p.name) or '?'})" for p in present]
    # Suggest the most precise file there as the source (LADDER runs from f32 down).
    quantizations = {quantization_of(p.name) for p in present}
    source = next((q for q in LADDER if q in quantizations), None)
    make = (
        f"make it with `ocrbench models quantize {spec.repo_id}:{source} --to {quantization}`, "
        if source and quantization in LADDER
        else ""
    )
    return (
        f"no {quantization} file for {spec.repo_id} in {folder}, which has {', '.join(have)}; "
        f"{make}{download}, or put a .gguf file named with {quantization!r} there"
    )


def partial_name(target: Path, pid: int | None = None) -> Path:
    # Not *.gguf and a dot-file: an interrupted write is never resolved as a model. The writer's
    # host and pid: only this host can tell whether the writer is gone (a shared models folder).
    return target.with_name(f".{target.name}.{_host()}-{pid or os.getpid()}.partial")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def clear_partials(folder: Path) -> None:
    """Remove the partial files of this host's writers that are gone (a quantize or an install
    killed with SIGKILL): a model can be a gigabyte. A live writer's, or another host's, stays."""
    for partial in folder.glob(".*.partial") if folder.is_dir() else ():
        host, _, pid = partial.name.rsplit(".", 2)[-2].rpartition("-")
        if host == _host() and pid.isdigit() and not _alive(int(pid)):
            partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _download(repo_id: str, quantization: str, folder: Path, logging: Log | None) -> Path:
    """Fetch the repo's one .gguf file named with this quantization from the Hugging Face Hub."""
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError:
        raise SetupError(
            "allow_download needs huggingface_hub: pip install 'ocrbench[llm]'"
        ) from None
    # Said first: with no network the hub's retries take about 20 s before its error.
    say(logging, f"asking the Hugging Face Hub for {repo_id} ({quantization})")
    with _quiet_hub():  # its retries log a line each; what failed is said once, below
        return _fetch(HfApi, hf_hub_download, repo_id, quantization, folder, logging)


@contextlib.contextmanager
def _quiet_hub() -> Any:
    from huggingface_hub.utils import logging as hub_logging

    before = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        yield
    finally:
        hub_logging.set_verbosity(before)


def _fetch(
    HfApi: Any, hf_hub_download: Any, repo_id: str, quantization: str, folder: Path,
    logging: Log | None,
) -> Path:  # fmt: skip
    try:
        names = [n for n in HfApi().list_repo_files(repo_id) if n.endswith(".gguf")]
    except Exception as error:  # the hub raises many kinds (HTTP, network, auth)
        raise SetupError(
            f"could not list {repo_id} on the Hugging Face Hub ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); check the repo id, the "
            f"network and HF_TOKEN, or put the .gguf file in {folder}"
        ) from None
    chosen = [n for n in names if names_quantization(Path(n).name, quantization)]
    if len(chosen) != 1:
        what = "no .gguf file" if not chosen else f"several .gguf files ({', '.join(chosen)})"
        raise SetupError(
            f"{repo_id} on the Hub has {what} for quantization {quantization!r}; "
            f"its .gguf files: {', '.join(names) or 'none'}"
        )
    published = _published_sha256(HfApi, repo_id, chosen[0])
    say(logging, f"downloading {chosen[0]} from {repo_id} into {folder}")
    try:
        fetched = Path(hf_hub_download(repo_id, chosen[0], local_dir=folder))
    except Exception as error:
        said = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SetupError(
            f"could not download {chosen[0]} from {repo_id} ({type(error).__name__}: {said}); "
            f"check the network and HF_TOKEN, or put the file in {folder}"
        ) from None
    finally:
        _tidy(folder, chosen[0])
    target = folder / fetched.name
    if fetched != target:  # it lived in a subfolder of the repo: keep the flat layout
        os.replace(fetched, target)
        _tidy(folder, chosen[0])
    if published is not None and sha256_of(target) != published:
        target.unlink()
        raise SetupError(
            f"{chosen[0]} downloaded from {repo_id} is not the file the Hub publishes (its sha256 "
            f"there is {published[:16]}...): not kept; download it again"
        )
    header_says = contradiction(target, quantization)
    if header_says is not None:
        target.unlink()
        raise SetupError(
            f"{chosen[0]} from {repo_id} is named {quantization} but its GGUF header says "
            f"{header_says}: not kept; the repo mislabels it"
        )
    return target


def _published_sha256(HfApi: Any, repo_id: str, name: str) -> str | None:
    """The sha256 the Hub publishes for a file (LFS files, as model files are); None where it
    publishes none. The hub's client checks a download's size only."""
    try:
        (info,) = HfApi().get_paths_info(repo_id, [name])
    except Exception as error:  # the hub raises many kinds (HTTP, network, auth)
        raise SetupError(
            f"could not ask the Hugging Face Hub about {name} in {repo_id} "
            f"({type(error).__name__}); check the network and HF_TOKEN"
        ) from None
    lfs = getattr(info, "lfs", None)
    found = getattr(lfs, "sha256", None)
    return str(found) if found else None


def _tidy(folder: Path, name: str) -> None:
    """What the hub's download leaves beside the file (its `.cache/huggingface` notes, the empty
    subfolders of a file fetched from one): the models folder holds model files only."""
    shutil.rmtree(folder / ".cache" / "huggingface", ignore_errors=True)
    for empty in [folder / ".cache", *(folder / p for p in Path(name).parents if p != Path("."))]:
        with contextlib.suppress(OSError):  # not empty, or not there: left as it is
            empty.rmdir()


class LocalModel(NamedTuple):
    """One model file in the models folder, for `ocrbench models list`."""

    repo_id: str
    quantization: str | None
    path: Path
    size: int
    made_from: str | None = None  # the quantized file's quantization `quantize` made it from
    header: str | None = None  # what its GGUF header says, where that contradicts its name
    unpublished: bool = False  # under an embedded model's name, but not its published file

    @property
    def label(self) -> str:
        if self.header is not None:
            return f"refused: named {self.quantization}, its GGUF header says {self.header}"
        if self.unpublished:
            return f"refused: not the published file of {self.repo_id} {self.quantization}"
        return quantization_label(self.quantization or "?", self.made_from)


def available(model_dir: str | os.PathLike[str] | None = None) -> list[LocalModel]:
    """Every .gguf file under the models folder, as (repo_id, quantization, path, size)."""
    root = model_root(model_dir)
    if not root.is_dir():
        return []
    models = []
    for path in sorted(root.rglob("*.gguf")):
        if path.name.startswith(".") or not path.is_file():
            continue
        repo_id = path.parent.relative_to(root).as_posix()
        made_from = made_from_quantized(path, repo_id)
        size = path.stat().st_size
        quantization = quantization_of(path.name)
        header = contradiction(path, quantization)
        unpublished = _not_published(repo_id, quantization, path)
        models.append(LocalModel(repo_id, quantization, path, size, made_from, header, unpublished))
    return models


# What `quantize` made a file from, in a file beside it: "q8_0" made from a Q4_K_M holds Q4_K_M's
# information in q8_0's format, and every figure measured on it must say so.
ORIGIN_SUFFIX = ".origin.json"


def origin_path(model: Path) -> Path:
    return model.with_name(model.name + ORIGIN_SUFFIX)


def origin(model: Path) -> dict[str, Any] | None:
    """{"file", "quantization", "sha256", "quantized"} of the source `quantize` made it from, and
    "made": the made file's size, mtime and sha256. None without a note, or with one for a file
    since replaced (a note written before "made" was recorded is taken at its word)."""
    try:
        found = json.loads(origin_path(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or "quantization" not in found:
        return None
    made = found.get("made")
    return None if isinstance(made, dict) and not _still(model, made) else found


def _still(model: Path, made: dict[str, Any]) -> bool:
    """Whether `model` is the file a note was written for: the same size and mtime (cheap), or
    failing the mtime (a copy), the same sha256."""
    try:
        stat = model.stat()
    except OSError:
        return False
    if stat.st_size != made.get("size"):
        return False
    return stat.st_mtime_ns == made.get("mtime_ns") or sha256_of(model) == made.get("sha256")


def record_origin(model: Path, source: Path, made: Path | None = None) -> dict[str, Any]:
    """Note beside `model` what it was made from, and what `made` (the file written, by default
    `model` itself) is, so that a note outliving its file is ignored. A source that was itself
    made from a quantized file passes on that file's quantization (a q8_0 from a q6_k from a
    Q4_K_M is from Q4_K_M)."""
    inherited = origin(source)
    quantization = quantization_of(source.name) or "unknown"
    if inherited is not None and inherited.get("quantized"):
        quantization = str(inherited["quantization"])
    record = {
        "file": source.name,
        "quantization": quantization,
        "sha256": sha256_of(source),
        "quantized": quantization not in FLOAT,
    }
    written = made or model
    stat = written.stat()
    record["made"] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "sha256": sha256_of(written)}  # fmt: skip
    # Whole or not at all: a note cut short (a full disk) would unmark the file it describes.
    rundir.write_text(origin_path(model), json.dumps(record, indent=1) + "\n")
    return record


def made_from_quantized(model: Path, repo_id: str) -> str | None:
    """The quantization of the quantized file this one was made from; None for a file of its own
    (downloaded, embedded, or made from a float file). A file with no note in the folder of an
    embedded repo whose Hub repo holds one file only was made here, by an ocrbench that kept no
    notes yet: it is from the embedded file."""
    found = origin(model)
    if found is not None:
        return str(found["quantization"]) if found.get("quantized") else None
    entry = catalogue.single_file_repo(repo_id)
    if entry is not None and model.name != entry.file:
        return entry.quantization
    return None


def quantization_label(quantization: str, made_from: str | None) -> str:
    """ "q8_0" or "q8_0, from Q4_K_M": what the results, the report and `models list` print."""
    return quantization if not made_from else f"{quantization}, from {made_from.upper()}"
