// generate: load a checkpoint or a packed model (tinylm-export --packed) and sample from a
// prompt, using each layer's incremental decode state (KV caches, running sums).
//
//   generate runs/runs/<key>/checkpoint.bin --prompt "Once upon a time" [--temperature 0.8]
//   generate model.tlmp --prompt "Once upon a time"
//            [--top-k 40] [--top-p 1] [--seed 1] [--max-tokens 200]
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "command_line.h"
#include "tinylm/model/generate.h"
#include "tinylm/model/packed.h"
#include "tinylm/tensors/thread_policy.h"

namespace po = boost::program_options;
using namespace tinylm;

namespace {
// VmHWM of /proc/self/status: the most memory this process has had resident.
double PeakResidentMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  tinylm::ApplyThreadWaitPolicy(argv);
  po::options_description opts("Usage: generate CHECKPOINT|PACKED_MODEL [options]\n\nOptions");
  std::string ckpt, prompt;
  SamplingOptions so;
  opts.add_options()("help,h", "show this help")
      ("prompt", po::value(&prompt)->default_value(""), "text to continue")
      ("temperature", po::value(&so.temperature)->default_value(0.8f), "sampling temperature (0 = greedy)")
      ("top-k", po::value(&so.top_k)->default_value(40), "sample among the k most likely tokens (0 = all)")
      ("top-p", po::value(&so.top_p)->default_value(1.0f), "nucleus sampling threshold")
      ("seed", po::value(&so.seed)->default_value(1), "sampling seed")
      ("max-tokens", po::value(&so.max_tokens)->default_value(200), "tokens to generate")
      ("stats", "print tokens/s and the process's peak resident memory to stderr");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "generate", opts, "checkpoint", po::value(&ckpt), 1, vm)) return 2;
  if (vm.count("help") || ckpt.empty()) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  try {
    if (so.temperature < 0) throw std::invalid_argument("--temperature must not be negative");
    if (so.top_p <= 0 || so.top_p > 1) throw std::invalid_argument("--top-p must be in (0, 1]");
    if (so.max_tokens < 0) throw std::invalid_argument("--max-tokens must not be negative");
    PackedModelFile file = LoadModelFile(ckpt);  // a checkpoint or a packed model
    std::unique_ptr<Tokenizer> tok = std::move(file.tokenizer);
    std::unique_ptr<LanguageModel> model = std::move(file.model);
    // Batch-1 generation runs on one thread: faster than a team, and unharmed by other busy
    // processes (docs/performance.md, "A busy machine").
    Context ctx(1, so.seed);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> out = Generate(ctx, *model, *tok, tok->Encode(prompt), so);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s%s\n", prompt.c_str(), tok->Decode(out).c_str());
    if (vm.count("stats"))
      std::fprintf(stderr, "generate: %zu tokens in %.3f s (%.0f tokens/s), peak resident memory %.1f MB\n", out.size(),
                   secs, out.size() / secs, PeakResidentMb());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
