// Data formats, the validation-overlap filter, deterministic sampling, chat examples, tokenizers.
#include <gtest/gtest.h>

#include <cstring>

#include "temp_dir.h"
#include "tinylm/data/data.h"

namespace tinylm::testing {
namespace {

proto::DataSource Source(const std::string& path, proto::DataSource::Format f) {
  proto::DataSource s;
  s.set_path(path);
  s.set_format(f);
  return s;
}

std::vector<std::string> Texts(const std::vector<Document>& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(x.text);
  return out;
}

TEST(DataFormats, AllFive) {
  TempDir dir;
  dir.Write("eot.txt", "\nFirst story.\nStill first.\n<|endoftext|>\nSecond story.\n  <|endoftext|>  \n\nThird");
  dir.Write("blank.txt", "Para one\nline two\n\n\n  \nPara two\n\nPara three\n");
  dir.Write("array.json", R"(["a", " b ", "c\nd"])");
  dir.Write("object.json", R"({"texts": ["x", "y"], "other": 1})");
  dir.Write("lines.jsonl", "{\"text\": \"one\", \"n\": 1}\n\n{\"text\": \"two \\u00e9\"}\n");
  dir.Write("pairs.jsonl", R"({"prompt": "Write a fable.", "fable": "A fox ran."}
{"prompt": "Another", "fable": "A crow sang."}
)");
  EXPECT_EQ(Texts(LoadDocuments(Source("eot.txt", proto::DataSource::TEXT_EOT), dir.path())),
            (std::vector<std::string>{"First story.\nStill first.", "Second story.", "Third"}));
  EXPECT_EQ(Texts(LoadDocuments(Source("blank.txt", proto::DataSource::BLANK_LINES), dir.path())),
            (std::vector<std::string>{"Para one\nline two", "Para two", "Para three"}));
  EXPECT_EQ(Texts(LoadDocuments(Source("array.json", proto::DataSource::JSON_ARRAY), dir.path())),
            (std::vector<std::string>{"a", "b", "c\nd"}));
  auto obj = Source("object.json", proto::DataSource::JSON_ARRAY);
  obj.set_field("texts");
  EXPECT_EQ(Texts(LoadDocuments(obj, dir.path())), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(Texts(LoadDocuments(Source("lines.jsonl", proto::DataSource::JSONL), dir.path())),
            (std::vector<std::string>{"one", "two \xc3\xa9"}));
  auto pairs = Source("pairs.jsonl", proto::DataSource::PROMPT_RESPONSE);
  pairs.set_response_field("fable");
  const auto recs = LoadDocuments(pairs, dir.path());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].prompt, "Write a fable.");
  EXPECT_EQ(recs[1].text, "A crow sang.");
  auto capped = Source("blank.txt", proto::DataSource::BLANK_LINES);
  capped.set_max_documents(2);
  EXPECT_EQ(LoadDocuments(capped, dir.path()).size(), 2u);
}

TEST(DataFormats, ErrorsNameFileAndLine) {
  TempDir dir;
  dir.Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
  dir.Write("nofield.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n");
  dir.Write("notarray.json", R"({"texts": 3})");
  auto expect_error = [&](const proto::DataSource& s, const std::string& start) {
    try {
      LoadDocuments(s, dir.path());
      ADD_FAILURE() << "no error for " << s.path();
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(dir.path() + "/" + start, 0), 0u) << e.what();
    }
  };
  expect_error(Source("bad.jsonl", proto::DataSource::JSONL), "bad.jsonl:2: invalid JSON");
  expect_error(Source("nofield.jsonl", proto::DataSource::JSONL), "nofield.jsonl:2: no member \"text\"");
  auto na = Source("notarray.json", proto::DataSource::JSON_ARRAY);
  na.set_field("texts");
  expect_error(na, "notarray.json: expected a JSON array of strings");
  expect_error(Source("missing.txt", proto::DataSource::TEXT_EOT), "missing.txt: cannot open");
}

TEST(Data, DropOverlapRemovesDocumentsSharingALongLine) {
  const std::string shared = "This line is long enough to count as shared text between two documents.";
  std::vector<Document> train = {{"", "Intro\n" + shared + "\nOutro"}, {"", "Unrelated story that is fine."},
                                 {"", "Short line\nShort line"}};
  const std::vector<Document> val = {{"", shared}, {"", "Short line"}};
  EXPECT_EQ(DropOverlap(&train, val), 1);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[0].text, "Unrelated story that is fine.");
}

