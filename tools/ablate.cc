// ablate: "does this change help?" Trains the baseline and the variant of an ablation spec for
// every seed on identical data, seeds and budget, and prints the comparison.
//
//   ablate ablations/qknorm_off.pbtxt [--dry-run] [--seeds N] [--tokens N] [--threads N] [--jobs N]
//          [--sequential MAX [--resolution X]] [--out DIR] [--resume] [--data-dir DIR]
//          [--set path=value]...
//   ablate --suite BASE.pbtxt | ABLATION.pbtxt... [--metric ROW] [same options]
//   mpirun -np N ablate ... [--data-parallel]   (docs/scaling.md)

#include <boost/program_options.hpp>
#include <google/protobuf/text_format.h>
#include <absl/strings/str_join.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "command_line.h"
#include "tinylm/data/file_writes.h"
#include "tinylm/experiments/ablation_run.h"
#include "tinylm/experiments/leaderboard.h"
#include "tinylm/experiments/suite.h"
#include "tinylm/plugins/plugin_manager.h"
#include "tinylm/tensors/thread_policy.h"
#include "tinylm/training/interrupt.h"
#include "tinylm/training/trainer.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace tinylm;

namespace {

// Prints a config message's fields: "name: type (default ...)  // comment" per line.
void PrintMessageFields(const google::protobuf::Descriptor* d, const std::string& indent) {
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    std::string type = f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE ? f->message_type()->full_name()
                       : f->type() == google::protobuf::FieldDescriptor::TYPE_ENUM  ? f->enum_type()->name()
                                                                                     : f->type_name();
    std::string dflt;
    if (!f->is_repeated() && f->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      // An unset proto2 field reads as its default through reflection on the prototype.
      const auto* proto = google::protobuf::MessageFactory::generated_factory()->GetPrototype(d);
      google::protobuf::TextFormat::Printer printer;
      printer.PrintFieldValueToString(*proto, f, -1, &dflt);
      dflt = " (default " + dflt + ")";
    }
    std::printf("%s%s%s: %s%s\n", indent.c_str(), f->is_repeated() ? "repeated " : "", f->name().c_str(), type.c_str(),
                dflt.c_str());
  }
}

int ListPlugins() {
  std::vector<std::string> errors;
  PluginManager& pm = PluginManager::Global();
  pm.LoadAll(&errors);
  std::printf("plugin search path:\n");
  for (const auto& d : pm.SearchPath()) std::printf("  %s\n", d.c_str());
  const auto plugins = pm.Loaded();
  if (plugins.empty()) std::printf("\nno plugins found\n");
  for (const PluginInfo& p : plugins) {
    std::printf("\n%s %s  (%s)\n  %s\n", p.name.c_str(), p.version.c_str(), p.path.c_str(), p.description.c_str());
    for (const ComponentInfo& c : p.components) {
      std::printf("  %s [%s], config %s:\n", c.kind.c_str(), c.extension.c_str(), c.config_message.c_str());
      PrintMessageFields(google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(c.config_message), "      ");
    }
  }
  for (const auto& e : errors) std::printf("\nrefused: %s\n", e.c_str());
  return 0;
}

// Exit status 3 when runs of a sweep over MPI ranks were lost (their ranks stopped): the report
// was written without them, and a script must not take it for the whole comparison.
int LostRunsExit(size_t lost) {
  if (lost == 0) return 0;
  std::fprintf(stderr, "ablate: %zu run%s lost (listed above and in the report); --resume trains %s\n", lost,
               lost == 1 ? "" : "s", lost == 1 ? "it" : "them");
  return 3;
}

// ablate --suite: the ablations (of a base, or as listed), each run in turn — the shared
// baseline's runs are cached after the first — then the leaderboard.
int RunSuite(const std::vector<std::string>& paths, const std::string& metric, const AblationOptions& o) {
  std::vector<std::string> specs = paths;
  if (paths.size() == 1 && !LoadSpec(paths[0], o.overrides).has_baseline()) specs = AblationsOf(paths[0]);
  // Every spec must load before anything trains.
  Suite suite;
  suite.metric = metric;
  for (const std::string& p : specs) {
    const ResolvedSpec rs = LoadSpec(p, o.overrides);
    if (!rs.has_baseline()) throw SpecError(p + ": not an ablation (no base): a suite compares ablations against their base");
    if (rs.variant().has_sequential())
      throw rs.ErrorAt("sequential", "sequential seeds do not combine with a suite (its verdicts assume fixed seeds)");
    if (suite.name.empty()) suite.name = "suite_" + fs::path(rs.chain()[1].path).stem().string();
    const std::vector<std::string> rows = BuiltinDecidingMetrics();
    if (std::find(rows.begin(), rows.end(), metric) == rows.end() && rs.variant().eval().evaluators_size() == 0)
      throw SpecError("--metric: no table row is named '" + metric + "'; rows: " + absl::StrJoin(rows, ", "));
  }
  std::printf("suite %s: %zu ablations ranked by %s\n", suite.name.c_str(), specs.size(), metric.c_str());
  for (const std::string& p : specs) std::printf("  %s\n", p.c_str());
  std::string out;
  size_t lost = 0;
  for (const std::string& p : specs) {
    std::printf("\n======== %s ========\n", p.c_str());
    suite.specs.push_back(p);
    suite.comparisons.push_back(RunAblation(p, o));
    out = suite.comparisons.back().output_dir;
    lost += suite.comparisons.back().lost.size();
  }
  if (o.dry_run) return 0;
  if (!WritesReports(o)) return LostRunsExit(lost);
  const std::string table = LeaderboardTable(suite);
  std::printf("\n%s: leaderboard by %s\n%s", suite.name.c_str(), metric.c_str(), table.c_str());
  const fs::path dir = fs::path(out) / suite.name;
  fs::create_directories(dir);
  std::string command = "ablate --suite";
  for (const std::string& p : paths) command += " " + p;
  if (!o.flags.empty()) command += " " + o.flags;
  WriteFileAtomic((dir / "report.md").string(), SuiteReportMarkdown(suite, command));
  WriteFileAtomic((dir / "summary.json").string(), SuiteSummaryJson(suite));
  std::printf("report: %s\n", (dir / "report.md").c_str());
  return LostRunsExit(lost);
}

