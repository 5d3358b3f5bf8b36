// Training runs: resume continues bit-exactly, checkpoints are verified, generation through
// decode state matches full forwards.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/experiments/experiment.h"
#include "tinylm/model/generate.h"
#include "tinylm/model/packed.h"
#include "tinylm/training/trainer.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

// 24 steps of a tiny model with dropout (so the RNG matters for resume).
constexpr char kSpec[] = R"(name: "resume"
seeds: [3]
model {
  d_model: 16
  context: 32
  embedding_dropout: 0.1
  block {
    count: 2
    layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 qk_norm: true rope {} } } dropout: 0.1 } }
    layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } }
  }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { tokens: 1536 batch_size: 4 seq_len: 16 }
eval { interval_steps: 8 max_tokens: 256 log_interval_steps: 1 checkpoint_interval_steps: 10 sample_tokens: 8 }
)";

struct Fixture {
  TempDir dir;
  Experiment e;
  Fixture() {
    dir.Write("train.txt", TinyStories(60));
    dir.Write("val.txt", TinyStories(10, 1));
    e = PrepareExperiment(LoadSpec(dir.Write("spec.pbtxt", kSpec)), false, dir.path());
  }
  RunOptions Opts(const std::string& name) const {
    RunOptions o;
    o.seed = 3;
    o.dir = dir.path() + "/" + name;
    o.threads = 2;
    return o;
  }
};

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// metrics.jsonl without the wall-clock field.
std::string Losses(const std::string& path) {
  std::string out, line;
  std::istringstream in(Read(path));
  while (std::getline(in, line)) {
    const size_t at = line.find(",\"tokens_per_sec\"");
    out += (at == std::string::npos ? line : line.substr(0, at)) + "\n";
  }
  return out;
}

// Checkpoint contents without the header's wall-clock time.
std::string Arenas(const std::string& path) {
  const std::string b = Read(path);
  uint64_t header_len;
  std::memcpy(&header_len, b.data() + 8, 8);
  return b.substr(16 + header_len, b.size() - 16 - header_len - 8);
}

TEST(Trainer, ResumeContinuesBitExactly) {
  Fixture f;
  ASSERT_EQ(f.e.stages[0].steps, 24);
  const proto::RunSummary full = TrainRun(f.e, f.Opts("full"));
  EXPECT_EQ(full.tokens(), 24 * 64);
  EXPECT_TRUE(fs::exists(f.dir.path() + "/full/summary.json"));

  // Stopped exactly at the checkpoint (step 10), then resumed.
  RunOptions a = f.Opts("split");
  a.stop_after_steps = 10;
  TrainRun(f.e, a);
  EXPECT_FALSE(fs::exists(a.dir + "/summary.json"));  // not finished
  EXPECT_EQ(ReadCheckpointHeader(a.dir + "/checkpoint.bin").global_step(), 10);
  a.stop_after_steps = -1;
  a.resume = true;
  const proto::RunSummary resumed = TrainRun(f.e, a);
  EXPECT_EQ(Losses(f.dir.path() + "/full/metrics.jsonl"), Losses(a.dir + "/metrics.jsonl"));
  EXPECT_EQ(Arenas(f.dir.path() + "/full/checkpoint.bin"), Arenas(a.dir + "/checkpoint.bin"));
  EXPECT_EQ(full.val_loss(), resumed.val_loss());
  EXPECT_EQ(full.samples(0).text(), resumed.samples(0).text());
  // The resumed run reloads the curve points before step 10 from metrics.jsonl: exactly the
  // values an uninterrupted run holds, not values rounded on the way through the file.
  ASSERT_EQ(full.train_curve_size(), resumed.train_curve_size());
  ASSERT_EQ(full.val_curve_size(), resumed.val_curve_size());
  for (int i = 0; i < full.train_curve_size(); ++i) EXPECT_EQ(full.train_curve(i).loss(), resumed.train_curve(i).loss()) << i;
  for (int i = 0; i < full.val_curve_size(); ++i) EXPECT_EQ(full.val_curve(i).loss(), resumed.val_curve(i).loss()) << i;

  // "Killed" between checkpoints (step 17; last checkpoint at 10): steps 11..17 are redone.
  RunOptions k = f.Opts("killed");
  k.stop_after_steps = 17;
  TrainRun(f.e, k);
  EXPECT_EQ(ReadCheckpointHeader(k.dir + "/checkpoint.bin").global_step(), 10);
  k.stop_after_steps = -1;
  k.resume = true;
  TrainRun(f.e, k);
  EXPECT_EQ(Losses(f.dir.path() + "/full/metrics.jsonl"), Losses(k.dir + "/metrics.jsonl"));
  EXPECT_EQ(Arenas(f.dir.path() + "/full/checkpoint.bin"), Arenas(k.dir + "/checkpoint.bin"));

  // A finished run is returned, not retrained.
  const proto::RunSummary again = TrainRun(f.e, f.Opts("full"));
  EXPECT_EQ(again.wall_seconds(), full.wall_seconds());
}

