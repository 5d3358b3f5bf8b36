#include "tinylm/model/safetensors_export.h"

#include <absl/strings/escaping.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "tinylm/data/tokenizer.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/model/model.h"
#include "tinylm/model/packed.h"
#include "tinylm/model/safetensors.h"

namespace tinylm {

SafetensorsExportStats ExportSafetensors(const std::string& checkpoint, const std::string& out) {
  if (IsPackedModelFile(checkpoint))
    throw std::runtime_error(checkpoint + ": a packed model holds no latent weights; export its training checkpoint");
  const proto::CheckpointHeader h = ReadCheckpointHeader(checkpoint);
  const PackedModelFile file = LoadModelFile(checkpoint);
  std::vector<SafetensorsTensor> tensors;
  SafetensorsExportStats stats;
  for (const auto& p : file.model->store().params()) {
    tensors.push_back({p->name, p->shape, p->value.f32()});
    stats.parameters += p->numel();
  }
  stats.tensors = static_cast<int64_t>(tensors.size());
  WriteSafetensors(out, tensors,
                   {{"format", "pt"},
                    {kSafetensorsSpecKey, h.spec_text()},
                    {kSafetensorsTokenizerKey, absl::Base64Escape(h.tokenizer())},
                    {"tinylm.code_version", h.code_version()}});
  stats.file_bytes = static_cast<int64_t>(std::filesystem::file_size(out));
  return stats;
}

SafetensorsExportStats ImportSafetensors(const std::string& in, const std::string& out, const std::string& like) {
  const SafetensorsFile f = ReadSafetensors(in);
  std::string spec_text, tokenizer_state, origin;
  if (!like.empty()) {
    const proto::CheckpointHeader h = ReadCheckpointHeader(like);
    spec_text = h.spec_text();
    tokenizer_state = h.tokenizer();
    origin = like + " (embedded spec)";
  } else {
    const auto spec = f.metadata.find(kSafetensorsSpecKey);
    const auto tok = f.metadata.find(kSafetensorsTokenizerKey);
    if (spec == f.metadata.end() || tok == f.metadata.end())
      throw std::runtime_error(in + ": no tinylm spec and tokenizer in its metadata (not a tinylm export): give a "
                                    "checkpoint of the same model to take them from (--like)");
    if (!absl::Base64Unescape(tok->second, &tokenizer_state))
      throw std::runtime_error(in + ": metadata " + kSafetensorsTokenizerKey + " is not base64");
    spec_text = spec->second;
    origin = in + " (metadata " + kSafetensorsSpecKey + ")";
  }
  const SpecFile spec = ParseSpecText(spec_text, origin);
  const std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer(tokenizer_state);
  const std::unique_ptr<LanguageModel> model = BuildModel(spec.message.model(), tokenizer->vocab_size(), tokenizer.get());
  ParamStore& store = model->store();
  store.Allocate(0);
  SafetensorsExportStats stats;
  std::set<std::string> names;
  for (const auto& p : store.params()) {
    names.insert(p->name);
    const SafetensorsEntry* e = f.Find(p->name);
    if (!e) throw std::runtime_error(in + ": no tensor '" + p->name + "' (the model's " + ShapeString(p->shape) + ")");
    if (e->shape != p->shape)
      throw std::runtime_error(in + ": tensor '" + p->name + "' has shape " + ShapeString(e->shape) + ", the model's is " +
                               ShapeString(p->shape));
    const std::vector<float> v = f.Floats(*e);
    std::memcpy(p->value.f32(), v.data(), v.size() * sizeof(float));
    ++stats.tensors;
    stats.parameters += p->numel();
  }
  for (const SafetensorsEntry& e : f.entries)
    if (!names.count(e.name))
      throw std::runtime_error(in + ": tensor '" + e.name + "' is not a parameter of the model (" +
                               std::to_string(store.params().size()) + " parameters, e.g. '" + store.params()[0]->name + "')");
  store.Touch();
  proto::CheckpointHeader h;
  h.set_spec_text(spec_text);
  h.set_tokenizer(tokenizer_state);
  SaveCheckpoint(out, h, store);
  stats.file_bytes = static_cast<int64_t>(std::filesystem::file_size(out));
  return stats;
}

}  // namespace tinylm
