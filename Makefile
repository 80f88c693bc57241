# Promptism: the whole set-up on a fresh machine is `make setup` (the other targets run it first).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
PROMPT ?= two yellow stars and a blue box on a gray background
OUT    ?= out
# pytest workers: the suite is CPU-bound, one thread per worker
WORKERS ?= 2

.PHONY: setup generate show test lint bench-judge bench-unclip bench-edit bench-rerank bench-serve bench-soak bench-train bench-clip-speed clean

setup: $(STAMP)

# torch first, pinned: on this CPU machine 2.13.0 is a CPU build; an unpinned torch pulls CUDA.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the main job: four pictures of a prompt from the shipped unCLIP models, and their grid, in OUT/
generate: $(STAMP)
	$(BIN)/promptism generate "$(PROMPT)" --out "$(OUT)"

# the Scene World's ground-truth picture of a prompt, for comparison: OUT/truth.png
show: $(STAMP)
	$(BIN)/promptism world show "$(PROMPT)" --out "$(OUT)/truth.png"

# the studio's browser test drives Debian's Chromium (Playwright's own browser download fails offline)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -q chromium || ($$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium)

# ruff's lint and format checks, then every test (the slow ones too: `-m 'not slow'` skips them)
test: lint $(CHROMIUM)
	PROMPTISM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the judge's accuracy report under benchmarks/reports (about 5 minutes)
bench-judge: $(STAMP)
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/judge_accuracy.py

# unCLIP's benchmarks under benchmarks/reports/unclip_world.* (about an hour on 2 cores)
bench-unclip: $(STAMP)
	[ -f data/world50k/manifest.json ] || $(BIN)/promptism world make --out data/world50k --n 50000 --size 64
	$(BIN)/python benchmarks/unclip_world.py --data data/world50k

# editing (inpainting, variations, text-diff) under benchmarks/reports/edit_world.* (about 20 minutes, 1 thread)
bench-edit: $(STAMP)
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/edit_world.py --threads 1

# CLIP reranking: GenEval-world and variations for 1-3 candidates per picture, under
# benchmarks/reports/rerank_world.* (about 80 minutes on 2 cores). The per-candidate records in
# rerank_world_records/ let a killed run resume: delete them to measure afresh
bench-rerank: $(STAMP)
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/rerank_world.py --splits seen --threads 1 & \
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/rerank_world.py --splits heldout --threads 1; wait
	$(BIN)/python benchmarks/rerank_world.py --vary 100 --threads 2 --report

# seconds per CLIP training step of the binding presets, with the CPU steal meanwhile, under
# benchmarks/reports/clip_train_speed.* (about 5 minutes, 2 threads)
bench-clip-speed: $(STAMP)
	[ -f data/world50k/manifest.json ] || $(BIN)/promptism world make --out data/world50k --n 50000 --size 64
	$(BIN)/python benchmarks/clip_train_speed.py --data data/world50k

# the server under load and killed mid-job: benchmarks/reports/serve_load.* (about 2 minutes)
bench-serve: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py

# the server soaked for 10 minutes with mixed traffic from 8 clients: benchmarks/reports/serve_soak.*
bench-soak: $(STAMP)
	PROMPTISM_THREADS=1 $(BIN)/python benchmarks/serve_soak.py

bench-train: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py --preset base --steps 20

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
