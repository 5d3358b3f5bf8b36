// Response-start weighting. The stage's mask (weight 0 outside assistant responses) is already
// in the weights; a response is a run of positive weights, and its k-th target is boosted.
#include "response_start.pb.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;
using plugins::ResponseStartConfig;

class ResponseStart : public TokenWeighting {
 public:
  explicit ResponseStart(const ResponseStartConfig& c) : cfg_(c) {}
  void Apply(const Batch&, Tensor& w) const override {
    const int64_t rows = w.dim(0), t = w.dim(1);
    float* pw = w.f32();
    for (int64_t r = 0; r < rows; ++r) {
      int64_t k = 0;
      for (int64_t i = 0; i < t; ++i) {
        float& wi = pw[r * t + i];
        if (wi <= 0.0f) {
          k = 0;  // outside a response: the next response starts again at k = 0
          continue;
        }
        const double kk = static_cast<double>(k), K = cfg_.k();
        const double boost = cfg_.decay() == ResponseStartConfig::STEP ? (k < cfg_.k() ? cfg_.gamma() : 0.0)
                                                                        : cfg_.gamma() * std::max(0.0, 1.0 - kk / K);
        wi *= static_cast<float>(1.0 + boost);
        ++k;
      }
    }
  }

 private:
  ResponseStartConfig cfg_;
};

void Register(PluginRegistrar& r) {
  r.AddTokenWeighting(
      "tinylm.plugins.response_start",
      [](const ConfigMessage& c, const WeightingContext& ctx) -> std::unique_ptr<TokenWeighting> {
        if (!ctx.sft) throw std::invalid_argument("response_start weighting applies to sft stages only");
        return std::make_unique<ResponseStart>(static_cast<const ResponseStartConfig&>(c));
      },
      [](const ConfigMessage& c) -> std::string {
        const auto& cfg = static_cast<const ResponseStartConfig&>(c);
        if (cfg.k() <= 0) return "k: must be positive";
        if (cfg.gamma() < 0) return "gamma: must not be negative";
        return "";
      });
}

}  // namespace

TINYLM_PLUGIN("response_start", "1.0.0", "TinyMemoryLM response-start loss weighting", Register)
