// tinylm-plugin-check: runs the generic layer check over every layer a plugin registers (and,
// with --core, over the core layers): output shapes, finite-difference gradients of the input
// and every parameter, gradients added to (not assigned), bit-identical repeats at 1 and N
// threads, causality, decode step == full forward, and median timings; once per example config
// the plugin registers (or per --config).
//
//   tinylm-plugin-check build/plugins/relu2.so [--d-model 16] [--timing 20] [--config 'hidden: 5']
//   tinylm-plugin-check --core
#include <boost/program_options.hpp>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <iostream>

#include "command_line.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/layers/layer_check.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/tensors/thread_policy.h"

namespace po = boost::program_options;
using namespace tinylm;

namespace {

// Core layer types with the configs they are checked with.
std::vector<std::pair<std::string, std::string>> CoreLayers() {
  return {{"attention", "attention { heads: 2 rope {} }"},
          {"attention qk-norm gqa interleaved", "attention { heads: 4 kv_heads: 2 qk_norm: true rope { style: INTERLEAVED fraction: 0.5 } }"},
          {"swiglu", "swiglu { hidden: 24 }"},
          {"gelu_mlp", "gelu_mlp { hidden: 24 }"},
          {"gelu_mlp tanh", "gelu_mlp { hidden: 24 tanh: true }"},
          {"linear", "linear { bias: true }"},
          {"rmsnorm", "norm { rmsnorm {} }"},
          {"layernorm", "norm { layernorm {} }"},
          {"rope", "rope { heads: 2 }"},
          {"silu", "activation { kind: SILU }"},
          {"gelu", "activation { kind: GELU_ERF }"},
          {"dropout", "dropout { p: 0.2 }"},
          {"pre-norm residual attention", "residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } }"}};
}

}  // namespace

int main(int argc, char** argv) {
  ApplyThreadWaitPolicy(argv);
  po::options_description opts("Usage: tinylm-plugin-check [PLUGIN.so ...] [--core] [options]\n\nOptions");
  std::vector<std::string> files;
  int64_t d_model = 16, batch = 2, seq = 7;
  int timing = 10;
  std::vector<std::string> configs;
  opts.add_options()("help,h", "show this help")("core", "check the core layers too")
      ("d-model", po::value(&d_model)->default_value(16), "width the layers are built with")
      ("batch", po::value(&batch)->default_value(2), "batch of the check input")
      ("seq", po::value(&seq)->default_value(7), "sequence length of the check input")
      ("timing", po::value(&timing)->default_value(10), "timed forward/backward iterations at [8, 64, d] (0: none)")
      ("config", po::value(&configs), "check with this config text (repeatable) instead of the plugin's example configs, "
                                      "e.g. --config 'kernel: 3'; applies to every layer whose config parses it");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "tinylm-plugin-check", opts, "plugin", po::value(&files), -1, vm)) return 2;
  if (vm.count("help") || (files.empty() && !vm.count("core"))) {
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }
  LayerCheckOptions opt;
  opt.input = {batch, seq, d_model};
  opt.timing_input = {8, 64, d_model};
  opt.timing_iterations = timing;
  int failures = 0, checked = 0;
  auto run = [&](const std::string& title, const LayerMaker& make) {
    const LayerCheckReport rep = CheckLayerGeneric(make, opt);
    std::printf("%s", rep.Format(title).c_str());
    failures += !rep.ok();
    ++checked;
  };
  auto ctx_for = [&](ParamStore& s) { return LayerBuildContext{&s, d_model, std::max<int64_t>(seq, 64), "check", "check", 0.02f}; };

  if (vm.count("core")) {
    for (const auto& [title, text] : CoreLayers()) {
      proto::LayerSpec spec;
      if (!google::protobuf::TextFormat::ParseFromString(text, &spec)) {
        std::fprintf(stderr, "internal: bad core config %s\n", text.c_str());
        return 1;
      }
      run("core " + title, [&](ParamStore& s) { return BuildLayer(spec, ctx_for(s)); });
    }
  }
  // Each --config is checked against every layer whose config message parses it.
  std::vector<bool> config_used(configs.size(), false);
  for (const std::string& file : files) {
    PluginInfo info;
    try {
      info = PluginManager::Global().LoadFile(file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tinylm-plugin-check: %s\n", e.what());
      return 1;
    }
    std::printf("plugin %s %s (%s): %s\n", info.name.c_str(), info.version.c_str(), info.path.c_str(), info.description.c_str());
    for (const ComponentInfo& c : info.components) {
      if (c.kind != "layer") {
        std::printf("  %s [%s] (%s): not a layer, nothing to check numerically\n", c.kind.c_str(), c.extension.c_str(),
                    c.config_message.c_str());
        continue;
      }
      const auto* ext = google::protobuf::DescriptorPool::generated_pool()->FindExtensionByName(c.extension);
      const auto* entry = PluginManager::Global().FindLayer(c.extension);
      const auto* prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(ext->message_type());
      std::vector<std::string> texts = c.example_configs;
      if (texts.empty()) texts.push_back("");  // the defaults
      if (!configs.empty()) {
        texts.clear();
        for (size_t i = 0; i < configs.size(); ++i) {
          std::unique_ptr<google::protobuf::Message> probe(prototype->New());
          if (ParseTextQuietly(configs[i], probe.get())) texts.push_back(configs[i]), config_used[i] = true;
        }
      }
      for (const std::string& text : texts) {
        const std::string title = "layer [" + c.extension + "] { " + text + " }";
        std::unique_ptr<google::protobuf::Message> cfg(prototype->New());
        std::string problem;
        if (!ParseTextQuietly(text, cfg.get())) problem = "config does not parse as " + c.config_message;
        else if (entry->check) problem = entry->check(*cfg);
        if (!problem.empty()) {
          std::printf("%s: FAIL\n  [FAIL] %s\n", title.c_str(), problem.c_str());
          ++failures, ++checked;
          continue;
        }
        run(title, [&](ParamStore& s) { return PluginManager::Global().MakeLayer(*entry, *cfg, ctx_for(s)); });
      }
    }
  }
  for (size_t i = 0; i < configs.size(); ++i)
    if (!config_used[i]) {
      std::printf("--config '%s': no layer of the given plugins has a config message that parses it: FAIL\n",
                  configs[i].c_str());
      ++failures;
    }
  std::printf("\n%d layer(s) checked, %d failed\n", checked, failures);
  return failures ? 1 : 0;
}
