#!/usr/bin/env bash
# Trains the VQGANs of the Scene World (64 px pictures to 16x16 codes, and to 8x8 for the
# comparison) on a 20,000-picture Scene World, and ships the f4 one (its round trip keeps what the
# judge reads; the f8 one's does not: benchmarks/reports/vqgan_world.md) as
# src/promptism/models/vqgan-world. Sized for one GPU (both runs at once on one H200 took the
# minutes its model card gives); on this project's 2-core CPU a run takes days.
set -euo pipefail
PROMPTISM=${PROMPTISM:-promptism}
$PROMPTISM world make --out data/world20k --n 20000 --size 64
$PROMPTISM train vqgan --data data/world20k --config experiments/vqgan/world-f8.toml --out runs/vqgan-f8 &
$PROMPTISM train vqgan --data data/world20k --preset world-f4 --out runs/vqgan-f4
wait
python -c "from promptism.vqgan import ship; ship('runs/vqgan-f4', 'src/promptism/models/vqgan-world')"
