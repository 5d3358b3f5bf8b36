// tinylm-export: models out of (and back into) tinylm.
//
//   tinylm-export --packed runs/<...>/checkpoint.bin model.tlmp
//   tinylm-export --safetensors runs/<...>/checkpoint.bin model.safetensors
//   tinylm-export --import-safetensors model.safetensors checkpoint.bin [--like CHECKPOINT]
//
// --packed: layers with a packed form of their own store it (BitLinear: 2-bit ternary codes and
// a scale per part, run as int8 activations x ternary weights), other matrices and embeddings
// fp16, vectors fp32; the spec and tokenizer travel with it (tinylm/model/packed.h).
// --safetensors: every parameter as F32 under the names of the PyTorch reference implementations
// (tools/reference_models.py loads them), spec and tokenizer in the metadata
// (tinylm/model/safetensors_export.h). --import-safetensors: the way back, into a checkpoint that
// generate and tinylm-blimp run; --like names a checkpoint of the same model when the file was
// written elsewhere and has no tinylm metadata.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "command_line.h"
#include "tinylm/model/packed.h"
#include "tinylm/model/safetensors_export.h"

namespace po = boost::program_options;
using namespace tinylm;

int main(int argc, char** argv) {
  po::options_description opts(
      "Usage: tinylm-export --packed CHECKPOINT OUT\n"
      "       tinylm-export --safetensors CHECKPOINT OUT.safetensors\n"
      "       tinylm-export --import-safetensors IN.safetensors OUT_CHECKPOINT [--like CHECKPOINT]\n\nOptions");
  std::vector<std::string> files;
  std::string like;
  opts.add_options()("help,h", "show this help")("packed", "write a packed inference model")(
      "safetensors", "write the weights as safetensors (F32, PyTorch reference names, spec and tokenizer in the metadata)")(
      "import-safetensors", "write a checkpoint from safetensors weights")(
      "like", po::value(&like), "import: take spec and tokenizer from this checkpoint of the same model");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "tinylm-export", opts, "files", po::value(&files), 2, vm)) return 2;
  const int modes = static_cast<int>(vm.count("packed") + vm.count("safetensors") + vm.count("import-safetensors"));
  if (vm.count("help") || files.size() != 2 || modes != 1 || (!like.empty() && !vm.count("import-safetensors"))) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  try {
    if (vm.count("packed")) {
      const PackedStats s = ExportPackedModel(files[0], files[1]);
      std::printf("%s: %lld bytes (%.1f KB): %lld parameters in layers' packed forms, %lld fp16, %lld fp32\n",
                  files[1].c_str(), static_cast<long long>(s.file_bytes), s.file_bytes / 1024.0,
                  static_cast<long long>(s.packed_by_layers), static_cast<long long>(s.fp16),
                  static_cast<long long>(s.fp32));
    } else {
      const bool out = vm.count("safetensors") > 0;
      const SafetensorsExportStats s = out ? ExportSafetensors(files[0], files[1]) : ImportSafetensors(files[0], files[1], like);
      std::printf("%s: %lld bytes: %lld tensors, %lld parameters\n", files[1].c_str(), static_cast<long long>(s.file_bytes),
                  static_cast<long long>(s.tensors), static_cast<long long>(s.parameters));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tinylm-export: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
