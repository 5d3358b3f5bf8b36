// Faults a long sweep meets, survived end to end by the real ablate process: a signal, a full
// disk, a file-size limit, an unwritable output directory. In each, the last good checkpoint
// stays intact and --resume afterwards ends exactly as a run that never met the fault.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ablate_cli.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

// A run long enough to interrupt mid-way: ~4,700 steps, evaluated every 200, checkpointed every
// 200 (the default), one seed pair.
constexpr char kLongRun[] = " --seeds 1 --speed-rounds 0 --set stages[0].tokens=300000 --set eval.interval_steps=200";

// A small filesystem of its own (tmpfs), for a disk that fills up or is read-only. Mounting
// needs CAP_SYS_ADMIN (CI runs as root); without it the test says so and is skipped.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, const std::string& size, bool read_only) : path_(path) {
    fs::create_directories(path);
    const std::string options = "size=" + size;
    if (::mount("tmpfs", path.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, options.c_str()) == 0) mounted_ = true;
    else error_ = std::strerror(errno);
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_, error_;
  bool mounted_ = false;
};

// Writes `path` until the filesystem holding it is full, then gives back `leave` bytes.
void FillFilesystem(const std::string& path, off_t leave) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  const std::vector<char> chunk(1 << 16, 'x');
  off_t size = 0;
  for (ssize_t w; (w = ::write(fd, chunk.data(), chunk.size())) > 0;) size += w;
  ASSERT_EQ(errno, ENOSPC);
  ASSERT_EQ(::ftruncate(fd, size > leave ? size - leave : 0), 0);
  ::close(fd);
}

class AblateFaults : public AblateCli {
 protected:
  // ablate on `flags` writing to `out`, its output in `log`; `limit_file_size` > 0 caps every
  // file it writes at that many bytes (RLIMIT_FSIZE: writes beyond fail with EFBIG).
  pid_t Spawn(const std::string& flags, const std::string& out, const std::string& log, off_t limit_file_size = 0) {
    const std::string cmd = std::string("exec ") + TINYLM_ABLATE_BIN + " " + flags + " --data-dir " + dir_.path() +
                            "/data --out " + dir_.path() + "/" + out + " --threads 2 > " + log + " 2>&1";
    const pid_t pid = fork();
    if (pid == 0) {
      if (limit_file_size > 0) {
        const rlimit lim{static_cast<rlim_t>(limit_file_size), static_cast<rlim_t>(limit_file_size)};
        std::signal(SIGXFSZ, SIG_IGN);  // a failed write, not a killed process (kept across exec)
        setrlimit(RLIMIT_FSIZE, &lim);
      }
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }
  static int ExitCode(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // The run directory under `out` (one seed pair: two runs; the first that has evaluated).
  std::string EvaluatedRunDir(const std::string& out) {
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(dir_.path() + "/" + out + "/runs", ec))
      if (ReadText((d.path() / "metrics.jsonl").string()).find("val_loss") != std::string::npos) return d.path().string();
    return "";
  }
  // Starts ablate and sends `sig` once its first run has evaluated (metrics on disk): mid-run.
  // Returns the exit code; the log is in `log`.
  int InterruptMidRun(const std::string& flags, const std::string& out, const std::string& log, int sig) {
    const pid_t pid = Spawn(flags, out, log);
    EXPECT_GE(pid, 0);
    bool started = false;
    for (int i = 0; i < 6000 && !started; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      started = !EvaluatedRunDir(out).empty();
    }
    EXPECT_TRUE(started) << ReadText(log);
    kill(pid, sig);
    return ExitCode(pid);
  }
  static std::vector<std::string> LeftoverTemporaries(const std::string& dir) {
    std::vector<std::string> tmp;
    for (const auto& f : fs::recursive_directory_iterator(dir))
      if (f.path().filename().string().find(".tmp") != std::string::npos) tmp.push_back(f.path().string());
    return tmp;
  }

  // A run interrupted mid-way leaves a checkpoint; the resume meets a write fault
  // (`limit_file_size`, or what `make_fault` did to the disk) and must fail with `error` naming
  // the file, leave that checkpoint byte for byte, and leave no temporary file; after
  // `clear_fault`, --resume ends exactly as the uninterrupted run.
  void FaultOnResume(const std::string& out, off_t limit_file_size, const std::function<void()>& make_fault,
                     const std::function<void()>& clear_fault, const std::string& error) {
    const std::string flags = spec_ + kLongRun;
    const Result whole = Ablate(flags, "whole");
    ASSERT_EQ(whole.code, 0) << whole.out;
    const std::string log = dir_.path() + "/" + fs::path(out).filename().string() + ".log";
    ASSERT_EQ(InterruptMidRun(flags, out, log, SIGTERM), 128 + SIGTERM) << ReadText(log);
    const std::string run = EvaluatedRunDir(out);
    const std::string checkpoint = ReadText(run + "/checkpoint.bin");
    ASSERT_GT(checkpoint.size(), 1000u);

    make_fault();
    const off_t limit = limit_file_size < 0 ? static_cast<off_t>(checkpoint.size()) - 1 : limit_file_size;
    const int code = ExitCode(Spawn(flags + " --resume", out, log, limit));
    const std::string failed = ReadText(log);
    EXPECT_EQ(code, 1) << failed;
    EXPECT_NE(failed.find("ablate: error: " + run + "/checkpoint.bin.tmp."), std::string::npos) << failed;
    EXPECT_NE(failed.find(error), std::string::npos) << failed;
    EXPECT_TRUE(ReadText(run + "/checkpoint.bin") == checkpoint) << "the last good checkpoint changed";
    EXPECT_EQ(LeftoverTemporaries(dir_.path() + "/" + out), std::vector<std::string>());

    clear_fault();
    const Result resumed = Ablate(flags + " --resume", out);
    ASSERT_EQ(resumed.code, 0) << resumed.out;
    EXPECT_EQ(RunMetrics(out), RunMetrics("whole"));
  }
};

// SIGTERM (a scheduler, `kill`) or SIGINT (Ctrl-C) mid-run: the run in progress checkpoints at
// its step boundary and ablate exits 128 + signal, saying how to continue; --resume then ends
// with exactly the results of a run never interrupted. (A kill between checkpoints:
// Trainer.ResumeContinuesBitExactly.)
TEST_F(AblateFaults, SignalCheckpointsAndResumeFinishesExactlyAsUninterrupted) {
  const std::string flags = spec_ + kLongRun;
  const Result whole = Ablate(flags, "whole");
  ASSERT_EQ(whole.code, 0) << whole.out;
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string out = sig == SIGTERM ? "term" : "int";
    const std::string log = dir_.path() + "/" + out + ".log";
    EXPECT_EQ(InterruptMidRun(flags, out, log, sig), 128 + sig) << ReadText(log);
    EXPECT_NE(ReadText(log).find("continue with the same command and --resume"), std::string::npos) << ReadText(log);
    const Result resumed = Ablate(flags + " --resume", out);
    ASSERT_EQ(resumed.code, 0) << resumed.out;
    EXPECT_EQ(RunMetrics(out), RunMetrics("whole")) << out;
  }
}

