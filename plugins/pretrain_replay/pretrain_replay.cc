// Pretrain replay: the last round(fraction * B) rows of each batch become random windows of the
// first pretraining stage's token stream, with weight 1 everywhere. Window positions are a pure
// function of (seed, step, row), so resumed runs stay bit-exact.
#include <cmath>

#include "pretrain_replay.pb.h"
#include "tinylm/plugins/plugin.h"
#include "tinylm/tensors/rng.h"

namespace {

using namespace tinylm;

class PretrainReplay : public DataMixer {
 public:
  PretrainReplay(float fraction, const TokenStream* stream) : fraction_(fraction), stream_(stream) {}
  void Mix(uint64_t seed, uint64_t step, Batch* b) const override {
    const int64_t rows = b->inputs.dim(0), t = b->inputs.dim(1);
    const int64_t replay = std::llround(fraction_ * rows);
    const int64_t span = static_cast<int64_t>(stream_->tokens.size()) - t;
    if (!b->weights.defined()) {
      b->weights = Tensor::Empty(b->targets.shape());
      b->weights.Fill(1.0f);
    }
    for (int64_t r = rows - replay; r < rows; ++r) {
      const int64_t at = static_cast<int64_t>(CounterBits(seed, 0x7265706c6179ULL, step * rows + r) % span);
      stream_->tokens.Read(at, t, b->inputs.s32() + r * t);
      stream_->tokens.Read(at + 1, t, b->targets.s32() + r * t);
      for (int64_t i = 0; i < t; ++i) b->weights.f32()[r * t + i] = 1.0f;
    }
  }

 private:
  float fraction_;
  const TokenStream* stream_;
};

void Register(PluginRegistrar& r) {
  r.AddDataMixer(
      "tinylm.plugins.pretrain_replay",
      [](const ConfigMessage& c, const MixerContext& ctx) -> std::unique_ptr<DataMixer> {
        if (!ctx.pretrain) throw std::invalid_argument("pretrain replay needs an earlier pretraining stage");
        if (static_cast<int64_t>(ctx.pretrain->tokens.size()) < ctx.seq_len + 1)
          throw std::invalid_argument("the pretraining stream is shorter than one sequence");
        return std::make_unique<PretrainReplay>(static_cast<const plugins::PretrainReplayConfig&>(c).fraction(),
                                                ctx.pretrain);
      },
      [](const ConfigMessage& c) -> std::string {
        const float f = static_cast<const plugins::PretrainReplayConfig&>(c).fraction();
        return f >= 0 && f <= 1 ? "" : "fraction: must be in [0, 1]";
      });
}

}  // namespace

TINYLM_PLUGIN("pretrain_replay", "1.0.0", "TinyMemoryLM pretrain replay during instruction tuning", Register)
