// A plugin built for plugin ABI 99 (tinylm_add_plugin(bad_abi ABI 99)): the host must refuse it
// with a clear message.
#include "tinylm/plugins/plugin.h"

namespace {
void Register(tinylm::PluginRegistrar&) {}
}  // namespace

TINYLM_PLUGIN("bad_abi", "0.0.1", "built for ABI 99", Register)
