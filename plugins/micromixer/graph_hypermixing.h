#pragma once
#include "micromixer.pb.h"
#include "tinylm/plugins/plugin.h"

namespace tinylm::micromixer {
LayerPtr MakeGraphHyperMixing(const LayerBuildContext& ctx, const plugins::HyperMixingConfig& cfg);
}
