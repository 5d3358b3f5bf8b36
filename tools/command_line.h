// Command-line parsing shared by the tools: named options plus one positional argument list,
// with the error and the usage on stderr when the command line is wrong.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>

namespace tinylm::tools {

namespace po = boost::program_options;

// Parses argv into `vm`: the options of `opts`, and up to `count` positional arguments (-1: any
// number) stored through `target` under the hidden option `positional`. Returns false (after
// printing "<tool>: <error>" and the usage) when the command line cannot be parsed.
inline bool ParseCommandLine(int argc, char** argv, const char* tool, const po::options_description& opts,
                             const char* positional, const po::value_semantic* target, int count,
                             po::variables_map& vm) {
  po::options_description hidden;
  hidden.add_options()(positional, target);
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add(positional, count);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << tool << ": " << e.what() << "\n\n" << opts;
    return false;
  }
  return true;
}

}  // namespace tinylm::tools
