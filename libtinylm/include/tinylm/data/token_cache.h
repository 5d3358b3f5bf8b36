// The token cache: a stage's training and validation token streams, tokenized once and kept as
// one file named by what determines it (documents' content, data settings, tokenizer), then
// memory-mapped by every arm, seed and later ablation that needs the same streams.
//
// File layout (little-endian): a 128-byte header (magic "TLMTOKS1", format version, the key,
// token width, ids per position, then for validation and training: offset, token count, text
// bytes, documents; and the documents dropped for overlap), then the validation ids, then the
// training ids, each at a 64-byte aligned offset. Written to a temporary name and renamed, so
// a file at its final name is always complete; two processes preparing the same streams at
// once each write their own and the last rename wins, with identical content.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tinylm/data/data.h"
#include "tinylm/data/file_writes.h"

namespace tinylm {

struct CachedStreams {
  TokenStream train, val;
  int64_t train_documents = 0, val_documents = 0, dropped_overlap = 0;
};

// Where token caches live: $TINYLM_TOKEN_CACHE if set, else `output_dir`/token_cache.
std::string TokenCacheDir(const std::string& output_dir);
// The cache file for `key` in `dir`.
std::string TokenCachePath(const std::string& dir, uint64_t key);

// The streams in `path` if it exists and holds `key`; nullopt if there is no such file. A file
// that exists but is malformed (truncated, another key, inconsistent sizes) throws
// std::runtime_error naming it and the problem. Ids are checked against `vocab_size` as they
// are read (TokenArray::Read), not all up front, so opening a multi-GB cache is immediate.
std::optional<CachedStreams> ReadTokenCache(const std::string& path, uint64_t key, int64_t vocab_size);

// Streams written one id at a time, then committed under the cache's final name.
class TokenCacheWriter {
 public:
  // Throws std::runtime_error naming the directory if it cannot be created or written.
  TokenCacheWriter(const std::string& path, uint64_t key, int width, int64_t group);
  ~TokenCacheWriter();  // removes the temporary file unless committed
  TokenCacheWriter(const TokenCacheWriter&) = delete;
  TokenCacheWriter& operator=(const TokenCacheWriter&) = delete;

  enum Part { kValidation = 0, kTraining = 1 };
  // Parts are written in order: validation, then training.
  void Begin(Part part);
  void Append(const int32_t* ids, int64_t n);
  void EndDocument(int64_t text_bytes);
  // Completes the file (header, flush, rename). Throws naming the file on any write error
  // (a full disk among them); the temporary file is removed.
  void Commit(int64_t dropped_overlap);

 private:
  void Write(const void* data, size_t n);
  void PadTo64();
  std::unique_ptr<AtomicFile> file_;
  uint64_t key_;
  int width_;
  int64_t group_;
  int part_ = -1;
  uint64_t offset_ = 0;
  uint64_t part_offset_[2] = {0, 0};
  int64_t tokens_[2] = {0, 0}, text_bytes_[2] = {0, 0}, documents_[2] = {0, 0};
  std::string buffer_;
};

}  // namespace tinylm
