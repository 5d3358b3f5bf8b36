// A plugin built against a different plugin ABI: the host must refuse it with a clear message.
#define TINYLM_PLUGIN_ABI 99
#include "tinylm/plugins/plugin.h"

namespace {
void Register(tinylm::PluginRegistrar&) {}
}  // namespace

TINYLM_PLUGIN("bad_abi", "0.0.1", "built for ABI 99", Register)
