// The safetensors format (Hugging Face's, read by PyTorch, JAX and most tools): u64 little-endian
// header length N | N bytes of JSON header | data. The header maps each tensor's name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data), plus an optional
// "__metadata__" object of strings. Reading validates everything a damaged or hostile file
// could get wrong — a header length beyond the file, malformed JSON, unknown dtypes, a shape
// that does not match its byte range, ranges outside the data, overlapping or leaving holes,
// names listed twice — and says which, naming the file and the tensor.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinylm/tensors/tensor.h"

namespace tinylm {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "F64", "I64", ... as the format names them
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data section
};

struct SafetensorsFile {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsEntry> entries;  // in data order
  std::string bytes;                      // the whole file
  uint64_t data_start = 0;                // where the data section begins in `bytes`

  const SafetensorsEntry* Find(const std::string& name) const;
  // The tensor's values as float (F32, F16 and BF16; other dtypes throw, naming the tensor).
  std::vector<float> Floats(const SafetensorsEntry& e) const;
};

// Throws std::runtime_error "<path>: <what is wrong>".
SafetensorsFile ReadSafetensors(const std::string& path);
// The same on bytes in memory (`path` only names them in errors).
SafetensorsFile ParseSafetensors(std::string bytes, const std::string& path);

struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;  // written as F32
};

// Writes the tensors in order with `metadata` (atomically, data aligned to 8 bytes).
void WriteSafetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                      const std::map<std::string, std::string>& metadata);

}  // namespace tinylm
