// The data of one training stage, streamed: its sources mapped and hashed, their documents
// split into training and validation and filtered for overlap one document at a time, and
// pretraining streams tokenized once into the token cache (data/token_cache.h). Nothing here
// holds a corpus in memory: a 2.2 GB corpus is prepared in the memory of one document.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tinylm.pb.h"
#include "tinylm/data/data.h"
#include "tinylm/data/mapped_file.h"
#include "tinylm/data/token_cache.h"

namespace tinylm {

// A data problem at a spec field ("data.train[0].path"); the preparer turns it into an error
// naming the spec file and line.
struct StageDataError : std::runtime_error {
  StageDataError(std::string at, const std::string& reason) : std::runtime_error(reason), path(std::move(at)) {}
  std::string path;
};

class StageDocuments {
 public:
  // Opens (maps) and hashes every source of `data`; `data_path` is its spec path ("data" or
  // "stages[i].data"). Checks what can be checked without reading documents, and with a
  // validation_fraction also counts each source's documents (to know where its held-out end
  // starts). Throws StageDataError.
  StageDocuments(const proto::DataSpec& data, const std::string& data_path, const std::string& data_dir, bool sft);

  // Every validation document, in order.
  void ForEachValidation(const DocumentFn& fn);
  // Every training document, in order, without those sharing a long line with validation when
  // the spec asks (drop_validation_overlap); after a complete pass, dropped_overlap() is set.
  void ForEachTraining(const DocumentFn& fn);
  int64_t dropped_overlap() const { return dropped_overlap_; }

  // Identifies the documents: the data spec with each path replaced by its file's content
  // hash (renaming or moving a file changes nothing).
  uint64_t key() const { return key_; }
  // Content hashes of the files, in spec order (the experiment's data hash chains them).
  std::vector<uint64_t> file_hashes() const;
  // Total bytes of the training source files (progress reporting).
  int64_t training_file_bytes() const;

 private:
  struct Source {
    proto::DataSource spec;
    std::string spec_path, file;
    std::shared_ptr<const MappedFile> map;
    uint64_t hash = 0;
    int64_t documents = -1, held_out = 0;  // counted when splitting by validation_fraction
  };
  // Documents [first, last) of one source (last -1: to the end); errors name its spec path.
  void Stream(const Source& s, int64_t first, int64_t last, const DocumentFn& fn) const;
  void BuildOverlapFilter();

  proto::DataSpec data_;
  std::string data_path_;
  std::vector<Source> train_, val_;
  bool split_ = false;  // validation = the end of each training source
  std::optional<OverlapFilter> overlap_;
  int64_t dropped_overlap_ = 0;
  uint64_t key_ = 0;
};

// Up to `budget` bytes of training text for a tokenizer to learn from: all documents if they
// fit, else every k-th, for the smallest k that fits (deterministic, spread over the corpus).
std::vector<Document> TokenizerSample(StageDocuments* docs, int64_t budget);
constexpr int64_t kTokenizerSampleBytes = int64_t{32} << 20;



// A pretraining stage's token streams: from the token cache in `cache_dir` when it holds them,
// else tokenized from `docs` into it first (a progress line with an ETA on stderr for large
// corpora when `progress`). The cache key covers the documents, the tokenizer's saved state,
// kTokenStreamVersion (bumped when the built-in tokenization changes meaning) and
// `plugin_identity` (the spec's plugins by content, which may provide the tokenizer).
// `cached` (optional) tells whether the streams were already there.
CachedStreams StageStreams(StageDocuments* docs, const Tokenizer& tok, const std::string& plugin_identity,
                           const std::string& cache_dir, bool progress, bool* cached = nullptr);
constexpr int kTokenStreamVersion = 1;

}  // namespace tinylm
