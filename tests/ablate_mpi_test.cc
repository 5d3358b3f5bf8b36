// ablate under mpirun, end to end on this machine: data-parallel runs reproduce one process and
// resume with another rank count; a sweep spread over ranks reproduces one process exactly; a
// rank killed mid-run loses only its runs, and --resume finishes them. Runs of one thread each
// (--threads 1): the ranks share this machine's two cores.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <regex>
#include <thread>
#include <utility>

#include "ablate_cli.h"

namespace tinylm::testing {
namespace {

namespace fs = std::filesystem;

#ifdef TINYLM_MPIEXEC

// Residual dropout on: data-parallel ranks must draw the single process's masks.
constexpr char kFlags[] = " --seeds 1 --speed-rounds 0 --set model.block.layer[0].residual.dropout=0.1";
// Long enough to stop mid-run, every step logged.
constexpr char kLong[] = 
    " --seeds 1 --speed-rounds 0 --set stages[0].tokens=300000 --set eval.interval_steps=100 --set eval.log_interval_steps=1";

class AblateMpi : public AblateCli {
 protected:
  std::string Mpirun(int ranks, const std::string& extra = "") {
    // Under the sanitizers: Open MPI's components leak at MPI_Finalize (tests/CMakeLists.txt).
    return std::string("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
                       "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" ") + TINYLM_MPIEXEC +
           " -np " + std::to_string(ranks) + " --oversubscribe " + extra + " ";
  }
  Result AblateMpirun(int ranks, const std::string& args, const std::string& out, const std::string& mpi_extra = "") {
    return RunCommand(Mpirun(ranks, mpi_extra) + TINYLM_ABLATE_BIN + " " + args + " --data-dir " + dir_.path() +
                      "/data --out " + dir_.path() + "/" + out + " --threads 1");
  }
  // `args` in one process (out "alone") and over `ranks` ranks (out "two"): both must succeed.
  std::pair<Result, Result> AloneAndOverRanks(const std::string& args, int ranks = 2) {
    Result alone = Ablate(args, "alone", "--threads 1");
    EXPECT_EQ(alone.code, 0) << alone.out;
    Result over = AblateMpirun(ranks, args, "two");
    EXPECT_EQ(over.code, 0) << over.out;
    return {alone, over};
  }
  // Every number of every metrics line (by run directory), for comparisons with a tolerance.
  std::map<std::string, std::vector<std::vector<double>>> RunNumbers(const std::string& out) {
    std::map<std::string, std::vector<std::vector<double>>> runs;
    for (const auto& [run, text] : RunMetrics(out)) {
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        std::vector<double> numbers;
        const std::regex number(R"(:(-?[0-9][0-9.eE+-]*))");
        for (std::sregex_iterator m(line.begin(), line.end(), number), end; m != end; ++m)
          numbers.push_back(std::stod((*m)[1]));
        runs[run].push_back(numbers);
      }
    }
    return runs;
  }
  // Every number of `out`'s metrics within `tolerance` (relative) of `reference`'s, line by line.
  void ExpectCloseMetrics(const std::string& out, const std::string& reference, double tolerance) {
    const auto a = RunNumbers(out), b = RunNumbers(reference);
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    std::string where;
    for (const auto& [run, lines] : b) {
      ASSERT_TRUE(a.count(run)) << run;
      ASSERT_EQ(a.at(run).size(), lines.size()) << run;
      for (size_t l = 0; l < lines.size(); ++l) {
        ASSERT_EQ(a.at(run)[l].size(), lines[l].size()) << run << " line " << l;
        for (size_t k = 0; k < lines[l].size(); ++k) {
          const double d = std::fabs(a.at(run)[l][k] - lines[l][k]) / std::max(1e-12, std::fabs(lines[l][k]));
          if (d > worst)
            worst = d, where = run + " line " + std::to_string(l + 1) + " number " + std::to_string(k + 1) + ": " +
                               std::to_string(a.at(run)[l][k]) + " against " + std::to_string(lines[l][k]);
        }
      }
    }
    EXPECT_LE(worst, tolerance) << where;
    std::printf("largest relative difference of %s from %s: %.3g\n", out.c_str(), reference.c_str(), worst);
  }
};

TEST_F(AblateMpi, DataParallelRanksReproduceOneProcess) {
  const Result alone = Ablate(spec_ + kFlags, "alone", "--threads 1");
  ASSERT_EQ(alone.code, 0) << alone.out;
  const Result two = AblateMpirun(2, spec_ + kFlags + " --data-parallel", "two");
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_NE(two.out.find("data parallel: every run trained by all 2 ranks together, 2 rows of each batch per rank"),
            std::string::npos) << two.out;
  // Same runs (the cache key does not depend on the ranks), same curves up to the order of float
  // sums (each rank sums the weight gradients over its rows).
  ExpectCloseMetrics("two", "alone", 1e-5);
  for (const auto& d : fs::directory_iterator(dir_.path() + "/two/runs"))
    EXPECT_NE(ReadText((d.path() / "summary.json").string()).find("\"data_parallel_ranks\": 2"), std::string::npos);
  // Rank 0 wrote the report; rank 1 logged to its file.
  EXPECT_TRUE(fs::exists(dir_.path() + "/two/qk_off/report.md"));
  EXPECT_NE(ReadText(dir_.path() + "/two/.ranks/rank1.log").find("==== rank 1 of 2, pid "), std::string::npos);

  // Rows that do not split over the ranks: refused before training, naming the field.
  const Result three = AblateMpirun(3, spec_ + kFlags + " --data-parallel", "three");
  EXPECT_EQ(three.code, 2) << three.out;
  EXPECT_NE(three.out.find("stages[0].batch_size: 4 rows do not split evenly over 3 data-parallel ranks"),
            std::string::npos) << three.out;
}

// SIGTERM to mpirun mid-run: every rank stops at the same step and rank 0 checkpoints; one
// process resumes the checkpoint. Up to the checkpoint the curve is the uninterrupted 2-rank
// run's, bit for bit; the steps after it start from the same state, so they agree with it as
// closely as one process agrees with two ranks (a whole run's curves drift further: tiny models
// with loss spikes amplify the ranks' different float summation order; docs/scaling.md).
TEST_F(AblateMpi, DataParallelStopsTogetherAndResumesWithAnotherRankCount) {
  const std::string flags = spec_ + kLong;
  const Result whole = AblateMpirun(2, flags + " --data-parallel", "whole");
  ASSERT_EQ(whole.code, 0) << whole.out;
  const std::string log = dir_.path() + "/two.log";
  const std::string cmd = "exec " + Mpirun(2) + TINYLM_ABLATE_BIN + " " + flags + " --data-parallel --data-dir " +
                          dir_.path() + "/data --out " + dir_.path() + "/two --threads 1 > " + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string run;
  for (int i = 0; i < 6000 && run.empty(); ++i) {  // until the first evaluation is on disk
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(dir_.path() + "/two/runs", ec))
      if (ReadText((d.path() / "metrics.jsonl").string()).find("val_loss") != std::string::npos) run = d.path().string();
  }
  ASSERT_FALSE(run.empty()) << ReadText(log);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string stopped = ReadText(log);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stopped, m, std::regex(R"(interrupted at step ([0-9]+); checkpoint (\S+)/checkpoint.bin)")))
      << stopped;
  const int64_t at = std::stoll(m[1].str());
  EXPECT_EQ(m[2].str(), run);
  EXPECT_NE(stopped.find("continue with the same command and --resume"), std::string::npos) << stopped;
  EXPECT_FALSE(fs::exists(run + "/summary.json")) << "stopped before the end: " << stopped;

  const Result resumed = Ablate(flags + " --resume", "two", "--threads 1");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  const std::string key = fs::path(run).filename().string();
  const auto ours = RunMetrics("two").at(key), reference = RunMetrics("whole").at(key);
  std::istringstream a(ours), b(reference);
  int64_t compared_after = 0;
  for (std::string x, y; std::getline(a, x) && std::getline(b, y);) {
    const int64_t step = std::stoll(x.substr(x.find("\"step\":") + 7));
    if (step <= at) {
      EXPECT_EQ(x, y) << "before the checkpoint at step " << at;
      continue;
    }
    if (++compared_after > 20) break;
    const std::regex number(R"(:(-?[0-9][0-9.eE+-]*))");
    std::sregex_iterator nx(x.begin(), x.end(), number), ny(y.begin(), y.end(), number), end;
    for (; nx != end && ny != end; ++nx, ++ny) {
      const double u = std::stod((*nx)[1]), v = std::stod((*ny)[1]);
      EXPECT_LE(std::fabs(u - v), 1e-5 * std::max(1.0, std::fabs(v))) << x << "\nagainst\n" << y;
    }
  }
  EXPECT_EQ(compared_after, 21) << "the resumed run logged the steps after the checkpoint";
  EXPECT_TRUE(fs::exists(run + "/summary.json"));
}

