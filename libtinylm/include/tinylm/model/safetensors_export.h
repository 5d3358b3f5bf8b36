// Models in and out of tinylm as safetensors (model/safetensors.h). Export writes every
// parameter of a checkpoint as F32 under its tinylm name — the names the PyTorch reference
// implementations under tools/ use for the same weights (tools/reference_models.py) — with the
// resolved spec and the tokenizer in the metadata. Import builds a checkpoint from such a file:
// every parameter of the model must be present exactly once with its shape, nothing else may be.
#pragma once
#include <cstdint>
#include <string>

namespace tinylm {

struct SafetensorsExportStats {
  int64_t tensors = 0, parameters = 0, file_bytes = 0;
};

// `checkpoint`: a training checkpoint (a packed model is refused: its ternary weights are not
// the latent weights PyTorch trains).
SafetensorsExportStats ExportSafetensors(const std::string& checkpoint, const std::string& out);

// The model comes from the file's metadata (a tinylm export), or from `like`, a checkpoint of the
// same model, when given (weights trained elsewhere carry no tinylm metadata). The checkpoint
// written holds the weights at step 0 with zero optimiser moments: for generate, tinylm-blimp
// and evaluation. Throws std::runtime_error naming the file and the tensor.
SafetensorsExportStats ImportSafetensors(const std::string& in, const std::string& out, const std::string& like = "");

// Metadata keys of a tinylm export.
inline constexpr char kSafetensorsSpecKey[] = "tinylm.spec";
inline constexpr char kSafetensorsTokenizerKey[] = "tinylm.tokenizer_base64";

}  // namespace tinylm
