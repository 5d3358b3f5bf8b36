// Type name -> factory registries for components that plugins may add (issue 4 loads plugins
// into these). The core registers nothing here: its layers are fields of LayerSpec.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tinylm/layer.h"

namespace tinylm {

// What a layer factory gets besides its own config text.
struct LayerBuildContext {
  ParamStore* store;
  int64_t d_model;
  int64_t context;
  std::string name;  // parameter prefix (shared blocks reuse it)
  std::string tag;   // unique per application (dropout streams)
  float init_std;
};

using LayerFactory = std::function<LayerPtr(const std::string& config_text, const LayerBuildContext&)>;
// Checks a config text without building anything; returns "" or an error message.
using ConfigValidator = std::function<std::string(const std::string& config_text)>;

struct LayerType {
  LayerFactory make;
  ConfigValidator validate;
  std::string origin;  // plugin name
};

class Registry {
 public:
  static Registry& Global();
  void AddLayer(const std::string& type, LayerType t);
  const LayerType* FindLayer(const std::string& type) const;
  std::vector<std::string> LayerTypes() const;

 private:
  std::map<std::string, LayerType> layers_;
};

}  // namespace tinylm
