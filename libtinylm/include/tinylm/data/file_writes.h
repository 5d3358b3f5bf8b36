// Writing results so that a full disk, a read-only directory or a kill never leaves a corrupt
// or half-written file behind: every file is written to a temporary name beside it, synced and
// renamed over the old one (which stays intact until then), and every failure throws
// std::runtime_error naming the file and the system's reason ("No space left on device").
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace tinylm {

// One file written atomically: Write..., then Commit(). Destroyed without Commit (an exception
// on the way), the temporary file is removed and `path` is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const void* data, size_t n);
  void Write(std::string_view text) { Write(text.data(), text.size()); }
  // Overwrites bytes already written, at `offset` (a header completed at the end).
  void WriteAt(uint64_t offset, const void* data, size_t n);
  // Syncs the data, renames it over `path` and syncs the directory (so the rename survives a
  // power cut too).
  void Commit();
  const std::string& temporary_path() const { return tmp_; }

 private:
  [[noreturn]] void Fail(const char* what) const;
  std::string path_, tmp_;
  int fd_ = -1;
};

// True when nobody holds the FileLock at `path` (tried without waiting, and let go at once). A
// process's flock ends with the process, however it ends: a lock held for a process's lifetime
// tells others whether it is still alive (experiments/rank_sweep.h).
bool LockIsFree(const std::string& path);

// `text` as the whole of `path`, atomically.
void WriteFileAtomic(const std::string& path, std::string_view text);

// A log that only grows (metrics.jsonl): each Append is written at once (no buffer to lose in
// a kill) and a failed write throws naming the file. A partial last line left by a failure is
// the reader's to skip (see CompleteLines).
class AppendOnlyFile {
 public:
  // Opens `path` for appending (creating it), or empties it first when `truncate`.
  AppendOnlyFile(std::string path, bool truncate);
  ~AppendOnlyFile();
  AppendOnlyFile(const AppendOnlyFile&) = delete;
  AppendOnlyFile& operator=(const AppendOnlyFile&) = delete;
  void Append(std::string_view text);

 private:
  std::string path_;
  int fd_ = -1;
};

// True when nobody holds the FileLock at `path` (tried without waiting, and let go at once). A
// process's flock ends with the process, however it ends: a lock held for a process's lifetime
// tells others whether it is still alive (experiments/rank_sweep.h).
bool LockIsFree(const std::string& path);

// The whole of `path` as written so far ("" if it does not exist yet): reading back a log.
std::string ReadFileIfExists(const std::string& path);

// The lines of `text` that are complete (end in '\n'), without their newlines: what a log
// holds for certain after a write failed or the process died mid-line.
template <typename Fn>
void ForEachCompleteLine(std::string_view text, Fn&& fn) {
  for (size_t at = 0, end; (end = text.find('\n', at)) != std::string_view::npos; at = end + 1)
    fn(text.substr(at, end - at));
}

// Throws naming `dir` unless it is a writable directory or could be created as one (its nearest
// existing ancestor is a writable directory): an unwritable output directory is reported before
// any work, not after hours of training. Creates nothing.
void CheckWritableDirectory(const std::string& dir);

// An exclusive lock on `path` (a lock file, created if needed) held for the object's lifetime,
// between threads and processes alike: two ablate processes (or two jobs) that reach the same
// run directory train it once; the second waits, then finds the result. The kernel releases it
// if the process dies.
class FileLock {
 public:
  // Takes the lock, waiting for its holder; `waiting` is called once if it has to wait.
  FileLock(const std::string& path, const std::function<void()>& waiting = {});
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// True when nobody holds the FileLock at `path` (tried without waiting, and let go at once). A
// process's flock ends with the process, however it ends: a lock held for a process's lifetime
// tells others whether it is still alive (experiments/rank_sweep.h).
bool LockIsFree(const std::string& path);

}  // namespace tinylm
