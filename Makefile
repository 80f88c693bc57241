# Promptism: the whole set-up on a fresh machine is `make setup` (the other targets run it first).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
PROMPT ?= two yellow stars and a blue box on a gray background
OUT    ?= scene.png
# pytest workers: the suite is CPU-bound, one thread per worker
WORKERS ?= 2

.PHONY: setup show test bench-judge clean

setup: $(STAMP)

# torch first, pinned: on this CPU machine 2.13.0 is a CPU build; an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the main job (for now: the ground-truth picture of a prompt; unCLIP's `generate` will replace it)
show: $(STAMP)
	$(BIN)/promptism world show "$(PROMPT)" --out "$(OUT)"

test: $(STAMP)
	PROMPTISM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(WORKERS)

# the judge's accuracy report under benchmarks/reports (about 5 minutes)
bench-judge: $(STAMP)
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/judge_accuracy.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
