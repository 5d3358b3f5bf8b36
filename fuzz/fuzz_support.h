// What every fuzz target shares: a scratch directory for the files a target must hand to the
// library by path (specs, data, model files), written once per process, and the rule that an
// exception is an accepted answer to bad input while anything else (a crash, a sanitizer
// report, a hang, unbounded memory) is a bug.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace tinylm::fuzz {

// A per-process scratch directory (libFuzzer's workers are processes), removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tinylm-fuzz-XXXXXX").string();
    std::string d = mkdtemp(tmpl.data());
    static std::string for_exit;
    for_exit = d;
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(for_exit, ec); });
    return d;
  }();
  return dir;
}

// Writes `bytes` to `name` in the scratch directory; returns its path.
inline std::string WriteScratch(const std::string& name, std::string_view bytes) {
  const std::string path = ScratchDir() + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Splits the input at the first occurrence of `separator`: (before, after); no separator: (all, "").
inline std::pair<std::string_view, std::string_view> SplitAt(std::string_view in, std::string_view separator) {
  const size_t at = in.find(separator);
  if (at == std::string_view::npos) return {in, {}};
  return {in.substr(0, at), in.substr(at + separator.size())};
}

// The model of the fuzz targets' specs and files: one attention + SwiGLU block, d 16.
inline const std::string kTinyModel = R"(model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
)";

// A small story corpus for specs to train their tokenizers on and tokenize ("train.txt",
// "val.txt", "chat.jsonl" in <scratch>/data), written once.
inline std::string DataDir() {
  static const std::string dir = [] {
    std::string train, val;
    const char* names[] = {"Lily", "Ben", "Tom", "Mia"};
    const char* things[] = {"ball", "cat", "tree", "boat"};
    for (int i = 0; i < 40; ++i) {
      (i % 4 == 3 ? val : train) += std::string("Once upon a time, ") + names[i % 4] + " found a " + things[(i * 3) % 4] +
                                    " number " + std::to_string(i) + ". It was a happy day.\n<|endoftext|>\n";
    }
    WriteScratch("data/train.txt", train);
    WriteScratch("data/val.txt", val);
    std::string chat;
    for (int i = 0; i < 12; ++i)
      chat += "{\"prompt\": \"Tell a story about " + std::string(names[i % 4]) + ".\", \"response\": \"" + names[i % 4] +
              " found a " + things[i % 4] + " and smiled.\"}\n";
    WriteScratch("data/chat.jsonl", chat);
    return ScratchDir() + "/data";
  }();
  return dir;
}

}  // namespace tinylm::fuzz
