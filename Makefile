# Two commands on a fresh machine: `make serve` runs the service, `make test` runs the tests.
# Both create .venv on first use. Without an NVIDIA GPU the CPU build of torch is installed
# (TORCH_SPEC); with one, pip's default (CUDA) build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_SPEC ?= $(if $(HAS_GPU),torch,torch==2.13.0)
PYTEST_ARGS ?=

.PHONY: install serve test test-fast proto lint format bench-cpu clean

# What ruff lints and formats (the generated API code in flopwatt/v1 is left as protoc writes it).
RUFF_PATHS := estimate service bench kernels tests scripts flopwatt/__init__.py flopwatt/__main__.py

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	bash scripts/install_promtool.sh $(BIN)
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/flopwatt serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast tier: unit tests without the slow ones (about a minute); `make test` is what CI runs.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit -m "not slow" $(PYTEST_ARGS)

proto: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

lint: $(STAMP)
	$(BIN)/ruff check $(RUFF_PATHS)
	$(BIN)/ruff format --check $(RUFF_PATHS)
	$(BIN)/buf lint
	$(BIN)/hadolint --config .hadolint.yaml Dockerfile

format: $(STAMP)
	$(BIN)/ruff check --fix $(RUFF_PATHS)
	$(BIN)/ruff format $(RUFF_PATHS)

bench-cpu: $(STAMP)
	$(BIN)/flopwatt bench --device cpu --suite quick

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
