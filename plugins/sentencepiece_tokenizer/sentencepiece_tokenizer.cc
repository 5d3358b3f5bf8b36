// SentencePiece as a tinylm tokenizer. Text is not normalised (identity rule, no dummy prefix,
// whitespace kept), so decoding gives back the exact text and every piece stands for a fixed
// string: "▁" is one space byte. Newlines and other characters of the training text get pieces
// (coverage 1.0); a character never seen in training encodes as <unk>, which counts as 1 byte in
// bits per byte (an approximation: the unknown character may be longer). SentencePiece's </s> is
// "<|endoftext|>". The library itself runs in spm_shim.so (see shim/spm_api.h for why).
#include <absl/strings/escaping.h>
#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <type_traits>

#include "sentencepiece_tokenizer.pb.h"
#include "shim/spm_api.h"
#include "tinylm/plugins/plugin.h"

namespace {

using namespace tinylm;
using plugins::SentencePieceConfig;

constexpr char kStateTag[] = "sentencepiece";
enum PieceKind { kNormal = 0, kUnknown = 1, kControl = 2, kByte = 3, kUnused = 4 };  // tinylm_spm_kind

// spm_shim.so's functions, opened once per process in a new link-map namespace from the
// `sentencepiece` folder beside this plugin (see shim/spm_api.h for why).
struct Shim {
  decltype(&tinylm_spm_train) train;
  decltype(&tinylm_spm_take) take;
  decltype(&tinylm_spm_error_size) error_size;
  decltype(&tinylm_spm_load) load;
  decltype(&tinylm_spm_unload) unload;
  decltype(&tinylm_spm_encode) encode;
  decltype(&tinylm_spm_decode) decode;
  decltype(&tinylm_spm_piece_count) piece_count;
  decltype(&tinylm_spm_piece) piece;
  decltype(&tinylm_spm_kind) kind;
  decltype(&tinylm_spm_eos_id) eos_id;

  // What the last call kept, `size` bytes.
  std::string Take(long size) const {
    std::string s(static_cast<size_t>(size), '\0');
    take(s.data());
    return s;
  }
  std::string Error() const { return Take(error_size()); }
};

std::mutex shim_mutex;  // the shim keeps one result at a time

const Shim& TheShim() {
  static const Shim shim = [] {
    Dl_info info{};
    dladdr(reinterpret_cast<void*>(&TheShim), &info);
    const std::filesystem::path path =
        std::filesystem::path(info.dli_fname ? info.dli_fname : "").parent_path() / "sentencepiece" / "spm_shim.so";
    void* h = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) throw std::runtime_error(std::string("sentencepiece: cannot open ") + path.string() + ": " + dlerror());
    const auto bind = [&](auto& fn, const char* name) {
      void* f = dlsym(h, name);
      if (!f) throw std::runtime_error("sentencepiece: " + path.string() + " lacks " + name);
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(f);
    };
    Shim s;
    bind(s.train, "tinylm_spm_train");
    bind(s.take, "tinylm_spm_take");
    bind(s.error_size, "tinylm_spm_error_size");
    bind(s.load, "tinylm_spm_load");
    bind(s.unload, "tinylm_spm_unload");
    bind(s.encode, "tinylm_spm_encode");
    bind(s.decode, "tinylm_spm_decode");
    bind(s.piece_count, "tinylm_spm_piece_count");
    bind(s.piece, "tinylm_spm_piece");
    bind(s.kind, "tinylm_spm_kind");
    bind(s.eos_id, "tinylm_spm_eos_id");
    return s;
  }();
  return shim;
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(std::string model) : model_(std::move(model)) {
    const Shim& shim = TheShim();
    std::lock_guard<std::mutex> lock(shim_mutex);
    sp_ = shim.load(model_.data(), static_cast<long>(model_.size()));
    if (!sp_) throw std::runtime_error("sentencepiece: cannot load the model: " + shim.Error());
    const int n = shim.piece_count(sp_);
    bytes_.resize(n);
    chars_.resize(n);
    for (int id = 0; id < n; ++id) {
      const int kind = shim.kind(sp_, id);
      if (kind == kControl || kind == kUnused) continue;  // 0 bytes
      if (kind == kUnknown) {
        bytes_[id] = chars_[id] = 1;
        continue;
      }
      const std::string text = PieceText(shim.Take(shim.piece(sp_, id)));
      bytes_[id] = static_cast<int64_t>(text.size());
      for (unsigned char ch : text) chars_[id] += (ch & 0xC0) != 0x80;
    }
    eos_ = shim.eos_id(sp_);
  }
  ~SentencePieceTokenizer() override { TheShim().unload(sp_); }

