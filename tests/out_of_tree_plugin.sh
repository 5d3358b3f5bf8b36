#!/usr/bin/env bash
# The plugin kit end to end, as a plugin author outside the tree would use it:
# install tinylm (then move the install: it must not care where it lives), build
# examples/relu2_plugin and examples/shift_conv_plugin against the installed package with
# find_package(tinylm) (optimised without being asked), check them with the installed
# tinylm-plugin-check, list them, use them in ablations with the installed ablate; a rebuilt
# plugin is not served from the run cache, a truncated plugin on the search path is refused
# without crashing anything, and a spec that forgets `plugins:` gets told which one to add.
#   tests/out_of_tree_plugin.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/installed" >/dev/null
mv "$work/installed" "$work/prefix"  # installed tools find their plugins wherever they live
# Test-only plugins are not installed.
test -f "$work/prefix/lib/tinylm/plugins/micromixer.so"
test ! -e "$work/prefix/lib/tinylm/plugins/bad_abi.so"
test ! -e "$work/prefix/lib/tinylm/plugins/test_components.so"

# The installed tools search the install's plugin directory, never the build tree.
env -u TINYLM_PLUGIN_PATH "$work/prefix/bin/ablate" --list-plugins >"$work/installed_list.txt"
grep -q "micromixer 1.0.0  ($work/prefix/lib/tinylm/plugins/micromixer.so)" "$work/installed_list.txt"
if grep -q "$build" "$work/installed_list.txt"; then
  echo "installed ablate searches the build tree" >&2
  exit 1
fi

cmake -S "$src/examples/relu2_plugin" -B "$work/plugin" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.txt"
grep -q "compiling optimised (-O3" "$work/configure.txt"
cmake --build "$work/plugin"
test -f "$work/plugin/plugins/relu2.so"
# No build type given, yet the plugin compiles with -O3 and tinylm's own flags.
ninja -C "$work/plugin" -t commands relu2 | grep "relu2.cc" | grep -q -- "-O3"

"$work/prefix/bin/tinylm-plugin-check" "$work/plugin/plugins/relu2.so" --timing 2 | tee "$work/check.txt"
grep -q "layer \[tinylm.plugins.relu2_mlp\] { hidden: 24 bias: true }: PASS" "$work/check.txt"
grep -q "layer \[tinylm.plugins.relu2_mlp\] { hidden: 8 }: PASS" "$work/check.txt"
"$work/prefix/bin/tinylm-plugin-check" "$work/plugin/plugins/relu2.so" --timing 0 --config "hidden: 5" | tee "$work/check.txt"
grep -q "layer \[tinylm.plugins.relu2_mlp\] { hidden: 5 }: PASS" "$work/check.txt"
grep -q "1 layer(s) checked, 0 failed" "$work/check.txt"

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
grep -q "residual(rmsnorm, relu2_mlp {hidden: 36})" "$work/ablate.txt"
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
# The report says how to find the plugin again.
grep -q "Reproduce: \`TINYLM_PLUGIN_PATH=$work/plugin/plugins ablate " "$work/out/relu2/report.md"

# Run again: cached. Rebuild the plugin differently: its runs train again (the cache key holds
# each plugin's name, version and file hash).
"$work/prefix/bin/ablate" "$work/specs/relu2.pbtxt" --data-dir "$work/data" --out "$work/out" --threads 2 >"$work/again.txt"
test "$(grep -c "\[variant seed [12]\] cached" "$work/again.txt")" = 2
cmake "$work/plugin" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$work/plugin" >/dev/null
"$work/prefix/bin/ablate" "$work/specs/relu2.pbtxt" --data-dir "$work/data" --out "$work/out" --threads 2 >"$work/rebuilt.txt"
test "$(grep -c "\[variant seed [12]\] training" "$work/rebuilt.txt")" = 2
test "$(grep -c "\[baseline seed [12]\] cached" "$work/rebuilt.txt")" = 2

# A spec that uses a plugin's layer without naming the plugin is told which plugin to add.
printf 'base: "base.pbtxt"\nmodel { block { layer {} layer { residual { mixer { [tinylm.plugins.relu2_mlp] {} } } } } }\n' \
  >"$work/specs/forgot.pbtxt"
if "$work/prefix/bin/ablate" "$work/specs/forgot.pbtxt" --data-dir "$work/data" --dry-run 2>"$work/err.txt"; then
  echo "unknown extension accepted" >&2
  exit 1
