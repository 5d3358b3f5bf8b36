// Packed inference models (`tinylm-export --packed CHECKPOINT OUT`, `generate OUT`): the spec,
// the tokenizer and every parameter in the smallest form the model can run from. A layer with a
// compact inference form of its own (BitLinear: 2-bit ternary codes and one scale per part)
// writes it through Layer::WritePacked and runs from it after Layer::ReadPacked; every other
// parameter is stored as fp16 (matrices and embeddings) or fp32 (vectors: norm gains, biases).
// A packed model is for evaluation and generation only: it has no latent weights to train.
//
// File: magic "TLMPACK1" | u64 payload length | payload (proto::PackedModel) | u64 FNV-1a of
// everything before it. Written atomically; a damaged file is refused with its name and why.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "results.pb.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/model/model.h"

namespace tinylm {

// What a layer's WritePacked adds to the file.
class PackedWriter {
 public:
  explicit PackedWriter(proto::PackedModel* out) : out_(out) {}
  void Add(const std::string& name, const std::string& encoding, const Shape& shape, std::string data);

 private:
  proto::PackedModel* out_;
};

// What a layer's ReadPacked finds in the file.
class PackedReader {
 public:
  PackedReader(const proto::PackedModel* in, std::string path) : in_(in), path_(std::move(path)) {}
  // The tensor called `name` (null when absent), its encoding and shape checked: a mismatch
  // throws std::runtime_error naming the file and the tensor.
  const proto::PackedTensor* Find(const std::string& name, const std::string& encoding, const Shape& shape) const;
  const std::string& path() const { return path_; }

 private:
  const proto::PackedModel* in_;
  std::string path_;
};

struct PackedStats {
  int64_t file_bytes = 0;
  int64_t packed_by_layers = 0;  // parameters stored in a layer's own form
  int64_t fp16 = 0, fp32 = 0;    // parameters stored as fp16 / fp32
};

// Writes `model` (trained with `spec_text`, tokenizer state `tokenizer`) to `path`.
PackedStats WritePackedModel(const std::string& path, const LanguageModel& model, const std::string& spec_text,
                             const std::string& tokenizer);

// Whether any layer of `model` has a packed form of its own (else a packed file is just fp16).
bool HasPackedForm(const LanguageModel& model);

// tinylm-export --packed: reads a checkpoint (its spec, tokenizer and weights) and writes `out`.
PackedStats ExportPackedModel(const std::string& checkpoint, const std::string& out);

struct PackedModelFile {
  SpecFile spec;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<LanguageModel> model;  // its store holds values only (no gradients, no Adam)
};

// Reads `path`, builds the model from the embedded spec (loading the plugins it names) and
// loads every tensor. Throws std::runtime_error naming the file and the problem.
PackedModelFile LoadPackedModel(const std::string& path);

// True when `path` starts with the packed magic (generate accepts both kinds of file).
bool IsPackedModelFile(const std::string& path);

// A model to run (generate, tinylm-blimp): a packed model file, or a training checkpoint (its
// embedded spec, tokenizer and weights; values and Adam moments are loaded as saved).
PackedModelFile LoadModelFile(const std::string& path);

// IEEE half precision, round to nearest even (inf, NaN and subnormals kept).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);

}  // namespace tinylm
