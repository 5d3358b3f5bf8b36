// A temporary directory for tests that write files (removed at the end).
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace tinylm::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tinylm-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  // The whole of file `name` ("" if missing).
  std::string Read(const std::string& name) const {
    std::ifstream f(path_ + "/" + name, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }

 private:
  std::string path_;
};

// A small corpus of simple, repetitive stories (tests must not depend on ../shared/data).
// Different `variant`s share no line, so one can serve as validation for another.
inline std::string TinyStories(int n, int variant = 0) {
  static const char* names[] = {"Lily", "Ben", "Tom", "Mia", "Sam", "Zoe", "Max"};
  static const char* things[] = {"ball", "cat", "tree", "boat", "cake", "kite", "drum"};
  static const char* moods[] = {"happy", "glad", "proud"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += std::string("Once upon a time, ") + names[i % 7] + " found a red " + things[(i * 3) % 7] + ". " +
         names[i % 7] + " was very " + moods[variant % 3] + " and played with the " + things[(i * 3) % 7] +
         " all day long.\n<|endoftext|>\n";
  }
  return s;
}

}  // namespace tinylm::testing
