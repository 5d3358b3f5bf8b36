// Real-size data: a multi-GB corpus (TinyStoriesV2's train split is 2,227,753,162 bytes)
// prepared for training -- parsed, tokenized into the token cache the first time, mapped when
// cached -- with each tokenizer; the memory that takes; a two-arm ablation over it; and
// drawing training batches from the mapped cache. Peak memory is sampled from
// /proc/self/status every 10 ms: anonymous (the process's own) and file-backed (mapped
// corpus and cache pages, which are page cache and shared) separately.
//
//   ./build/bench/tinylm_corpus_bench                     2.2 GB corpus, every benchmark
//   ./build/bench/tinylm_corpus_bench --corpus_gb=0.5 --benchmark_filter=bytes
//   ./build/bench/tinylm_corpus_bench --corpus_dir=/big/disk   (where the corpus and caches go)
//
// The corpus is ../shared/data/tinystories/ts_v2_train_head.txt repeated to the size (written
// once, reused while its size matches); validation is ts_v1_valid_head.txt. Each benchmark
// runs once (a first preparation is a one-off by nature).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tinylm/data/data.h"
#include "tinylm/experiments/ablation_run.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/experiments/spec.h"

namespace tinylm::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double g_corpus_gb = 2.2;
std::string g_dir = (fs::temp_directory_path() / "tinylm-corpus-bench").string();

// Peaks of RssAnon and RssFile while alive, sampled every 10 ms.
class MemorySampler {
 public:
  MemorySampler() : thread_([this] {
    while (!stop_) {
      Sample();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }) {}
  ~MemorySampler() { Stop(); }
  void Stop() {
    if (stop_.exchange(true)) return;
    thread_.join();
    Sample();
  }
  double anon_mb() const { return anon_kb_ / 1000.0; }
  double file_mb() const { return file_kb_ / 1000.0; }

 private:
  void Sample() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("RssAnon:", 0) == 0) anon_kb_ = std::max<int64_t>(anon_kb_, std::stoll(line.substr(8)));
      if (line.rfind("RssFile:", 0) == 0) file_kb_ = std::max<int64_t>(file_kb_, std::stoll(line.substr(8)));
    }
  }
  std::atomic<bool> stop_{false};
  int64_t anon_kb_ = 0, file_kb_ = 0;
  std::thread thread_;
};

std::string SourceData(const std::string& name) {
  return std::string(TINYLM_SOURCE_DIR) + "/../shared/data/tinystories/" + name;
}

// The corpus, written once: the excerpt repeated to g_corpus_gb.
std::string CorpusDir() {
  const fs::path dir = fs::path(g_dir) / "data";
  const fs::path corpus = dir / "train.txt";
  const uint64_t want = static_cast<uint64_t>(g_corpus_gb * 1e9);
  const std::string piece = ReadFileBytes(SourceData("ts_v2_train_head.txt"));
  const uint64_t size = want / piece.size() * piece.size();
  std::error_code ec;
  if (fs::file_size(corpus, ec) != size) {
    fs::create_directories(dir);
    std::fprintf(stderr, "writing a %.2f GB corpus to %s\n", size / 1e9, corpus.c_str());
    std::ofstream out(corpus, std::ios::binary);
    for (uint64_t n = 0; n < size; n += piece.size()) out << piece;
    if (!out.flush()) throw std::runtime_error(corpus.string() + ": cannot write the corpus");
    fs::copy_file(SourceData("ts_v1_valid_head.txt"), dir / "valid.txt", fs::copy_options::overwrite_existing);
  }
  return dir.string();
}

// A small transformer; the variant arm turns QK-norm on.
std::string Model(bool qk_norm) {
  return std::string("model { d_model: 64 context: 128 tie_embeddings: true block { count: 2\n"
                     "  layer { residual { norm { rmsnorm {} } mixer { attention { heads: 4 rope {}") +
         (qk_norm ? " qk_norm: true" : "") +
         " } } } }\n  layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 128 } } } } }\n"
         "  final_norm { rmsnorm {} } }\n";
}

std::string Spec(const std::string& tokenizer, const std::string& plugins) {
  return plugins + "name: \"corpus\"\noutput_dir: \"" + g_dir + "/runs\"\nseeds: 1\n" + tokenizer +
         "\ndata {\n  train { path: \"train.txt\" format: TEXT_EOT }\n"
         "  validation { path: \"valid.txt\" format: BLANK_LINES }\n}\n" + Model(false) +
         "stages { tokens: 32768 batch_size: 16 seq_len: 128 }\neval { max_tokens: 4096 interval_steps: 0 }\n";
}

