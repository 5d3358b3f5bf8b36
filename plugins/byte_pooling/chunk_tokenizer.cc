#include "chunk_tokenizer.h"

#include <sstream>

#include "pretokenizer.h"

namespace tinylm::byte_pooling {

std::unique_ptr<ChunkTokenizer> ChunkTokenizer::Load(const std::string& saved) {
  std::istringstream in(saved);
  std::string tag;
  int64_t chunk = 0;
  int truncate = -1;
  if (!(in >> tag >> chunk >> truncate) || tag != "byte_chunks" || chunk < 2 || chunk > 4096 ||
      (truncate != 0 && truncate != 1))
    return nullptr;
  return std::make_unique<ChunkTokenizer>(chunk, truncate == 1);
}

std::vector<int32_t> ChunkTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (std::string_view piece : PreTokenize(text)) {
    for (size_t at = 0; at < piece.size(); at += chunk_) {
      const size_t n = std::min<size_t>(chunk_, piece.size() - at);
      for (size_t k = 0; k < n; ++k) ids.push_back(static_cast<unsigned char>(piece[at + k]));
      ids.insert(ids.end(), chunk_ - n, kPad);
      if (truncate_) break;
    }
  }
  return ids;
}

std::string ChunkTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) s.push_back(static_cast<char>(id));
    else if (id == kEndOfText) s += "<|endoftext|>";
  }
  return s;
}

int32_t ChunkTokenizer::SpecialId(const std::string& name) const {
  if (name == "<|pad|>") return kPad;
  if (name == "<|endoftext|>") return kEndOfText;
  return -1;
}

std::string ChunkTokenizer::Save() const {
  return "byte_chunks " + std::to_string(chunk_) + " " + (truncate_ ? "1" : "0");
}

}  // namespace tinylm::byte_pooling
