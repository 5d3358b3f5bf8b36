#include "tinylm/data/token_cache.h"

#include <absl/strings/str_cat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tinylm/data/mapped_file.h"
#include "tinylm/model/checkpoint.h"

namespace tinylm {
namespace {

constexpr char kMagic[8] = {'T', 'L', 'M', 'T', 'O', 'K', 'S', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 128;

struct Header {
  char magic[8];
  uint32_t version, width;
  uint64_t key;
  int64_t group;
  int64_t offset[2], tokens[2], text_bytes[2], documents[2];  // [validation, training]
  int64_t dropped_overlap;
};
static_assert(sizeof(Header) <= kHeaderBytes);

}  // namespace

std::string TokenCacheDir(const std::string& output_dir) {
  if (const char* env = std::getenv("TINYLM_TOKEN_CACHE"); env && *env) return env;
  return (std::filesystem::path(output_dir) / "token_cache").string();
}

std::string TokenCachePath(const std::string& dir, uint64_t key) {
  return (std::filesystem::path(dir) / (Hex64(key) + ".tokens")).string();
}

std::optional<CachedStreams> ReadTokenCache(const std::string& path, uint64_t key, int64_t vocab_size) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  const auto map = MappedFile::Open(path);
  const std::string_view bytes = map->bytes();
  auto bad = [&](const std::string& why) {
    return std::runtime_error(path + ": not a usable token cache (" + why + "); delete it to tokenize again");
  };
  if (bytes.size() < kHeaderBytes) throw bad("shorter than its header");
  Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) throw bad("bad magic");
  if (h.version != kVersion) throw bad(absl::StrCat("format version ", h.version, ", this build reads ", kVersion));
  if (h.key != key) throw bad("holds other streams than its name says");
  if (h.width != 1 && h.width != 2 && h.width != 4) throw bad(absl::StrCat("token width ", h.width));
  if (h.group < 1 || h.group > 4096) throw bad(absl::StrCat("ids per position ", h.group));
  if (h.dropped_overlap < 0) throw bad("negative count");
  uint64_t end_of_previous = kHeaderBytes;
  for (int p = 0; p < 2; ++p) {
    if (h.tokens[p] < 0 || h.text_bytes[p] < 0 || h.documents[p] < 0) throw bad("negative count");
    if (h.tokens[p] % h.group != 0) throw bad("a partial group of ids");
    const uint64_t off = static_cast<uint64_t>(h.offset[p]);
    if (h.offset[p] < 0 || off % 64 != 0 || off < end_of_previous || off > bytes.size())
      throw bad(absl::StrCat("section offset ", h.offset[p]));
    if (static_cast<uint64_t>(h.tokens[p]) > (bytes.size() - off) / h.width) throw bad("truncated");
    end_of_previous = off + static_cast<uint64_t>(h.tokens[p]) * h.width;
  }
  map->AdviseRandom();  // windows are drawn at random offsets
  CachedStreams c;
  TokenStream* streams[2] = {&c.val, &c.train};
  for (int p = 0; p < 2; ++p) {
    streams[p]->tokens = TokenArray::View(map, bytes.data() + h.offset[p], h.tokens[p], static_cast<int>(h.width),
                                          vocab_size, path);
    streams[p]->text_bytes = h.text_bytes[p];
    streams[p]->group = h.group;
  }
  c.val_documents = h.documents[0];
  c.train_documents = h.documents[1];
  c.dropped_overlap = h.dropped_overlap;
  return c;
}

TokenCacheWriter::TokenCacheWriter(const std::string& path, uint64_t key, int width, int64_t group)
    : key_(key), width_(width), group_(group) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot create the token cache directory: " + ec.message());
  file_ = std::make_unique<AtomicFile>(path);
  buffer_.reserve(1 << 20);
  const std::string zeros(kHeaderBytes, '\0');
  Write(zeros.data(), zeros.size());
}

TokenCacheWriter::~TokenCacheWriter() = default;

void TokenCacheWriter::Write(const void* data, size_t n) {
  buffer_.append(static_cast<const char*>(data), n);
  offset_ += n;
  if (buffer_.size() >= (1 << 20)) {
    file_->Write(buffer_);
    buffer_.clear();
  }
}

void TokenCacheWriter::PadTo64() {
  static const char zeros[64] = {};
  if (offset_ % 64) Write(zeros, 64 - offset_ % 64);
}

void TokenCacheWriter::Begin(Part part) {
  if (static_cast<int>(part) != part_ + 1) throw std::logic_error("token cache parts out of order");
  part_ = part;
  PadTo64();
  part_offset_[part] = offset_;
}

void TokenCacheWriter::Append(const int32_t* ids, int64_t n) {
  tokens_[part_] += n;
  if (width_ == 4) return Write(ids, n * 4);
  char narrow[4096];
  for (int64_t i = 0; i < n;) {
    const int64_t m = std::min<int64_t>(n - i, sizeof narrow / width_);
    for (int64_t k = 0; k < m; ++k) {
      const uint32_t id = static_cast<uint32_t>(ids[i + k]);
      if (width_ == 1) narrow[k] = static_cast<char>(id);
      else std::memcpy(narrow + 2 * k, &id, 2);  // little-endian low half
    }
    Write(narrow, m * width_);
    i += m;
  }
}

void TokenCacheWriter::EndDocument(int64_t text_bytes) {
  text_bytes_[part_] += text_bytes;
  ++documents_[part_];
}

void TokenCacheWriter::Commit(int64_t dropped_overlap) {
  if (part_ != kTraining) throw std::logic_error("token cache committed before its training part");
  file_->Write(buffer_);
  buffer_.clear();
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.width = static_cast<uint32_t>(width_);
  h.key = key_;
  h.group = group_;
  for (int p = 0; p < 2; ++p) {
    h.offset[p] = static_cast<int64_t>(part_offset_[p]);
    h.tokens[p] = tokens_[p];
    h.text_bytes[p] = text_bytes_[p];
    h.documents[p] = documents_[p];
  }
  h.dropped_overlap = dropped_overlap;
  file_->WriteAt(0, &h, sizeof h);
  file_->Commit();
}

}  // namespace tinylm
