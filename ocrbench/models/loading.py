"""Loading a model with llama.cpp: once per process for the same file and settings, freed
explicitly like the tutorial's `free_resources()`; and what runs on the GPU.

llama_cpp is imported only when a model is loaded or quantized, so this module is cheap to import.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocrbench.cache import file_version
from ocrbench.errors import SetupError
from ocrbench.executors import threads
from ocrbench.models.files import Log, made_from_quantized, quantization_label, resolve, say
from ocrbench.models.hashing import sha256_of
from ocrbench.models.quantizations import canonical_quantization
from ocrbench.models.spec import ModelSpec

if TYPE_CHECKING:
    import llama_cpp

# Architectures whose GGUFs may carry no chat template (base models) -> llama_cpp's chat format.
CHAT_FORMAT_FALLBACK = {"gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma"}


def llama_cpp_module() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise SetupError(
            "LLM correctors need llama-cpp-python: pip install 'ocrbench[llm]'"
        ) from None
    _quiet_llama_log(llama_cpp)
    return llama_cpp


_log_callback: Any = None
# While a model loads: llama.cpp's warnings and errors, for the logging callback and, if the load
# fails, its error message (Llama(verbose=False) silences llama.cpp's stderr meanwhile).
_heard: list[str] | None = None
_WARN, _ERROR = 3, 4  # GGML_LOG_LEVEL_WARN and _ERROR in the llama.cpp this wheel is built from


def _quiet_llama_log(llama_cpp: Any) -> None:
    """Send llama.cpp's log to stderr only for errors (its info and warnings run to pages); while
    a model loads, its warnings and errors to `_heard`."""
    global _log_callback
    if _log_callback is not None:
        return

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, user_data: Any) -> None:
        line = text.decode("utf-8", errors="replace")
        if _heard is not None and level in (_WARN, _ERROR):
            _heard.append(line.strip())
        elif level == _ERROR:
            sys.stderr.write(line)

    _log_callback = log  # kept alive: llama.cpp holds only a C pointer to it
    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))


def check_gguf(path: Path) -> None:
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise SetupError(
            f"{path} is not a GGUF model (it starts with {magic!r}, not b'GGUF'); "
            "delete it and get the file again"
        )


@dataclass(eq=False)
class LoadedModel:
    """A loaded model, shared in the process; `close()` frees it (free_resources in the seed).

    Its users (a corrector's scoring context, a prompt's chat completions) may run in several
    threads: each holds `lock` while it uses the model, and `close` takes it too, so the weights
    are never freed under a decode. What was made from the model (a scoring context) registers
    with `on_close` and is freed first: freed after the weights, it would touch freed memory."""

    llama: llama_cpp.Llama
    path: Path
    sha256: str
    spec: ModelSpec
    requested_gpu_layers: int
    effective_gpu_layers: int
    _key: tuple[Any, ...] = field(repr=False)
    _logging: Log | None = field(default=None, repr=False)
    closed: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _dependents: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def on_close(self, free: Callable[[], None]) -> None:
        """Have `free` called (under the lock) before the weights are freed."""
        with self.lock:
            self._dependents.append(free)

    def close(self) -> None:
        """Free the model's memory and forget it, so the next `load` reads the file again."""
        with self.lock, _lock:  # the page in progress first, without holding up other loads
            if self.closed:
                return
            if _loaded.get(self._key) is self:
                del _loaded[self._key]
            for free in self._dependents:
                free()
            self._dependents.clear()
            closer = getattr(self.llama, "close", None)
            if closer is not None:
                closer()
            self.closed = True
        say(self._logging, f"freed {self.path.name}")

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_loaded: dict[tuple[Any, ...], LoadedModel] = {}
_replaced: list[LoadedModel] = []  # models whose file was replaced since they were loaded
_lock = threading.RLock()


