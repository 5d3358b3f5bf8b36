// The data pipeline: documents from files in five formats, token streams, and deterministic
// batches. Everything a batch contains is a pure function of (seed, stage, step), so a resumed
// run sees exactly the data order of an uninterrupted one.
#pragma once
#include <string>
#include <vector>

#include "tinylm.pb.h"
#include "tinylm/model/model.h"
#include "tinylm/tensors/rng.h"
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

// Reads one source. Throws std::runtime_error "<file>[:line]: reason" for a missing file, a
// malformed JSON line or a missing member. May return zero documents (the caller decides).
std::vector<Document> LoadDocuments(const proto::DataSource& src, const std::string& data_dir);
// The same from bytes already read from `path` (callers that also hash the file read it once).
std::vector<Document> ParseDocuments(const proto::DataSource& src, const std::string& bytes, const std::string& path);

// Drops documents sharing a line (>= 60 chars, trimmed) with any of `held_out`.
// Returns how many were dropped.
int64_t DropOverlap(std::vector<Document>* docs, const std::vector<Document>& held_out);

// Documents joined into one token stream, separated by the end-of-text token (when the
// tokenizer has one), with the UTF-8 byte count of the text. A grouped tokenizer's stream is
// whole groups (Tokenizer::group_size), and windows over it start at group boundaries.
struct TokenStream {
  std::vector<int32_t> tokens;
  int64_t text_bytes = 0;
  int64_t group = 1;  // ids per model position; targets are `group` ids ahead
};
TokenStream Tokenize(const std::vector<Document>& docs, const Tokenizer& tok);

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
