// A whole file mapped read-only into memory. Corpora and token caches are read through
// mappings so that their pages belong to the page cache, shared by every arm, seed and process
// that reads them, instead of each holding a private copy (a 2.2 GB corpus read into a
// std::string is 2.2 GB of resident memory per copy).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tinylm {

class MappedFile {
 public:
  // Throws std::runtime_error naming `path` if it cannot be opened or mapped. An empty file
  // maps to an empty view.
  static std::shared_ptr<const MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  const std::string& path() const { return path_; }
  // Tells the kernel the file will be read front to back (read-ahead), or at random.
  void AdviseSequential() const;
  void AdviseRandom() const;
  // Drops the pages of bytes [0, n) from this process's resident memory (they stay in the page
  // cache, and are read again from it if touched): a pass over a corpus keeps at most a window
  // of it resident instead of all of it.
  void Release(size_t n) const;
  // All of it.
  void Release() const { Release(size_); }
  // The file's content hash: ContentHash of the concatenated ContentHashes of its 64 MiB chunks,
  // each chunk released once hashed, so hashing a multi-GB file keeps one chunk resident.
  uint64_t Hash() const;

 private:
  MappedFile(std::string path, void* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  void* data_;
  size_t size_;
};

// XXH64 (Collet's xxHash, 64-bit): fast enough to hash a multi-GB corpus in well under a
// second, to key the token cache and the run cache by content rather than by name or date.
uint64_t ContentHash(std::string_view bytes, uint64_t seed = 0);

}  // namespace tinylm
