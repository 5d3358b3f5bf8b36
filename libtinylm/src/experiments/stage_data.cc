#include "tinylm/experiments/stage_data.h"

#include <absl/strings/str_cat.h>
#include <google/protobuf/text_format.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "tinylm/model/checkpoint.h"

namespace tinylm {

StageDocuments::StageDocuments(const proto::DataSpec& data, const std::string& data_path, const std::string& data_dir,
                               bool sft)
    : data_(data), data_path_(data_path) {
  if (data.train_size() == 0) throw StageDataError(data_path + ".train", "no training data sources");
  split_ = data.validation_size() == 0;
  if (split_) {
    const float f = data.validation_fraction();
    if (!(f > 0 && f < 1))
      throw StageDataError(data_path + ".validation_fraction", "must be in (0, 1) when no validation source is given");
  }
  proto::DataSpec keyed = data;  // paths replaced by content hashes
  auto open = [&](const google::protobuf::RepeatedPtrField<proto::DataSource>& sources, const std::string& list,
                  google::protobuf::RepeatedPtrField<proto::DataSource>* keyed_list, std::vector<Source>* out) {
    for (int j = 0; j < sources.size(); ++j) {
      Source s;
      s.spec = sources.Get(j);
      s.spec_path = absl::StrCat(list, "[", j, "]");
      if (!s.spec.has_path() || s.spec.path().empty()) throw StageDataError(s.spec_path + ".path", "missing file path");
      if (sft && s.spec.format() != proto::DataSource::PROMPT_RESPONSE)
        throw StageDataError(s.spec_path + ".format", "an sft stage needs PROMPT_RESPONSE records");
      s.file = data_dir + "/" + s.spec.path();
      try {
        s.map = MappedFile::Open(s.file);
      } catch (const std::runtime_error& err) {
        throw StageDataError(s.spec_path + ".path", std::string(err.what()) + " (set --data-dir or TINYLM_DATA_DIR?)");
      }
      if (s.map->bytes().empty()) throw StageDataError(s.spec_path + ".path", s.file + ": file is empty");
      s.map->AdviseSequential();
      s.hash = s.map->Hash();
      keyed_list->Mutable(j)->set_path(Hex64(s.hash));
      out->push_back(std::move(s));
    }
  };
  open(data.train(), data_path + ".train", keyed.mutable_train(), &train_);
  open(data.validation(), data_path + ".validation", keyed.mutable_validation(), &val_);
  if (split_) {
    // Hold out the end of each source, so validation follows the training mix.
    for (size_t j = 0; j < train_.size(); ++j) {
      Source& s = train_[j];
      s.documents = 0;
      Stream(s, 0, -1, [&](Document&&) { return ++s.documents, true; });
      s.held_out = std::max<int64_t>(1, std::llround(s.documents * data.validation_fraction()));
      if (s.held_out >= s.documents)
        throw StageDataError(data_path + ".validation_fraction", absl::StrCat("leaves no training documents of train[", j, "]"));
    }
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(keyed, &text);
  key_ = ContentHash(absl::StrCat("stage documents v1 ", sft ? "sft\n" : "pretrain\n", text));
}

void StageDocuments::Stream(const Source& s, int64_t first, int64_t last, const DocumentFn& fn) const {
  int64_t i = 0;
  try {
    ForEachDocument(
        s.spec, s.map->bytes(), s.file,
        [&](Document&& d) {
          const int64_t at = i++;
          if (last >= 0 && at >= last) return false;
          if (at < first) return true;
          return fn(std::move(d));
        },
        [&](size_t consumed) { s.map->Release(consumed); });
    s.map->Release();
  } catch (const StageDataError&) {
    throw;
  } catch (const std::runtime_error& err) {
    throw StageDataError(s.spec_path + ".path", err.what());
  }
  if (i == 0) throw StageDataError(s.spec_path + ".path", "no documents in '" + s.spec.path() + "' (empty corpus)");
}

void StageDocuments::ForEachValidation(const DocumentFn& fn) {
  if (split_) {
    for (const Source& s : train_) Stream(s, s.documents - s.held_out, -1, fn);
  } else {
    for (const Source& s : val_) Stream(s, 0, -1, fn);
  }
}

void StageDocuments::BuildOverlapFilter() {
  overlap_.emplace();
  ForEachValidation([&](Document&& d) { return overlap_->HoldOut(d), true; });
}

void StageDocuments::ForEachTraining(const DocumentFn& fn) {
  if (data_.drop_validation_overlap() && !overlap_) BuildOverlapFilter();
  int64_t dropped = 0, kept = 0;
  bool complete = true;
  const DocumentFn filtered = [&](Document&& d) {
    if (overlap_ && overlap_->Overlaps(d)) return ++dropped, true;
    ++kept;
    if (fn(std::move(d))) return true;
    return complete = false;
  };
  for (const Source& s : train_) {
    Stream(s, 0, split_ ? s.documents - s.held_out : -1, filtered);
    if (!complete) return;
  }
  dropped_overlap_ = dropped;
  if (kept == 0) throw StageDataError(data_path_ + ".train", "no training documents left after removing validation overlap");
}

std::vector<uint64_t> StageDocuments::file_hashes() const {
  std::vector<uint64_t> h;
  for (const auto* list : {&train_, &val_})
    for (const Source& s : *list) h.push_back(s.hash);
  return h;
}

int64_t StageDocuments::training_file_bytes() const {
  int64_t n = 0;
  for (const Source& s : train_) n += static_cast<int64_t>(s.map->bytes().size());
  return n;
}

std::vector<Document> TokenizerSample(StageDocuments* docs, int64_t budget) {
  std::vector<Document> all;
  int64_t bytes = 0, count = 0;
  bool fits = true;
  docs->ForEachTraining([&](Document&& d) {
    bytes += static_cast<int64_t>(d.prompt.size() + d.text.size());
    ++count;
    if (fits && bytes <= budget) {
      all.push_back(std::move(d));
    } else if (fits) {
      fits = false;
      all.clear();
      all.shrink_to_fit();
    }
    return true;
  });
  if (fits) return all;
  // Every k-th document, k the smallest stride whose sample fits (by average size, then
  // trimmed at the budget so the bound holds whatever the sizes).
  const int64_t k = (bytes + budget - 1) / budget;
  int64_t i = 0, taken = 0;
  docs->ForEachTraining([&](Document&& d) {
    if (i++ % k != 0) return true;
    const int64_t size = static_cast<int64_t>(d.prompt.size() + d.text.size());
    if (taken + size > budget) return false;
    taken += size;
    all.push_back(std::move(d));
    return true;
  });
  return all;
}

}  // namespace tinylm

namespace tinylm {
namespace {

// "tokenizing 1.2 GB of 2.2 GB, 54%, 31 MB/s, 32 s left", at most once a second; on a
// terminal it rewrites one line, in a log it adds a line every 10 s.
class Progress {
 public:
  Progress(int64_t total, bool enabled) : total_(total), enabled_(enabled && total >= (int64_t{64} << 20)) {
    tty_ = enabled_ && isatty(fileno(stderr));
    start_ = last_ = Clock::now();
  }
  void Add(int64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(tty_ ? 1 : 10)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = done_ / std::max(secs, 1e-3), frac = std::min(1.0, static_cast<double>(done_) / total_);
    std::fprintf(stderr, "%stokenizing %.2f of %.2f GB, %.0f%%, %.0f MB/s, %.0f s left%s", tty_ ? "\r" : "",
                 done_ / 1e9, total_ / 1e9, 100 * frac, rate / 1e6, (total_ - done_) / std::max(rate, 1.0),
                 tty_ ? "   " : "\n");
    std::fflush(stderr);
  }
  ~Progress() {
    if (tty_ && last_ != start_) std::fprintf(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_, done_ = 0;
  bool enabled_, tty_ = false;
  Clock::time_point start_, last_;
};

}  // namespace

CachedStreams StageStreams(StageDocuments* docs, const Tokenizer& tok, const std::string& plugin_identity,
                           const std::string& cache_dir, bool progress, bool* cached) {
  const uint64_t key = ContentHash(absl::StrCat("token streams v", kTokenStreamVersion, " ", Hex64(docs->key()), " ",
                                                tok.type(), "\n", tok.Save(), "\n", plugin_identity));
  const std::string path = TokenCachePath(cache_dir, key);
  if (auto hit = ReadTokenCache(path, key, tok.vocab_size())) {
    if (cached) *cached = true;
    return *std::move(hit);
  }
  if (cached) *cached = false;
  {
    TokenCacheWriter out(path, key, TokenArray::WidthFor(tok.vocab_size()), tok.group_size());
    const std::vector<int32_t> eot = SpecialGroup(tok, "<|endoftext|>");
    std::vector<int32_t> ids;
    Progress bar(docs->training_file_bytes(), progress);
    auto append = [&](Document&& d) {
      const int64_t bytes = EncodeDocument(d, tok, eot, &ids);
      out.Append(ids.data(), static_cast<int64_t>(ids.size()));
      out.EndDocument(bytes);
      bar.Add(bytes);
      return true;
    };
    out.Begin(TokenCacheWriter::kValidation);
    docs->ForEachValidation(append);
    out.Begin(TokenCacheWriter::kTraining);
    docs->ForEachTraining(append);
    out.Commit(docs->dropped_overlap());
  }
  auto written = ReadTokenCache(path, key, tok.vocab_size());
  if (!written) throw std::runtime_error(path + ": token cache vanished right after it was written");
  return *std::move(written);
}

}  // namespace tinylm
