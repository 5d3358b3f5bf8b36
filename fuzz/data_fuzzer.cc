// Every data-file reader (the five DataSource formats) on arbitrary bytes, then what the
// pipeline does with their documents: the validation-overlap filter, tokenizing, sampling
// training windows, and instruction-tuning examples. Input: one byte choosing the format and
// its settings, then the file's bytes.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "tinylm/data/data.h"
#include "tinylm/data/tokenizer.h"

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
