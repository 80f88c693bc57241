#!/usr/bin/env bash
# Trains the default CLIP shipped in src/promptism/models/clip-world on the Scene World,
# measures it, and copies it into the package. About 32-36 minutes on 2 CPU cores.
#   bash scripts/train_clip_world.sh            (DATA=..., RUN=..., THREADS=..., PRESET=... to override)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-data/world-64-50k}
RUN=${RUN:-runs/clip-world}
"$BIN/promptism" world make --out "$DATA" --n 50000 --size 64 --seed 0
PROMPTISM_THREADS=${THREADS:-2} "$BIN/promptism" train clip --data "$DATA" --out "$RUN" --preset "${PRESET:-world-bind2}"
# into the package (weights as float16: half the size), then measure what ships
"$BIN/python" -c "from promptism.clip.ours import ship; ship('$RUN/model', 'src/promptism/models/clip-world')"
PROMPTISM_THREADS=${THREADS:-2} "$BIN/python" benchmarks/clip_quality.py --model world --data "$DATA"
