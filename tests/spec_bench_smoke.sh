#!/usr/bin/env bash
# The spec benchmarks run (not timed: correctness of the program, counters and JSON only): a
# tiny spec on generated text gets its training step, evaluation forward, generation and a
# forward/backward per distinct part, with every counter in Google Benchmark's JSON; --compare
# of a spec with a base prints the U-test table.
#   tests/spec_bench_smoke.sh <tinylm_spec_bench>
set -euo pipefail
bench=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for i in $(seq 1 400); do echo "Once upon a time a small cat number $i sat on a warm mat and sang."; done >"$work/train.txt"
for i in $(seq 1 40); do echo "A dog number $i ran to the park."; done >"$work/val.txt"
cat >"$work/base.pbtxt" <<'SPEC'
name: "smoke_base"
model {
  d_model: 16
  context: 32
  block {
    count: 2
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 4096 batch_size: 4 seq_len: 32 }
SPEC
cat >"$work/wide.pbtxt" <<'SPEC'
base: "base.pbtxt"
name: "smoke_wide"
model { d_model: 64 }
SPEC

"$bench" "$work/base.pbtxt" --data-dir="$work" --benchmark_min_time=0.01 \
  --benchmark_out="$work/out.json" --benchmark_out_format=json >"$work/console.txt"
python3 - "$work/out.json" <<'PY'
import json, sys
runs = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
want = ["smoke_base/train_step/real_time", "smoke_base/eval_forward/real_time", "smoke_base/generate_batch1/real_time",
        "smoke_base/blocks.0.0=residual(rmsnorm__attention_2h_rope)/forward/real_time",
        "smoke_base/blocks.0.1=residual(rmsnorm__swiglu_24)/backward/real_time"]
for w in want:
    assert w in runs, (w, sorted(runs))
assert not any(n.startswith("smoke_base/blocks.1.") for n in runs), "blocks 1.. repeat block 0's parts"
t = runs["smoke_base/train_step/real_time"]
for c in ["tokens/s", "GFLOP/s", "matmul_peak_%", "peak_RSS_MB", "params"]:
    assert c in t and t[c] > 0, (c, t)
assert 0 < t["matmul_peak_%"] < 100, t
print("spec bench JSON ok:", len(runs), "benchmarks")
PY

"$bench" --compare="$work/wide.pbtxt" --data-dir="$work" --repetitions=5 --benchmark_min_time=0.01 >"$work/compare.txt"
grep -q "smoke_wide: variant against baseline" "$work/compare.txt"
grep -E "^train_step +[0-9]+ +[0-9]+ +[0-9.]+x" "$work/compare.txt" >/dev/null
grep -q "smoke_wide:variant/train_step" "$work/compare.txt"
echo "spec bench compare ok"
