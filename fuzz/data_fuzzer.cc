// Every data-file reader (the five DataSource formats) on arbitrary bytes, then what the
// pipeline does with their documents: the validation-overlap filter, tokenizing, sampling
// training windows, and instruction-tuning examples. Input: one byte choosing the format and
// its settings, then the file's bytes.
#include <absl/strings/ascii.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "tinylm/data/data.h"
#include "tinylm/data/tokenizer.h"

// The documents a general JSON parser (protobuf's, which read these formats before the
// streaming reader) finds in a JSON_ARRAY or JSONL file, or nullopt if it refuses the file:
// where both accept an input, they must agree document for document (the streaming reader may
// refuse what the general one leniently accepted, e.g. an invalid escape).
std::optional<std::vector<std::string>> ReferenceJsonTexts(const tinylm::proto::DataSource& src, const std::string& bytes) {
  using google::protobuf::Value;
  auto parse = [](const std::string& text, Value* v) { return google::protobuf::util::JsonStringToMessage(text, v).ok(); };
  auto trimmed = [](const std::string& s) { return std::string(absl::StripAsciiWhitespace(s)); };
  std::vector<std::string> texts;
  if (src.format() == tinylm::proto::DataSource::JSON_ARRAY) {
    Value v;
    if (!parse(bytes, &v)) return std::nullopt;
    if (v.kind_case() == Value::kStructValue) {
      auto it = v.struct_value().fields().find(src.field());
      if (it == v.struct_value().fields().end()) return std::nullopt;
      Value inner = it->second;
      v = inner;
    }
    if (v.kind_case() != Value::kListValue) return std::nullopt;
    for (const auto& e : v.list_value().values()) {
      if (e.kind_case() != Value::kStringValue) return std::nullopt;
      if (!trimmed(e.string_value()).empty()) texts.push_back(trimmed(e.string_value()));
    }
  } else {
    std::istringstream in(bytes);
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      Value v;
      if (!parse(line, &v) || v.kind_case() != Value::kStructValue) return std::nullopt;
      auto it = v.struct_value().fields().find(src.field());
      if (it == v.struct_value().fields().end() || it->second.kind_case() != Value::kStringValue) return std::nullopt;
      if (!trimmed(it->second.string_value()).empty()) texts.push_back(trimmed(it->second.string_value()));
    }
  }
  if (src.max_documents() > 0 && static_cast<int64_t>(texts.size()) > src.max_documents()) texts.resize(src.max_documents());
  return texts;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tinylm;
  if (size < 1) return 0;
  const uint8_t choice = data[0];
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  proto::DataSource src;
  src.set_path("fuzz.txt");
  src.set_format(static_cast<proto::DataSource::Format>(choice % 5));
  if (choice & 0x08) src.set_field("texts");
  if (choice & 0x10) src.set_separator("<|story|>");
  if (choice & 0x20) src.set_response_field("fable");
  if (src.format() == proto::DataSource::JSON_ARRAY || src.format() == proto::DataSource::JSONL) {
    const auto reference = ReferenceJsonTexts(src, bytes);
    if (reference) {
      std::vector<std::string> streamed;
      try {
        for (const Document& d : ParseDocuments(src, bytes, "fuzz.txt")) streamed.push_back(d.text);
      } catch (const std::exception&) {
        // Allowed: the general parser is lenient where JSON is not (it took "\ " as an escape);
        // refusing malformed JSON with file and line is the streaming reader's right answer.
        return 0;
      }
      if (streamed != *reference) __builtin_trap();  // both read it, and they disagree
    }
  }
  try {
    std::vector<Document> docs = ParseDocuments(src, bytes, "fuzz.txt");
    // Half of the documents as held-out validation for the other half.
    std::vector<Document> held_out(docs.begin() + docs.size() / 2, docs.end());
    docs.resize(docs.size() / 2);
    DropOverlap(&docs, held_out);
    static const ByteTokenizer tok({"<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"}, choice & 0x40 ? 0 : -1);
    const TokenStream stream = Tokenize(docs, tok);
    if (static_cast<int64_t>(stream.tokens.size()) > 9) {
      WindowSampler sampler(&stream, 8);
      sampler.set_batch_size(2);
      Batch batch;
      sampler.Sample(1, 0, choice, &batch);
    }
    if (src.format() == proto::DataSource::PROMPT_RESPONSE && !docs.empty()) {
      const ChatExamples chat(docs, tok, 16);
      Batch batch;
      if (chat.size() > 0) chat.Sample(1, 0, choice, 2, &batch);
    }
  } catch (const std::exception&) {
    // A clear error naming the file (and line): the expected answer to a malformed file.
  }
  return 0;
}
