// Plugin entry of BitNet b1.58 (seed_systems.md section 3): the BitLinear projection.
#include "bit_linear.h"

namespace {

using namespace tinylm;

void Register(PluginRegistrar& r) {
  r.AddLayer(
      "tinylm.plugins.bitlinear",
      [](const ConfigMessage& c, const LayerBuildContext& ctx) -> LayerPtr {
        return std::make_unique<bitnet::BitLinear>(ctx, static_cast<const plugins::BitLinearConfig&>(c));
      },
      [](const ConfigMessage& c) -> std::string {
        const int bits = static_cast<const plugins::BitLinearConfig&>(c).activation_bits();
        return bits >= 2 && bits <= 16 ? "" : "activation_bits: must be in 2..16";
      },
      // The generic layer check compares gradients with finite differences, which a
      // straight-through estimator does not match by design; it checks the unquantised path
      // (tests/bitnet_test.cc checks the quantised one against its STE reference).
      {"quantize_activations: false quantize_weights: false"});
}

}  // namespace

TINYLM_PLUGIN("bitnet", "0.1.0", "BitNet b1.58: BitLinear (ternary weights, 8-bit activations, STE)", Register)
