"""Run the notebooks in `notebooks/` headless, through papermill, with parameters.

    run_notebook("quickstart", {"image": "datasets/invoices-synth/images/026-invoice.jpg"})

writes the executed copy to `runs/notebooks/01-quickstart.ipynb`. The kernel works from the
repository's root (as the notebooks themselves do when opened in Jupyter), so relative paths in
parameters are relative to the repository. papermill is imported only here, on demand: it belongs
to the `notebooks` extra.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ocrbench.errors import ConfigError, OcrbenchError, SetupError
from ocrbench.registry import did_you_mean

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = Path("runs/notebooks")
_NUMBER = re.compile(r"^\d+-")


def available() -> dict[str, Path]:
    """Every notebook by its short name ("quickstart" for 01-quickstart.ipynb), in order."""
    if not NOTEBOOKS.is_dir():
        raise SetupError(
            f"{NOTEBOOKS}: no notebooks folder; they ship with the source, not the wheel: "
            "clone the repository and install it with pip install -e ."
        )
    return {_NUMBER.sub("", p.stem): p for p in sorted(NOTEBOOKS.glob("*.ipynb"))}


def find(name: str) -> Path:
    """A notebook by name, with or without its number and extension: "quickstart",
    "01-quickstart" and "01-quickstart.ipynb" are the same one."""
    known = available()
    short = _NUMBER.sub("", name.removesuffix(".ipynb"))
    if short in known:
        return known[short]
    raise ConfigError(
        f"no notebook {name!r}{did_you_mean(short, known)}; known: {', '.join(known)}"
    )


def parse_value(text: str) -> Any:
    """A parameter typed on the command line: a decimal integer ("4", "010" -> 10), a finite
    decimal number ("0.5", "1e3"), true/false or null (any case); anything else (a path, a name,
    "1:30", "yes") stays the string it was. Not YAML 1.1, which reads "010" as 8, "1:30" as 90 and
    "yes" as True."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~"):
        return None
    if _INTEGER.fullmatch(text.strip()):
        return int(text)
    if _DECIMAL.fullmatch(text.strip()):
        return float(text)
    return text


_INTEGER = re.compile(r"[-+]?\d+")
_DECIMAL = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def parse_parameters(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`-p key value` pairs from the command line as typed parameters."""
    return {key: parse_value(value) for key, value in pairs}


def _papermill() -> Any:
    try:
        import papermill
    except ImportError:
        raise SetupError(
            'running notebooks needs the notebooks extra: pip install "ocrbench[notebooks]"'
        ) from None
    return papermill


def _check_names(papermill: Any, notebook: Path, parameters: Mapping[str, Any]) -> None:
    """papermill only warns about a parameter the notebook does not declare: a typo would run
    the notebook on its defaults. Refuse it instead."""
    declared = papermill.inspect_notebook(str(notebook))
    for key in parameters:
        if key not in declared:
            raise ConfigError(
                f"{notebook.name} has no parameter {key!r}{did_you_mean(key, declared)}; "
                f"it takes: {', '.join(declared) or 'none'}"
            )


def _failure(error: Any, output: Path) -> OcrbenchError:
    """One line from papermill's error: which cell, what it raised, where the partial copy is."""
    message = str(error.evalue).strip().splitlines()
    evalue = message[-1] if message else ""
    hint = ""
    if error.ename == "ModuleNotFoundError" and "ocrbench" in evalue:
        hint = (
            " (the 'python3' kernel runs another Python: "
            ".venv/bin/python -m ipykernel install --sys-prefix --name python3)"
        )
    return OcrbenchError(
        f"{output.name}: cell {error.exec_count} failed: {error.ename}: {evalue}{hint}; "
        f"the partly executed notebook is {output}"
    )


def _cannot_write(output: Path, error: OSError) -> str:
    return f"cannot write the executed notebook into {output.parent}: {error.strerror or error}"


def run_notebook(
    name: str, parameters: Mapping[str, Any] | None = None, out_dir: Path | None = None
) -> Path:
    """Execute `notebooks/NAME.ipynb` with `parameters` into `out_dir` (default runs/notebooks/,
    relative to the current directory) and return the executed notebook's path."""
    notebook = find(name)
    papermill = _papermill()
    parameters = dict(parameters or {})
    _check_names(papermill, notebook, parameters)
    output = (out_dir or DEFAULT_OUT).resolve() / notebook.name
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OcrbenchError(_cannot_write(output, error)) from None
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(ROOT))
    except papermill.PapermillExecutionError as error:
        raise _failure(error, output) from None
    except OSError as error:
        if error.filename is not None and Path(error.filename) != output:
            # not the notebook's write: a kernel that cannot start (its interpreter gone), ...
            raise OcrbenchError(
                f"{notebook.name} could not be run: {error.strerror or error} ({error.filename})"
            ) from None
        # papermill writes in place: what a full disk left is not a notebook
        with contextlib.suppress(OSError):
            output.unlink()
        raise OcrbenchError(_cannot_write(output, error)) from None
    except NoSuchKernel as error:
        raise SetupError(
            f"no Jupyter kernel {error.name!r} to run {notebook.name}: "
            f".venv/bin/python -m ipykernel install --sys-prefix --name {error.name}"
        ) from None
    return output
