// TinyMemoryLM's hybrid word + character tokenizer.
//
// Vocabulary (ids in this order): the 256 bytes (byte fallback: any input, even invalid UTF-8,
// round-trips), the special tokens, every multi-byte UTF-8 character seen in the training
// corpus, then the most frequent whole words — counted separately with a leading space
// (" word") and without ("word") — until the target size. Training is deterministic: ties in
// frequency break by byte order.
//
// Encoding walks the text once: a word (ASCII letters and inner apostrophes), with its leading
// space if there is one, is one token when in the vocabulary (" word", else the space byte and
// "word"), else its characters; a multi-byte character is its token if known, else its bytes;
// anything else is a byte.
#include <absl/container/flat_hash_map.h>
#include <absl/strings/escaping.h>
#include <absl/strings/str_split.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "hybrid_tokenizer.pb.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;

bool IsLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// End of the word starting at i (text[i] is a letter): letters, and apostrophes followed by a letter.
size_t WordEnd(std::string_view t, size_t i) {
  size_t j = i;
  while (j < t.size() && (IsLetter(t[j]) || (t[j] == '\'' && j + 1 < t.size() && IsLetter(t[j + 1])))) ++j;
  return j;
}

// Length of a valid UTF-8 multi-byte character at i, or 0.
size_t Utf8Char(std::string_view t, size_t i) {
  const unsigned char c = t[i];
  const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || c >= 0xF5 || i + n > t.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(t[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// Calls on_word(piece) for each word (with its leading space when present) and on_char(piece)
// for each multi-byte character, in text order.
template <typename W, typename C>
void Segment(std::string_view t, W on_word, C on_char) {
  for (size_t i = 0; i < t.size();) {
    if (IsLetter(t[i])) {
      const size_t j = WordEnd(t, i);
      const size_t start = i > 0 && t[i - 1] == ' ' ? i - 1 : i;
      on_word(t.substr(start, j - start));
      i = j;
    } else if (const size_t n = Utf8Char(t, i)) {
      on_char(t.substr(i, n));
      i += n;
    } else {
      ++i;
    }
  }
}

class HybridTokenizer : public Tokenizer {
 public:
  enum Kind : char { kByte = 'b', kSpecial = 's', kChar = 'c', kWord = 'w' };

  HybridTokenizer() {
    for (int b = 0; b < 256; ++b) Add(std::string(1, static_cast<char>(b)), kByte);
  }

  static std::unique_ptr<HybridTokenizer> Train(const plugins::HybridTokenizerConfig& cfg,
                                                const std::vector<Document>& corpus) {
    auto tok = std::make_unique<HybridTokenizer>();
    tok->max_word_bytes_ = cfg.max_word_bytes();
    std::vector<std::string> specials(cfg.special().begin(), cfg.special().end());
    if (specials.empty()) specials = {"<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"};
    for (const auto& s : specials) tok->Add(s, kSpecial);
    absl::flat_hash_map<std::string, int64_t> words, chars;
    for (const Document& d : corpus)
      for (const std::string* text : {&d.prompt, &d.text})
        Segment(
            *text,
            [&](std::string_view w) {
              if (static_cast<int>(w.size()) <= cfg.max_word_bytes() + 1 && w.size() > 1) ++words[std::string(w)];
            },
            [&](std::string_view c) { ++chars[std::string(c)]; });
    auto ranked = [](const absl::flat_hash_map<std::string, int64_t>& m, int64_t min_count) {
      std::vector<std::pair<int64_t, std::string>> v;
      for (const auto& [k, n] : m)
        if (n >= min_count) v.push_back({-n, k});
      std::sort(v.begin(), v.end());  // most frequent first, then byte order: deterministic
      return v;
    };
    for (const auto& [n, c] : ranked(chars, 1)) tok->Add(c, kChar);
    if (tok->vocab_size() > cfg.vocab_size())
      throw std::invalid_argument("vocab_size " + std::to_string(cfg.vocab_size()) + " is smaller than the " +
                                  std::to_string(tok->vocab_size()) + " bytes, specials and characters");
    for (const auto& [n, w] : ranked(words, cfg.min_count())) {
      if (tok->vocab_size() >= cfg.vocab_size()) break;
      tok->Add(w, kWord);
    }
    return tok;
  }

  static std::unique_ptr<HybridTokenizer> Load(const std::string& saved) {
    std::vector<std::string> lines = absl::StrSplit(saved, '\n');
    auto tok = std::make_unique<HybridTokenizer>();
    std::vector<std::string> head = absl::StrSplit(lines[0], ' ');
    if (head.size() != 2 || head[0] != "hybrid") throw std::runtime_error("not a hybrid tokenizer state");
    tok->max_word_bytes_ = std::stoi(head[1]);
    for (size_t i = 1; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      std::string piece;
      if (!absl::CUnescape(lines[i].substr(1), &piece)) throw std::runtime_error("corrupt hybrid tokenizer state");
      tok->Add(piece, static_cast<Kind>(lines[i][0]));
    }
    return tok;
  }

  std::string type() const override { return "hybrid"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }

  std::vector<int32_t> Encode(std::string_view t) const override {
    std::vector<int32_t> ids;
    ids.reserve(t.size() / 3);
    for (size_t i = 0; i < t.size();) {
      const unsigned char c = t[i];
      if (c == ' ' && i + 1 < t.size() && IsLetter(t[i + 1])) {
        const size_t j = WordEnd(t, i + 1);
        if (const int32_t id = Find(t.substr(i, j - i), kWord); id >= 0) {
          ids.push_back(id);
          i = j;
          continue;
        }
        ids.push_back(' ');  // the word itself is handled next
        ++i;
        continue;
      }
      if (IsLetter(c)) {
        const size_t j = WordEnd(t, i);
        if (const int32_t id = Find(t.substr(i, j - i), kWord); id >= 0) {
          ids.push_back(id);
        } else {
          for (size_t k = i; k < j; ++k) ids.push_back(static_cast<unsigned char>(t[k]));  // character fallback
        }
        i = j;
        continue;
      }
      if (const size_t n = Utf8Char(t, i)) {
        if (const int32_t id = Find(t.substr(i, n), kChar); id >= 0) {
          ids.push_back(id);
          i += n;
          continue;
        }
      }
      ids.push_back(c);  // byte fallback
      ++i;
    }
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t id : ids)
      if (id >= 0 && id < vocab_size()) s += pieces_[id];
    return s;
  }

  int64_t TokenBytes(int32_t id) const override {
    return kinds_[id] == kSpecial ? 0 : static_cast<int64_t>(pieces_[id].size());
  }
  int64_t TokenChars(int32_t id) const override {
    switch (kinds_[id]) {
      case kSpecial: return 0;
      case kWord: return static_cast<int64_t>(pieces_[id].size());  // ASCII letters, space, apostrophe
      default: return 1;
    }
  }
  int32_t SpecialId(const std::string& name) const override { return Find(name, kSpecial); }

  std::string Save() const override {
    std::string s = "hybrid " + std::to_string(max_word_bytes_) + "\n";
    for (size_t i = 256; i < pieces_.size(); ++i) s += std::string(1, kinds_[i]) + absl::CEscape(pieces_[i]) + "\n";
    return s;
  }

 private:
  void Add(const std::string& piece, Kind kind) {
    if (kind != kByte) lookup_[std::string(1, kind) + piece] = static_cast<int32_t>(pieces_.size());
    pieces_.push_back(piece);
    kinds_.push_back(kind);
  }
  int32_t Find(std::string_view piece, Kind kind) const {
    auto it = lookup_.find(std::string(1, kind) + std::string(piece));
    return it == lookup_.end() ? -1 : it->second;
  }

  std::vector<std::string> pieces_;
  std::vector<Kind> kinds_;
  absl::flat_hash_map<std::string, int32_t> lookup_;  // kind + piece -> id
  int max_word_bytes_ = 16;
};

void Register(PluginRegistrar& r) {
  r.AddTokenizer(
      "tinylm.plugins.hybrid",
      [](const ConfigMessage& c, const TokenizerBuildContext& ctx) -> std::unique_ptr<Tokenizer> {
        return HybridTokenizer::Train(static_cast<const plugins::HybridTokenizerConfig&>(c), *ctx.corpus);
      },
      "hybrid", [](const std::string& saved) -> std::unique_ptr<Tokenizer> { return HybridTokenizer::Load(saved); },
      [](const ConfigMessage& c) -> std::string {
        const auto& cfg = static_cast<const plugins::HybridTokenizerConfig&>(c);
        if (cfg.vocab_size() < 260) return "vocab_size: must leave room beyond the 256 byte tokens";
        if (cfg.max_word_bytes() < 2) return "max_word_bytes: must be at least 2";
        return "";
      });
}

}  // namespace

TINYLM_PLUGIN("hybrid_tokenizer", "1.0.0", "TinyMemoryLM hybrid word + character tokenizer with byte fallback", Register)