fi
grep -q "forgot.pbtxt:2:53: Extension \"tinylm.plugins.relu2_mlp\" is not defined" "$work/err.txt"
grep -q "plugin 'relu2' on the plugin search path provides \[tinylm.plugins.relu2_mlp\]: add  plugins: \"relu2\"" "$work/err.txt"

# Truncated and corrupt shared objects on the search path are refused by name; nothing crashes.
mkdir -p "$work/broken"
head -c 3000 "$work/plugin/plugins/relu2.so" >"$work/broken/cut.so"
head -c 100 /dev/urandom >"$work/broken/noise.so"
: >"$work/broken/empty.so"
TINYLM_PLUGIN_PATH="$work/broken:$work/plugin/plugins" "$work/prefix/bin/ablate" --list-plugins >"$work/list.txt"
grep -q "relu2 1.0.0" "$work/list.txt"
for f in cut noise empty; do grep -q "refused: $work/broken/$f.so: refused before loading" "$work/list.txt"; done
status=0
"$work/prefix/bin/tinylm-plugin-check" "$work/broken/cut.so" 2>"$work/err.txt" || status=$?
test "$status" = 1
grep -q "cut.so: refused before loading: .*truncated" "$work/err.txt"

# ShiftConv (examples/shift_conv_plugin): a graph layer of at most 40 lines, built out of tree,
# checked, and ablated against attention in the 1M transformer (ablations/transformer_1m.pbtxt)
# on generated data laid out like ../shared/data, with a small budget.
test "$(wc -l <"$src/examples/shift_conv_plugin/shift_conv.cc")" -le 40
cmake -S "$src/examples/shift_conv_plugin" -B "$work/shift_conv" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/shift_conv"
# Its reference-test template (naive double reference + generic checks) runs with ctest.
ctest --test-dir "$work/shift_conv" --output-on-failure
# It lists beside every installed plugin (its extension number clashes with none).
TINYLM_PLUGIN_PATH="$work/shift_conv/plugins" "$work/prefix/bin/ablate" --list-plugins >"$work/list.txt"
grep -q "layer \[tinylm.plugins.shift_conv\], config tinylm.plugins.ShiftConvConfig" "$work/list.txt"
grep -q "layer \[tinylm.plugins.bitlinear\]" "$work/list.txt"
"$work/prefix/bin/tinylm-plugin-check" "$work/shift_conv/plugins/shift_conv.so" --timing 2 | tee "$work/check.txt"
grep -q "layer \[tinylm.plugins.shift_conv\] { kernel: 4 }: PASS" "$work/check.txt"
grep -q "layer \[tinylm.plugins.shift_conv\] { kernel: 1 }: PASS" "$work/check.txt"
grep -q "2 layer(s) checked, 0 failed" "$work/check.txt"
mkdir -p "$work/tsdata/tinystories"
for i in $(seq 1 60); do echo "Tom had a red kite number $i. He flew it high in the sky.<|endoftext|>"; done \
  >"$work/tsdata/tinystories/ts_v2_train_head.txt"
for i in $(seq 1 60); do printf 'Sue found a blue cup number %d.\nShe gave it to her mom.\n\n' "$i"; done \
  >"$work/tsdata/tinystories/ts_v1_train_head.txt"
for i in $(seq 1 20); do printf 'The cat number %d sat on a warm mat.\n\n' "$i"; done \
  >"$work/tsdata/tinystories/ts_v1_valid_head.txt"
echo '{"texts": ["A dog ran to the park.", "The sun was warm and bright."]}' >"$work/tsdata/tinystories/ts_sample3000.json"
TINYLM_PLUGIN_PATH="$work/shift_conv/plugins" "$work/prefix/bin/ablate" \
  "$src/examples/shift_conv_plugin/shift_conv_vs_attention.pbtxt" --data-dir "$work/tsdata" --out "$work/out" \
  --seeds 1 --tokens 4096 --set stages[0].batch_size=4 --set stages[0].seq_len=64 --set eval.max_tokens=1024 \
  --threads 2 | tee "$work/shift.txt"
grep -q "residual(rmsnorm, shift_conv {kernel: 4})" "$work/shift.txt"
grep -q "variant - baseline \[95% CI\]" "$work/shift.txt"
test -f "$work/out/shift_conv_vs_attention/summary.json"
echo "out-of-tree plugin: OK"
