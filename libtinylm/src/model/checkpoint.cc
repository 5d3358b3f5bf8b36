#include "tinylm/model/checkpoint.h"

#include <absl/strings/str_cat.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tinylm/data/file_writes.h"

namespace tinylm {

namespace {
constexpr char kMagic[8] = {'T', 'L', 'M', 'C', 'K', 'P', 'T', '1'};

// Layout: magic[8] | u64 header_len | header | values | adam_m | adam_v | u64 checksum
// (checksum = FNV-1a of everything before it).

std::string ReadWhole(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open checkpoint");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Verifies framing and checksum; returns the header and the offset of the arenas.
proto::CheckpointHeader Parse(const std::string& bytes, const std::string& path, size_t* arenas_at) {
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw std::runtime_error(path + ": not a tinylm checkpoint (bad magic)");
  uint64_t stored, header_len;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (Fnv64(bytes.data(), bytes.size() - 8) != stored)
    throw std::runtime_error(path + ": checksum mismatch (truncated or corrupted checkpoint)");
  std::memcpy(&header_len, bytes.data() + 8, 8);
  // Compared without adding to header_len: a huge value must not wrap around.
  if (header_len > bytes.size() - 24 || header_len > static_cast<uint64_t>(std::numeric_limits<int>::max()))
    throw std::runtime_error(path + ": bad header length");
  proto::CheckpointHeader h;
  if (!h.ParseFromArray(bytes.data() + 16, static_cast<int>(header_len)))
    throw std::runtime_error(path + ": unreadable checkpoint header");
  *arenas_at = 16 + header_len;
  if (bytes.size() - 8 - *arenas_at != static_cast<size_t>(3 * h.arena_floats() * sizeof(float)))
    throw std::runtime_error(path + ": arena size does not match the header");
  return h;
}
}  // namespace

uint64_t Fnv64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void SaveCheckpoint(const std::string& path, proto::CheckpointHeader h, const ParamStore& store) {
  h.clear_params();
  for (const auto& p : store.params()) {
    auto* cp = h.add_params();
    cp->set_name(p->name);
    for (int64_t d : p->shape) cp->add_shape(d);
    cp->set_offset(p->offset);
  }
  h.set_arena_floats(store.size());
  const std::string header = h.SerializeAsString();
  const uint64_t header_len = header.size();
  const size_t arena_bytes = store.size() * sizeof(float);

  uint64_t sum = Fnv64(kMagic, 8);
  sum = Fnv64(&header_len, 8, sum);
  sum = Fnv64(header.data(), header.size(), sum);
  for (const Tensor* t : {&store.values(), &store.adam_m(), &store.adam_v()}) sum = Fnv64(t->raw(), arena_bytes, sum);

  // The previous checkpoint stays whole until the new one is complete and synced: a full disk
  // or a kill while writing costs the new checkpoint only.
  AtomicFile f(path);
  f.Write(kMagic, 8);
  f.Write(&header_len, 8);
  f.Write(header);
  for (const Tensor* t : {&store.values(), &store.adam_m(), &store.adam_v()}) f.Write(t->raw(), arena_bytes);
  f.Write(&sum, 8);
  f.Commit();
}

proto::CheckpointHeader ReadCheckpointHeader(const std::string& path) {
  size_t at;
  return Parse(ReadWhole(path), path, &at);
}

proto::CheckpointHeader LoadCheckpoint(const std::string& path, ParamStore* store) {
  const std::string bytes = ReadWhole(path);
  size_t at;
  proto::CheckpointHeader h = Parse(bytes, path, &at);
  if (h.arena_floats() != store->size() || h.params_size() != static_cast<int>(store->params().size()))
    throw std::runtime_error(path + ": parameter layout differs from the model (" +
                             std::to_string(h.params_size()) + " params in file, " +
                             std::to_string(store->params().size()) + " in model)");
  for (int i = 0; i < h.params_size(); ++i) {
    const Param& p = *store->params()[i];
    const auto& cp = h.params(i);
    if (cp.name() != p.name || Shape(cp.shape().begin(), cp.shape().end()) != p.shape || cp.offset() != p.offset)
      throw std::runtime_error(path + ": parameter " + std::to_string(i) + " is '" + cp.name() + "' " +
                               ShapeString(Shape(cp.shape().begin(), cp.shape().end())) + " in the file but '" +
                               p.name + "' " + ShapeString(p.shape) + " in the model");
  }
  const size_t arena_bytes = store->size() * sizeof(float);
  std::memcpy(store->values().raw(), bytes.data() + at, arena_bytes);
  store->Touch();
  std::memcpy(store->adam_m().raw(), bytes.data() + at + arena_bytes, arena_bytes);
  std::memcpy(store->adam_v().raw(), bytes.data() + at + 2 * arena_bytes, arena_bytes);
  return h;
}

}  // namespace tinylm
