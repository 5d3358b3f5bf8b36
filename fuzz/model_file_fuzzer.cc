// Model files as generate, tinylm-blimp and tinylm-export read them (LoadModelFile): training
// checkpoints and packed models. Random bytes rarely get past a checksum, so most modes start
// from valid files of a tiny model and change them with the checksum fixed up, reaching the
// header, the embedded spec, the tokenizer state and the tensors behind it. Input: one byte
// choosing the mode, then its data.
//   0: the file's bytes as given
//   1, 2: byte edits (offset lo, offset hi, value triples) to a valid checkpoint / packed model
//   3: a valid checkpoint whose header message is the data (arenas of the size it claims)
//   4, 5: a valid checkpoint whose embedded spec text / tokenizer state is the data
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>

#include "fuzz_support.h"
#include "results.pb.h"
#include "tinylm/data/tokenizer.h"
#include "tinylm/experiments/spec.h"
#include "tinylm/model/checkpoint.h"
#include "tinylm/model/packed.h"

namespace {

using namespace tinylm;

const std::string& kSpec = fuzz::kTinyModel;

struct ValidFiles {
  std::string checkpoint, packed;  // bytes
  proto::CheckpointHeader header;
};

// A checkpoint and a packed model of the tiny model, written once through the library itself.
const ValidFiles& Valid() {
  static const ValidFiles v = [] {
    ValidFiles out;
    const ByteTokenizer tok({"<|endoftext|>"}, -1);
    const SpecFile spec = ParseSpecText(kSpec, "fuzz spec");
    auto model = BuildModel(spec.message.model(), tok.vocab_size(), &tok);
    model->store().Allocate(1);
    out.header.set_spec_text(kSpec);
    out.header.set_tokenizer(tok.Save());
    const std::string ckpt = fuzz::ScratchDir() + "/valid.ckpt", packed = fuzz::ScratchDir() + "/valid.packed";
    SaveCheckpoint(ckpt, out.header, model->store());
    WritePackedModel(packed, *model, kSpec, tok.Save());
    out.checkpoint = fuzz::ReadBytes(ckpt);
    out.packed = fuzz::ReadBytes(packed);
    out.header = ReadCheckpointHeader(ckpt);
    return out;
  }();
  return v;
}

// Rewrites the trailing checksum (FNV-1a of everything before it), as both formats keep it.
std::string WithChecksum(std::string bytes) {
  if (bytes.size() < 8) return bytes;
  const uint64_t sum = Fnv64(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  return bytes;
}

std::string Edited(std::string bytes, std::string_view edits) {
  for (size_t i = 0; i + 2 < edits.size(); i += 3) {
    const size_t at = (static_cast<uint8_t>(edits[i]) | static_cast<uint8_t>(edits[i + 1]) << 8) % bytes.size();
    bytes[at] = edits[i + 2];
  }
  return WithChecksum(bytes);
}

// A checkpoint file around `header` with zero arenas of the size it claims (when sensible).
std::string CheckpointWith(const proto::CheckpointHeader& header, const std::string& header_bytes) {
  static constexpr char kMagic[8] = {'T', 'L', 'M', 'C', 'K', 'P', 'T', '1'};
  std::string out(kMagic, 8);
  const uint64_t len = header_bytes.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += header_bytes;
  if (header.arena_floats() > 0 && header.arena_floats() < (1 << 20))
    out.append(3 * header.arena_floats() * sizeof(float), '\0');
  out.append(8, '\0');
  return WithChecksum(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ValidFiles& valid = Valid();
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  switch (data[0] % 6) {
    case 0: file = std::string(in); break;
    case 1: file = Edited(valid.checkpoint, in); break;
    case 2: file = Edited(valid.packed, in); break;
    case 3: {
      proto::CheckpointHeader h;
      h.ParseFromArray(in.data(), static_cast<int>(in.size()));
      file = CheckpointWith(h, std::string(in));
      break;
    }
    default: {
      proto::CheckpointHeader h = valid.header;
      (data[0] % 6 == 4 ? h.mutable_spec_text() : h.mutable_tokenizer())->assign(in);
      file = CheckpointWith(h, h.SerializeAsString());
    }
  }
  const std::string path = fuzz::WriteScratch("model.bin", file);
  try {
    LoadModelFile(path);
  } catch (const std::exception&) {
  }
  return 0;
}
