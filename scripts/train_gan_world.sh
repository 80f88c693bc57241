#!/usr/bin/env bash
# Trains the StyleGAN2-style GAN (the preset `world`) on a 50,000-picture Scene World on this
# project's 2-core CPU, and ships its EMA generator as src/promptism/models/gan-world. Sample grids
# of fixed noise land in runs/gan-world/samples as it trains; rerun to resume a killed run.
set -euo pipefail
PROMPTISM=${PROMPTISM:-promptism}
$PROMPTISM world make --out data/world-64-50k --n 50000 --size 64 --seed 0
PROMPTISM_THREADS=${PROMPTISM_THREADS:-2} $PROMPTISM train gan --data data/world-64-50k --out runs/gan-world --preset world
python -c "from promptism.gan import ship; ship('runs/gan-world', 'src/promptism/models/gan-world')"
