#!/usr/bin/env bash
# Reproduces docs/results/bitnet.md: the tiny-tiny-stories (BitNet b1.58) ablations at the spec's
# 2M tokens with 3 seeds (the baseline trains once per seed, shared through the run cache),
# BitLinear inside MicroMixer-1, then the packed model: the seed-1 baseline exported with
# tinylm-export --packed, its size, and batch-1 generation from the packed file against the
# fp32 checkpoint (tokens/s and peak resident memory, alone on the machine). About an hour on
# 2 cores.
#   tools/bitnet_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=runs/bitnet_results
for a in tts_bitlinear_off tts_act_quant_off tts_spm_vs_byte tts_spm_vs_hybrid micromixer_bitlinear; do
  build/tools/ablate "ablations/$a.pbtxt" --seeds 3 --out "$out" "$@"
done
# BitNet against fp32 projections at 4x the card's learning rate (2 seeds).
build/tools/ablate ablations/tts_bitlinear_off.pbtxt --seeds 2 --set stages.optimizer.lr=6e-3 \
  --out runs/bitnet_results_lr6e-3 "$@"

# The packed model of the seed-1 baseline run.
run=$(grep -l '"experiment": "tiny_tiny_stories"' "$out"/runs/*/summary.json | xargs grep -l '"role": "baseline"' |
      xargs grep -l '"seed": "1"' | head -1 | xargs dirname)
build/tools/tinylm-export --packed "$run/checkpoint.bin" "$out/tiny_tiny_stories.tlmp"
echo "fp32 checkpoint: $(stat -c %s "$run/checkpoint.bin") bytes (values + Adam moments)"
for model in "$run/checkpoint.bin" "$out/tiny_tiny_stories.tlmp"; do
  for seed in 1 2 3 4 5; do
    build/tools/generate "$model" --prompt "Once upon a time" --max-tokens 400 --seed "$seed" --stats 2>&1 >/dev/null |
      sed "s|^|$(basename "$model") |"
  done
done
# Steady-state batch-1 speed of the same (random) weights, fp32 fake-quantised and packed,
# interleaved repetitions in one process.
build/bench/tinylm_spec_bench ablations/tiny_tiny_stories.pbtxt --no-parts --benchmark_filter=generate \
  --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
