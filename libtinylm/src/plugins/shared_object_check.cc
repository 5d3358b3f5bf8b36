#include "shared_object_check.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "tinylm/model/checkpoint.h"

namespace tinylm::plugin_detail {

namespace {

#if defined(__x86_64__)
constexpr int kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kHostMachine = EM_AARCH64;
#else
constexpr int kHostMachine = -1;  // unknown host: the machine field is not checked
#endif

// Whether [offset, offset + count * size) lies inside a file of `file_size` bytes (no overflow).
bool Inside(uint64_t offset, uint64_t count, uint64_t size, uint64_t file_size) {
  if (offset > file_size) return false;
  if (size != 0 && count > (file_size - offset) / size) return false;
  return true;
}

std::string Problem(const std::vector<char>& bytes) {
  const uint64_t n = bytes.size();
  if (n < sizeof(Elf64_Ehdr)) return "too short to be a shared object (" + std::to_string(n) + " bytes; truncated?)";
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return "not an ELF file";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return "not a 64-bit little-endian ELF file";
  if (eh.e_type != ET_DYN) return "an ELF file, but not a shared object";
  if (kHostMachine >= 0 && eh.e_machine != kHostMachine) return "a shared object for another CPU architecture";
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0) return "malformed ELF program header table";
  if (!Inside(eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr), n))
    return "program headers end past the end of the file (truncated?)";
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    if ((ph.p_type == PT_LOAD || ph.p_type == PT_DYNAMIC) && !Inside(ph.p_offset, 1, ph.p_filesz, n))
      return "a loadable segment ends past the end of the file (truncated?)";
  }
  if (eh.e_shnum != 0) {
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) return "malformed ELF section header table";
    if (!Inside(eh.e_shoff, eh.e_shnum, sizeof(Elf64_Shdr), n))
      return "section headers end past the end of the file (truncated?)";
  }
  return "";
}

}  // namespace

SharedObjectFile InspectSharedObject(const std::string& path) {
  SharedObjectFile out;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    out.problem = "cannot open";
    return out;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) {
    out.problem = "cannot read";
    return out;
  }
  out.problem = Problem(bytes);
  out.content_hash = Fnv64(bytes.data(), bytes.size());
  return out;
}

}  // namespace tinylm::plugin_detail