TEST(Checkpoint, CorruptionTruncationAndLayoutAreDetected) {
  Fixture f;
  auto model = f.e.BuildModel();
  model->store().Allocate(1);
  const std::string path = f.dir.path() + "/ck.bin";
  proto::CheckpointHeader h;
  h.set_global_step(7);
  SaveCheckpoint(path, h, model->store());
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  auto other = f.e.BuildModel();
  other->store().Allocate(2);
  EXPECT_EQ(LoadCheckpoint(path, &other->store()).global_step(), 7);
  EXPECT_EQ(0, std::memcmp(other->store().values().raw(), model->store().values().raw(), model->store().values().bytes()));

  auto expect_error = [&](const std::string& p, const std::string& what, ParamStore* s) {
    try {
      LoadCheckpoint(p, s);
      ADD_FAILURE() << "loaded " << p;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind(p, 0), 0u) << e.what();
    }
  };
  std::string bytes = Read(path);
  bytes[bytes.size() / 2] ^= 0x10;
  expect_error(f.dir.Write("flipped.bin", bytes), "checksum mismatch", &other->store());
  expect_error(f.dir.Write("short.bin", Read(path).substr(0, 1000)), "checksum mismatch", &other->store());
  expect_error(f.dir.Write("junk.bin", "hello"), "not a tinylm checkpoint", &other->store());
  ParamStore different;
  different.Declare("w", {3}, Init::Constant(0), true);
  different.Allocate(0);
  expect_error(path, "parameter layout differs", &different);

  // A header length near 2^64 with a valid checksum (found by reading the bounds check the fuzz
  // target probes): refused, not wrapped around into a tiny length.
  std::string huge = Read(path);
  const uint64_t len = ~uint64_t{0} - 4;
  std::memcpy(huge.data() + 8, &len, 8);
  const uint64_t sum = Fnv64(huge.data(), huge.size() - 8);
  std::memcpy(huge.data() + huge.size() - 8, &sum, 8);
  expect_error(f.dir.Write("huge.bin", huge), "bad header length", &other->store());
}

TEST(Checkpoint, AModelFileWhoseSpecDisagreesWithItsWeightsIsRefusedBeforeAllocating) {
  // The embedded spec describes a model of ~4 billion parameters; the file holds the tiny one.
  Fixture f;
  auto model = f.e.BuildModel();
  model->store().Allocate(1);
  proto::CheckpointHeader h;
  h.set_spec_text("model { d_model: 4096 context: 64 block { count: 64 layer { residual { mixer { swiglu { hidden: 32768 } } } } } }");
  h.set_tokenizer(f.e.tokenizer->Save());
  const std::string path = f.dir.path() + "/lying.bin";
  SaveCheckpoint(path, h, model->store());
  try {
    LoadModelFile(path);
    ADD_FAILURE() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the embedded spec's model has"), std::string::npos) << e.what();
  }
}

TEST(Generate, GreedyDecodeMatchesFullForwardArgmax) {
  Fixture f;
  const proto::RunSummary r = TrainRun(f.e, f.Opts("gen"));
  auto model = f.e.BuildModel();
  model->store().Allocate(0);
  LoadCheckpoint(f.dir.path() + "/gen/checkpoint.bin", &model->store());
  Context ctx(2, 0);
  SamplingOptions so;
  so.temperature = 0;  // greedy
  so.max_tokens = 12;
  so.stop_at_end_of_text = false;
  const std::vector<int32_t> prompt = f.e.tokenizer->Encode("Once upon");
  const std::vector<int32_t> gen = Generate(ctx, *model, *f.e.tokenizer, prompt, so);
  ASSERT_EQ(gen.size(), 12u);
  // Generation ran on one thread (Context::Serial) and gave the team back.
  EXPECT_EQ(omp_get_max_threads(), 2);
  // Each generated token must be the argmax of a full forward over everything before it.
  std::vector<int32_t> seq = prompt;
  for (int32_t tok : gen) {
    Tensor ids = Tensor::Empty({1, static_cast<int64_t>(seq.size())}, DType::kS32);
    std::copy(seq.begin(), seq.end(), ids.s32());
    const Tensor logits = model->Forward(ctx, ids, Mode::kEval);
    const float* last = logits.f32() + (seq.size() - 1) * model->vocab_size();
    EXPECT_EQ(tok, std::max_element(last, last + model->vocab_size()) - last);
    seq.push_back(tok);
  }
}

