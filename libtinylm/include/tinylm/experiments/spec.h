// Experiment specs: loading a spec file and its `base` chain, merging, command-line
// overrides, locating any field in the file (and line) that set it, and diffing two specs.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>

#include "tinylm.pb.h"

namespace tinylm {

// An error in a spec, already formatted "file:line:column: field: reason".
class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A field path such as "stages[0].data.train[1].path".
struct PathElement {
  std::string field;
  int index = -1;  // -1: not indexed
};
using FieldPath = std::vector<PathElement>;
FieldPath ParseFieldPath(const std::string& path);  // throws std::invalid_argument
std::string FieldPathString(const FieldPath& p);

struct SpecFile {
  std::string path;  // as opened
  std::string referrer;  // "file:line:col" of the `base:` naming this file ("" for the spec itself)
  proto::ExperimentSpec message;
  std::shared_ptr<google::protobuf::TextFormat::ParseInfoTree> info;
};

struct Override {
  std::string path, value;  // from --set path=value
};

class ResolvedSpec {
 public:
  // The variant: every file of the chain merged base-first, then the overrides.
  const proto::ExperimentSpec& variant() const { return variant_; }
  // The baseline: the chain without its first file, plus the same overrides. Absent when the
  // spec has no base (a single experiment, no comparison).
  bool has_baseline() const { return has_baseline_; }
  const proto::ExperimentSpec& baseline() const { return baseline_; }
  const std::vector<SpecFile>& chain() const { return chain_; }  // [spec, its base, ...]

  // "file:line:col" of the most derived place that set `path` (or its nearest set parent), or
  // "--set path=value" when an override set it. `in_baseline` skips the variant's own file.
  std::string Locate(const FieldPath& path, bool in_baseline = false) const;
  // " (in base B of A:1:7, in base A of spec:1:7)": how chain file `i` was reached ("" for 0).
  std::string ChainContext(size_t i) const;
  // Formats an error at `path`: "<location>: <path>: <reason>".
  SpecError ErrorAt(const std::string& path, const std::string& reason, bool in_baseline = false) const;

  friend ResolvedSpec LoadSpec(const std::string& path, const std::vector<Override>& overrides);

 private:
  std::vector<SpecFile> chain_;
  std::vector<Override> overrides_;
  proto::ExperimentSpec variant_, baseline_;
  bool has_baseline_ = false;
};

// Parses `path` and its base chain, merges, applies overrides. Throws SpecError for syntax
// errors, unknown fields, wrong types (with file:line:column), a missing base file, a base
// cycle, and bad overrides (naming the path).
ResolvedSpec LoadSpec(const std::string& path, const std::vector<Override>& overrides = {});

// Parses protobuf text into `m` without protobuf's own logging to stderr; false when it does
// not parse (callers report the failure themselves).
bool ParseTextQuietly(const std::string& text, google::protobuf::Message* m);

// Parses one spec text (no base resolution); `name` is used in error messages. Plugins the
// text lists are loaded first (their config extensions must be known to parse it).
SpecFile ParseSpecText(const std::string& text, const std::string& name);

// Loads the plugins named by `plugins:` in a spec text (read leniently), reporting a missing
// one as "name:line:col: plugins[i]: reason". Does nothing for text that does not parse.
void LoadPluginsNamedIn(const std::string& text, const std::string& name);

// Merges `overlay` onto `dst`: set scalars overwrite, singular messages merge recursively,
// repeated messages merge element by element (extra elements append), repeated scalars replace.
// Paths listed in overlay.replace() are cleared in dst first.
void MergeSpec(const proto::ExperimentSpec& overlay, proto::ExperimentSpec* dst);

// Applies "path=value" to `spec`; throws std::invalid_argument naming the path on an unknown
// field, a bad index or a value of the wrong type.
void ApplyOverride(const Override& o, google::protobuf::Message* spec);

// Top-level ExperimentSpec fields that name, locate or schedule the comparison (name,
// description, base, replace, seeds, output_dir, sequential, lr_sweep, equal_flops, jobs) rather than
// say what one run trains (a sweep's chosen rate and equal-FLOPs budgets enter the runs' own
// stage settings): left out of a run's cache key and of the changes listed between arms.
bool IsComparisonField(const std::string& top_level_field);

// Fields whose effective values differ, one "path: old -> new" line each; at the top level,
// comparison fields are left out.
std::vector<std::string> DiffSpecs(const google::protobuf::Message& a, const google::protobuf::Message& b);

// Canonical text form (stable across runs: the cache key hashes it).
std::string SpecToText(const google::protobuf::Message& m);

}  // namespace tinylm
