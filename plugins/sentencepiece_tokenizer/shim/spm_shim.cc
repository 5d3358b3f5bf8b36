// SentencePiece behind the C interface of spm_api.h. Includes no tinylm, Abseil or system
// protobuf header, and runs in its own link-map namespace (see spm_api.h for why). Not
// thread-safe: the tokenizer calls it from one thread at a time (the kept result is global).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "spm_api.h"

namespace {

using sentencepiece::SentencePieceProcessor;

std::string kept, error;  // the last result, and the last error

class DocumentIterator : public sentencepiece::SentenceIterator {
 public:
  DocumentIterator(const char* data, const long* lengths, long count) : data_(data), lengths_(lengths), count_(count) {
    Load();
  }
  bool done() const override { return i_ >= count_; }
  void Next() override {
    data_ += lengths_[i_++];
    Load();
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void Load() {
    if (i_ < count_) value_.assign(data_, lengths_[i_]);
  }
  const char* data_;
  const long* lengths_;
  long count_, i_ = 0;
  std::string value_;
};

long Keep(std::string s) {
  kept = std::move(s);
  return static_cast<long>(kept.size());
}

long Fail(const sentencepiece::util::Status& s) {
  error = s.ToString();
  kept = error;
  return -1;
}

SentencePieceProcessor* Sp(void* p) { return static_cast<SentencePieceProcessor*>(p); }

}  // namespace

#define TINYLM_EXPORT __attribute__((visibility("default")))

extern "C" {

// Training runs in a child process: on some degenerate inputs the library stops the whole
// process itself (a failed CHECK in its unigram trainer, found by tokenizer_fuzzer), which in
// the child becomes an error message instead. The child sends back "1" + the model, or "0" +
// the library's error.
TINYLM_EXPORT long tinylm_spm_train(const char* data, const long* lengths, long count, const char* args) {
  int fds[2];
  if (::pipe(fds) != 0) return Fail(sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal, "cannot create a pipe"));
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    DocumentIterator it(data, lengths, count);
    std::string model;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
    const std::string reply = status.ok() ? "1" + model : "0" + status.ToString();
    for (size_t at = 0; at < reply.size();) {
      const ssize_t w = ::write(fds[1], reply.data() + at, reply.size() - at);
      if (w <= 0) break;
      at += static_cast<size_t>(w);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string reply;
  char buf[65536];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int wstatus = 0;
  while (pid > 0 && ::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  const bool exited = pid > 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
  if (exited && !reply.empty() && reply[0] == '1') return Keep(reply.substr(1));
  error = exited && !reply.empty() ? reply.substr(1)
                                   : "the SentencePiece library stopped while training (its own check failed on this "
                                     "training text; its message is above)";
  kept = error;
  return -1;
}

TINYLM_EXPORT void tinylm_spm_take(char* out) { std::memcpy(out, kept.data(), kept.size()); }
TINYLM_EXPORT long tinylm_spm_error_size(void) { return static_cast<long>(error.size()); }

TINYLM_EXPORT void* tinylm_spm_load(const char* model, long size) {
  auto* sp = new SentencePieceProcessor();
  const auto status = sp->LoadFromSerializedProto(std::string(model, size));
  if (status.ok()) return sp;
  Fail(status);
  delete sp;
  return nullptr;
}

TINYLM_EXPORT void tinylm_spm_unload(void* sp) { delete Sp(sp); }

TINYLM_EXPORT long tinylm_spm_encode(void* sp, const char* text, long size, int* ids, long capacity) {
  std::vector<int> v;
  Sp(sp)->Encode(std::string(text, size), &v).IgnoreError();
  for (long i = 0; i < static_cast<long>(v.size()) && i < capacity; ++i) ids[i] = v[i];
  return static_cast<long>(v.size());
}

TINYLM_EXPORT long tinylm_spm_decode(void* sp, const int* ids, long count) {
  std::string text;
  Sp(sp)->Decode(std::vector<int>(ids, ids + count), &text).IgnoreError();
  return Keep(std::move(text));
}

TINYLM_EXPORT int tinylm_spm_piece_count(void* sp) { return Sp(sp)->GetPieceSize(); }
TINYLM_EXPORT long tinylm_spm_piece(void* sp, int id) { return Keep(Sp(sp)->IdToPiece(id)); }

TINYLM_EXPORT int tinylm_spm_kind(void* sp, int id) {
  const SentencePieceProcessor& p = *Sp(sp);
  if (p.IsUnknown(id)) return 1;
  if (p.IsControl(id)) return 2;
  if (p.IsByte(id)) return 3;
  if (p.IsUnused(id)) return 4;
  return 0;
}

TINYLM_EXPORT int tinylm_spm_eos_id(void* sp) { return Sp(sp)->eos_id(); }

}  // extern "C"
