// GPT-2's pre-tokenizer without its BPE merges: the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// applied left to right. Letters are ASCII letters and every non-ASCII code point except the
// common typographic punctuation and spaces (curly quotes, dashes, ellipsis, no-break space),
// which is as close to \p{L} as matters for English text without Unicode tables.
#pragma once
#include <string_view>
#include <vector>

namespace tinylm::byte_pooling {

// The pre-tokens of `text`, in order; they concatenate back to `text`.
std::vector<std::string_view> PreTokenize(std::string_view text);

}  // namespace tinylm::byte_pooling
