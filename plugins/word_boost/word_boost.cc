// Word-token loss boosting: w_i <- w_i * (1 + beta * [chars(target_i) > 1]).
#include "tinylm/plugins/plugin.h"
#include "word_boost.pb.h"

namespace {

using namespace tinylm;

class WordBoost : public TokenWeighting {
 public:
  WordBoost(float beta, const Tokenizer* tok) : beta_(beta) {
    is_word_.resize(tok->vocab_size());
    for (int32_t id = 0; id < tok->vocab_size(); ++id) is_word_[id] = tok->TokenChars(id) > 1;
  }
  void Apply(const Batch& b, Tensor& w) const override {
    const int32_t* y = b.targets.s32();
    float* pw = w.f32();
    for (int64_t i = 0, n = w.numel(); i < n; ++i)
      if (is_word_[y[i]]) pw[i] *= 1.0f + beta_;
  }

 private:
  float beta_;
  std::vector<bool> is_word_;
};

void Register(PluginRegistrar& r) {
  r.AddTokenWeighting(
      "tinylm.plugins.word_boost",
      [](const ConfigMessage& c, const WeightingContext& ctx) -> std::unique_ptr<TokenWeighting> {
        return std::make_unique<WordBoost>(static_cast<const plugins::WordBoostConfig&>(c).beta(), ctx.tokenizer);
      },
      [](const ConfigMessage& c) -> std::string {
        return static_cast<const plugins::WordBoostConfig&>(c).beta() >= 0 ? "" : "beta: must not be negative";
      });
}

}  // namespace

TINYLM_PLUGIN("word_boost", "1.0.0", "TinyMemoryLM word-token loss boosting", Register)
