// Result files under write failures: the old file survives, no temporary is left, and the error
// names the file and the reason. Failures are made real with a file-size limit (RLIMIT_FSIZE)
// in a child process; the end-to-end cases (a full disk, a signal) are in ablate_faults_test.cc.
#include "tinylm/data/file_writes.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

// Runs `fn` in a child whose files may not grow beyond `limit` bytes; returns the message of
// the exception it threw ("" if none).
std::string ErrorUnderFileSizeLimit(off_t limit, const std::function<void()>& fn) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    std::string message;
    try {
      fn();
    } catch (const std::exception& e) {
      message = e.what();
    }
    (void)!::write(pipe_fds[1], message.data(), message.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) message.append(buf, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return message;
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& f : fs::directory_iterator(dir)) names.push_back(f.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(FileWrites, AFailedAtomicWriteKeepsTheOldFileAndLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir.Write("report.md", "the last good report\n");
  const std::string error =
      ErrorUnderFileSizeLimit(1000, [&] { WriteFileAtomic(path, std::string(5000, 'x')); });
  EXPECT_NE(error.find(path + ".tmp."), std::string::npos) << error;
  EXPECT_NE(error.find(": write failed: File too large"), std::string::npos) << error;
  EXPECT_EQ(dir.Read("report.md"), "the last good report\n");
  EXPECT_EQ(Files(dir.path()), std::vector<std::string>{"report.md"});
  // Under the limit it replaces the file.
  EXPECT_EQ(ErrorUnderFileSizeLimit(1000, [&] { WriteFileAtomic(path, "new\n"); }), "");
  EXPECT_EQ(dir.Read("report.md"), "new\n");
}

TEST(FileWrites, AtomicFileHeaderWrittenLastAndNothingWithoutCommit) {
  TempDir dir;
  const std::string path = dir.path() + "/cache.bin";
  {
    AtomicFile f(path);
    f.Write("....body");
    f.WriteAt(0, "HEAD", 4);
    f.Commit();
  }
  EXPECT_EQ(dir.Read("cache.bin"), "HEADbody");
  {
    AtomicFile f(path);
    f.Write("abandoned");
  }  // destroyed without Commit, as when an exception passes
  EXPECT_EQ(dir.Read("cache.bin"), "HEADbody");
  EXPECT_EQ(Files(dir.path()), std::vector<std::string>{"cache.bin"});
  EXPECT_THROW(AtomicFile(dir.path() + "/missing/dir/file"), std::runtime_error);
}

TEST(FileWrites, AppendOnlyFileReportsAFailedAppendNamingTheFile) {
  TempDir dir;
  const std::string path = dir.path() + "/metrics.jsonl";
  const std::string error = ErrorUnderFileSizeLimit(100, [&] {
    AppendOnlyFile log(path, true);
    for (int i = 0; i < 10; ++i) log.Append("{\"step\":" + std::to_string(i) + ",\"loss\":1.5}\n");
  });
  EXPECT_EQ(error, path + ": write failed: File too large");
  // What reached the disk: whole lines and at most one cut short, which readers skip.
  std::vector<std::string> lines;
  ForEachCompleteLine(dir.Read("metrics.jsonl"), [&](std::string_view l) { lines.emplace_back(l); });
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "{\"step\":0,\"loss\":1.5}");
  for (const auto& l : lines) EXPECT_EQ(l.back(), '}') << l;
}

TEST(FileWrites, ForEachCompleteLineSkipsAnUnfinishedLastLine) {
  std::vector<std::string> lines;
  ForEachCompleteLine("a\n\nb\nunfinish", [&](std::string_view l) { lines.emplace_back(l); });
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "", "b"}));
}

TEST(FileWrites, CheckWritableDirectoryNamesWhatIsInTheWay) {
  TempDir dir;
  EXPECT_NO_THROW(CheckWritableDirectory(dir.path() + "/new/nested"));
  EXPECT_FALSE(fs::exists(dir.path() + "/new"));  // creates nothing
  dir.Write("file", "x");
  try {
    CheckWritableDirectory(dir.path() + "/file/out");
    FAIL() << "a path under a regular file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), dir.path() + "/file/out: cannot create the output directory: " + dir.path() +
                                         "/file is not a directory");
  }
}

}  // namespace
}  // namespace tinylm::testing
