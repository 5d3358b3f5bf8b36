// The safetensors reader and writer: a round trip keeps names, shapes, values and metadata, and
// every way a damaged or hostile file can be wrong is refused with the file and what is wrong —
// never a crash, never a read outside the file. Import refuses weights that do not fit the model.
#include <gtest/gtest.h>

#include <cstring>

#include "temp_dir.h"
#include "tinylm/model/safetensors.h"

namespace tinylm::testing {
namespace {

// A file from a header text and `data_bytes` bytes of data.
std::string File(const std::string& header, size_t data_bytes) {
  std::string f(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(f.data(), &n, 8);
  return f + header + std::string(data_bytes, '\x01');
}

std::string ErrorOf(const std::string& bytes) {
  try {
    ParseSafetensors(bytes, "m.safetensors");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Safetensors, RoundTripKeepsNamesShapesValuesAndMetadata) {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1e-8f}, b = {42.0f};
  const std::string path = dir.path() + "/m.safetensors";
  WriteSafetensors(path, {{"blocks.0.w", {2, 3}, a.data()}, {"norm", {1}, b.data()}},
                   {{"format", "pt"}, {"note", "quote \" and newline \n"}});
  const SafetensorsFile f = ReadSafetensors(path);
  EXPECT_EQ(f.data_start % 8, 0u) << "data aligned for readers that map it";
  ASSERT_EQ(f.entries.size(), 2u);
  const SafetensorsEntry* w = f.Find("blocks.0.w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, "F32");
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.Floats(*w), a);
  EXPECT_EQ(f.Floats(*f.Find("norm")), b);
  EXPECT_EQ(f.metadata.at("note"), "quote \" and newline \n");
}

TEST(Safetensors, HalfAndBfloat16WeightsReadAsFloat) {
  // 1.0 and -2.0 in F16 (0x3C00, 0xC000) and BF16 (0x3F80, 0xC000).
  std::string bytes = File(R"({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},)"
                           R"( "b": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 8]}})", 0);
  for (uint16_t v : {0x3C00, 0xC000, 0x3F80, 0xC000}) bytes.append(reinterpret_cast<const char*>(&v), 2);
  const SafetensorsFile f = ParseSafetensors(bytes, "m");
  EXPECT_EQ(f.Floats(*f.Find("h")), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(f.Floats(*f.Find("b")), (std::vector<float>{1.0f, -2.0f}));
}

TEST(Safetensors, MalformedFilesAreRefusedSayingWhy) {
  const std::string ok = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  EXPECT_EQ(ErrorOf(File(ok, 8)), "(accepted)");
  struct Case {
    std::string bytes, error;
  };
  std::string huge(8, '\0');
  const uint64_t beyond = 1ULL << 40;
  std::memcpy(huge.data(), &beyond, 8);
  const std::vector<Case> cases = {
      {"abc", "m.safetensors: 3 bytes: too short for a safetensors file"},
      {huge + "{}", "m.safetensors: the header length 1099511627776 runs past the end of the file (10 bytes)"},
      {File("{\"w\": ", 0), "m.safetensors: header byte"},
      {File("[1, 2]", 0), "the header is not a JSON object"},
      {File(ok + "x", 8), "text after the header's object"},
      {File(R"({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}})", 8), "tensor 'w' has the unknown dtype 'Q7'"},
      {File(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
       "tensor 'w' is F32 of shape [3] (12 bytes) but data_offsets [0, 8) hold 8"},
      {File(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4),
       "tensor 'w' has data_offsets [0, 8) outside the data section's 4 bytes"},
      {File(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8), "has data_offsets [8, 0) outside"},
      {File(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
       "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
      {File(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", 12),
       "data bytes [4, 8) belong to no tensor"},
      {File(ok, 12), "data bytes [8, 12) belong to no tensor"},
      {File(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8),
       "tensor 'w' is listed twice"},
      {File(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8), "tensor 'w' lacks its shape"},
      {File(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8), "expected a non-negative integer"},
      {File(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", 8), "expected an integer"},
      {File(R"({"w": {"dtype": "F32", "shape": [99999999999999999999], "data_offsets": [0, 8]}})", 8), "integer too large"},
      {File(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 8]}})", 8),
       "a shape too large to exist"},
      {File(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}})", 8), "unknown member 'extra'"},
      {File(R"({"__metadata__": {"k": 5}})", 0), "header byte"},
  };
  for (const Case& c : cases) {
    const std::string error = ErrorOf(c.bytes);
    EXPECT_NE(error.find(c.error), std::string::npos) << "expected: " << c.error << "\ngot: " << error;
  }
}

TEST(Safetensors, IntegerWeightsAreRefusedWhenRead) {
  const SafetensorsFile f = ParseSafetensors(File(R"({"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})", 8), "m");
  try {
    f.Floats(f.entries[0]);
    FAIL() << "I64 read as weights";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "m: tensor 'w' is I64; weights must be F32, F16 or BF16");
  }
}

}  // namespace
}  // namespace tinylm::testing
