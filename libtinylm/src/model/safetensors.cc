#include "tinylm/model/safetensors.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>

#include "../data/json_reader.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/experiments/table_format.h"
#include "tinylm/model/packed.h"

namespace tinylm {

namespace {

// The header may not exceed what the format's reference implementation accepts.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

int DtypeBytes(const std::string& dtype) {
  static const std::map<std::string, int> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::string Range(const SafetensorsEntry& e) { return absl::StrCat("[", e.begin, ", ", e.end, ")"); }

// One tensor's header object: dtype, shape and data_offsets, nothing else.
SafetensorsEntry ReadEntry(json::Reader& r, const std::string& name, const std::string& where) {
  SafetensorsEntry e;
  e.name = name;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  r.Object([&](const std::string& key) {
    if (key == "dtype") {
      r.String(&e.dtype);
      has_dtype = true;
    } else if (key == "shape") {
      r.Array([&](int64_t) { e.shape.push_back(static_cast<int64_t>(r.Unsigned())); });
      has_shape = true;
    } else if (key == "data_offsets") {
      r.Array([&](int64_t i) {
        const uint64_t v = r.Unsigned();
        if (i == 0) e.begin = v;
        else if (i == 1) e.end = v;
        else r.Fail("data_offsets of '" + name + "' has more than two numbers");
      });
      has_offsets = true;
    } else {
      r.Fail("tensor '" + name + "' has an unknown member '" + key + "'");
    }
  });
  if (!has_dtype || !has_shape || !has_offsets)
    throw std::runtime_error(where + ": tensor '" + name + "' lacks " +
                             (!has_dtype ? "its dtype" : !has_shape ? "its shape" : "its data_offsets"));
  return e;
}

}  // namespace

const SafetensorsEntry* SafetensorsFile::Find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<float> SafetensorsFile::Floats(const SafetensorsEntry& e) const {
  const char* p = bytes.data() + data_start + e.begin;
  const size_t n = (e.end - e.begin) / std::max(1, DtypeBytes(e.dtype));
  std::vector<float> out(n);
  if (e.dtype == "F32") {
    std::memcpy(out.data(), p, n * 4);
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = e.dtype == "F16" ? HalfToFloat(h) : Bf16ToFloat(h);
    }
  } else {
    throw std::runtime_error(path + ": tensor '" + e.name + "' is " + e.dtype + "; weights must be F32, F16 or BF16");
  }
  return out;
}

SafetensorsFile ParseSafetensors(std::string bytes, const std::string& path) {
  SafetensorsFile f;
  f.path = path;
  f.bytes = std::move(bytes);
  const uint64_t size = f.bytes.size();
  if (size < 8) throw std::runtime_error(absl::StrCat(path, ": ", size, " bytes: too short for a safetensors file"));
  uint64_t header_len;
  std::memcpy(&header_len, f.bytes.data(), 8);  // little-endian, as this machine
  if (header_len > size - 8)
    throw std::runtime_error(absl::StrCat(path, ": the header length ", header_len, " runs past the end of the file (",
                                          size, " bytes)"));
  if (header_len > kMaxHeaderBytes)
    throw std::runtime_error(absl::StrCat(path, ": a header of ", header_len, " bytes is beyond safetensors' limit"));
  f.data_start = 8 + header_len;
  const uint64_t data_bytes = size - f.data_start;
  const std::string_view header(f.bytes.data() + 8, header_len);
  json::Reader r(header);
  std::set<std::string> names;
  try {
    if (r.Peek() != '{') r.Fail("the header is not a JSON object");
    r.Object([&](const std::string& key) {
      if (key == "__metadata__") {
        r.Object([&](const std::string& k) { r.String(&f.metadata[k]); });
        return;
      }
      if (!names.insert(key).second) r.Fail("tensor '" + key + "' is listed twice");
      f.entries.push_back(ReadEntry(r, key, path));
    });
    if (!r.AtEnd()) r.Fail("text after the header's object");
  } catch (const json::Error& e) {
    throw std::runtime_error(absl::StrCat(path, ": header byte ", 8 + e.offset, ": ", e.what()));
  }
  for (const SafetensorsEntry& e : f.entries) {
    const int width = DtypeBytes(e.dtype);
    if (width == 0) throw std::runtime_error(path + ": tensor '" + e.name + "' has the unknown dtype '" + e.dtype + "'");
    uint64_t n = 1;
    for (int64_t d : e.shape) {
      if (d != 0 && n > (uint64_t{1} << 62) / static_cast<uint64_t>(d))
        throw std::runtime_error(path + ": tensor '" + e.name + "' has a shape too large to exist");
      n *= static_cast<uint64_t>(d);
    }
    if (e.begin > e.end || e.end > data_bytes)
      throw std::runtime_error(absl::StrCat(path, ": tensor '", e.name, "' has data_offsets ", Range(e),
                                            " outside the data section's ", data_bytes, " bytes"));
    if (e.end - e.begin != n * width)
      throw std::runtime_error(absl::StrCat(path, ": tensor '", e.name, "' is ", e.dtype, " of shape [",
                                            absl::StrJoin(e.shape, ", "), "] (", n * width, " bytes) but data_offsets ",
                                            Range(e), " hold ", e.end - e.begin));
  }
  // The data must be covered exactly once: no overlapping ranges, no bytes of no tensor.
  std::sort(f.entries.begin(), f.entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (size_t i = 0; i < f.entries.size(); ++i) {
    const SafetensorsEntry& e = f.entries[i];
    if (e.begin < at)
      throw std::runtime_error(absl::StrCat(path, ": tensors '", f.entries[i - 1].name, "' ", Range(f.entries[i - 1]),
                                            " and '", e.name, "' ", Range(e), " overlap"));
    if (e.begin > at)
      throw std::runtime_error(absl::StrCat(path, ": data bytes [", at, ", ", e.begin, ") belong to no tensor"));
    at = e.end;
  }
  if (at != data_bytes)
    throw std::runtime_error(absl::StrCat(path, ": data bytes [", at, ", ", data_bytes, ") belong to no tensor"));
  return f;
}

SafetensorsFile ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  return ParseSafetensors(std::move(bytes), path);
}

void WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> members;
  if (!metadata.empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : metadata) kv.push_back(JsonString(k) + ": " + JsonString(v));
    members.push_back("\"__metadata__\": {" + absl::StrJoin(kv, ", ") + "}");
  }
  uint64_t at = 0;
  for (const SafetensorsTensor& t : tensors) {
    const uint64_t bytes = static_cast<uint64_t>(NumElements(t.shape)) * 4;
    members.push_back(absl::StrCat(JsonString(t.name), ": {\"dtype\": \"F32\", \"shape\": [", absl::StrJoin(t.shape, ", "),
                                   "], \"data_offsets\": [", at, ", ", at + bytes, "]}"));
    at += bytes;
  }
  std::string header = "{" + absl::StrJoin(members, ", ") + "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t header_len = header.size();
  AtomicFile f(path);
  f.Write(&header_len, 8);
  f.Write(header);
  for (const SafetensorsTensor& t : tensors) f.Write(t.data, static_cast<size_t>(NumElements(t.shape)) * 4);
  f.Commit();
}

}  // namespace tinylm