  std::string type() const override { return "sentencepiece"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(bytes_.size()); }
  std::vector<int32_t> Encode(std::string_view text) const override {
    std::vector<int32_t> ids(text.size() + 1);  // ids never outnumber bytes
    std::lock_guard<std::mutex> lock(shim_mutex);
    ids.resize(TheShim().encode(sp_, text.data(), static_cast<long>(text.size()), ids.data(),
                                static_cast<long>(ids.size())));
    return ids;
  }
  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    std::vector<int32_t> run;
    const auto flush = [&] {
      std::lock_guard<std::mutex> lock(shim_mutex);
      out += TheShim().Take(TheShim().decode(sp_, run.data(), static_cast<long>(run.size())));
      run.clear();
    };
    for (int32_t id : ids) {
      if (id != eos_) {
        run.push_back(id);
        continue;
      }
      flush();
      out += "<|endoftext|>";
    }
    flush();
    return out;
  }
  int64_t TokenBytes(int32_t id) const override { return bytes_.at(id); }
  int64_t TokenChars(int32_t id) const override { return chars_.at(id); }
  int32_t SpecialId(const std::string& name) const override { return name == "<|endoftext|>" ? eos_ : -1; }
  std::string Save() const override { return std::string(kStateTag) + " " + absl::Base64Escape(model_); }

  static std::unique_ptr<Tokenizer> Train(const SentencePieceConfig& cfg, const std::vector<Document>& corpus) {
    std::string data;
    std::vector<long> lengths;
    for (const Document& d : corpus) {
      if (cfg.max_training_documents() > 0 && static_cast<int>(lengths.size()) >= cfg.max_training_documents()) break;
      const std::string text = d.prompt.empty() ? d.text : d.prompt + "\n" + d.text;
      if (text.empty()) continue;
      data += text;
      lengths.push_back(static_cast<long>(text.size()));
    }
    if (lengths.empty()) throw std::invalid_argument("sentencepiece: no training text");
    static const char* kTypes[] = {"unigram", "bpe", "char", "word"};
    // Deterministic: one thread, every document, no sampling; exact text (identity
    // normalisation, no dummy prefix, whitespace kept); documents are the sentences.
    const std::string args = "--model_type=" + std::string(kTypes[cfg.model_type()]) +
                             " --vocab_size=" + std::to_string(cfg.vocab_size()) +
                             " --character_coverage=" + std::to_string(cfg.character_coverage()) +
                             " --normalization_rule_name=identity --add_dummy_prefix=false"
                             " --remove_extra_whitespaces=false --split_by_whitespace=true"
                             " --max_sentence_length=1000000 --input_sentence_size=0"
                             " --num_threads=1 --minloglevel=2 --hard_vocab_limit=true";
    const Shim& shim = TheShim();
    std::string model;
    {
      std::lock_guard<std::mutex> lock(shim_mutex);
      const long size = shim.train(data.data(), lengths.data(), static_cast<long>(lengths.size()), args.c_str());
      if (size < 0) throw std::invalid_argument("sentencepiece: training failed: " + shim.Error());
      model = shim.Take(size);
    }
    return std::make_unique<SentencePieceTokenizer>(std::move(model));
  }

  static std::unique_ptr<Tokenizer> Load(const std::string& saved) {
    std::string model;
    if (saved.rfind(std::string(kStateTag) + " ", 0) != 0 ||
        !absl::Base64Unescape(saved.substr(sizeof(kStateTag)), &model))
      throw std::runtime_error("sentencepiece: malformed saved tokenizer");
    return std::make_unique<SentencePieceTokenizer>(std::move(model));
  }

 private:
  // The text a piece stands for: "▁" (U+2581) is a space.
  static std::string PieceText(const std::string& piece) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 3;
      } else {
        out += piece[i++];
      }
    }
    return out;
  }

  std::string model_;
  void* sp_ = nullptr;
  std::vector<int64_t> bytes_, chars_;
  int32_t eos_ = -1;
};

void Register(PluginRegistrar& r) {
  r.AddTokenizer(
      "tinylm.plugins.sentencepiece",
      [](const ConfigMessage& c, const TokenizerBuildContext& ctx) -> std::unique_ptr<Tokenizer> {
        return SentencePieceTokenizer::Train(static_cast<const SentencePieceConfig&>(c), *ctx.corpus);
      },
      kStateTag, SentencePieceTokenizer::Load,
      [](const ConfigMessage& c) -> std::string {
        const auto& cfg = static_cast<const SentencePieceConfig&>(c);
        if (cfg.vocab_size() < 4) return "vocab_size: must be at least 4 (<unk>, <s>, </s> and one piece)";
        if (cfg.character_coverage() <= 0 || cfg.character_coverage() > 1) return "character_coverage: must be in (0, 1]";
        return "";
      });
}

}  // namespace

TINYLM_PLUGIN("sentencepiece_tokenizer", "0.1.0", "SentencePiece tokenizer (libsentencepiece, unigram/BPE)", Register)
