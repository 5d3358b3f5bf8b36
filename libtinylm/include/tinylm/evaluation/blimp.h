// BLiMP (Warstadt et al., 2020): 67 phenomena x 1,000 minimal pairs of English sentences, one
// grammatical and one not. A model knows a pair when it gives the grammatical sentence the
// strictly higher total log-probability (a tie counts as wrong). Zero-shot and tokenizer-neutral:
// each sentence is scored after the tokenizer's end-of-text token (so its first token is
// predicted too; without one, from its second token), summed over all its tokens. For a grouped
// tokenizer (byte pooling) a token is one id of a chunk, padding of the chunk included, as in
// bits per byte.
#pragma once
#include <string>
#include <vector>

#include "tinylm/data/tokenizer.h"
#include "tinylm/model/model.h"

namespace tinylm {

struct BlimpPair {
  std::string good, bad;
  std::string field;       // "syntax", "morphology", "semantics", "syntax_semantics", ...
  std::string term;        // linguistics_term, e.g. "island_effects"
  std::string phenomenon;  // UID, e.g. "adjunct_island"
};

// Every *.jsonl file of `dir` (sorted by name), one pair per line. Bad input throws
// std::runtime_error naming the file, the line and the field.
std::vector<BlimpPair> LoadBlimp(const std::string& dir);

// The first `n` pairs of each phenomenon, in file order (n <= 0: all).
std::vector<BlimpPair> FirstPairsOfEachPhenomenon(const std::vector<BlimpPair>& pairs, int64_t n);

// Total log-probability (nats) of each text, scored as above. Texts go through the model in
// batches of up to `batch_size` of similar length (padding never reaches a scored position: the
// model is causal and padding only follows a text). A text longer than the model's context
// throws std::runtime_error.
std::vector<double> SentenceLogProbs(Context& ctx, LanguageModel& model, const Tokenizer& tok,
                                     const std::vector<std::string>& texts, int64_t batch_size = 64);

struct BlimpScore {
  std::string name;
  int64_t correct = 0, total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0.0; }
  // 95% Wilson score interval of the accuracy.
  double ci_low() const;
  double ci_high() const;
};

struct BlimpResult {
  std::vector<BlimpScore> phenomena, fields;  // sorted by name
  BlimpScore overall;
  double pairs_per_second = 0;
};

BlimpResult EvaluateBlimp(Context& ctx, LanguageModel& model, const Tokenizer& tok, const std::vector<BlimpPair>& pairs,
                          int64_t batch_size = 64);

}  // namespace tinylm
