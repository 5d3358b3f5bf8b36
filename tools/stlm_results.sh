#!/usr/bin/env bash
# Reproduces docs/results/stlm.md: the Super Tiny Language Models ablations at 3 seeds, each arm
# reading the same ~1.95 MB of text (byte pooling: 5.6M ids of 12-id chunks; SentencePiece BPE:
# 540k tokens) and scored on bits per byte and BLiMP (the first 200 pairs of each of the 67
# phenomena: 13,400 pairs). The byte-pooling baseline trains once per seed, shared through the
# run cache. 55 minutes on 2 cores (measured 2026-12-05).
#   tools/stlm_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=runs/stlm_results
for a in stlm_no_aux stlm_mean_masked stlm_token_1m stlm_untied stlm_ffn_sharing; do
  build/tools/ablate "ablations/$a.pbtxt" --seeds 3 --out "$out" "$@"
done
