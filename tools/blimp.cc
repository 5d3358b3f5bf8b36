// tinylm-blimp: zero-shot BLiMP accuracy of a trained model (a checkpoint or a packed model):
// the grammatical sentence of each minimal pair must get the strictly higher log-probability.
//
//   tinylm-blimp runs/<...>/checkpoint.bin [--data-dir DIR] [--phenomena] [--batch 64] [--threads 0]
//                [--pairs-per-phenomenon N]
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "command_line.h"
#include "tinylm/data/data.h"
#include "tinylm/evaluation/blimp.h"
#include "tinylm/model/packed.h"

namespace po = boost::program_options;
using namespace tinylm;

namespace {
void Row(const BlimpScore& s) {
  std::printf("| %s | %lld / %lld | %.4f | [%.4f, %.4f] |\n", s.name.c_str(), static_cast<long long>(s.correct),
              static_cast<long long>(s.total), s.accuracy(), s.ci_low(), s.ci_high());
}
}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("Usage: tinylm-blimp CHECKPOINT|PACKED_MODEL [options]\n\nOptions");
  std::string model_path, data_dir;
  int64_t batch = 64, per_phenomenon = 0;
  int threads = 0;
  opts.add_options()("help,h", "show this help")
      ("data-dir", po::value(&data_dir), "data directory holding blimp/ (default: $TINYLM_DATA_DIR or ../shared/data)")
      ("batch", po::value(&batch)->default_value(64), "sentences per forward")
      ("pairs-per-phenomenon", po::value(&per_phenomenon)->default_value(0),
       "score only the first N pairs of each phenomenon (0 = all 1,000; eval.blimp.pairs_per_phenomenon)")
      ("threads", po::value(&threads)->default_value(0), "threads (0 = all cores)")
      ("phenomena", "also print all 67 phenomena");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "tinylm-blimp", opts, "model", po::value(&model_path), 1, vm)) return 2;
  if (vm.count("help") || model_path.empty()) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  try {
    if (batch < 1) throw std::invalid_argument("--batch must be at least 1");
    if (per_phenomenon < 0) throw std::invalid_argument("--pairs-per-phenomenon must not be negative");
    const std::vector<BlimpPair> pairs =
        FirstPairsOfEachPhenomenon(LoadBlimp(ResolveDataDir(data_dir) + "/blimp"), per_phenomenon);
    PackedModelFile file = LoadModelFile(model_path);
    Context ctx(threads, 1);
    const BlimpResult r = EvaluateBlimp(ctx, *file.model, *file.tokenizer, pairs, batch);
    std::printf("BLiMP, %zu minimal pairs, %.0f pairs/s\n\n| | correct | accuracy | 95%% CI (Wilson) |\n|---|---|---|---|\n",
                pairs.size(), r.pairs_per_second);
    for (const BlimpScore& s : r.fields) Row(s);
    Row(r.overall);
    if (vm.count("phenomena")) {
      std::printf("\n| phenomenon | correct | accuracy | 95%% CI |\n|---|---|---|---|\n");
      for (const BlimpScore& s : r.phenomena) Row(s);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tinylm-blimp: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