// A disk that fills up mid-run (here a 4 MiB filesystem filled by another file until only
// 40 KiB are free: the next checkpoint, ~80 KiB, does not fit).
TEST_F(AblateFaults, AFullDiskFailsTheRunNamingTheFileAndKeepsTheLastCheckpoint) {
  Tmpfs disk(dir_.path() + "/disk", "4m", false);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << "); the file-size-limit test covers the same path";
  const std::string filler = dir_.path() + "/disk/filler";
  FaultOnResume("disk/out", 0, [&] { FillFilesystem(filler, 40 << 10); }, [&] { fs::remove(filler); },
                "No space left on device");
}

// The same fault where no filesystem can be mounted: a file-size limit (RLIMIT_FSIZE) just
// below the checkpoint's size makes its write fail (EFBIG) while metrics still fit.
TEST_F(AblateFaults, AWriteFailureMidRunNamesTheFileAndKeepsTheLastCheckpoint) {
  FaultOnResume("out", -1, [] {}, [] {}, "File too large");
}

// The same command started twice at once (two terminals, a scheduler retrying): every run is
// trained by one process only; the other waits for it and reads its result.
TEST_F(AblateFaults, TwoProcessesOnOneOutputDirectoryTrainEachRunOnce) {
  const std::string flags = spec_ + " --speed-rounds 0";
  const std::string log_a = dir_.path() + "/a.log", log_b = dir_.path() + "/b.log";
  const pid_t a = Spawn(flags, "out", log_a), b = Spawn(flags, "out", log_b);
  EXPECT_EQ(ExitCode(a), 0) << ReadText(log_a);
  EXPECT_EQ(ExitCode(b), 0) << ReadText(log_b);
  const std::string both = ReadText(log_a) + ReadText(log_b);
  for (const auto& run : fs::directory_iterator(dir_.path() + "/out/runs")) {
    const std::string trained = "training -> " + run.path().string() + "\n";
    size_t count = 0;
    for (size_t at = both.find(trained); at != std::string::npos; at = both.find(trained, at + 1)) ++count;
    EXPECT_EQ(count, 1u) << trained << both;
  }
  const Result alone = Ablate(flags, "alone");
  ASSERT_EQ(alone.code, 0) << alone.out;
  EXPECT_EQ(RunMetrics("out"), RunMetrics("alone"));
}

// An output directory that cannot be written is reported before anything is prepared or trained.
TEST_F(AblateFaults, AnUnwritableOutputDirectoryIsReportedBeforeTraining) {
  dir_.Write("a_file", "not a directory\n");
  const Result r = Ablate(spec_, "a_file/out");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("ablate: error: " + dir_.path() + "/a_file/out: cannot create the output directory: " + dir_.path() +
                           "/a_file is not a directory"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("training"), std::string::npos) << r.out;

  Tmpfs read_only(dir_.path() + "/ro", "1m", true);
  if (!read_only.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << read_only.error() << ")";
  const Result ro = Ablate(spec_, "ro/out");
  EXPECT_EQ(ro.code, 1) << ro.out;
  EXPECT_NE(ro.out.find("ablate: error: " + dir_.path() + "/ro/out: the output directory is not writable: " + dir_.path() +
                        "/ro: Read-only file system"),
            std::string::npos) << ro.out;
}

}  // namespace
}  // namespace tinylm::testing
