// Spec files as a user writes them: text format, a base chain, plugin configs (specs name the
// plugins whose config messages they use), then everything PrepareExperiment validates before
// training (stages, tokenizer training, data, model construction, plugin components). Not the
// compute table of --dry-run: it counts FLOPs by running a forward pass, numeric code the test
// suite covers, at a thousandth of the fuzzing speed. Input: the spec; after a line
// "#==base==", its base file.
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_support.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  const auto [spec, base] = fuzz::SplitAt({reinterpret_cast<const char*>(data), size}, "\n#==base==\n");
  const std::string path = fuzz::WriteScratch("specs/spec.pbtxt", spec);
  fuzz::WriteScratch("specs/base.pbtxt", base);
  try {
    const ResolvedSpec rs = LoadSpec(path);
    PrepareExperiment(rs, false, fuzz::DataDir());
    if (rs.has_baseline()) PrepareExperiment(rs, true, fuzz::DataDir());
  } catch (const std::exception&) {
    // Refused with a message: the expected answer to a bad spec.
  }
  return 0;
}
