#!/usr/bin/env bash
# Trains the default CLIP shipped in src/promptism/models/clip-world on the Scene World,
# measures it, and copies it into the package. About 55-60 minutes on 2 CPU cores: 15 to make the
# 200,000-picture world, 40-43 to train (world-bind21: the shipped run took 39.8 minutes, a seed-1
# replicate 40.6, at 1.02-1.22 s a step, data loading included, on a quiet host), 1 to measure.
#   bash scripts/train_clip_world.sh            (DATA=..., RUN=..., THREADS=..., PRESET=... to override)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
N=${N:-200000}
DATA=${DATA:-data/world-64-$((N / 1000))k}
RUN=${RUN:-runs/clip-world}
"$BIN/promptism" world make --out "$DATA" --n "$N" --size 64 --seed 0
PROMPTISM_THREADS=${THREADS:-2} "$BIN/promptism" train clip --data "$DATA" --out "$RUN" --preset "${PRESET:-world-bind21}"
# into the package (weights as float16: half the size), then measure what ships
"$BIN/python" -c "from promptism.clip.native import ship; ship('$RUN/model', 'src/promptism/models/clip-world')"
PROMPTISM_THREADS=${THREADS:-2} "$BIN/python" benchmarks/clip_quality.py --model world --data "$DATA"
