// Checks a file before the dynamic loader maps it. dlopen trusts the ELF headers: a truncated
// plugin (an interrupted copy or build) has segments that end past the end of the file, and
// touching them kills the process with SIGBUS inside the loader. Reading the headers first
// turns every such file into a message and lets the tools carry on with the other plugins.
#pragma once
#include <cstdint>
#include <string>

namespace tinylm::plugin_detail {

struct SharedObjectFile {
  std::string problem;     // empty when the file can be handed to the loader
  uint64_t content_hash = 0;  // FNV-1a of the whole file (enters run cache keys)
};

// Reads `path` once: checks it is a 64-bit little-endian ELF shared object for this machine
// whose program headers, loadable segments and section headers all lie inside the file.
SharedObjectFile InspectSharedObject(const std::string& path);

}  // namespace tinylm::plugin_detail