TEST(Generate, SamplingRespectsTopKAndSeed) {
  std::vector<float> logits = {5, 4, 3, -20, -20};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 2;
  Rng a{7, 0, 0}, b{7, 0, 0};
  for (int i = 0; i < 200; ++i) {
    const int32_t t = SampleToken(logits.data(), 5, o, &a);
    EXPECT_LT(t, 2);
    EXPECT_EQ(t, SampleToken(logits.data(), 5, o, &b));
  }
  o.top_k = 0;
  o.top_p = 0.5f;  // the top token alone holds ~66% of the mass
  for (int i = 0; i < 50; ++i) EXPECT_EQ(SampleToken(logits.data(), 5, o, &a), 0);
}

TEST(Generate, RepetitionShare) {
  EXPECT_EQ(RepetitionShare("the cat sat on the mat"), 0.0);
  EXPECT_NEAR(RepetitionShare("a b c a b c a b c"), 4.0 / 7.0, 1e-12);
  EXPECT_EQ(RepetitionShare("too short"), 0.0);
}

}  // namespace
}  // namespace tinylm::testing

namespace tinylm::testing {
namespace {

// Pretrain then instruction-tune: the SFT stage trains on responses only, and the summary
// reports both the held-out response loss and the pretraining validation bits per byte.
TEST(Trainer, PretrainThenSft) {
  TempDir dir;
  dir.Write("train.txt", TinyStories(60));
  dir.Write("val.txt", TinyStories(10, 1));
  std::string pairs;
  for (int i = 0; i < 40; ++i)
    pairs += "{\"prompt\": \"Tell a story about number " + std::to_string(i) + ".\", \"response\": \"Number " +
             std::to_string(i) + " went to the park and played with a ball all day.\"}\n";
  dir.Write("pairs.jsonl", pairs);
  const std::string spec = dir.Write("spec.pbtxt", R"(name: "sft"
seeds: [1]
tokenizer { bytes { end_of_text_byte: 0 special: "<|user|>" special: "<|assistant|>" special: "<|end|>" } }
model {
  d_model: 16
  context: 128
  block { count: 1 layer { residual { norm { rmsnorm {} } mixer { attention { heads: 2 rope {} } } } }
          layer { residual { norm { rmsnorm {} } mixer { swiglu { hidden: 24 } } } } }
  final_norm { rmsnorm {} }
}
data { train { path: "train.txt" } validation { path: "val.txt" } }
stages { name: "pretrain" tokens: 2048 batch_size: 4 seq_len: 32 }
stages {
  name: "sft"
  kind: SFT
  tokens: 2048
  batch_size: 4
  seq_len: 128
  data { train { path: "pairs.jsonl" format: PROMPT_RESPONSE } validation_fraction: 0.2 }
}
eval { interval_steps: 0 max_tokens: 512 sample_tokens: 8 }
)");
  const Experiment e = PrepareExperiment(LoadSpec(spec), false, dir.path());
  ASSERT_EQ(e.stages.size(), 2u);
  EXPECT_EQ(e.stages[1].train_documents, 32);
  EXPECT_EQ(e.stages[1].val_documents, 8);
  RunOptions o;
  o.seed = 1;
  o.dir = dir.path() + "/run";
  o.threads = 2;
  const proto::RunSummary r = TrainRun(e, o);
  EXPECT_EQ(r.tokens(), 2048 + 2048);
  EXPECT_GT(r.val_loss(), 0);
  EXPECT_GT(r.pretrain_val_bpb(), 0);
  EXPECT_NE(r.pretrain_val_bpb(), r.val_bpb());  // two different validation sets
  bool saw_sft = false;
  for (const auto& p : r.val_curve()) saw_sft |= p.stage() == "sft";
  EXPECT_TRUE(saw_sft);

  // An SFT stage over plain text is rejected at its format field.
  const std::string bad = dir.Write("bad.pbtxt", "base: \"spec.pbtxt\"\nstages {} stages { data { train { format: JSONL } } }\n");
  try {
    PrepareExperiment(LoadSpec(bad), false, dir.path());
    ADD_FAILURE() << "accepted";
  } catch (const SpecError& err) {
    EXPECT_EQ(std::string(err.what()), bad + ":2:35: stages[1].data.train[0].format: an sft stage needs PROMPT_RESPONSE records");
  }
}

}  // namespace
}  // namespace tinylm::testing
