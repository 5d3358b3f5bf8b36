// The byte-chunk tokenizer of byte pooling: one model position = one chunk of `chunk_bytes` ids.
#pragma once
#include <memory>
#include <string>

#include "tinylm/data/tokenizer.h"

namespace tinylm::byte_pooling {

class ChunkTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kPad = 256, kEndOfText = 257;
  ChunkTokenizer(int64_t chunk_bytes, bool truncate) : chunk_(chunk_bytes), truncate_(truncate) {}
  // Rebuilds from Save() output ("byte_chunks <chunk_bytes> <truncate>"); null if malformed.
  static std::unique_ptr<ChunkTokenizer> Load(const std::string& saved);

  std::string type() const override { return "byte_chunks"; }
  int64_t vocab_size() const override { return 258; }
  int64_t group_size() const override { return chunk_; }
  // Pre-tokens (pretokenizer.h), each continued in further chunks (or cut, with truncate) beyond
  // chunk_bytes, each chunk padded to chunk_bytes.
  std::vector<int32_t> Encode(std::string_view text) const override;
  // Bytes in order; padding dropped; "<|endoftext|>" for its id.
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int64_t TokenBytes(int32_t id) const override { return id >= 0 && id < 256 ? 1 : 0; }
  int32_t SpecialId(const std::string& name) const override;
  std::string Save() const override;

 private:
  int64_t chunk_;
  bool truncate_;
};

}  // namespace tinylm::byte_pooling
