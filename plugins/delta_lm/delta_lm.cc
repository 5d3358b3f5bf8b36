// Plugin entry of the byte-level delta LM ("MORA", seed_systems.md section 2): the delta block
// in its three decompositions (options A, B, C; see delta_blocks.h) and the post's record batches.
#include "delta_blocks.h"

namespace {

using namespace tinylm;
using plugins::DeltaBlockConfig;

// Option B has gates instead of scalars; setting a scalar's initial value there is a mistake.
std::string CheckBlock(const ConfigMessage& c) {
  const auto& cfg = static_cast<const DeltaBlockConfig&>(c);
  if (cfg.graph() && cfg.option() != DeltaBlockConfig::C) return "graph: only option C has a graph version";
  if (cfg.graph() && cfg.memory() != DeltaBlockConfig::MEAN) return "graph: the graph version of option C has MEAN memory only";
  if (cfg.option() != DeltaBlockConfig::B) return "";
  const char* field = cfg.has_alpha_init() ? "alpha_init" : cfg.has_gamma_init() ? "gamma_init"
                      : cfg.has_theta_init() ? "theta_init" : nullptr;
  if (!field) return "";
  return std::string(field) + ": option B has no learned scalars (its gates are Dense(d -> 1) layers)";
}

void Register(PluginRegistrar& r) {
  r.AddDataMixer(
      "tinylm.plugins.records",
      [](const ConfigMessage& c, const MixerContext& ctx) -> std::unique_ptr<DataMixer> {
        const int64_t length = static_cast<const plugins::RecordBatchesConfig&>(c).length();
        if (!ctx.pretrain) throw std::invalid_argument("records need a pretraining stream");
        if (length != ctx.seq_len + 1)
          throw std::invalid_argument("record length " + std::to_string(length) + " must be seq_len + 1 = " +
                                      std::to_string(ctx.seq_len + 1));
        return delta_lm::MakeRecordBatches(ctx.pretrain, length);
      },
      [](const ConfigMessage& c) -> std::string {
        return static_cast<const plugins::RecordBatchesConfig&>(c).length() >= 2 ? "" : "length: must be at least 2";
      });
  r.AddLayer(
      "tinylm.plugins.delta_block",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        const auto& cfg = static_cast<const DeltaBlockConfig&>(c);
        switch (cfg.option()) {
          case DeltaBlockConfig::B: return delta_lm::MakeGatedDeltaBlock(ctx, cfg);
          case DeltaBlockConfig::C:
            return cfg.graph() ? delta_lm::MakeGraphPooledBlock(ctx, cfg) : delta_lm::MakePooledDeltaBlock(ctx, cfg);
          default: return delta_lm::MakeMemoryDeltaBlock(ctx, cfg);
        }
      },
      CheckBlock,
      {"option: A memory: MEAN delta: true alpha_init: 0.7 gamma_init: 0.9", "option: A memory: DECAY",
       "option: B glorot_init: true", "option: B memory: DECAY", "option: C alpha_init: 0.7 gamma_init: 0.9",
       "option: C graph: true alpha_init: 0.7 gamma_init: 0.9", "option: C delta: false"});
}

}  // namespace

TINYLM_PLUGIN("delta_lm", "0.3.0", "byte-level delta LM: cumulative-memory + delta blocks (options A, B, C), record batches",
              Register)
