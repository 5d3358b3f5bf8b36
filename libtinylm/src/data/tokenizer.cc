#include "tinylm/data/tokenizer.h"

#include "tinylm/plugins/plugin_manager.h"

#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <stdexcept>

namespace tinylm {

ByteTokenizer::ByteTokenizer(std::vector<std::string> specials, int end_of_text_byte)
    : specials_(std::move(specials)), eot_byte_(end_of_text_byte) {}

std::vector<int32_t> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) s.push_back(static_cast<char>(id));
    else if (id >= 256 && id - 256 < static_cast<int32_t>(specials_.size())) s += specials_[id - 256];
  }
  return s;
}

int32_t ByteTokenizer::SpecialId(const std::string& name) const {
  if (eot_byte_ >= 0 && name == "<|endoftext|>") return eot_byte_;
  for (size_t i = 0; i < specials_.size(); ++i)
    if (specials_[i] == name) return 256 + static_cast<int32_t>(i);
  return -1;
}

std::string ByteTokenizer::Save() const {
  return "bytes " + std::to_string(eot_byte_) + "\n" + absl::StrJoin(specials_, "\n");
}

std::vector<int32_t> SpecialGroup(const Tokenizer& tok, const std::string& name) {
  const int32_t id = tok.SpecialId(name);
  if (id < 0) return {};
  std::vector<int32_t> group = {id};
  if (tok.group_size() > 1) {
    const int32_t pad = tok.SpecialId("<|pad|>");
    if (pad < 0) throw std::runtime_error("tokenizer " + tok.type() + " groups ids but has no <|pad|> token");
    group.resize(tok.group_size(), pad);
  }
  return group;
}

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& saved) {
  std::vector<std::string> lines = absl::StrSplit(saved, '\n');
  std::vector<std::string> head = absl::StrSplit(lines[0], ' ');
  if (head[0] == "bytes" && head.size() == 2) {
    std::vector<std::string> specials;
    for (size_t i = 1; i < lines.size(); ++i)
      if (!lines[i].empty()) specials.push_back(lines[i]);
    return std::make_unique<ByteTokenizer>(specials, std::stoi(head[1]));
  }
  if (auto t = PluginManager::Global().LoadTokenizerState(saved)) return t;
  throw std::runtime_error("unknown tokenizer state '" + lines[0] + "' (is its plugin loaded?)");
}

}  // namespace tinylm
