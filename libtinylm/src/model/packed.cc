#include "tinylm/model/packed.h"

#include <absl/strings/str_cat.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <fstream>
#include <functional>
#include <set>
#include <stdexcept>

#include "tinylm/experiments/experiment.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/training/trainer.h"

namespace tinylm {

namespace {
constexpr char kMagic[8] = {'T', 'L', 'M', 'P', 'A', 'C', 'K', '1'};

// Every layer of the network, parents before children. The layers are the model's own (not
// const objects), so a loader may modify what the const walk over Children() returns.
void ForEachLayer(const Layer& layer, const std::function<void(const Layer&)>& f) {
  f(layer);
  for (const Layer* c : layer.Children()) ForEachLayer(*c, f);
}

Shape ShapeOf(const proto::PackedTensor& t) { return Shape(t.shape().begin(), t.shape().end()); }
}  // namespace

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));  // inf, NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds beyond 65504: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: a subnormal (or zero), rounded to even
    const float scaled = std::fabs(f) * 16777216.0f;  // in units of 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  // Normal: rebias the exponent and round the 23-bit mantissa to 10 bits, ties to even (a carry
  // into the exponent is the correct rounding).
  const uint32_t rebased = abs - ((127u - 15u) << 23);
  const uint32_t lsb = (rebased >> 13) & 1u;
  return static_cast<uint16_t>(sign | ((rebased + 0xfffu + lsb) >> 13));
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  uint32_t x = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112u) << 23) | (mant << 13));
  std::memcpy(&f, &x, 4);
  return f;
}

void PackedWriter::Add(const std::string& name, const std::string& encoding, const Shape& shape, std::string data) {
  for (const auto& t : out_->tensors())
    if (t.name() == name) return;  // a shared weight: its layers write the same form once
  proto::PackedTensor* t = out_->add_tensors();
  t->set_name(name);
  t->set_encoding(encoding);
  for (int64_t d : shape) t->add_shape(d);
  t->set_data(std::move(data));
}

const proto::PackedTensor* PackedReader::Find(const std::string& name, const std::string& encoding,
                                              const Shape& shape) const {
  for (const auto& t : in_->tensors()) {
    if (t.name() != name) continue;
    if (t.encoding() != encoding || ShapeOf(t) != shape)
      throw std::runtime_error(absl::StrCat(path_, ": tensor ", name, " is ", t.encoding(), " ",
                                            ShapeString(ShapeOf(t)), ", the model needs ", encoding, " ",
                                            ShapeString(shape)));
    return &t;
  }
  return nullptr;
}

PackedStats WritePackedModel(const std::string& path, const LanguageModel& model, const std::string& spec_text,
                             const std::string& tokenizer) {
  proto::PackedModel pm;
  pm.set_spec_text(spec_text);
  pm.set_tokenizer(tokenizer);
  pm.set_code_version(CodeVersion());
  PackedWriter w(&pm);
  std::set<const Param*> covered;
  ForEachLayer(model.net(), [&](const Layer& l) {
    for (const Param* p : l.WritePacked(w)) covered.insert(p);
  });
  PackedStats stats;
  for (const auto& p : model.store().params()) {
    const float* v = p->value.f32();
    const int64_t n = p->numel();
    if (covered.count(p.get())) {
      stats.packed_by_layers += n;
    } else if (p->shape.size() >= 2) {  // matrices and embeddings: half precision
      std::string data(n * 2, '\0');
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = FloatToHalf(v[i]);
        std::memcpy(&data[2 * i], &h, 2);
      }
      w.Add(p->name, "f16", p->shape, std::move(data));
      stats.fp16 += n;
    } else {  // gains and biases: few, and sensitive
      w.Add(p->name, "f32", p->shape, std::string(reinterpret_cast<const char*>(v), n * sizeof(float)));
      stats.fp32 += n;
    }
  }
  std::string payload;
  if (!pm.SerializeToString(&payload)) throw std::runtime_error(path + ": cannot serialise the packed model");
  const uint64_t len = payload.size();
  std::string file(kMagic, 8);
  file.append(reinterpret_cast<const char*>(&len), 8);
  file += payload;
  const uint64_t sum = Fnv64(file.data(), file.size());
  file.append(reinterpret_cast<const char*>(&sum), 8);
  WriteFileAtomic(path, file);
  stats.file_bytes = static_cast<int64_t>(file.size());
  return stats;
}

