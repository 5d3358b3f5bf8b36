// The ablate and generate executables end to end, on a tiny spec and generated data.
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "ablate_cli.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

TEST_F(AblateCli, TrainsBothArmsPrintsTheTableAndWritesResults) {
  const Result r = Ablate(spec_);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("model.block.layer[0].residual.mixer.attention.qk_norm: true -> false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("variant - baseline [95% CI]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val bits/byte"), std::string::npos);
  // 256 x 16 embedding + attention 4 x 16^2 (+ 2 x 8 QK-norm) + SwiGLU 3 x 16 x 24 + 3 norms of 16.
  EXPECT_NE(r.out.find(" 6336\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 6320\n"), std::string::npos) << r.out;
  // The compute per arm and the speed comparison, printed and in the report.
  EXPECT_NE(r.out.find("Compute (FLOPs from every layer's count"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Speed (variant against baseline):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| training step | "), std::string::npos) << r.out;
  const std::string report = dir_.path() + "/out/qk_off/";
  for (const char* f : {"report.md", "summary.json", "curves.svg", "baseline.pbtxt", "variant.pbtxt"})
    EXPECT_TRUE(fs::exists(report + f)) << f;
  {
    const std::string md = ReadText(report + "report.md");
    EXPECT_NE(md.find("## Compute"), std::string::npos);
    EXPECT_NE(md.find("## Speed"), std::string::npos);
    EXPECT_NE(md.find("| batch-1 generation | "), std::string::npos) << md;
  }
  int runs = 0;
  for (const auto& d : fs::directory_iterator(dir_.path() + "/out/runs")) {
    ++runs;
    for (const char* f : {"metrics.jsonl", "metrics.csv", "summary.json", "checkpoint.bin", "samples.md", "spec.pbtxt"})
      EXPECT_TRUE(fs::exists(d.path() / f)) << d.path() << " " << f;
    // The CSV: a header and one row per JSON line.
    const std::string jsonl = ReadText((d.path() / "metrics.jsonl").string()), csv = ReadText((d.path() / "metrics.csv").string());
    EXPECT_EQ(csv.rfind("stage,step,tokens,loss,", 0), 0u) << csv;
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), std::count(jsonl.begin(), jsonl.end(), '\n') + 1) << csv;
  }
  EXPECT_EQ(runs, 4);  // 2 arms x 2 seeds
  // Every run of the comparison in one CSV, rows led by arm, seed and run.
  const std::string all = ReadText(report + "metrics.csv");
  EXPECT_EQ(all.rfind("arm,seed,run,stage,step,", 0), 0u) << all;
  for (const char* row : {"\nbaseline,1,", "\nbaseline,2,", "\nvariant,1,", "\nvariant,2,"})
    EXPECT_NE(all.find(row), std::string::npos) << row;

  // Everything cached the second time; a sibling ablation reuses the baseline runs.
  const Result again = Ablate(spec_);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(again.out.find("training ->"), std::string::npos) << again.out;
  const std::string sibling = dir_.Write("specs/wide_ffn.pbtxt",
                                         "base: \"base.pbtxt\"\nmodel { block { layer {} layer { residual { mixer { swiglu { hidden: 32 } } } } } }\n");
  const Result s = Ablate(sibling + " --seeds 1");
  ASSERT_EQ(s.code, 0) << s.out;
  EXPECT_NE(s.out.find("[baseline seed 1] cached"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("[variant seed 1] training"), std::string::npos) << s.out;

  // generate loads a final checkpoint and continues a prompt.
  const Result g = RunCommand(std::string(TINYLM_GENERATE_BIN) + " " +
                              fs::directory_iterator(dir_.path() + "/out/runs")->path().string() +
                              "/checkpoint.bin --prompt 'Once upon' --max-tokens 20 --seed 3");
  ASSERT_EQ(g.code, 0) << g.out;
  EXPECT_EQ(g.out.rfind("Once upon", 0), 0u) << g.out;
}

TEST_F(AblateCli, DryRunTrainsNothing) {
  const Result r = Ablate(spec_ + " --dry-run --tokens 5000");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dry run: spec is valid"), std::string::npos);
  EXPECT_NE(r.out.find("stage pretrain: 79 steps x 4 x 16 tokens"), std::string::npos) << r.out;
  // FLOPs per token of both arms at the stage's sequence length (QK-norm off: slightly fewer).
  const size_t row = r.out.find("| pretrain | 16 | ");
  ASSERT_NE(row, std::string::npos) << r.out;
  const std::string line = r.out.substr(row, r.out.find('\n', row) - row);
  EXPECT_NE(line.find(" k -> "), std::string::npos) << line;  // baseline -> variant FLOPs/token
  EXPECT_NE(line.find("x | "), std::string::npos) << line;    // their ratio
  // The memory the runs need, part by part, against the machine's.
  EXPECT_NE(r.out.find("Memory (estimated, the larger arm):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters, gradients, Adam moments"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GiB available"), std::string::npos) << r.out;
  // Nothing trained or reported; the data was tokenized (into the token cache, for the real run).
  EXPECT_FALSE(fs::exists(dir_.path() + "/out/runs"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/out/qk_off"));
  EXPECT_TRUE(fs::exists(dir_.path() + "/out/token_cache"));
}

TEST_F(AblateCli, SequentialSeedsAddPairsUntilDecidedOrTheMaximum) {
  // Tiny runs cannot decide QK-norm at 1,024 tokens: seeds are added up to the maximum of 4, with
  // a look after every pair; the deciding row shows the repeated interval and why it stopped.
  const Result r = Ablate(spec_ + " --sequential 4 --speed-rounds 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sequential: up to 4 seed pairs until the val bits/byte interval excludes 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[sequential] 2 seeds: val bits/byte"), std::string::npos) << r.out;
  const size_t stop = r.out.find("-> stop: ");
  ASSERT_NE(stop, std::string::npos) << r.out;
  const bool at_max = r.out.find("-> stop: the maximum of 4 seeds was reached") != std::string::npos;
  EXPECT_EQ(r.out.find("[variant seed 4] training") != std::string::npos, at_max) << r.out;
  EXPECT_EQ(r.out.find("[variant seed 5]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(sequential: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Sequential seeds on val bits/byte: "), std::string::npos) << r.out;
  const std::string json = ReadText(dir_.path() + "/out/qk_off/summary.json");
  EXPECT_NE(json.find("\"sequential\": {\"metric\": \"val bits/byte\", \"max_seeds\": 4"), std::string::npos) << json;

  // Bad sequential settings are refused before training, naming the field.
  const Result few = Ablate(spec_ + " --sequential 1");
  EXPECT_EQ(few.code, 2);
  EXPECT_NE(few.out.find("sequential.max_seeds: must be between the 2 listed seeds and 200"), std::string::npos) << few.out;
  const Result row = Ablate(spec_ + " --sequential 4 --set 'sequential.metric=val bpb'");
  EXPECT_EQ(row.code, 2);
  EXPECT_NE(row.out.find("sequential.metric: no table row is named 'val bpb'; rows: "), std::string::npos) << row.out;
  const Result single = Ablate(dir_.path() + "/specs/base.pbtxt --sequential 4");
  EXPECT_EQ(single.code, 2);
  EXPECT_NE(single.out.find("sequential: needs a comparison"), std::string::npos) << single.out;
}

TEST_F(AblateCli, JobsTrainRunsSideBySideExactlyAsOneAtATime) {
  // Three seed pairs two at a time on one-thread teams, against the same runs one at a time: the
  // same run identities (cache keys) and bit-identical losses, so runs on concurrent threads
  // share nothing they could corrupt.
  const Result side = Ablate(spec_ + " --seeds 3 --speed-rounds 0 --jobs 2", "side", "--threads 1");
  ASSERT_EQ(side.code, 0) << side.out;
  EXPECT_NE(side.out.find("jobs: 2 runs at once, 1 thread each"), std::string::npos) << side.out;
  const Result alone = Ablate(spec_ + " --seeds 3 --speed-rounds 0", "alone", "--threads 1");
  ASSERT_EQ(alone.code, 0) << alone.out;
  const auto a = RunMetrics("side"), b = RunMetrics("alone");
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a, b);
  // The row's numbers up to the interval (column widths follow the other rows, e.g. wall time).
  auto row = [](const std::string& out) {
    const size_t at = out.find("\nval bits/byte ");
    return std::regex_replace(out.substr(at, out.find(']', at) - at), std::regex(" +"), " ");
  };
  EXPECT_EQ(row(side.out), row(alone.out));

  // Runs of one experiment side by side share its prepared data and plugin components (here a
  // replay mixer pointing into the pretraining stream, which must outlive the arm's copies).
  dir_.Write("data/chat.jsonl", R"({"prompt": "Tell a story.", "response": "Lily found a red ball."}
{"prompt": "Who is Ben?", "response": "Ben was very happy."}
{"prompt": "Sing.", "response": "Tom played with the drum all day long."}
{"prompt": "A boat?", "response": "Mia found a red boat."}
)");
  const std::string replay = dir_.Write("specs/replay.pbtxt", std::regex_replace(kBase, std::regex("seeds: \\[1, 2\\]"), "seeds: [1, 2, 3]") + R"(
plugins: ["pretrain_replay"]
tokenizer { bytes { special: ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"] } }
stages { name: "sft" kind: SFT tokens: 256 batch_size: 2 seq_len: 32
         data { train { path: "chat.jsonl" format: PROMPT_RESPONSE } validation_fraction: 0.25 }
         mixer { [tinylm.plugins.pretrain_replay] { fraction: 0.5 } } }
)");
  const Result replay_side = Ablate(replay + " --speed-rounds 0 --jobs 2", "replay_side", "--threads 1");
  ASSERT_EQ(replay_side.code, 0) << replay_side.out;
  const Result replay_alone = Ablate(replay + " --speed-rounds 0", "replay_alone", "--threads 1");
  ASSERT_EQ(replay_alone.code, 0) << replay_alone.out;
  EXPECT_EQ(RunMetrics("replay_side"), RunMetrics("replay_alone"));

  // Without --threads, each run gets its share of the cores; jobs is checked like any field.
  const Result shares = Ablate(spec_ + " --seeds 1 --speed-rounds 0 --jobs 2 --dry-run", "side", "");
  ASSERT_EQ(shares.code, 0) << shares.out;
  EXPECT_NE(shares.out.find("jobs: 2 runs at once, "), std::string::npos) << shares.out;
  const Result bad = Ablate(spec_ + " --jobs 0", "side", "");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("jobs: must be between 1 and 256"), std::string::npos) << bad.out;
}

TEST_F(AblateCli, LearningRateSweepPicksEachArmsRateOnASeedOfItsOwn) {
  // Two rates 100x apart: the tiny model learns far more at the larger one in 16 steps.
  const Result r = Ablate(spec_ + " --speed-rounds 0 --set lr_sweep.min_lr=1e-4 --set lr_sweep.max_lr=1e-2 "
                                  "--set lr_sweep.points=3 --set lr_sweep.seed=9");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("learning-rate sweep on seed 9, per arm: 0.0001 0.001 0.01"), std::string::npos) << r.out;
  for (const char* run : {"[baseline lr 0.0001 seed 9] training", "[baseline lr 0.01 seed 9] training",
                          "[variant lr 0.001 seed 9] training", "[baseline] learning rate 0.01", "[variant] learning rate 0.01"})
    EXPECT_NE(r.out.find(run), std::string::npos) << run << "\n" << r.out;
  EXPECT_NE(r.out.find("| 0.01 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" * |"), std::string::npos) << r.out;  // the chosen rate is marked
  EXPECT_NE(r.out.find("best rate 0.01 is at the edge of the grid"), std::string::npos) << r.out;
  // The table's learning-rate row shows each arm's chosen rate.
  const size_t row = r.out.find("\nlearning rate ");
  ASSERT_NE(row, std::string::npos) << r.out;
  EXPECT_NE(r.out.substr(row, r.out.find('\n', row + 1) - row).find("0.01"), std::string::npos) << r.out;
  for (const char* f : {"lr_sweep.svg", "curves_flops.svg"}) EXPECT_TRUE(fs::exists(dir_.path() + "/out/qk_off/" + f)) << f;

  // A sweep seed that is one of the comparison's seeds would bias its arm: refused.
  const Result same = Ablate(spec_ + " --set lr_sweep.seed=2");
  EXPECT_EQ(same.code, 2);
  EXPECT_NE(same.out.find("lr_sweep.seed: seed 2 is one of the comparison's seeds"), std::string::npos) << same.out;
}

TEST_F(AblateCli, EqualFlopsGivesTheVariantTheBaselinesTrainingFlops) {
  // A wider FFN costs more per token: under equal_flops the variant trains on fewer tokens.
  const std::string wide = dir_.Write("specs/wide.pbtxt", "base: \"base.pbtxt\"\nequal_flops: true\n"
                                                          "model { block { layer {} layer { residual { mixer { swiglu { hidden: 96 } } } } } }\n");
  const Result r = Ablate(wide + " --speed-rounds 0 --seeds 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("equal_flops: the variant's budgets scaled to the baseline's FLOPs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Equal compute: the variant's token budgets were scaled"), std::string::npos) << r.out;
  const size_t row = r.out.find("\ntokens seen ");
  ASSERT_NE(row, std::string::npos) << r.out;
  const std::string tokens = r.out.substr(row, r.out.find('\n', row + 1) - row);
  EXPECT_NE(tokens.find("1,024"), std::string::npos) << tokens;  // the baseline's budget
  EXPECT_NE(tokens.find(" -"), std::string::npos) << tokens;     // the variant saw fewer
  EXPECT_NE(r.out.find("\ntraining FLOPs/token "), std::string::npos) << r.out;
}

TEST_F(AblateCli, SuiteRunsEveryAblationOfABaseAgainstOneBaselineAndRanksThem) {
  dir_.Write("specs/wide_ffn.pbtxt", "base: \"base.pbtxt\"\nmodel { block { layer {} layer { residual { mixer { swiglu { hidden: 48 } } } } } }\n");
  dir_.Write("specs/other_base.pbtxt", "base: \"qk_off.pbtxt\"\n");  // an ablation of an ablation: not in the suite
  const Result r = Ablate("--suite " + dir_.path() + "/specs/base.pbtxt --speed-rounds 0");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("suite suite_base: 2 ablations ranked by val bits/byte"), std::string::npos) << r.out;
  // The baseline trains once per seed; the second ablation reads it from the cache.
  size_t trained = 0;
  for (size_t at = r.out.find("[baseline seed 1] training"); at != std::string::npos; at = r.out.find("[baseline seed 1] training", at + 1))
    ++trained;
  EXPECT_EQ(trained, 1u) << r.out;
  EXPECT_NE(r.out.find("[baseline seed 1] cached"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("leaderboard by val bits/byte"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Holm p"), std::string::npos) << r.out;
  for (const char* name : {"qk_off", "wide_ffn"}) EXPECT_NE(r.out.find(std::string("  ") + name + "  "), std::string::npos) << name;
  EXPECT_EQ(r.out.find("  other_base  "), std::string::npos) << r.out;
  for (const char* f : {"report.md", "summary.json"}) EXPECT_TRUE(fs::exists(dir_.path() + "/out/suite_base/" + f)) << f;
  const std::string json = ReadText(dir_.path() + "/out/suite_base/summary.json");
  EXPECT_NE(json.find("\"holm_p\": "), std::string::npos) << json;

  // A bad primary metric is refused before anything trains.
  const Result bad = Ablate("--suite " + dir_.path() + "/specs/base.pbtxt --metric 'val bpb'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("--metric: no table row is named 'val bpb'"), std::string::npos) << bad.out;
}

// A spec whose runs cannot fit the machine is refused with the estimate, before the model's
// arenas are allocated (here 19 G parameters: 307 GB).
TEST_F(AblateCli, ASpecNeedingMoreMemoryThanTheMachineIsRefusedWithTheEstimate) {
  const Result r = Ablate(spec_ + " --set model.block.layer[1].residual.mixer.swiglu.hidden=400000000 --seeds 1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("the runs need an estimated 286"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GiB of memory and this machine has"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_.path() + "/out/runs"));
}

TEST_F(AblateCli, BadSpecFailsBeforeWritingAnything) {
  const std::string bad = dir_.Write("specs/bad.pbtxt", "base: \"base.pbtxt\"\nstages { seq_len: 64 }\n");
  const Result r = Ablate(bad);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(bad + ":2:10: stages[0].seq_len: sequence length 64 is longer than the model's context 32"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(dir_.path() + "/out"));
  const Result s = Ablate(spec_ + " --set model.block.count=two");
  EXPECT_EQ(s.code, 2);
  EXPECT_NE(s.out.find("--set model.block.count=two: 'two' is not a value of type int32"), std::string::npos) << s.out;
  EXPECT_EQ(Ablate("").code, 2);
}

}  // namespace
}  // namespace tinylm::testing
