#!/usr/bin/env bash
# Trains DALL·E mini's transformer over the shipped VQGAN's codes of a 50,000-picture Scene World on
# this project's 2-core CPU, and ships it as src/promptism/models/mini-world. Four phases: the preset
# `world` (1,600 steps), then `world-more`, 1,800 more steps with a new warm-up and cosine decay,
# started from the first phase's model (--init), then `world-third`, 800 more from the second's, and
# `world-fourth`, 800 more from the third's at a lower peak rate. The pictures are encoded into
# runs/mini-world/codes once (resumable) and the later phases reuse them; rerun the script (or a
# train command) to resume a killed run.
set -euo pipefail
PROMPTISM=${PROMPTISM:-promptism}
export PROMPTISM_THREADS=${PROMPTISM_THREADS:-2}
$PROMPTISM world make --out data/world-64-50k --n 50000 --size 64 --seed 0
$PROMPTISM train mini --data data/world-64-50k --out runs/mini-world --preset world
phase() {  # phase PRESET OUT INIT: a later phase over the first phase's codes, started from INIT
  mkdir -p "$2"
  [ -e "$2/codes" ] || cp -r runs/mini-world/codes "$2/codes"
  $PROMPTISM train mini --data data/world-64-50k --out "$2" --preset "$1" --init "$3"
}
phase world-more runs/mini-world-more runs/mini-world/model
phase world-third runs/mini-world-third runs/mini-world-more/model
phase world-fourth runs/mini-world-fourth runs/mini-world-third/model
python -c "from promptism.mini import ship; ship('runs/mini-world-fourth', 'src/promptism/models/mini-world')"
