// tinylm-export: writes a trained model in a compact form for inference.
//
//   tinylm-export --packed runs/<...>/checkpoint.bin model.tlmp
//   generate model.tlmp --prompt "Once upon a time"
//
// --packed: layers with a packed form of their own store it (BitLinear: 2-bit ternary codes and
// a scale per part, run as int8 activations x ternary weights), other matrices and embeddings
// fp16, vectors fp32; the spec and tokenizer travel with it (tinylm/model/packed.h).
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "command_line.h"
#include "tinylm/model/packed.h"

namespace po = boost::program_options;
using namespace tinylm;

int main(int argc, char** argv) {
  po::options_description opts("Usage: tinylm-export --packed CHECKPOINT OUT\n\nOptions");
  std::vector<std::string> files;
  opts.add_options()("help,h", "show this help")("packed", "write a packed inference model (the only format so far)");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "tinylm-export", opts, "files", po::value(&files), 2, vm)) return 2;
  if (vm.count("help") || files.size() != 2 || !vm.count("packed")) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  try {
    const PackedStats s = ExportPackedModel(files[0], files[1]);
    std::printf("%s: %lld bytes (%.1f KB): %lld parameters in layers' packed forms, %lld fp16, %lld fp32\n",
                files[1].c_str(), static_cast<long long>(s.file_bytes), s.file_bytes / 1024.0,
                static_cast<long long>(s.packed_by_layers), static_cast<long long>(s.fp16),
                static_cast<long long>(s.fp32));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tinylm-export: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
