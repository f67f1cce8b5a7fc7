# Two jobs for a newcomer: `make demo` (main job) and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch first, pinned: on this project's machines pip takes the local CPU wheel (0.9 GB) instead of a
# multi-GB CUDA build. Elsewhere, for a CPU-only build: make TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC     ?= torch==2.13.0
TORCH_PIP_ARGS ?=

.PHONY: install data demo showcase test lint clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

data: install
	$(BIN)/deepfake-lab data fetch

demo: data
	$(BIN)/deepfake-lab demo --out deepfake-lab-demo

showcase: data
	$(BIN)/deepfake-lab showcase --data mnist --out runs/showcase-$$(date +%Y%m%d-%H%M%S)

lint: install
	$(BIN)/ruff check src tests benchmarks

test: data lint
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
