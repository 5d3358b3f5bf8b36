#!/usr/bin/env bash
# Reproduces docs/results/tmlm.md: the five TinyMemoryLM ablations at 3M pretraining + 0.5M
# instruction-tuning tokens, 2 seeds. The baseline (tmlm_haiku) trains once per seed and is
# shared by all five through the run cache. About 40 minutes on 2 cores.
#   tools/tmlm_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for a in qknorm_off word_boost_off response_start_off replay_off hybrid_vs_byte; do
  build/tools/ablate "ablations/$a.pbtxt" --out runs/tmlm_results \
    --set stages[0].tokens=3000000 --set stages[1].tokens=500000 "$@"
done
