#include "tinylm/registry.h"

#include <stdexcept>

namespace tinylm {

Registry& Registry::Global() {
  static Registry r;
  return r;
}

void Registry::AddLayer(const std::string& type, LayerType t) {
  if (layers_.count(type)) throw std::logic_error("layer type '" + type + "' registered twice");
  layers_[type] = std::move(t);
}

const LayerType* Registry::FindLayer(const std::string& type) const {
  auto it = layers_.find(type);
  return it == layers_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::LayerTypes() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : layers_) out.push_back(k);
  return out;
}

}  // namespace tinylm
