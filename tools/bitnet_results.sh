#!/usr/bin/env bash
# Reproduces docs/results/bitnet.md: the tiny-tiny-stories (BitNet b1.58) ablations at the spec's
# 2M tokens with 3 seeds (the baseline trains once per seed, shared through the run cache), and
# BitLinear inside MicroMixer-1. About 45 minutes on 2 cores.
#   tools/bitnet_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for a in tts_bitlinear_off tts_act_quant_off tts_spm_vs_byte tts_spm_vs_hybrid micromixer_bitlinear; do
  build/tools/ablate "ablations/$a.pbtxt" --seeds 3 --out runs/bitnet_results "$@"
done
