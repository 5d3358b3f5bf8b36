#!/usr/bin/env bash
# Reproduces docs/results/delta.md: the delta LM ablations at 2M tokens, 2 seeds (the 284k
# baseline trains once per seed, shared through the run cache), Glorot init, options B and C of
# the block (each at both inits), the 1.09M model, and the learning curves at equal tokens.
#   tools/delta_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for a in delta_off delta_decay delta_vs_attention delta_records delta_glorot \
         delta_option_b delta_option_b_glorot delta_option_c delta_option_c_glorot delta_option_c_mean_only \
         delta_attention_init delta_option_c_init delta_option_c_vs_attention; do
  build/tools/ablate "ablations/$a.pbtxt" --out runs/delta_results "$@"
done
build/tools/ablate ablations/delta_lm_1m.pbtxt --out runs/delta_results "$@"
# Option C against attention at one init, with 4 seeds.
build/tools/ablate ablations/delta_option_c_vs_attention.pbtxt --seeds 4 --out runs/delta_results4
# Validation bits/byte at equal tokens, every variant against the baseline.
tools/learning_curves.py runs/delta_results delta_off delta_decay delta_records delta_glorot delta_option_b \
  delta_option_b_glorot delta_option_c delta_option_c_glorot delta_option_c_mean_only delta_vs_attention \
  delta_attention_init delta_option_c_init delta_lm_1m
