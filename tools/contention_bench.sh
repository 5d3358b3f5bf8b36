#!/usr/bin/env bash
# How much a busy machine slows tinylm: the transformer_1m train step and batch-1 generation
# (Google Benchmark, build/bench/tinylm_bench), measured quiet, beside a running ablation (a
# second tinylm process with its own thread team) and beside a busy process (a shell loop),
# with the slowdown of each against quiet. Run it on an otherwise idle machine.
#   tools/contention_bench.sh [build dir]              # the tools' thread policy
#   OMP_WAIT_POLICY=active tools/contention_bench.sh   # the OpenMP runtime's spinning default
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
bench="$build/bench/tinylm_bench"
filter='BM_TrainStep_Transformer1M/qk_norm:1|BM_Generate_Transformer1M'
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# Median ms per iteration of each benchmark, as "name ms" lines.
measure() {
  "$bench" --benchmark_filter="$filter" --benchmark_min_time=3 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true 2>/dev/null |
    awk '/_median/ {sub(/\/.*/, "", $1); print $1, $2}'
}

measure >"$work/quiet"
"$build/tools/ablate" ablations/transformer_1m.pbtxt --out "$work/bg" --seeds 1 --tokens 100000000 >/dev/null 2>&1 &
ablation=$!
sleep 8  # past data preparation: the ablation is training
measure >"$work/ablation"
kill "$ablation"; wait "$ablation" 2>/dev/null || true
(while :; do :; done) &
loop=$!
sleep 1
measure >"$work/busy"
kill "$loop"; wait "$loop" 2>/dev/null || true

policy=${OMP_WAIT_POLICY:-passive (the tools default)}
echo "wait policy: $policy; $(nproc) cores"
printf '%-28s %10s %22s %22s\n' benchmark "quiet ms" "beside ablation ms" "beside busy loop ms"
join <(sort "$work/quiet") <(sort "$work/ablation") | join - <(sort "$work/busy") |
  awk '{printf "%-28s %10.1f %12.1f (%5.2fx) %12.1f (%5.2fx)\n", $1, $2, $3, $3 / $2, $4, $4 / $2}'
