#!/usr/bin/env bash
# The BLiMP column of the seed systems' results pages (docs/results/{tmlm,micromixer,delta,
# bitnet}.md): each system's baseline spec trained as on its page (same budget, seeds 1 and 2) and
# scored on the first 200 pairs of each of BLiMP's 67 phenomena (13,400 pairs) at the end of
# training. About 30 minutes (27 measured with --threads 1).
#   tools/blimp_seed_systems.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=runs/blimp_seed_systems
blimp=(--set eval.blimp.pairs_per_phenomenon=200 --seeds 2)
build/tools/ablate ablations/micromixer_1m.pbtxt --out "$out" "${blimp[@]}" "$@"
build/tools/ablate ablations/delta_lm_284k.pbtxt --out "$out" "${blimp[@]}" "$@"
build/tools/ablate ablations/tmlm_haiku.pbtxt --out "$out" "${blimp[@]}" \
  --set stages[0].tokens=3000000 --set stages[1].tokens=500000 "$@"
build/tools/ablate ablations/tiny_tiny_stories.pbtxt --out "$out" "${blimp[@]}" "$@"
