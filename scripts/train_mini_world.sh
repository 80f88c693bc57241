#!/usr/bin/env bash
# Trains DALL·E mini's transformer (the preset `world`) over the shipped VQGAN's codes of a
# 50,000-picture Scene World on this project's 2-core CPU, and ships it as
# src/promptism/models/mini-world. The pictures are encoded into runs/mini-world/codes first
# (resumable); rerun the train command to resume a killed run.
set -euo pipefail
PROMPTISM=${PROMPTISM:-promptism}
$PROMPTISM world make --out data/world-64-50k --n 50000 --size 64 --seed 0
PROMPTISM_THREADS=${PROMPTISM_THREADS:-2} $PROMPTISM train mini --data data/world-64-50k --out runs/mini-world --preset world
python -c "from promptism.mini import ship; ship('runs/mini-world', 'src/promptism/models/mini-world')"
