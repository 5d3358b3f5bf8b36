#include "tinylm/evaluation/blimp.h"

#include <absl/strings/str_cat.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <stdexcept>

namespace tinylm {

namespace {

std::string Field(const google::protobuf::Struct& s, const char* name, const std::string& where) {
  const auto it = s.fields().find(name);
  if (it == s.fields().end() || it->second.kind_case() != google::protobuf::Value::kStringValue)
    throw std::runtime_error(absl::StrCat(where, ": field ", name, " missing or not a string"));
  return it->second.string_value();
}

// Wilson score interval at 95% (z = 1.96): sensible at 0 and 1 and for small counts.
std::pair<double, double> Wilson(int64_t correct, int64_t total) {
  if (total == 0) return {0.0, 1.0};
  const double z = 1.959963984540054, n = static_cast<double>(total), p = correct / n;
  const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace

double BlimpScore::ci_low() const { return Wilson(correct, total).first; }
double BlimpScore::ci_high() const { return Wilson(correct, total).second; }

std::vector<BlimpPair> LoadBlimp(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a directory (BLiMP data)");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(dir + ": no .jsonl files (BLiMP data)");
  std::vector<BlimpPair> pairs;
  for (const std::string& f : files) {
    std::ifstream in(f);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = absl::StrCat(f, ":", n);
      google::protobuf::Struct s;
      if (!google::protobuf::util::JsonStringToMessage(line, &s).ok())
        throw std::runtime_error(where + ": not a JSON object");
      pairs.push_back({Field(s, "sentence_good", where), Field(s, "sentence_bad", where), Field(s, "field", where),
                       Field(s, "linguistics_term", where), Field(s, "UID", where)});
    }
  }
  return pairs;
}

std::vector<double> SentenceLogProbs(Context& ctx, LanguageModel& model, const Tokenizer& tok,
                                     const std::vector<std::string>& texts, int64_t batch_size) {
  // One position is `g` ids (a grouped tokenizer's chunk); position j predicts position j + 1.
  const int64_t g = tok.group_size();
  const std::vector<int32_t> start = SpecialGroup(tok, "<|endoftext|>");
  std::vector<std::vector<int32_t>> seqs(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    seqs[i] = start;
    const std::vector<int32_t> ids = tok.Encode(texts[i]);
    seqs[i].insert(seqs[i].end(), ids.begin(), ids.end());
    const int64_t positions = static_cast<int64_t>(seqs[i].size()) / g;
    if (positions > model.context())
      throw std::runtime_error(absl::StrCat("text of ", positions, " positions exceeds the model's context of ",
                                            model.context(), ": \"", texts[i], "\""));
  }
  // Similar lengths together, so little of each batch is padding.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seqs[a].size() < seqs[b].size(); });
  std::vector<double> out(texts.size(), 0.0);
  const int64_t vocab = model.vocab_size();
  for (size_t b0 = 0; b0 < order.size(); b0 += batch_size) {
    const size_t b1 = std::min(order.size(), b0 + static_cast<size_t>(batch_size));
    int64_t t = g;
    for (size_t k = b0; k < b1; ++k) t = std::max<int64_t>(t, static_cast<int64_t>(seqs[order[k]].size()));
    const int64_t rows = static_cast<int64_t>(b1 - b0);
    Tensor ids = Tensor::Empty({rows, t}, DType::kS32);
    for (int64_t r = 0; r < rows; ++r) {  // padding repeats the last position
      const auto& s = seqs[order[b0 + r]];
      const int64_t n = static_cast<int64_t>(s.size());
      for (int64_t j = 0; j < t; ++j) ids.s32()[r * t + j] = j < n ? s[j] : s[n - g + (j - n) % g];
    }
    const Tensor logits = model.Forward(ctx, ids, Mode::kEval);
    for (int64_t r = 0; r < rows; ++r) {
      const auto& s = seqs[order[b0 + r]];
      double total = 0;
      for (size_t j = 0; j + g < s.size(); ++j) {  // logits row j predicts id j + g
        const float* l = logits.f32() + (r * t + static_cast<int64_t>(j)) * vocab;
        const float mx = *std::max_element(l, l + vocab);
        double sum = 0;
        for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(l[v]) - mx);
        total += static_cast<double>(l[s[j + g]]) - mx - std::log(sum);
      }
      out[order[b0 + r]] = total;
    }
  }
  return out;
}

std::vector<BlimpPair> FirstPairsOfEachPhenomenon(const std::vector<BlimpPair>& pairs, int64_t n) {
  if (n <= 0) return pairs;
  std::map<std::string, int64_t> taken;
  std::vector<BlimpPair> out;
  for (const BlimpPair& p : pairs)
    if (taken[p.phenomenon]++ < n) out.push_back(p);
  return out;
}

BlimpResult EvaluateBlimp(Context& ctx, LanguageModel& model, const Tokenizer& tok, const std::vector<BlimpPair>& pairs,
                          int64_t batch_size) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> texts;
  texts.reserve(2 * pairs.size());
  for (const BlimpPair& p : pairs) {
    texts.push_back(p.good);
    texts.push_back(p.bad);
  }
  const std::vector<double> lp = SentenceLogProbs(ctx, model, tok, texts, batch_size);
  std::map<std::string, BlimpScore> phenomena, fields;
  BlimpResult r;
  r.overall.name = "overall";
  for (size_t i = 0; i < pairs.size(); ++i) {
    const bool right = lp[2 * i] > lp[2 * i + 1];  // strictly: a tie is wrong
    for (BlimpScore* s : {&phenomena[pairs[i].phenomenon], &fields[pairs[i].field], &r.overall}) {
      s->correct += right;
      ++s->total;
    }
  }
  for (auto& [name, s] : phenomena) r.phenomena.push_back(s), r.phenomena.back().name = name;
  for (auto& [name, s] : fields) r.fields.push_back(s), r.fields.back().name = name;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.pairs_per_second = pairs.empty() ? 0.0 : pairs.size() / secs;
  return r;
}

}  // namespace tinylm
