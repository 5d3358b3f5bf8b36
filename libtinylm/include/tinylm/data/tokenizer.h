// The Tokenizer interface, and the core byte tokenizer. Plugins add trained tokenizers
// (hybrid word+char, SentencePiece) behind the same interface.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tinylm {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string type() const = 0;
  virtual int64_t vocab_size() const = 0;
  // Text -> ids. Never produces special tokens (they are inserted by the data pipeline).
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  // Ids -> text; special tokens decode to their names.
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  // UTF-8 bytes of text that token `id` stands for; 0 for special tokens. Bits per byte divides
  // by the sum of these, so models with different tokenizers compare fairly.
  virtual int64_t TokenBytes(int32_t id) const = 0;
  // Characters (UTF-8 code points) of text the token stands for; 0 for specials. Word-token loss
  // boosting uses it. Default: the byte count.
  virtual int64_t TokenChars(int32_t id) const { return TokenBytes(id); }
  // Id of a special token ("<|endoftext|>", "<|user|>", ...) or -1.
  virtual int32_t SpecialId(const std::string& name) const = 0;
  // Serialised state (vocabulary, merges), enough for Load to rebuild it; stored in checkpoints.
  virtual std::string Save() const = 0;
  // Ids per model position. 1 for ordinary tokenizers. A chunking tokenizer (STLM's byte
  // pooling) encodes text as whole groups of `group_size()` ids, one group per model position
  // (a chunk's bytes, then "<|pad|>" up to the group size): the pipeline keeps windows aligned to
  // groups, a target is the id one whole group later, and a special token between documents is
  // a whole group (SpecialGroup). (Added in plugin ABI 6.)
  virtual int64_t group_size() const { return 1; }
};

// Special token `name` as a whole position: {id} for ordinary tokenizers, {id, pad, pad, ...}
// for grouped ones. Empty if the tokenizer has no such token.
std::vector<int32_t> SpecialGroup(const Tokenizer& tok, const std::string& name);

// Bytes 0..255 are ids 0..255; special tokens follow. Optionally one byte value doubles as
// "<|endoftext|>" (vocabulary stays 256; that byte counts as 0 text bytes).
class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(std::vector<std::string> specials, int end_of_text_byte = -1);
  std::string type() const override { return "bytes"; }
  int64_t vocab_size() const override { return 256 + static_cast<int64_t>(specials_.size()); }
  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int64_t TokenBytes(int32_t id) const override { return id < 256 && id != eot_byte_ ? 1 : 0; }
  int32_t SpecialId(const std::string& name) const override;
  std::string Save() const override;

 private:
  std::vector<std::string> specials_;
  int eot_byte_;
};

// Rebuilds a tokenizer from Save() output (checkpoints): the byte tokenizer, or a plugin's
// (its plugin must be loaded). Throws std::runtime_error if the format is unknown.
std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& saved);

}  // namespace tinylm