bool HasPackedForm(const LanguageModel& model) {
  proto::PackedModel scratch;
  PackedWriter w(&scratch);
  bool any = false;
  ForEachLayer(model.net(), [&](const Layer& l) { any = any || !l.WritePacked(w).empty(); });
  return any;
}

PackedStats ExportPackedModel(const std::string& checkpoint, const std::string& out) {
  // A packed model has no latent weights to quantise again.
  if (IsPackedModelFile(checkpoint)) throw std::runtime_error(checkpoint + ": already a packed model, export a checkpoint");
  const proto::CheckpointHeader h = ReadCheckpointHeader(checkpoint);
  const PackedModelFile file = LoadModelFile(checkpoint);
  return WritePackedModel(out, *file.model, h.spec_text(), h.tokenizer());
}

PackedModelFile LoadModelFile(const std::string& path) {
  if (IsPackedModelFile(path)) return LoadPackedModel(path);
  const proto::CheckpointHeader h = ReadCheckpointHeader(path);
  PackedModelFile out;
  // ParseSpecText loads the plugins the embedded spec names (layers, tokenizer) first.
  out.spec = ParseSpecText(h.spec_text(), path + " (embedded spec)");
  out.tokenizer = LoadTokenizer(h.tokenizer());
  out.model = BuildModel(out.spec.message.model(), out.tokenizer->vocab_size(), out.tokenizer.get());
  // Before allocating: the embedded spec must describe the model whose weights the file holds.
  if (out.model->store().size() != h.arena_floats())
    throw std::runtime_error(path + ": the embedded spec's model has " + std::to_string(out.model->store().size()) +
                             " parameters, the file holds " + std::to_string(h.arena_floats()));
  out.model->store().Allocate(0);
  LoadCheckpoint(path, &out.model->store());
  return out;
}

bool IsPackedModelFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  return f.read(magic, 8) && std::memcmp(magic, kMagic, 8) == 0;
}

PackedModelFile LoadPackedModel(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open packed model");
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw std::runtime_error(path + ": not a tinylm packed model (bad magic)");
  uint64_t len, sum;
  std::memcpy(&len, bytes.data() + 8, 8);
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (len != bytes.size() - 24) throw std::runtime_error(path + ": length does not match (truncated file?)");
  if (len > static_cast<uint64_t>(std::numeric_limits<int>::max())) throw std::runtime_error(path + ": too large to read");
  if (Fnv64(bytes.data(), bytes.size() - 8) != sum)
    throw std::runtime_error(path + ": checksum mismatch (corrupted file)");
  proto::PackedModel pm;
  if (!pm.ParseFromArray(bytes.data() + 16, static_cast<int>(len)))
    throw std::runtime_error(path + ": unreadable packed model");

  PackedModelFile out;
  // ParseSpecText loads the plugins the embedded spec names (layers, tokenizer) first.
  out.spec = ParseSpecText(pm.spec_text(), path + " (embedded spec)");
  out.tokenizer = LoadTokenizer(pm.tokenizer());
  out.model = BuildModel(out.spec.message.model(), out.tokenizer->vocab_size(), out.tokenizer.get());
  ParamStore& store = out.model->store();
  store.AllocateValuesOnly();
  const PackedReader reader(&pm, path);
  std::set<const Param*> covered;
  ForEachLayer(out.model->net(), [&](const Layer& l) {
    for (const Param* p : const_cast<Layer&>(l).ReadPacked(reader)) covered.insert(p);  // see ForEachLayer
  });
  for (const auto& p : store.params()) {
    if (covered.count(p.get())) continue;
    const bool matrix = p->shape.size() >= 2;
    const proto::PackedTensor* t = reader.Find(p->name, matrix ? "f16" : "f32", p->shape);
    if (!t) throw std::runtime_error(path + ": parameter " + p->name + " is missing");
    const int64_t n = p->numel();
    if (t->data().size() != static_cast<size_t>(n) * (matrix ? 2 : 4))
      throw std::runtime_error(path + ": tensor " + p->name + " has " + std::to_string(t->data().size()) +
                               " bytes of data, its shape needs " + std::to_string(n * (matrix ? 2 : 4)));
    float* v = p->value.f32();
    if (matrix) {
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t->data().data() + 2 * i, 2);
        v[i] = HalfToFloat(h);
      }
    } else {
      std::memcpy(v, t->data().data(), n * sizeof(float));
    }
  }
  store.Touch();
  return out;
}

}  // namespace tinylm
