#!/usr/bin/env bash
# The plugin kit end to end, as a plugin author outside the tree would use it:
# install tinylm, build examples/relu2_plugin against the installed package with
# find_package(tinylm), check it with the installed tinylm-plugin-check, list it, and use it in
# an ablation spec with the installed ablate.
#   tests/out_of_tree_plugin.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/relu2_plugin" -B "$work/plugin" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin"
test -f "$work/plugin/plugins/relu2.so"

"$work/prefix/bin/tinylm-plugin-check" "$work/plugin/plugins/relu2.so" --timing 2

export TINYLM_PLUGIN_PATH="$work/plugin/plugins"
"$work/prefix/bin/ablate" --list-plugins | tee "$work/list.txt"
grep -q "relu2 1.0.0" "$work/list.txt"
grep -q "layer \[tinylm.plugins.relu2_mlp\], config tinylm.plugins.Relu2MlpConfig" "$work/list.txt"

# A small ablation with generated data: relu2 MLP against SwiGLU.
mkdir -p "$work/data" "$work/specs"
for i in $(seq 1 80); do
  echo "Once upon a time, a little fox number $i found a red ball and played all day long."
  echo "<|endoftext|>"
done >"$work/data/train.txt"
for i in $(seq 1 12); do
  echo "The small bird number $i sang a happy song in the green tree by the river."
  echo "<|endoftext|>"
done >"$work/data/val.txt"
cat >"$work/specs/base.pbtxt" <<'SPEC'
name: "tiny"
seeds: [1, 2]
model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 2048 batch_size: 4 seq_len: 16 }
eval { interval_steps: 8 max_tokens: 256 sample_tokens: 16 }
SPEC
cat >"$work/specs/relu2.pbtxt" <<'SPEC'
base: "base.pbtxt"
plugins: "relu2"
model { block { layer {} layer { residual { mixer { [tinylm.plugins.relu2_mlp] { hidden: 36 } } } } } }
SPEC
"$work/prefix/bin/ablate" "$work/specs/relu2.pbtxt" --data-dir "$work/data" --out "$work/out" --threads 2 | tee "$work/ablate.txt"
grep -q "model.block.layer\[1\].residual.mixer.\[tinylm.plugins.relu2_mlp\]: (none) -> {hidden: 36 }" "$work/ablate.txt"
grep -q "residual(rmsnorm, relu2_mlp)" "$work/ablate.txt"
grep -q "variant - baseline \[95% CI\]" "$work/ablate.txt"
test -f "$work/out/relu2/summary.json"

# A mistyped field in the plugin's config is an error with file and line.
printf 'base: "base.pbtxt"\nplugins: "relu2"\nmodel { block { layer {} layer { residual { mixer { [tinylm.plugins.relu2_mlp] { hiden: 36 } } } } } }\n' \
  >"$work/specs/typo.pbtxt"
if "$work/prefix/bin/ablate" "$work/specs/typo.pbtxt" --data-dir "$work/data" --dry-run 2>"$work/err.txt"; then
  echo "typo accepted" >&2
  exit 1
fi
grep -q "typo.pbtxt:3:.*Message type \"tinylm.plugins.Relu2MlpConfig\" has no field named \"hiden\"" "$work/err.txt"
echo "out-of-tree plugin: OK"
