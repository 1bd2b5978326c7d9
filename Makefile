# Two commands on a fresh machine: `make serve` runs the service, `make test` runs the tests.
# Both create .venv on first use. `make serve` installs the runtime dependencies only (its own
# stamp); `make test` (and `make install`) add the test extras and promtool on top (ruff, buf,
# hadolint, grpcio-tools: about 0.2 GB). Without an NVIDIA GPU the CPU build of torch (TORCH_SPEC) is installed
# from the PyTorch CPU wheel index, falling back to the default index within seconds when that
# index is unreachable (scripts/install_torch.sh); with a GPU, pip's default (CUDA) build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed-test
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_SPEC ?= $(if $(HAS_GPU),torch,torch==2.13.0)
PYTEST_ARGS ?=

.PHONY: install install-runtime serve test test-fast proto lint format bench-cpu clean

# What ruff lints and formats (the generated API code in flopwatt/v1 is left as protoc writes it).
RUFF_PATHS := estimate service bench kernels tests scripts flopwatt/__init__.py flopwatt/__main__.py

# The development install: runtime, test extras and promtool.
install: $(STAMP)

# What serving needs and nothing more.
install-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	bash scripts/install_torch.sh $(BIN)/python "$(TORCH_SPEC)" "$(HAS_GPU)"
	$(BIN)/python -m pip install -q -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	bash scripts/install_promtool.sh $(BIN)
	touch $(STAMP)

serve: $(RUNTIME_STAMP)
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

bench-cpu: $(RUNTIME_STAMP)
	$(BIN)/flopwatt bench --device cpu --suite quick

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
