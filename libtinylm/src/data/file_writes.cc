#include "tinylm/data/file_writes.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace tinylm {

namespace {

std::runtime_error Failure(const std::string& path, const char* what, int err) {
  return std::runtime_error(absl::StrCat(path, ": ", what, ": ", std::strerror(err)));
}

void WriteAllAt(int fd, const void* data, size_t n, int64_t offset, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = offset < 0 ? ::write(fd, p, n) : ::pwrite(fd, p, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw Failure(path, "write failed", errno);
    if (w == 0) throw Failure(path, "write failed", ENOSPC);
    p += w;
    n -= static_cast<size_t>(w);
    if (offset >= 0) offset += w;
  }
}

void SyncDirectoryOf(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0) return;  // the rename happened; only its durability in a power cut is at stake
  ::fsync(dfd);
  ::close(dfd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  // Unique per writer: two runs (or processes) writing the same file never share a temporary.
  std::random_device rd;
  tmp_ = absl::StrCat(path_, ".tmp.", ::getpid(), ".", rd());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Failure(tmp_, "cannot create", errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::Fail(const char* what) const { throw Failure(tmp_, what, errno); }

void AtomicFile::Write(const void* data, size_t n) { WriteAllAt(fd_, data, n, -1, tmp_); }

void AtomicFile::WriteAt(uint64_t offset, const void* data, size_t n) {
  WriteAllAt(fd_, data, n, static_cast<int64_t>(offset), tmp_);
}

void AtomicFile::Commit() {
  if (::fsync(fd_) != 0) Fail("cannot sync");
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Failure(tmp_, "write failed", err);
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Failure(path_, "cannot replace", err);
  }
  SyncDirectoryOf(path_);
}

void WriteFileAtomic(const std::string& path, std::string_view text) {
  AtomicFile f(path);
  f.Write(text);
  f.Commit();
}

AppendOnlyFile::AppendOnlyFile(std::string path, bool truncate) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
  if (fd_ < 0) throw Failure(path_, "cannot open for writing", errno);
}

AppendOnlyFile::~AppendOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendOnlyFile::Append(std::string_view text) { WriteAllAt(fd_, text.data(), text.size(), -1, path_); }

std::string ReadFileIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void CheckWritableDirectory(const std::string& dir) {
  // The directory itself, or the nearest ancestor that exists (where it would be created).
  std::error_code ec;
  std::filesystem::path existing = std::filesystem::absolute(dir, ec);
  while (!std::filesystem::exists(existing, ec) && existing.has_relative_path()) existing = existing.parent_path();
  if (!std::filesystem::is_directory(existing, ec))
    throw std::runtime_error(absl::StrCat(dir, ": cannot create the output directory: ", existing.string(),
                                          " is not a directory"));
  // access() also reports a read-only filesystem (EROFS), even to root.
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error(absl::StrCat(dir, ": the output directory is not writable: ", existing.string(), ": ",
                                          std::strerror(errno)));
}

FileLock::FileLock(const std::string& path, const std::function<void()>& waiting) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Failure(path, "cannot create the lock file", errno);
  // Each FileLock opens its own descriptor, so flock excludes threads of one process too.
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  if (waiting) waiting();
  while (::flock(fd_, LOCK_EX) != 0)
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd_);
      throw Failure(path, "cannot lock", err);
    }
}

FileLock::~FileLock() { ::close(fd_); }  // closing releases the lock

bool LockIsFree(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return true;  // nobody ever took it
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace tinylm
