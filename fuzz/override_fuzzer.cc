// `--set path=value` overrides (ablate, tinylm_spec_bench) on a valid spec: field paths with
// indices and extensions, values of every type. Input: one override per line.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/spec.h"

namespace {

const std::string kSpec = R"(name: "base"
seeds: [1, 2]
plugins: ["word_boost"]
)" + tinylm::fuzz::kTinyModel + R"(data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1024 batch_size: 4 seq_len: 16 loss_weighting { [tinylm.plugins.word_boost] { beta: 1.0 } } }
stages { name: "sft" kind: SFT tokens: 512 batch_size: 2 seq_len: 32 data { train { path: "chat.jsonl" format: PROMPT_RESPONSE } validation_fraction: 0.25 } }
eval { interval_steps: 4 max_tokens: 256 sample_tokens: 16 }
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  static const std::string path = fuzz::WriteScratch("specs/override_base.pbtxt", kSpec);
  std::vector<Override> overrides;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && overrides.size() < 16) {
    auto [line, after] = fuzz::SplitAt(rest, "\n");
    rest = after;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    overrides.push_back({std::string(line.substr(0, eq)), std::string(line.substr(eq + 1))});
  }
  try {
    const ResolvedSpec rs = LoadSpec(path, overrides);
    PrepareExperiment(rs, false, fuzz::DataDir());
  } catch (const std::exception&) {
  }
  return 0;
}
