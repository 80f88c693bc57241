#!/usr/bin/env bash
# Train the shipped unCLIP stages on the Scene World, on this machine's CPU (see each model's
# MODEL_CARD.md for the time it took). Stages run two at a time, one thread each (two 1-thread
# processes beat one 2-thread process here). Rerun to resume after an interruption.
#   bash scripts/train_unclip_world.sh [DATA_DIR] [RUN_DIR] [DATA_128_DIR]
set -euo pipefail
DATA=${1:-data/world50k}
RUNS=${2:-runs}
DATA128=${3:-data/world-128-10k}   # the 64 -> 128 upsampler learns from pictures rendered at 128 px
BIN=${BIN:-.venv/bin}
export PROMPTISM_THREADS=1 OMP_NUM_THREADS=1
[ -f "$DATA/manifest.json" ] || "$BIN/promptism" world make --out "$DATA" --n 50000 --size 64 --seed 0
[ -f "$RUNS/embeddings.safetensors" ] || "$BIN/promptism" embed --data "$DATA" --out "$RUNS/embeddings.safetensors" --clip world-v1
# the decoder: 4,000 steps with min-SNR weighting, then 4,500 + 3,000 without it (see the
# world-ft presets), 1,500 that add the inpainting channels (world-inpaint), then 6,000 with
# timesteps drawn logit-normally (world-more-ln), 9,000 more of the same (world-more-ln2), and
# 4,000 that add the layout channels (world-boxes), after the layout stage whose layouts it draws
( E=(--data "$DATA" --embeddings "$RUNS/embeddings.safetensors")
  "$BIN/promptism" train decoder "${E[@]}" --out "$RUNS/decoder-world-base" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-ft --init "$RUNS/decoder-world-base/model" --out "$RUNS/decoder-world-ft" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-ft2 --init "$RUNS/decoder-world-ft/model" --out "$RUNS/decoder-world-ft2" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-inpaint --init "$RUNS/decoder-world-ft2/model" --out "$RUNS/decoder-world-inpaint" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-more-ln --init "$RUNS/decoder-world-inpaint/model" --out "$RUNS/decoder-world-more-ln" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-more-ln2 --init "$RUNS/decoder-world-more-ln/model" --out "$RUNS/decoder-world-more-ln2" &&
  "$BIN/promptism" train layout --data "$DATA" --out "$RUNS/layout-world" &&
  "$BIN/promptism" train decoder "${E[@]}" --preset world-boxes --layout "$RUNS/layout-world/model" --init "$RUNS/decoder-world-more-ln2/model" --out "$RUNS/decoder-world" ) &
# the prior, then the 32->64 upsampler, diffusing the residual over a bicubic upscaling (see the
# world-64-res preset in src/promptism/unclip/presets.py for why), then 9,000 more steps of it, then
# the 64->128 upsampler (the world-128 preset) on pictures rendered at 128 px
( "$BIN/promptism" train prior --data "$DATA" --embeddings "$RUNS/embeddings.safetensors" --out "$RUNS/prior-world" &&
  "$BIN/promptism" train upsampler --data "$DATA" --preset world-64-res --out "$RUNS/upsampler-world-64-base" &&
  "$BIN/promptism" train upsampler --data "$DATA" --preset world-64-res-more --init "$RUNS/upsampler-world-64-base/model" --out "$RUNS/upsampler-world-64" &&
  { [ -f "$DATA128/manifest.json" ] || "$BIN/promptism" world make --out "$DATA128" --n 10000 --size 128 --seed 0; } &&
  "$BIN/promptism" train upsampler --data "$DATA128" --preset world-128 --out "$RUNS/upsampler-world-128" ) &
wait
# the layout stage first: the decoder names it (layout="world") when it ships
"$BIN/python" -c "from promptism.layout import ship; print(ship('$RUNS/layout-world/model', 'world'))"
for s in decoder:world prior:world upsampler:world-64 upsampler:world-128; do
  "$BIN/python" -c "from promptism.unclip.folders import ship; print(ship('$RUNS/${s%%:*}-${s#*:}/model', '${s%%:*}', '${s#*:}', layout='world' if '${s%%:*}' == 'decoder' else None))"
done
"$BIN/python" benchmarks/unclip_world.py --data "$DATA"   # measures them and writes the model cards
