#!/usr/bin/env bash
# Train the layout stage and the decoder that draws from its layouts (the recipe
# experiments/unclip/decoder-world-boxes.toml, a phase on the shipped decoder), on this machine's CPU:
# about 15 minutes for the layout stage and 32 for the decoder on two threads. Rerun to resume.
#   bash scripts/train_layout_decoder.sh [DATA_DIR] [RUN_DIR]
set -euo pipefail
DATA=${1:-data/world50k}
RUNS=${2:-runs}
BIN=${BIN:-.venv/bin}
export PROMPTISM_THREADS=${PROMPTISM_THREADS:-2}
[ -f "$DATA/manifest.json" ] || "$BIN/promptism" world make --out "$DATA" --n 50000 --size 64 --seed 0
[ -f "$RUNS/emb_world_v1.safetensors" ] || "$BIN/promptism" embed --data "$DATA" --out "$RUNS/emb_world_v1.safetensors" --clip world-v1
[ -f "$RUNS/layout/model/config.json" ] || "$BIN/promptism" train layout --data "$DATA" --out "$RUNS/layout"
# the recipe names its layout stage as runs/layout/model: the decoder's config.json records that path
[ -f "$RUNS/decoder-boxes/model/config.json" ] || "$BIN/promptism" train decoder --data "$DATA" \
  --embeddings "$RUNS/emb_world_v1.safetensors" --clip world-v1 --config experiments/unclip/decoder-world-boxes.toml \
  --layout "$RUNS/layout/model" --init world --out "$RUNS/decoder-boxes"
