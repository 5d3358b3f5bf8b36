// The streamed data path: content hashes, the streaming JSON reader, the token cache file
// (round trip at each width, every way a damaged file is refused), and stage preparation that
// streams documents into the cache -- the same token streams as tokenizing in memory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.h"
#include "tinylm/data/data.h"
#include "tinylm/data/mapped_file.h"
#include "tinylm/data/token_cache.h"
#include "tinylm/experiments/stage_data.h"

namespace tinylm::testing {
namespace {

// Vectors from the reference implementation (libxxhash 0.8.1's XXH64).
TEST(ContentHash, IsXxh64) {
  EXPECT_EQ(ContentHash(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(ContentHash("a"), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(ContentHash("abcd"), 0xde0327b0d25d92ccULL);
  EXPECT_EQ(ContentHash("hello world, tiny model", 7), 0x99c13093ece94cceULL);
  std::string bytes;
  for (int rep = 0; rep < 3; ++rep)
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  EXPECT_EQ(ContentHash(bytes + "xyz", 12345), 0x6b1b5d671fb93b43ULL);
}

proto::DataSource Source(proto::DataSource::Format f, const std::string& field = "text") {
  proto::DataSource s;
  s.set_path("x");
  s.set_format(f);
  s.set_field(field);
  return s;
}

std::vector<std::string> Texts(const std::string& bytes, const proto::DataSource& src) {
  std::vector<std::string> out;
  for (const Document& d : ParseDocuments(src, bytes, "f.json")) out.push_back(d.text);
  return out;
}

std::string ParseError(const std::string& bytes, const proto::DataSource& src) {
  try {
    ParseDocuments(src, bytes, "f.json");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(StreamingJson, StringsWithEveryEscapeAndOtherMembersSkipped) {
  const auto array = Source(proto::DataSource::JSON_ARRAY, "texts");
  EXPECT_EQ(Texts(R"({"meta": {"n": [1, -2.5e3, true, null, {"x": "]"}]}, "texts": ["a\"b\\c\/d", "\u00e9\ud83d\ude00 \t!"], "z": false})", array),
            (std::vector<std::string>{"a\"b\\c/d", "\xc3\xa9\xf0\x9f\x98\x80 \t!"}));
  EXPECT_EQ(Texts("[\"one\",\n \"two\"]  \n", array), (std::vector<std::string>{"one", "two"}));
  // Raw control characters inside strings are accepted, as the general parser before did.
  EXPECT_EQ(Texts(std::string("[\"a\tb\", \"c\0d\"]", 14), array), (std::vector<std::string>{"a\tb", std::string("c\0d", 3)}));
  const auto lines = Source(proto::DataSource::JSONL);
  EXPECT_EQ(Texts("{\"id\": 3, \"text\": \" hi \", \"tags\": [\"a\"]}\n\n{\"text\": \"there\"}", lines),
            (std::vector<std::string>{"hi", "there"}));
}

TEST(StreamingJson, MalformedInputNamesFileAndLine) {
  const auto array = Source(proto::DataSource::JSON_ARRAY, "texts");
  EXPECT_EQ(ParseError("[\"a\",\n\"b\"\n,]", array), "f.json:3: invalid JSON: unexpected character");
  EXPECT_EQ(ParseError("[\"a\", 3]", array), "f.json: array element 1 is not a string");
  EXPECT_EQ(ParseError("[\"a\"] x", array), "f.json:1: invalid JSON: text after the top-level value");
  EXPECT_EQ(ParseError("[\"\\ud800\"]", array), "f.json:1: invalid JSON: unpaired surrogate in \\u escape");
  EXPECT_EQ(ParseError("{\"other\": []}", array), "f.json: no member \"texts\" holding the array");
  // Deep nesting is an error, not a stack overflow.
  EXPECT_EQ(ParseError("{\"x\": " + std::string(100000, '[') + "}", array), "f.json:1: invalid JSON: nested too deeply");
  const auto lines = Source(proto::DataSource::JSONL);
  EXPECT_EQ(ParseError("{\"text\": \"a\"}\n{\"text\": 5}", lines), "f.json:2: member \"text\" is not a string");
  EXPECT_EQ(ParseError("{\"text\": \"a\"}\n\n{\"txt\": \"b\"}", lines), "f.json:3: no member \"text\"");
  EXPECT_EQ(ParseError("{\"text\": \"a\"\n", lines), "f.json:1: invalid JSON: unexpected end, expected ',' or '}'");
}

TEST(StreamingJson, StopsWhenTheConsumerHasEnough) {
  auto src = Source(proto::DataSource::JSON_ARRAY);
  src.set_max_documents(2);
  // Everything after the second document is not even looked at.
  EXPECT_EQ(Texts("[\"a\", \"b\", \"c\", 7 broken", src), (std::vector<std::string>{"a", "b"}));
}

// Writes the given streams as a cache file and returns its path.
std::string WriteCache(const TempDir& dir, uint64_t key, int width, const std::vector<int32_t>& val,
                       const std::vector<int32_t>& train) {
  const std::string path = TokenCachePath(dir.path(), key);
  TokenCacheWriter w(path, key, width, 1);
  w.Begin(TokenCacheWriter::kValidation);
  w.Append(val.data(), static_cast<int64_t>(val.size()));
  w.EndDocument(11);
  w.Begin(TokenCacheWriter::kTraining);
  w.Append(train.data(), static_cast<int64_t>(train.size()));
  w.EndDocument(20);
  w.EndDocument(22);
  w.Commit(3);
  return path;
}

TEST(TokenCache, RoundTripsAtEachWidth) {
  TempDir dir;
  for (auto [vocab, width] : {std::pair{256, 1}, {300, 2}, {65536, 2}, {70000, 4}}) {
    ASSERT_EQ(TokenArray::WidthFor(vocab), width);
    std::vector<int32_t> train, val = {0, vocab - 1, 7};
    for (int i = 0; i < 1000; ++i) train.push_back((i * 7919) % vocab);
    const std::string path = WriteCache(dir, 42 + vocab, width, val, train);
    const auto c = ReadTokenCache(path, 42 + vocab, vocab);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->train.tokens.width(), width);
    EXPECT_EQ(c->train.tokens.ToVector(), train);
    EXPECT_EQ(c->val.tokens.ToVector(), val);
    EXPECT_EQ(c->train.text_bytes, 42);
    EXPECT_EQ(c->val.text_bytes, 11);
    EXPECT_EQ(c->train_documents, 2);
    EXPECT_EQ(c->val_documents, 1);
    EXPECT_EQ(c->dropped_overlap, 3);
    // On disk at the narrow width (plus header and alignment).
    EXPECT_LT(std::filesystem::file_size(path), 128 + 64 * 2 + width * 1003);
  }
  EXPECT_FALSE(ReadTokenCache(TokenCachePath(dir.path(), 7), 7, 256).has_value());  // absent: not an error
  // An unfinished file never appears under the final name.
  {
    TokenCacheWriter w(TokenCachePath(dir.path(), 8), 8, 1, 1);
    w.Begin(TokenCacheWriter::kValidation);
  }
  EXPECT_FALSE(std::filesystem::exists(TokenCachePath(dir.path(), 8)));
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(f.path().string().find(".tmp."), std::string::npos) << f.path();
}

TEST(TokenCache, DamagedFilesAreRefusedNamingThemAndIdsAreChecked) {
  TempDir dir;
  std::vector<int32_t> train(500, 5);
  const std::string path = WriteCache(dir, 9, 2, {1, 2, 3}, train);
  std::string good;
  {
    std::ifstream in(path, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto refused = [&](const std::string& bytes, uint64_t key = 9) -> std::string {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    try {
      ReadTokenCache(path, key, 300);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  auto patched = [&](size_t at, int64_t value) {
    std::string b = good;
    std::memcpy(&b[at], &value, 8);
    return b;
  };
  const std::string name = path + ": not a usable token cache (";
  EXPECT_EQ(refused(good.substr(0, 100)), name + "shorter than its header); delete it to tokenize again");
  EXPECT_EQ(refused("XXXXXXXX" + good.substr(8)), name + "bad magic); delete it to tokenize again");
  EXPECT_EQ(refused(good, 10), name + "holds other streams than its name says); delete it to tokenize again");
  EXPECT_EQ(refused(good.substr(0, good.size() - 64)), name + "truncated); delete it to tokenize again");
  // Header fields: width at 12, offsets at 32/40, token counts at 48/56.
  EXPECT_NE(refused(patched(40, 64)).find("section offset 64"), std::string::npos);
  EXPECT_NE(refused(patched(56, int64_t{1} << 62)).find("truncated"), std::string::npos);
  EXPECT_NE(refused(patched(48, -1)).find("negative count"), std::string::npos);
  // An id beyond the vocabulary is found when read, naming the file.
  std::string bad_id = good;
  const uint16_t big = 301;
  std::memcpy(&bad_id[128 + 64 + 2 * 17], &big, 2);  // training part starts at 192
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad_id;
  const auto c = ReadTokenCache(path, 9, 300);
  ASSERT_TRUE(c.has_value());
  std::vector<int32_t> window(20);
  EXPECT_NO_THROW(c->train.tokens.Read(0, 17, window.data()));
  try {
    c->train.tokens.Read(10, 20, window.data());
    ADD_FAILURE() << "id 301 read without an error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": token id 301 at position 17 is outside the vocabulary of 300 "
                                            "(damaged token cache: delete it)");
  }
}

// The streamed preparation gives exactly what loading every document, splitting, filtering and
// tokenizing in memory gives -- and the second time comes from the cache.
TEST(StageStreams, EqualInMemoryTokenizationAndAreCachedByContent) {
  TempDir dir;
  std::string corpus;
  for (int i = 0; i < 40; ++i) {
    corpus += "Story " + std::to_string(i) + ".\n";
    // Some stories share a long line with others (documents 35-39 are held out).
    corpus += i % 9 == 0 ? "This long line appears in several stories, long enough to count as shared text."
                         : "A line of its own for story number " + std::to_string(i) + ".";
    corpus += "\n<|endoftext|>\n";
  }
  dir.Write("data/a.txt", corpus);
  dir.Write("data/b.jsonl", "{\"text\": \"Only one json document here, short.\"}\n{\"text\": \"And a second.\"}\n");
  proto::DataSpec spec;
  auto* a = spec.add_train();
  a->set_path("a.txt");
  a->set_format(proto::DataSource::TEXT_EOT);
  auto* b = spec.add_train();
  b->set_path("b.jsonl");
  b->set_format(proto::DataSource::JSONL);
  spec.set_validation_fraction(0.125f);
  spec.set_drop_validation_overlap(true);
  const ByteTokenizer tok({"<|endoftext|>"}, -1);

  // In memory: the end of each source held out, overlap dropped.
  std::vector<Document> train, val;
  for (const auto& src : spec.train()) {
    std::vector<Document> d = LoadDocuments(src, dir.path() + "/data");
    const size_t n_val = std::max<size_t>(1, std::llround(d.size() * 0.125));
    val.insert(val.end(), d.end() - n_val, d.end());
    train.insert(train.end(), d.begin(), d.end() - n_val);
  }
  const int64_t dropped = DropOverlap(&train, val);
  EXPECT_GT(dropped, 0);
  const TokenStream want_train = Tokenize(train, tok), want_val = Tokenize(val, tok);

  const std::string cache = dir.path() + "/cache";
  for (bool expect_cached : {false, true}) {
    StageDocuments docs(spec, "data", dir.path() + "/data", false);
    bool cached = !expect_cached;
    const CachedStreams c = StageStreams(&docs, tok, "", cache, false, &cached);
    EXPECT_EQ(cached, expect_cached);
    EXPECT_EQ(c.train.tokens.ToVector(), want_train.tokens.ToVector());
    EXPECT_EQ(c.val.tokens.ToVector(), want_val.tokens.ToVector());
    EXPECT_EQ(c.train.text_bytes, want_train.text_bytes);
    EXPECT_EQ(c.val.text_bytes, want_val.text_bytes);
    EXPECT_EQ(c.train_documents, static_cast<int64_t>(train.size()));
    EXPECT_EQ(c.val_documents, static_cast<int64_t>(val.size()));
    EXPECT_EQ(c.dropped_overlap, dropped);
    EXPECT_EQ(c.train.tokens.width(), 2);  // 256 bytes + 1 special
  }
  // Renaming a file changes nothing; changing a byte of it makes other streams.
  std::filesystem::rename(dir.path() + "/data/b.jsonl", dir.path() + "/data/c.jsonl");
  b->set_path("c.jsonl");
  const uint64_t renamed_key = StageDocuments(spec, "data", dir.path() + "/data", false).key();
  b->set_path("b.jsonl");
  dir.Write("data/b.jsonl", "{\"text\": \"Only one json document here, short!\"}\n{\"text\": \"And a second.\"}\n");
  const uint64_t changed_key = StageDocuments(spec, "data", dir.path() + "/data", false).key();
  b->set_path("c.jsonl");
  EXPECT_EQ(renamed_key, StageDocuments(spec, "data", dir.path() + "/data", false).key());
  EXPECT_NE(changed_key, renamed_key);
}

TEST(StageStreams, TokenizerSampleIsBoundedAndSpreadOverTheCorpus) {
  TempDir dir;
  std::string corpus;
  for (int i = 0; i < 1000; ++i) corpus += "document number " + std::to_string(1000 + i) + "\n\n";  // 20 bytes each
  dir.Write("c.txt", corpus);
  proto::DataSpec spec;
  auto* a = spec.add_train();
  a->set_path("c.txt");
  a->set_format(proto::DataSource::BLANK_LINES);
  spec.set_validation_fraction(0.01f);  // 10 held out, 990 to train on
  StageDocuments docs(spec, "data", dir.path(), false);
  EXPECT_EQ(TokenizerSample(&docs, 1 << 20).size(), 990u);  // all fit
  const std::vector<Document> sample = TokenizerSample(&docs, 2000);
  int64_t bytes = 0;
  for (const Document& d : sample) bytes += static_cast<int64_t>(d.text.size());
  EXPECT_LE(bytes, 2000);
  EXPECT_GE(sample.size(), 90u);
  EXPECT_EQ(sample.front().text, "document number 1000");
  EXPECT_GE(sample.back().text, "document number 1900");  // reaches the end of the corpus
}

}  // namespace
}  // namespace tinylm::testing
