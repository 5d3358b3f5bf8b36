// The ablate executable end to end: a fixture with a tiny spec and generated data, shared by
// the CLI tests (ablate_cli_test.cc) and the fault tests (ablate_faults_test.cc).
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <sys/wait.h>

#include "temp_dir.h"

namespace tinylm::testing {

struct Result {
  int code;
  std::string out;  // stdout + stderr
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline Result RunCommand(const std::string& cmd) {
  Result r{-1, ""};
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline constexpr char kBase[] = R"(name: "tiny_base"
seeds: [1, 2]
model {
  d_model: 16
  context: 32
  block {
    count: 1
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1024 batch_size: 4 seq_len: 16 }
eval { interval_steps: 4 max_tokens: 256 sample_tokens: 16 }
)";

class AblateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.Write("data/train.txt", TinyStories(60));
    dir_.Write("data/val.txt", TinyStories(10, 1));
    dir_.Write("specs/base.pbtxt", kBase);
    spec_ = dir_.Write("specs/qk_off.pbtxt", "base: \"base.pbtxt\"\ndescription: \"QK-norm off\"\n"
                                             "model { block { layer { residual { mixer { attention { qk_norm: false } } } } } }\n");
  }
  // `threads` is the thread flag (two-thread runs unless a test says otherwise).
  Result Ablate(const std::string& args, const std::string& out = "out", const std::string& threads = "--threads 2") {
    return RunCommand(std::string(TINYLM_ABLATE_BIN) + " " + args + " --data-dir " + dir_.path() + "/data --out " +
                      dir_.path() + "/" + out + " " + threads);
  }
  // Every run's metrics.jsonl under `out`, by run directory (its cache key), without the
  // timing fields, which differ between any two runs.
  std::map<std::string, std::string> RunMetrics(const std::string& out) {
    std::map<std::string, std::string> runs;
    for (const auto& d : std::filesystem::directory_iterator(dir_.path() + "/" + out + "/runs")) {
      std::string text = ReadText((d.path() / "metrics.jsonl").string());
      text = std::regex_replace(text, std::regex(R"(,"tokens_per_sec":[^,}]*)"), "");
      runs[d.path().filename().string()] = text;
    }
    return runs;
  }
  TempDir dir_;
  std::string spec_;
};

}  // namespace tinylm::testing