TEST(Data, WindowsArePureFunctionsOfSeedStageStep) {
  ByteTokenizer tok({}, 0);
  const TokenStream s = Tokenize({{"", TinyStories(30)}}, tok);
  WindowSampler w(&s, 16);
  w.set_batch_size(4);
  Batch a, b, c;
  w.Sample(1, 1000, 5, &a);
  w.Sample(1, 1000, 5, &b);
  w.Sample(1, 1000, 6, &c);
  EXPECT_EQ(0, std::memcmp(a.inputs.raw(), b.inputs.raw(), a.inputs.bytes()));
  EXPECT_NE(0, std::memcmp(a.inputs.raw(), c.inputs.raw(), a.inputs.bytes()));
  for (int64_t i = 0; i + 1 < 16; ++i) EXPECT_EQ(a.targets.s32()[i], a.inputs.s32()[i + 1]);
}

TEST(Data, TokenStreamSeparatesDocumentsAndCountsTextBytes) {
  ByteTokenizer tok({}, 0);
  const TokenStream s = Tokenize({{"", "ab"}, {"", "c"}}, tok);
  EXPECT_EQ(s.tokens.ToVector(), (std::vector<int32_t>{'a', 'b', 0, 'c', 0}));
  EXPECT_EQ(s.text_bytes, 3);
  EXPECT_EQ(tok.TokenBytes(0), 0);
  EXPECT_EQ(tok.TokenBytes('a'), 1);
}

TEST(Data, ChatExamplesWeightOnlyTheResponse) {
  ByteTokenizer tok({"<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"});
  const int32_t user = tok.SpecialId("<|user|>"), asst = tok.SpecialId("<|assistant|>"), end = tok.SpecialId("<|end|>");
  ChatExamples ex({{"hi", "yo"}}, tok, 10);
  Batch b;
  ex.Sample(1, 1, 0, 1, &b);
  // ids: <user> h i <assistant> y o <end> pad pad pad pad ; targets shifted by one
  const std::vector<int32_t> in = {user, 'h', 'i', asst, 'y', 'o', end, end, end, end};
  const std::vector<float> w = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0};  // predicting y, o, <end>
  for (int t = 0; t < 10; ++t) {
    EXPECT_EQ(b.inputs.s32()[t], in[t]) << t;
    EXPECT_EQ(b.weights.f32()[t], w[t]) << t;
  }
  EXPECT_THROW(ChatExamples({{"a", "b"}}, ByteTokenizer({}), 8), std::runtime_error);
}

TEST(Tokenizer, ByteRoundTripAndSaveLoad) {
  ByteTokenizer tok({"<|user|>"}, 0);
  const std::string text = "caf\xc3\xa9 \x01\xff";
  EXPECT_EQ(tok.Decode(tok.Encode(text)), text);
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_EQ(tok.SpecialId("<|endoftext|>"), 0);
  EXPECT_EQ(tok.SpecialId("<|user|>"), 256);
  const auto back = LoadTokenizer(tok.Save());
  EXPECT_EQ(back->vocab_size(), 257);
  EXPECT_EQ(back->SpecialId("<|user|>"), 256);
  EXPECT_EQ(back->SpecialId("<|endoftext|>"), 0);
  EXPECT_EQ(LoadTokenizer(ByteTokenizer({}).Save())->vocab_size(), 256);
  EXPECT_THROW(LoadTokenizer("mystery 1"), std::runtime_error);
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

TEST(Data, LongPromptsKeepTheirEndAndLeaveRoomForTheResponse) {
  ByteTokenizer tok({"<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"});
  ChatExamples ex({{std::string(100, 'p') + "END", "yo"}}, tok, 12);
  EXPECT_EQ(ex.response_tokens(), 3);  // y, o, <end>
  Batch b;
  ex.Sample(1, 1, 0, 1, &b);
  EXPECT_EQ(b.inputs.s32()[0], tok.SpecialId("<|user|>"));
  // Prompt cut to its last 12/2 - 2 = 4 tokens: "pEND".
  EXPECT_EQ(std::string(1, static_cast<char>(b.inputs.s32()[1])) + static_cast<char>(b.inputs.s32()[2]), "pE");
  EXPECT_EQ(b.inputs.s32()[5], tok.SpecialId("<|assistant|>"));
}

}  // namespace
}  // namespace tinylm::testing