def load(spec: ModelSpec, *, logits_all: bool = False, logging: Log | None = None) -> LoadedModel:
    """The spec's model, loaded once per process for the same file and settings."""
    path = resolve(spec, logging=logging)
    settings = (path.resolve(), spec.gpu_layers, spec.n_ctx, spec.n_threads, spec.seed, logits_all)
    key = (*settings, *file_version(path))  # a file replaced in place is another model
    with _lock:
        if key in _loaded:
            return _loaded[key]
        for stale in [k for k in _loaded if k[: len(settings)] == settings]:
            # Its file was replaced: not served again, but whoever holds it may still use it;
            # close_all frees it with the others.
            _replaced.append(_loaded.pop(stale))
        check_gguf(path)
        llama_cpp = llama_cpp_module()
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        if spec.gpu_layers and not offload:
            say(
                logging,
                f"this llama-cpp-python build has no GPU offload: gpu_layers={spec.gpu_layers} "
                "requested, 0 used",
            )
        quantization = quantization_label(
            canonical_quantization(spec.quantization), made_from_quantized(path, spec.repo_id)
        )  # what runs, said: "q8_0, from Q4_K_M" holds no more than the Q4_K_M
        say(logging, f"loading {path} ({quantization}; n_ctx={spec.n_ctx})")
        global _heard
        heard: list[str] = []
        _heard = heard
        try:
            llama = llama_cpp.Llama(
                str(path),
                n_gpu_layers=spec.gpu_layers if offload else 0,
                n_ctx=spec.n_ctx,
                n_threads=spec.n_threads or threads(),  # a sweep worker's share, else all
                seed=spec.seed,
                logits_all=logits_all,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            said = next((line for line in heard if "error loading model" in line), "")
            why = said or (heard[0] if heard else type(error).__name__)
            raise SetupError(
                f"llama.cpp could not load {path} ({why}): the file is truncated, corrupt, or a "
                "model this llama.cpp does not know; delete it and resolve again"
            ) from None
        finally:
            _heard = None
            for line in heard:
                say(logging, f"llama.cpp: {line}")
        metadata = llama.metadata
        architecture = metadata.get("general.architecture", "")
        if "tokenizer.chat_template" not in metadata and architecture in CHAT_FORMAT_FALLBACK:
            llama.chat_format = CHAT_FORMAT_FALLBACK[architecture]  # a base model: no template
        effective = _effective_gpu_layers(spec.gpu_layers, offload, metadata, architecture)
        if offload:
            say(logging, f"gpu layers: {effective} (requested {spec.gpu_layers})")
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


def effective_gpu_layers(spec: ModelSpec) -> int | None:
    """Layers that really run on the GPU for this spec: 0 when llama.cpp has no offload (known
    without loading anything), else what a loaded model of this spec reports; None if unknown."""
    if spec.gpu_layers == 0 or not llama_cpp_module().llama_supports_gpu_offload():
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
    for model in [*_loaded.values(), *_replaced]:
        model.close()
    _replaced.clear()


def gpu_offload() -> bool:
    """Whether this llama.cpp build offloads to a GPU (False when llama.cpp is not installed)."""
    try:
        return bool(llama_cpp_module().llama_supports_gpu_offload())
    except SetupError:
        return False


def block_count(spec: ModelSpec) -> int | None:
    """The model's transformer blocks, read from its GGUF metadata (vocabulary only, no weights)."""
    path = resolve(spec)
    check_gguf(path)
    llama = llama_cpp_module().Llama(str(path), vocab_only=True, verbose=False)
    try:
        metadata = llama.metadata
        blocks = metadata.get(f"{metadata.get('general.architecture', '')}.block_count")
        return int(blocks) if blocks is not None else None
    finally:
        llama.close()


def gpu_layer_settings(offload: bool, blocks: int | None) -> list[int]:
    """What `gpu_layers: auto` sweeps: none, half and all of the layers where llama.cpp can
    offload; 0 alone where it cannot (every setting would run the same work on the CPU)."""
    if not offload:
        return [0]
    return [0, -1] if not blocks else [0, (blocks + 1) // 2, -1]
