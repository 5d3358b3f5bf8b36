// The data pipeline: documents from files in five formats, token streams, and deterministic
// batches. Everything a batch contains is a pure function of (seed, stage, step), so a resumed
// run sees exactly the data order of an uninterrupted one.
#pragma once
#include <absl/container/flat_hash_set.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tinylm.pb.h"
#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"
#include "tinylm/data/token_array.h"
#include "tinylm/data/tokenizer.h"

namespace tinylm {

// The data directory: `flag` if non-empty, else $TINYLM_DATA_DIR, else ../shared/data beside
// the source checkout.
std::string ResolveDataDir(const std::string& flag);

// Whole file as bytes; throws std::runtime_error naming the path if unreadable or empty.
std::string ReadFileBytes(const std::string& path);

// A document, or a prompt/response record (prompt non-empty only for PROMPT_RESPONSE).
struct Document {
  std::string prompt, text;
};

// Receives documents one at a time; returns false to stop early.
using DocumentFn = std::function<bool(Document&&)>;

// Streams the documents of one source parsed from `bytes` (the file at `path`, usually
// mapped) in file order, up to src.max_documents, holding one document at a time. Throws
// std::runtime_error "<file>[:line]: reason" for malformed JSON or a missing member; may emit
// some documents before finding an error further on. `consumed` (optional) is told, every
// 64 MB or so, that bytes [0, n) will not be read again (to release them from memory).
using ConsumedFn = std::function<void(size_t n)>;
void ForEachDocument(const proto::DataSource& src, std::string_view bytes, const std::string& path, const DocumentFn& fn,
                     const ConsumedFn& consumed = {});
// All of them (small sources, tests). May return zero documents (the caller decides).
std::vector<Document> ParseDocuments(const proto::DataSource& src, std::string_view bytes, const std::string& path);
// The same, reading the file data_dir/src.path().
std::vector<Document> LoadDocuments(const proto::DataSource& src, const std::string& data_dir);

// Training documents sharing a long line (>= 60 chars, trimmed) with held-out text are dropped
// (drop_validation_overlap). Keeps 64-bit hashes of the held-out lines only.
class OverlapFilter {
 public:
  void HoldOut(const Document& d);
  bool Overlaps(const Document& d) const;

 private:
  static void ForEachLongLine(const std::string& text, const std::function<void(uint64_t)>& fn);
  absl::flat_hash_set<uint64_t> held_out_;
};
// Drops documents sharing a long line with any of `held_out`. Returns how many were dropped.
int64_t DropOverlap(std::vector<Document>* docs, const std::vector<Document>& held_out);

// Documents joined into one token stream, separated by the end-of-text token (when the
// tokenizer has one), with the UTF-8 byte count of the text. A grouped tokenizer's stream is
// whole groups (Tokenizer::group_size), and windows over it start at group boundaries. The
// ids live in memory or in a mapped token cache (data/token_cache.h).
struct TokenStream {
  TokenArray tokens;
  int64_t text_bytes = 0;
  int64_t group = 1;  // ids per model position; targets are `group` ids ahead
};
TokenStream Tokenize(const std::vector<Document>& docs, const Tokenizer& tok);
// One document's ids as they enter a stream: its text (a prompt and response joined by a
// newline) encoded, then the end-of-text group `eot` (SpecialGroup(tok, "<|endoftext|>")).
// Returns the text's byte count.
int64_t EncodeDocument(const Document& d, const Tokenizer& tok, const std::vector<int32_t>& eot, std::vector<int32_t>* ids);

// Random windows of seq+group tokens from a stream (inputs = first seq, targets = the seq after
// the first group); with group 1, inputs and targets are the same window shifted by one token.
// seq must be a multiple of the stream's group.
class WindowSampler {
 public:
  WindowSampler(const TokenStream* stream, int64_t seq);
  // Batch for `step`: offsets drawn from CounterBits(seed, stream_id, step * batch + row).
  void Sample(uint64_t seed, uint64_t stream_id, uint64_t step, Batch* out) const;
  int64_t batch_size() const { return batch_; }
  void set_batch_size(int64_t b) { batch_ = b; }

 private:
  const TokenStream* stream_;
  int64_t seq_, batch_ = 1;
};

// Instruction-tuning examples: <|user|> prompt <|assistant|> response <|end|>, one per
// sequence (truncated / padded); loss weight 1 on response and end tokens, 0 elsewhere. A
// prompt longer than half the sequence keeps only its end.
class ChatExamples {
 public:
  ChatExamples(const std::vector<Document>& records, const Tokenizer& tok, int64_t seq);
  void Sample(uint64_t seed, uint64_t stream_id, uint64_t step, int64_t batch, Batch* out) const;
  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  // Targets with weight > 0 over all examples (response tokens that fit the sequence).
  int64_t response_tokens() const { return response_tokens_; }
  // Fixed example i (for evaluation): fills row `row` of `out`.
  void Fill(int64_t example, int64_t row, Batch* out) const;

 private:
  struct Example {
    std::vector<int32_t> ids;
    std::vector<float> weights;  // weight of predicting ids[t+1]
  };
  std::vector<Example> examples_;
  int64_t seq_;
  int64_t response_tokens_ = 0;
};

}  // namespace tinylm
