#!/usr/bin/env bash
# Reproduces docs/results/micromixer.md: MicroMixer-1 ablations at 2M tokens, 2 seeds. The 1M
# baseline trains once per seed and is shared through the run cache. About 15 minutes on 2 cores.
#   tools/micromixer_results.sh [extra ablate options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for a in micromixer_rope_fixed hypermixing_vs_attention micromixer_100k micromixer_300k micromixer_500k; do
  build/tools/ablate "ablations/$a.pbtxt" --out runs/micromixer_results "$@"
done
