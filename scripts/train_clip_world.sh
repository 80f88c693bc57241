#!/usr/bin/env bash
# Trains the default CLIP shipped in src/promptism/models/clip-world on the Scene World,
# measures it, and copies it into the package. About 85-95 minutes on 2 CPU cores: 15 to make the
# 200,000-picture world, 65-75 to train (world-bind17: 1.45-1.7 s a step on today's code, by how busy
# the host is, benchmarks/reports/clip_train_speed.md; the shipped run took 88 on older code), 1 to measure.
#   bash scripts/train_clip_world.sh            (DATA=..., RUN=..., THREADS=..., PRESET=... to override)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
N=${N:-200000}
DATA=${DATA:-data/world-64-$((N / 1000))k}
RUN=${RUN:-runs/clip-world}
"$BIN/promptism" world make --out "$DATA" --n "$N" --size 64 --seed 0
PROMPTISM_THREADS=${THREADS:-2} "$BIN/promptism" train clip --data "$DATA" --out "$RUN" --preset "${PRESET:-world-bind17}"
# into the package (weights as float16: half the size), then measure what ships
"$BIN/python" -c "from promptism.clip.ours import ship; ship('$RUN/model', 'src/promptism/models/clip-world')"
PROMPTISM_THREADS=${THREADS:-2} "$BIN/python" benchmarks/clip_quality.py --model world --data "$DATA"