TEST_F(AblateMpi, SweepSpreadsTheRunsOverRanksAndMatchesOneProcessExactly) {
  const auto [alone, two] = AloneAndOverRanks(spec_ + " --seeds 2 --speed-rounds 0");
  ASSERT_EQ(two.code + alone.code, 0);
  EXPECT_NE(two.out.find("runs spread over the ranks"), std::string::npos) << two.out;
  // Rank 1 trained the variant runs (requests alternate baseline, variant); rank 0 reports them.
  EXPECT_NE(two.out.find("[variant seed 1] finished on rank 1: val loss"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("[variant seed 2] finished on rank 1: val loss"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("val bits/byte"), std::string::npos) << two.out;
  // Each run trained on one thread either way: bit for bit the same curves.
  EXPECT_EQ(RunMetrics("two"), RunMetrics("alone"));
  const std::string alone_summary = ReadText(dir_.path() + "/alone/qk_off/report.md");
  const std::string two_summary = ReadText(dir_.path() + "/two/qk_off/report.md");
  const auto results = [](const std::string& md) { return md.substr(md.find("| val loss"), 400); };
  EXPECT_EQ(results(two_summary), results(alone_summary));
}

// A suite and sequential seeds under mpirun: every ablation's runs and every look's seed pair are
// spread over the ranks; the ranks agree on when sequential seeds stop, and the results are one
// process's.
TEST_F(AblateMpi, SuitesAndSequentialSeedsSpreadOverRanks) {
  dir_.Write("specs/wide_ffn.pbtxt", "base: \"base.pbtxt\"\nmodel { block { layer {} layer { residual { mixer { swiglu { hidden: 48 } } } } } }\n");
  const auto [alone, two] = AloneAndOverRanks("--suite " + dir_.path() + "/specs/base.pbtxt --speed-rounds 0");
  ASSERT_EQ(two.code + alone.code, 0);
  EXPECT_NE(two.out.find("suite suite_base: 2 ablations ranked by val bits/byte"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find("finished on rank 1"), std::string::npos) << two.out;
  EXPECT_TRUE(fs::exists(dir_.path() + "/two/suite_base/report.md"));
  EXPECT_EQ(RunMetrics("two"), RunMetrics("alone"));
  const auto board = [](const std::string& out) {
    const size_t at = out.find("leaderboard by val bits/byte");
    return out.substr(at, out.find("report:", at) - at);
  };
  EXPECT_EQ(board(two.out), board(alone.out));

  const std::string sequential = spec_ + " --sequential 4 --speed-rounds 0";
  const Result seq_alone = Ablate(sequential, "seq_alone", "--threads 1");
  ASSERT_EQ(seq_alone.code, 0) << seq_alone.out;
  const Result seq_two = AblateMpirun(2, sequential, "seq_two");
  ASSERT_EQ(seq_two.code, 0) << seq_two.out;
  const auto looks = [](const std::string& out) {
    std::string lines;
    for (size_t at = out.find("[sequential]"); at != std::string::npos; at = out.find("[sequential]", at + 1))
      lines += out.substr(at, out.find('\n', at) - at) + "\n";
    return lines;
  };
  EXPECT_FALSE(looks(seq_alone.out).empty()) << seq_alone.out;
  EXPECT_EQ(looks(seq_two.out), looks(seq_alone.out)) << seq_two.out;
  EXPECT_EQ(RunMetrics("seq_two"), RunMetrics("seq_alone"));
}

// Three ranks, four seed pairs: rank 2 owns [baseline seed 2] and [variant seed 3] and is
// killed (SIGKILL) while training the first. With --enable-recovery the other ranks go on;
// those two seeds are reported lost and left out; --resume on two ranks trains them, the
// killed run from its last checkpoint, and every run ends as in one process.
TEST_F(AblateMpi, AKilledRankLosesOnlyItsRunsAndResumeFinishesThem) {
  const std::string flags = spec_ + " --seeds 4 --speed-rounds 0 --set stages[0].tokens=60000 --set eval.interval_steps=50";
  const Result alone = Ablate(flags, "alone", "--threads 1");
  ASSERT_EQ(alone.code, 0) << alone.out;
  const std::string log = dir_.path() + "/three.log", rank2 = dir_.path() + "/three/.ranks/rank2.log";
  const std::string cmd = "exec " + Mpirun(3, "--enable-recovery") + TINYLM_ABLATE_BIN + " " + flags + " --data-dir " +
                          dir_.path() + "/data --out " + dir_.path() + "/three --threads 1 > " + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Rank 2's pid from its log, once its first run has a checkpoint.
  pid_t victim = 0;
  const std::regex started(R"(pid ([0-9]+):[^]*\[baseline seed 2\] training -> (\S+))");
  for (int i = 0; i < 6000 && victim == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string text = ReadText(rank2);
    std::smatch m;
    if (std::regex_search(text, m, started) && fs::exists(m[2].str() + "/checkpoint.bin") &&
        ReadText(m[2].str() + "/metrics.jsonl").find("val_loss") != std::string::npos)
      victim = std::stoi(m[1].str());
  }
  ASSERT_NE(victim, 0) << ReadText(log) << ReadText(rank2);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string out = ReadText(log);
  EXPECT_NE(out.find("[baseline seed 2] lost: rank 2 stopped before finishing it"), std::string::npos) << out;
  EXPECT_NE(out.find("[variant seed 3] lost: rank 2 stopped before finishing it"), std::string::npos) << out;
  EXPECT_NE(out.find("ablate: 2 runs lost"), std::string::npos) << out;
  const std::string report = ReadText(dir_.path() + "/three/qk_off/report.md");
  EXPECT_NE(report.find("**Lost**: [baseline seed 2]: rank 2 stopped before finishing it"), std::string::npos) << report;
  EXPECT_NE(report.find("baseline (2 seeds)"), std::string::npos) << report;  // seeds 1 and 4

  const Result resumed = AblateMpirun(2, flags + " --resume", "three");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_EQ(resumed.out.find("lost"), std::string::npos) << resumed.out;
  EXPECT_NE(ReadText(dir_.path() + "/three/qk_off/report.md").find("baseline (4 seeds)"), std::string::npos);
  EXPECT_EQ(RunMetrics("three"), RunMetrics("alone"));
}

#else

TEST(AblateMpi, NeedsABuildWithMpi) { GTEST_SKIP() << "built without MPI (TINYLM_MPI): nothing to run under mpirun"; }

#endif

}  // namespace
}  // namespace tinylm::testing