int WriteIndex(const std::string& dir) {
  if (!fs::is_directory(dir)) {
    std::fprintf(stderr, "ablate: --index %s: not a directory\n", dir.c_str());
    return 2;
  }
  try {
    std::printf("%s\n", WriteLeaderboard(dir).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ablate: error: %s\n", e.what());
    return 1;
  }
}

// Under mpirun every rank runs this program; rank 0 talks to the terminal and the others log to
// <output_dir>/.ranks/rank<r>.log (errors still go to stderr), each run opening with its pid.
void LogOtherRanksToFiles(const Communicator& world, const std::string& output_dir, int argc, char** argv) {
  if (world.rank() == 0) return;
  const fs::path dir = fs::path(output_dir) / ".ranks";
  fs::create_directories(dir);
  const std::string log = (dir / ("rank" + std::to_string(world.rank()) + ".log")).string();
  if (!std::freopen(log.c_str(), "a", stdout)) return;  // keep the terminal then
  std::string command;
  for (int i = 0; i < argc; ++i) command += std::string(i ? " " : "") + argv[i];
  std::printf("==== rank %d of %d, pid %d: %s\n", world.rank(), world.size(), static_cast<int>(getpid()), command.c_str());
  std::fflush(stdout);
}

// " on rank r" under mpirun, so that an error names where it happened.
std::string DistributedLabel() {
  const Communicator& world = Communicator::World();
  return world.distributed() ? " on rank " + std::to_string(world.rank()) : "";
}

int Main(int argc, char** argv) {
  po::options_description opts("Usage: ablate SPEC [options]\n       ablate --suite BASE.pbtxt | ABLATION.pbtxt... [options]\n\nOptions");
  std::vector<std::string> spec_paths;
  std::string out_dir, data_dir, suite_metric = "val bits/byte";
  int64_t seeds = 0, tokens = 0, max_seeds = 0;
  std::string resolution;
  int threads = -1, jobs = 1;
  int speed_rounds = 6;
  std::vector<std::string> sets;
  opts.add_options()("help,h", "show this help")
      ("dry-run", "validate, print the changes and parameter counts, train nothing")
      ("seeds", po::value(&seeds), "train seeds 1..N (overrides the spec's seeds)")
      ("sequential", po::value(&max_seeds), "add seed pairs until decided, up to N pairs (sets sequential.max_seeds)")
      ("resolution", po::value(&resolution), "sequential: also stop once the interval's half-width is at most this")
      ("tokens", po::value(&tokens), "training tokens per stage (overrides every stage's budget)")
      ("threads", po::value(&threads), "threads per run (0 = all cores, or cores / jobs)")
      ("jobs", po::value(&jobs), "runs trained at once, each on cores / jobs threads (sets the spec's jobs)")
      ("speed-rounds", po::value(&speed_rounds), "alternating timing rounds per arm for the speed comparison (0: none)")
      ("out", po::value(&out_dir), "results directory (default: the spec's output_dir, \"runs\")")
      ("resume", "continue unfinished runs from their last checkpoint")
      ("data-dir", po::value(&data_dir), "data directory (default: $TINYLM_DATA_DIR or ../shared/data)")
      ("suite", "run a suite: every ablation of BASE.pbtxt (the .pbtxt files beside it naming it as base), or the "
                "ablation files given; one leaderboard ranked by effect with Holm-corrected verdicts")
      ("metric", po::value(&suite_metric), "suite: the table row that ranks and decides (default \"val bits/byte\")")
      ("index", po::value<std::string>(), "rewrite DIR/index.html, the leaderboard of every ablation finished in DIR "
                                          "(ablate writes it after each ablation), and exit")
      ("data-parallel", "under mpirun: train each run on all ranks together, every batch split between them "
                        "(default under mpirun: the runs spread over the ranks)")
      ("list-plugins", "list the plugins on the search path with the components and config messages they register")
      ("set", po::value(&sets)->composing(), "override a spec field for baseline and variant: --set path.to.field=value");
  po::variables_map vm;
  if (!tools::ParseCommandLine(argc, argv, "ablate", opts, "spec", po::value(&spec_paths), -1, vm)) return 2;
  if (vm.count("list-plugins")) return ListPlugins();
  if (vm.count("index")) return WriteIndex(vm["index"].as<std::string>());
  const bool suite = vm.count("suite") > 0;
  if (vm.count("help") || spec_paths.empty() || (!suite && spec_paths.size() > 1)) {
    if (spec_paths.size() > 1 && !suite) std::cerr << "ablate: one spec at a time; several ablations: --suite\n\n";
    std::cout << opts;
    return vm.count("help") ? 0 : 2;
  }

  // Flags become overrides, applied to baseline and variant alike.
  std::vector<Override> overrides;
  for (const std::string& s : sets) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) {
      std::cerr << "ablate: --set " << s << ": expected path=value\n";
      return 2;
    }
    overrides.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  InstallInterruptHandlers();
  try {
    if (vm.count("seeds")) {
      if (seeds < 1) throw SpecError("--seeds: must be at least 1");
      std::string list;
      for (int64_t i = 1; i <= seeds; ++i) list += (i > 1 ? "," : "") + std::to_string(i);
      overrides.push_back({"seeds", list});
    }
    if (vm.count("tokens") && tokens <= 0) throw SpecError("--tokens: must be positive");
    if (vm.count("sequential")) overrides.push_back({"sequential.max_seeds", std::to_string(max_seeds)});
    if (vm.count("resolution")) overrides.push_back({"sequential.resolution", resolution});
    if (vm.count("jobs")) overrides.push_back({"jobs", std::to_string(jobs)});
    if (vm.count("threads")) overrides.push_back({"runtime.threads", std::to_string(threads)});
    if (vm.count("out")) overrides.push_back({"output_dir", out_dir});

    AblationOptions o;
    o.overrides = overrides;
    o.tokens = vm.count("tokens") ? tokens : 0;
    o.data_dir = data_dir;
    o.dry_run = vm.count("dry-run") > 0;
    o.resume = vm.count("resume") > 0;
    o.speed_rounds = speed_rounds;
    for (int i = 1; i < argc; ++i)
      if (std::find(spec_paths.begin(), spec_paths.end(), argv[i]) == spec_paths.end() && std::string(argv[i]) != "--suite")
        o.flags += std::string(o.flags.empty() ? "" : " ") + argv[i];
    // Under mpirun: the ranks train each run together, or share out the runs.
    Communicator& world = Communicator::World();
    std::unique_ptr<RankSweep> sweep;
    if (vm.count("data-parallel") && !world.distributed())
      std::printf("ablate: --data-parallel: one process (not started by mpirun, or built without MPI); training alone\n");
    if (world.distributed()) {
      const std::string output_dir = LoadSpec(spec_paths[0], overrides).variant().output_dir();
      LogOtherRanksToFiles(world, output_dir, argc, argv);
      if (vm.count("data-parallel"))
        o.data_parallel = &world;
      else
        sweep = std::make_unique<RankSweep>(world, output_dir);
      o.sweep = sweep.get();
      std::printf("ablate: %d MPI ranks, %s; other ranks log to %s/.ranks/\n", world.size(),
                  o.data_parallel ? "data parallel (each run on all ranks)" : "runs spread over the ranks",
                  output_dir.c_str());
    }
    if (!suite) return LostRunsExit(RunAblation(spec_paths[0], o).lost.size());
    return RunSuite(spec_paths, suite_metric, o);
  } catch (const SpecError& e) {
    // Every rank of an MPI job reads the same spec and usually finds the same fault: rank 0 says
    // it on the terminal, the others in their logs (a fault only one node has still shows).
    std::fprintf(Communicator::World().rank() == 0 ? stderr : stdout, "ablate: error: %s\n", e.what());
    return 2;
  } catch (const RunInterrupted& e) {
    // Every run in progress wrote a checkpoint at its last step; finished runs are cached.
    // (A data-parallel rank that was not signalled itself stops because another one was.)
    const int sig = InterruptSignal() != 0 ? InterruptSignal() : SIGTERM;
    std::fprintf(stderr, "\nablate: stopped by %s: %s\nablate: continue with the same command and --resume\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", e.what());
    return 128 + sig;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ablate: error%s: %s\n", DistributedLabel().c_str(), e.what());
    // Data-parallel ranks wait for each other in every step: one that fails alone would leave
    // the rest waiting forever, so the job ends (a sweep's ranks do not wait for a failed one).
    if (vm.count("data-parallel")) Communicator::World().Abort(1);
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ApplyThreadWaitPolicy(argv);
  return Main(argc, argv);
}
