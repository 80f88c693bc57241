#!/usr/bin/env bash
# Trains the default CLIP shipped in src/promptism/models/clip-world on the Scene World,
# measures it, and copies it into the package. About 40 minutes on 2 CPU cores.
#   bash scripts/train_clip_world.sh            (DATA=..., RUN=..., THREADS=... to override)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DATA=${DATA:-data/world-64-50k}
RUN=${RUN:-runs/clip-world}
"$BIN/promptism" world make --out "$DATA" --n 50000 --size 64 --seed 0
PROMPTISM_THREADS=${THREADS:-2} "$BIN/promptism" train clip --data "$DATA" --out "$RUN" --preset world
PROMPTISM_THREADS=${THREADS:-2} "$BIN/python" benchmarks/clip_quality.py --model "$RUN/model" --data "$DATA"
rm -rf src/promptism/models/clip-world && mkdir -p src/promptism/models/clip-world
cp "$RUN/model/config.json" "$RUN/model/model.safetensors" "$RUN/model/tokenizer.json" src/promptism/models/clip-world/
