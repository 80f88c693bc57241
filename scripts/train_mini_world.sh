#!/usr/bin/env bash
# Trains DALL·E mini's transformer over the shipped VQGAN's codes of a 50,000-picture Scene World on
# this project's 2-core CPU, and ships it as src/promptism/models/mini-world. Three phases: the preset
# `world` (1,600 steps), then `world-more`, 1,800 more steps with a new warm-up and cosine decay,
# started from the first phase's model (--init), then `world-third`, 800 more from the second's. The
# pictures are encoded into runs/mini-world/codes once (resumable) and the later phases reuse them;
# rerun a train command to resume a killed run.
set -euo pipefail
PROMPTISM=${PROMPTISM:-promptism}
export PROMPTISM_THREADS=${PROMPTISM_THREADS:-2}
$PROMPTISM world make --out data/world-64-50k --n 50000 --size 64 --seed 0
$PROMPTISM train mini --data data/world-64-50k --out runs/mini-world --preset world
mkdir -p runs/mini-world-more
[ -e runs/mini-world-more/codes ] || cp -r runs/mini-world/codes runs/mini-world-more/codes
$PROMPTISM train mini --data data/world-64-50k --out runs/mini-world-more --preset world-more --init runs/mini-world/model
mkdir -p runs/mini-world-third
[ -e runs/mini-world-third/codes ] || cp -r runs/mini-world/codes runs/mini-world-third/codes
$PROMPTISM train mini --data data/world-64-50k --out runs/mini-world-third --preset world-third --init runs/mini-world-more/model
python -c "from promptism.mini import ship; ship('runs/mini-world-third', 'src/promptism/models/mini-world')"