struct Tokenizer {
  const char *name, *tokenizer, *plugins;
};
const Tokenizer kTokenizers[] = {
    {"bytes", "tokenizer { bytes { end_of_text_byte: 0 } }", ""},
    {"hybrid", "tokenizer { [tinylm.plugins.hybrid] { vocab_size: 2111 } }", "plugins: \"hybrid_tokenizer\"\n"},
    {"sentencepiece", "tokenizer { [tinylm.plugins.sentencepiece] { vocab_size: 1024 model_type: BPE } }",
     "plugins: \"sentencepiece_tokenizer\"\n"},
};

// Prepares the experiment of `t` over the corpus; `cached`: with the caches of a previous run.
void BM_Prepare(benchmark::State& st, const Tokenizer& t, bool cached) {
  const std::string data = CorpusDir();
  const std::string spec_path = g_dir + "/" + t.name + ".pbtxt";
  std::ofstream(spec_path) << Spec(t.tokenizer, t.plugins);
  if (!cached) fs::remove_all(fs::path(g_dir) / "runs" / "token_cache");
  for (auto _ : st) {
    MemorySampler memory;
    const auto start = Clock::now();
    const Experiment e = PrepareExperiment(LoadSpec(spec_path), false, data);
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    memory.Stop();
    st.SetIterationTime(secs);
    st.counters["seconds"] = secs;
    st.counters["corpus_GB"] = fs::file_size(fs::path(data) / "train.txt") / 1e9;
    st.counters["MB/s"] = fs::file_size(fs::path(data) / "train.txt") / 1e6 / secs;
    st.counters["train_tokens_M"] = e.stages[0].train->tokens.size() / 1e6;
    st.counters["token_bytes"] = e.stages[0].train->tokens.width();
    st.counters["peak_anon_MB"] = memory.anon_mb();
    st.counters["peak_file_MB"] = memory.file_mb();
  }
}

// Drawing one training batch (16 windows of 129 tokens) at random from the mapped cache.
void BM_SampleBatch(benchmark::State& st) {
  const std::string spec_path = g_dir + "/bytes.pbtxt";
  std::ofstream(spec_path) << Spec(kTokenizers[0].tokenizer, "");
  const Experiment e = PrepareExperiment(LoadSpec(spec_path), false, CorpusDir());
  Batch batch;
  Tensor ones;
  int64_t step = 0;
  for (auto _ : st) DrawTrainingBatch(e.stages[0], 0, 1, step++, &batch, &ones);
  st.counters["batches/s"] = benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}

// A whole two-arm ablation (one seed each, 32k tokens) over the corpus: both arms share the
// token cache; the peak memory is the figure of interest.
void BM_TwoArmAblation(benchmark::State& st) {
  const std::string data = CorpusDir();
  std::ofstream(g_dir + "/bytes.pbtxt") << Spec(kTokenizers[0].tokenizer, "");
  const std::string variant = g_dir + "/variant.pbtxt";
  std::ofstream(variant) << "base: \"bytes.pbtxt\"\nname: \"corpus_ablation\"\n"
                         << Model(true);
  fs::remove_all(fs::path(g_dir) / "runs" / "runs");  // train again, not from the run cache
  for (auto _ : st) {
    MemorySampler memory;
    const auto start = Clock::now();
    AblationOptions o;
    o.data_dir = data;
    o.speed_rounds = 0;
    RunAblation(variant, o);
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    memory.Stop();
    st.SetIterationTime(secs);
    st.counters["seconds"] = secs;
    st.counters["peak_anon_MB"] = memory.anon_mb();
    st.counters["peak_file_MB"] = memory.file_mb();
  }
}

}  // namespace
}  // namespace tinylm::bench

int main(int argc, char** argv) {
  using namespace tinylm::bench;
  // Our flags first; the rest go to Google Benchmark.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--corpus_gb=", 0) == 0) g_corpus_gb = std::stod(a.substr(12));
    else if (a.rfind("--corpus_dir=", 0) == 0) g_dir = a.substr(13);
    else argv[kept++] = argv[i];
  }
  argc = kept;
  for (const Tokenizer& t : kTokenizers) {
    for (bool cached : {false, true})
      benchmark::RegisterBenchmark((std::string("prepare/") + t.name + (cached ? "/cached" : "/first")).c_str(),
                                   [&t, cached](benchmark::State& st) { BM_Prepare(st, t, cached); })
          ->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  }
  benchmark::RegisterBenchmark("sample_batch", BM_SampleBatch)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("two_arm_ablation", BM_TwoArmAblation)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
