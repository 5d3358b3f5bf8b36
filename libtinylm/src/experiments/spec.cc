#include "tinylm/experiments/spec.h"

#include "tinylm/plugins/plugin_manager.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/escaping.h>
#include <absl/strings/str_split.h>
#include <google/protobuf/io/tokenizer.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tinylm {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::TextFormat;

FieldPath ParseFieldPath(const std::string& path) {
  // Segments are separated by '.', except inside "[...]" extension names:
  //   model.block.layer[1].residual.mixer.[tinylm.plugins.relu2_mlp].hidden
  FieldPath out;
  size_t i = 0;
  auto bad = [&](const char* why) { return std::invalid_argument(std::string(why) + " in field path '" + path + "'"); };
  while (i <= path.size()) {
    PathElement e;
    size_t end;
    if (i < path.size() && path[i] == '[') {
      end = path.find(']', i);
      if (end == std::string::npos) throw bad("unclosed [");
      e.field = path.substr(i, end + 1 - i);
      end += 1;
    } else {
      end = path.find_first_of(".[", i);
      if (end == std::string::npos) end = path.size();
      e.field = path.substr(i, end - i);
    }
    if (e.field.empty() || e.field == "[]") throw bad("empty segment");
    if (end < path.size() && path[end] == '[') {  // index
      const size_t close = path.find(']', end);
      if (close == std::string::npos) throw bad("unclosed [");
      const std::string idx = path.substr(end + 1, close - end - 1);
      if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) throw bad("bad index");
      e.index = std::stoi(idx);
      end = close + 1;
    }
    out.push_back(e);
    if (end == path.size()) break;
    if (path[end] != '.') throw bad("expected '.'");
    i = end + 1;
    if (i == path.size()) throw bad("empty segment");
  }
  return out;
}

// A segment's field in `d`: a plain field, or "[full.extension.name]" extending `d`.
const FieldDescriptor* FindSegmentField(const Descriptor* d, const std::string& seg) {
  if (seg.size() > 2 && seg.front() == '[' && seg.back() == ']') {
    const FieldDescriptor* ext =
        google::protobuf::DescriptorPool::generated_pool()->FindExtensionByName(seg.substr(1, seg.size() - 2));
    return ext && ext->containing_type() == d ? ext : nullptr;
  }
  return d->FindFieldByName(seg);
}

std::string FieldPathString(const FieldPath& p) {
  std::string s;
  for (size_t i = 0; i < p.size(); ++i) {
    absl::StrAppend(&s, i ? "." : "", p[i].field);
    if (p[i].index >= 0) absl::StrAppend(&s, "[", p[i].index, "]");
  }
  return s;
}

namespace {

class SilentErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

// Keeps the first parse error as "file:line:col: [field 'x': ]message". Protobuf's value
// errors ("Expected integer, got: ...") do not name the field, so it is read off the source
// line: the identifier before the ':' left of the error column.
class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  CollectErrors(std::string file, const std::string& text)
      : file_(std::move(file)), lines_(absl::StrSplit(text, '\n')) {}
  void AddError(int line, int column, const std::string& message) override {
    if (!first_.empty()) return;
    std::string field;
    const std::string* l = line >= 0 && line < static_cast<int>(lines_.size()) ? &lines_[line] : nullptr;
    if (l) {
      int c = std::min<int>(column, static_cast<int>(l->size())) - 1;
      while (c >= 0 && (*l)[c] != ':' && (*l)[c] != '{' && (*l)[c] != '}') --c;
      if (c >= 0 && (*l)[c] == ':') {
        int end = c;
        while (end > 0 && (*l)[end - 1] == ' ') --end;
        int begin = end;
        while (begin > 0 && (std::isalnum(static_cast<unsigned char>((*l)[begin - 1])) || (*l)[begin - 1] == '_')) --begin;
        field = l->substr(begin, end - begin);
      }
    }
    // protobuf reports an unknown field or extension after reading past its name; point at the
    // name's first character, where the reader's eye (and an editor's jump) should land.
    const std::string unknown_field = Quoted(message, "has no field named \"");
    if (message.find("is not defined") != std::string::npos) unknown_extension_ = Quoted(message, "Extension \"");
    if (l && !unknown_field.empty()) {
      const size_t at = l->rfind(unknown_field, std::max(column, 0));
      if (at != std::string::npos) column = static_cast<int>(at);
    } else if (l && !unknown_extension_.empty()) {
      const size_t at = l->rfind('[', std::max(column, 0));
      if (at != std::string::npos) column = static_cast<int>(at);
    }
    first_ = absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ",
                          field.empty() || message.find("\"" + field + "\"") != std::string::npos
                              ? ""
                              : "field '" + field + "': ",
                          message);
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }
  // The extension of the first error when it was "Extension "x" is not defined ...".
  const std::string& unknown_extension() const { return unknown_extension_; }

 private:
  // The text between `prefix` and the next quote in `message` ("" if `prefix` is absent).
  static std::string Quoted(const std::string& message, const std::string& prefix) {
    const size_t at = message.find(prefix);
    if (at == std::string::npos) return "";
    const size_t begin = at + prefix.size(), end = message.find('"', begin);
    return end == std::string::npos ? "" : message.substr(begin, end - begin);
  }

  std::string file_, first_, unknown_extension_;
  std::vector<std::string> lines_;
};

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Location of `path` within one parsed file, or "" if that file does not set it. When only a
// prefix is set, reports the prefix if `allow_prefix`.
std::string LocateIn(const SpecFile& f, const FieldPath& path, bool allow_prefix) {
  const TextFormat::ParseInfoTree* tree = f.info.get();
  const Descriptor* d = proto::ExperimentSpec::descriptor();
  std::string best;
  for (size_t i = 0; i < path.size() && tree && d; ++i) {
    const FieldDescriptor* fd = FindSegmentField(d, path[i].field);
    if (!fd) break;
    const int idx = fd->is_repeated() ? std::max(path[i].index, 0) : -1;
    const auto loc = tree->GetLocation(fd, idx);
    if (loc.line < 0) break;
    const std::string here = absl::StrCat(f.path, ":", loc.line + 1, ":", loc.column + 1);
    if (i + 1 == path.size()) return here;
    if (allow_prefix) best = here;
    if (fd->type() != FieldDescriptor::TYPE_MESSAGE) break;
    tree = tree->GetTreeForNested(fd, idx);
    d = fd->message_type();
  }
  return best;
}

bool IsPrefix(const FieldPath& prefix, const FieldPath& p) {
  if (prefix.size() > p.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (prefix[i].field != p[i].field || (prefix[i].index >= 0 && prefix[i].index != std::max(p[i].index, 0)))
      return false;
  return true;
}

// Navigates to the message holding the last element of `path`, creating messages (and
// appending one repeated element at index == size) on the way.
Message* Navigate(Message* m, const FieldPath& path, const std::string& full) {
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const FieldDescriptor* fd = FindSegmentField(m->GetDescriptor(), path[i].field);
    if (!fd) throw std::invalid_argument(full + ": no field '" + path[i].field + "' in " + m->GetDescriptor()->name());
    if (fd->type() != FieldDescriptor::TYPE_MESSAGE)
      throw std::invalid_argument(full + ": '" + path[i].field + "' is not a message");
    const Reflection* r = m->GetReflection();
    if (fd->is_repeated()) {
      const int n = r->FieldSize(*m, fd), idx = path[i].index < 0 ? 0 : path[i].index;
      if (idx > n) throw std::invalid_argument(absl::StrCat(full, ": index ", idx, " of '", fd->name(), "' beyond its ", n, " elements"));
      m = idx == n ? r->AddMessage(m, fd) : r->MutableRepeatedMessage(m, fd, idx);
    } else {
      if (path[i].index >= 0) throw std::invalid_argument(full + ": '" + fd->name() + "' is not repeated");
      m = r->MutableMessage(m, fd);
    }
  }
  return m;
}

void ClearPath(Message* m, const FieldPath& path) {
  Message* parent = Navigate(m, path, FieldPathString(path));
  const FieldDescriptor* fd = FindSegmentField(parent->GetDescriptor(), path.back().field);
  if (!fd) throw std::invalid_argument("replace: no field '" + FieldPathString(path) + "'");
  parent->GetReflection()->ClearField(parent, fd);
}

// In a "kind" message (a oneof named kind plus plugin extensions: LayerSpec, TokenizerSpec),
// the core member and the extensions are alternatives: setting one replaces the other.
void ClearReplacedAlternatives(const Message& src, Message* dst, const std::vector<const FieldDescriptor*>& src_fields) {
  const Descriptor* d = src.GetDescriptor();
  const google::protobuf::OneofDescriptor* kind = d->FindOneofByName("kind");
  if (!kind || d->extension_range_count() == 0) return;
  bool src_ext = false, src_core = false;
  for (const FieldDescriptor* f : src_fields) {
    src_ext |= f->is_extension();
    src_core |= f->containing_oneof() == kind;
  }
  if (!src_ext && !src_core) return;
  const Reflection* rd = dst->GetReflection();
  if (src_ext) rd->ClearOneof(dst, kind);
  std::vector<const FieldDescriptor*> dst_fields;
  rd->ListFields(*dst, &dst_fields);
  for (const FieldDescriptor* f : dst_fields)
    if (f->is_extension() && std::find(src_fields.begin(), src_fields.end(), f) == src_fields.end()) rd->ClearField(dst, f);
}

void MergeMessage(const Message& src, Message* dst) {
  const Reflection* rs = src.GetReflection();
  const Reflection* rd = dst->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  rs->ListFields(src, &fields);
  ClearReplacedAlternatives(src, dst, fields);
  for (const FieldDescriptor* fd : fields) {
    if (fd->is_repeated()) {
      const int n = rs->FieldSize(src, fd);
      if (fd->type() == FieldDescriptor::TYPE_MESSAGE) {
        for (int i = 0; i < n; ++i) {
          Message* d = i < rd->FieldSize(*dst, fd) ? rd->MutableRepeatedMessage(dst, fd, i) : rd->AddMessage(dst, fd);
          MergeMessage(rs->GetRepeatedMessage(src, fd, i), d);
        }
      } else {
        rd->ClearField(dst, fd);
        for (int i = 0; i < n; ++i) {
          switch (fd->cpp_type()) {
#define COPY_REPEATED(CPPTYPE, METHOD) \
  case FieldDescriptor::CPPTYPE:       \
    rd->Add##METHOD(dst, fd, rs->GetRepeated##METHOD(src, fd, i)); \
    break;
            COPY_REPEATED(CPPTYPE_INT32, Int32)
            COPY_REPEATED(CPPTYPE_INT64, Int64)
            COPY_REPEATED(CPPTYPE_UINT32, UInt32)
            COPY_REPEATED(CPPTYPE_UINT64, UInt64)
            COPY_REPEATED(CPPTYPE_FLOAT, Float)
            COPY_REPEATED(CPPTYPE_DOUBLE, Double)
            COPY_REPEATED(CPPTYPE_BOOL, Bool)
            COPY_REPEATED(CPPTYPE_STRING, String)
            COPY_REPEATED(CPPTYPE_ENUM, Enum)
#undef COPY_REPEATED
            default: break;
          }
        }
      }
    } else if (fd->type() == FieldDescriptor::TYPE_MESSAGE) {
      // For a oneof member, MutableMessage clears a different member the base had set.
      MergeMessage(rs->GetMessage(src, fd), rd->MutableMessage(dst, fd));
    } else {
      switch (fd->cpp_type()) {
#define COPY(CPPTYPE, METHOD) \
  case FieldDescriptor::CPPTYPE: rd->Set##METHOD(dst, fd, rs->Get##METHOD(src, fd)); break;
        COPY(CPPTYPE_INT32, Int32)
        COPY(CPPTYPE_INT64, Int64)
        COPY(CPPTYPE_UINT32, UInt32)
        COPY(CPPTYPE_UINT64, UInt64)
        COPY(CPPTYPE_FLOAT, Float)
        COPY(CPPTYPE_DOUBLE, Double)
        COPY(CPPTYPE_BOOL, Bool)
        COPY(CPPTYPE_STRING, String)
        COPY(CPPTYPE_ENUM, Enum)
#undef COPY
        default: break;
      }
    }
  }
}

std::string ValueText(const Message& m, const FieldDescriptor* fd, int index) {
  std::string s;
  TextFormat::Printer p;
  p.SetSingleLineMode(true);
  p.PrintFieldValueToString(m, fd, index, &s);
  return s;
}

void Diff(const Message& a, const Message& b, const std::string& prefix, std::vector<std::string>* out) {
  const Descriptor* d = a.GetDescriptor();
  const Reflection* ra = a.GetReflection();
  const Reflection* rb = b.GetReflection();
  // Every declared field (effective values, defaults included), then extensions set on either.
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  for (const Message* m : {&a, &b}) {
    std::vector<const FieldDescriptor*> set;
    m->GetReflection()->ListFields(*m, &set);
    for (const FieldDescriptor* f : set)
      if (f->is_extension() && std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(f);
  }
  for (const FieldDescriptor* fd : fields) {
    if (prefix.empty() && IsComparisonField(fd->name())) continue;
    const std::string name = fd->is_extension() ? "[" + fd->full_name() + "]" : fd->name();
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (fd->is_repeated()) {
      const int na = ra->FieldSize(a, fd), nb = rb->FieldSize(b, fd);
      for (int k = 0; k < std::max(na, nb); ++k) {
        const std::string pk = absl::StrCat(path, "[", k, "]");
        if (k >= na) out->push_back(pk + ": (none) -> " + ValueText(b, fd, k));
        else if (k >= nb) out->push_back(pk + ": " + ValueText(a, fd, k) + " -> (none)");
        else if (fd->type() == FieldDescriptor::TYPE_MESSAGE)
          Diff(ra->GetRepeatedMessage(a, fd, k), rb->GetRepeatedMessage(b, fd, k), pk, out);
        else if (ValueText(a, fd, k) != ValueText(b, fd, k))
          out->push_back(pk + ": " + ValueText(a, fd, k) + " -> " + ValueText(b, fd, k));
      }
    } else if (fd->type() == FieldDescriptor::TYPE_MESSAGE) {
      const bool ha = ra->HasField(a, fd), hb = rb->HasField(b, fd);
      if (!ha && !hb) continue;
      if (ha != hb) {
        out->push_back(path + ": " + (ha ? "{" + ValueText(a, fd, -1) + "}" : "(none)") + " -> " +
                       (hb ? "{" + ValueText(b, fd, -1) + "}" : "(none)"));
      } else {
        Diff(ra->GetMessage(a, fd), rb->GetMessage(b, fd), path, out);
      }
    } else if (ValueText(a, fd, -1) != ValueText(b, fd, -1)) {
      out->push_back(path + ": " + ValueText(a, fd, -1) + " -> " + ValueText(b, fd, -1));
    }
  }
}

}  // namespace

void LoadPluginsNamedIn(const std::string& text, const std::string& name) {
  // Read leniently: the extensions of the very plugins being loaded are not known yet.
  proto::ExperimentSpec m;
  TextFormat::ParseInfoTree info;
  SilentErrors silent;
  TextFormat::Parser p;
  p.AllowUnknownExtension(true);
  p.RecordErrorsTo(&silent);
  p.WriteLocationsTo(&info);
  if (!p.ParseFromString(text, &m)) return;  // the strict parse reports the syntax error
  for (int i = 0; i < m.plugins_size(); ++i) {
    try {
      PluginManager::Global().Load(m.plugins(i));
    } catch (const PluginError& e) {
      const auto loc = info.GetLocation(proto::ExperimentSpec::descriptor()->FindFieldByName("plugins"), i);
      throw SpecError(absl::StrCat(name, ":", loc.line + 1, ":", loc.column + 1, ": plugins[", i, "]: ", e.what()));
    }
  }
}

bool ParseTextQuietly(const std::string& text, Message* m) {
  SilentErrors silent;
  TextFormat::Parser p;
  p.RecordErrorsTo(&silent);
  return p.ParseFromString(text, m);
}

SpecFile ParseSpecText(const std::string& text, const std::string& name) {
  LoadPluginsNamedIn(text, name);
  SpecFile f;
  f.path = name;
  f.info = std::make_shared<TextFormat::ParseInfoTree>();
  TextFormat::Parser parser;
  CollectErrors errors(name, text);
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(f.info.get());
  if (!parser.ParseFromString(text, &f.message)) {
    if (errors.first().empty()) throw SpecError(name + ": cannot parse");
    std::string hint;
    if (!errors.unknown_extension().empty()) {
      // Only when the provider's component plugs in where the spec put it (a token weighting
      // written as a layer gets no hint: adding the plugin would not help).
      const std::string provider = PluginManager::Global().ProviderOf(errors.unknown_extension());
      const auto* ext = google::protobuf::DescriptorPool::generated_pool()->FindExtensionByName(errors.unknown_extension());
      if (!provider.empty() && ext && errors.first().find("extension of \"" + ext->containing_type()->full_name() + "\"") != std::string::npos)
        hint = "\n  plugin '" + provider + "' on the plugin search path provides [" + errors.unknown_extension() +
               "]: add  plugins: \"" + provider + "\"  to the spec";
    }
    throw SpecError(errors.first() + hint);
  }
  return f;
}

void MergeSpec(const proto::ExperimentSpec& overlay, proto::ExperimentSpec* dst) {
  for (const std::string& p : overlay.replace()) ClearPath(dst, ParseFieldPath(p));
  MergeMessage(overlay, dst);
}

namespace {

// Parses one field value without protobuf logging to stderr (we report errors ourselves).
bool ParseValue(const std::string& text, const FieldDescriptor* fd, Message* m) {
  SilentErrors silent;
  TextFormat::Parser p;
  p.RecordErrorsTo(&silent);
  return p.ParseFieldValueFromString(text, fd, m);
}
}  // namespace

void ApplyOverride(const Override& o, Message* spec) {
  const std::string full = "--set " + o.path + "=" + o.value;
  FieldPath path;
  try {
    path = ParseFieldPath(o.path);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(full + ": " + e.what());
  }
  Message* parent = Navigate(spec, path, full);
  const FieldDescriptor* fd = FindSegmentField(parent->GetDescriptor(), path.back().field);
  if (!fd)
    throw std::invalid_argument(full + ": no field '" + path.back().field + "' in " + parent->GetDescriptor()->name());
  const Reflection* r = parent->GetReflection();
  auto type_name = [&] {
    return fd->type() == FieldDescriptor::TYPE_ENUM ? "one of the enum " + fd->enum_type()->name() + " names"
                                                      : std::string("a value of type ") + fd->type_name();
  };
  if (fd->type() == FieldDescriptor::TYPE_MESSAGE) {
    // A whole message in text form: --set model.final_norm='rmsnorm {}'
    Message* sub = fd->is_repeated() ? r->AddMessage(parent, fd) : r->MutableMessage(parent, fd);
    sub->Clear();
    if (!ParseTextQuietly(o.value, sub))
      throw std::invalid_argument(full + ": not a valid " + fd->message_type()->name() + " in text form");
    return;
  }
  if (fd->is_repeated()) {
    // A list: --set seeds=1,2,3 (replaces the list).
    r->ClearField(parent, fd);
    for (absl::string_view v : absl::StrSplit(o.value, ',', absl::SkipEmpty()))
      if (!ParseValue(std::string(v), fd, parent))
        throw std::invalid_argument(full + ": '" + std::string(v) + "' is not " + type_name());
    return;
  }
  if (path.back().index >= 0) throw std::invalid_argument(full + ": '" + fd->name() + "' is not repeated");
  std::string v = o.value;
  if (fd->type() == FieldDescriptor::TYPE_STRING && (v.empty() || v.front() != '"')) v = "\"" + absl::CEscape(v) + "\"";
  if (!ParseValue(v, fd, parent))
    throw std::invalid_argument(full + ": '" + o.value + "' is not " + type_name());
}

namespace {

// Loads the plugins every file of the chain names, so that their config extensions parse.
void LoadChainPlugins(const std::string& path) {
  std::string current = path;
  std::vector<std::string> seen;
  while (seen.size() < 64) {
    std::string text;
    try {
      text = ReadText(current);
    } catch (const std::exception&) {
      return;  // the strict pass reports it
    }
    seen.push_back(current);
    LoadPluginsNamedIn(text, current);
    proto::ExperimentSpec m;
    SilentErrors silent;
    TextFormat::Parser p;
    p.AllowUnknownExtension(true);
    p.RecordErrorsTo(&silent);
    if (!p.ParseFromString(text, &m) || !m.has_base()) return;
    current = (fs::path(current).parent_path() / m.base()).lexically_normal().string();
    if (std::find(seen.begin(), seen.end(), current) != seen.end()) return;  // cycle: reported later
  }
}

}  // namespace

ResolvedSpec LoadSpec(const std::string& path, const std::vector<Override>& overrides) {
  LoadChainPlugins(path);
  ResolvedSpec rs;
  rs.overrides_ = overrides;
  std::vector<std::string> seen;
  std::string current = path;
  std::string referrer;  // "file:line:col: base" of the reference that led here
  std::string referrer_at;  // "file:line:col" of it
  // The chain above the file that names the next one (errors about that next file).
  auto above = [&] { return rs.chain_.empty() ? std::string() : rs.ChainContext(rs.chain_.size() - 1); };
  while (true) {
    const std::string canonical = fs::weakly_canonical(current).string();
    for (size_t i = 0; i < seen.size(); ++i)
      if (seen[i] == canonical) {
        std::string cycle;
        for (size_t k = i; k < rs.chain_.size(); ++k) absl::StrAppend(&cycle, rs.chain_[k].path, " -> ");
        throw SpecError(referrer + ": base cycle: " + cycle + current + above());
      }
    seen.push_back(canonical);
    std::string text;
    try {
      text = ReadText(current);
    } catch (const std::exception&) {
      throw SpecError(referrer.empty() ? current + ": cannot open spec file"
                                       : referrer + ": base file '" + current + "' cannot be opened" + above());
    }
    SpecFile parsed;
    try {
      parsed = ParseSpecText(text, current);
    } catch (const SpecError& e) {
      if (rs.chain_.empty()) throw;
      SpecFile named;  // the chain as far as it goes, to name how this file was reached
      named.path = current;
      named.referrer = referrer_at;
      rs.chain_.push_back(named);
      throw SpecError(e.what() + rs.ChainContext(rs.chain_.size() - 1));
    }
    parsed.referrer = referrer_at;
    rs.chain_.push_back(std::move(parsed));
    const SpecFile& f = rs.chain_.back();
    if (!f.message.has_base()) break;
    referrer_at = LocateIn(f, {{"base", -1}}, false);
    referrer = referrer_at + ": base";
    current = (fs::path(current).parent_path() / f.message.base()).lexically_normal().string();
  }
  auto merge_from = [&](size_t first) {
    proto::ExperimentSpec m;
    for (size_t i = rs.chain_.size(); i-- > first;) MergeSpec(rs.chain_[i].message, &m);
    if (!rs.chain_[first].message.has_name())
      m.set_name(fs::path(rs.chain_[first].path).stem().string());
    for (const Override& o : overrides) {
      try {
        ApplyOverride(o, &m);
      } catch (const std::invalid_argument& e) {
        throw SpecError(e.what());
      }
    }
    return m;
  };
  rs.variant_ = merge_from(0);
  rs.has_baseline_ = rs.chain_.size() > 1;
  if (rs.has_baseline_) rs.baseline_ = merge_from(1);
  return rs;
}

std::string ResolvedSpec::ChainContext(size_t i) const {
  std::string s;
  for (size_t k = i; k >= 1 && k < chain_.size(); --k)
    absl::StrAppend(&s, k == i ? " (" : ", ", "in base ", chain_[k].path, " of ", chain_[k].referrer);
  return s.empty() ? s : s + ")";
}

std::string ResolvedSpec::Locate(const FieldPath& path, bool in_baseline) const {
  for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
    FieldPath op;
    try {
      op = ParseFieldPath(it->path);
    } catch (...) {
      continue;
    }
    if (IsPrefix(op, path)) return "--set " + it->path + "=" + it->value;
  }
  for (size_t i = in_baseline ? 1 : 0; i < chain_.size(); ++i) {
    const std::string loc = LocateIn(chain_[i], path, false);
    if (!loc.empty()) return loc;
  }
  for (size_t i = in_baseline ? 1 : 0; i < chain_.size(); ++i) {
    const std::string loc = LocateIn(chain_[i], path, true);
    if (!loc.empty()) return loc;
  }
  return chain_[in_baseline && chain_.size() > 1 ? 1 : 0].path + ":1:1";
}

SpecError ResolvedSpec::ErrorAt(const std::string& path, const std::string& reason, bool in_baseline) const {
  FieldPath p;
  try {
    p = ParseFieldPath(path);
  } catch (...) {
  }
  const std::string at = Locate(p, in_baseline);
  // Located in a base file: say how that file was reached.
  std::string context;
  for (size_t i = 1; i < chain_.size(); ++i)
    if (at.rfind(chain_[i].path + ":", 0) == 0) context = ChainContext(i);
  return SpecError(at + ": " + path + ": " + reason + context);
}

bool IsComparisonField(const std::string& f) {
  for (const char* c : {"name", "description", "base", "replace", "seeds", "output_dir", "sequential",
                        "lr_sweep", "equal_flops", "jobs"})
    if (f == c) return true;
  return false;
}

std::vector<std::string> DiffSpecs(const Message& a, const Message& b) {
  std::vector<std::string> out;
  Diff(a, b, "", &out);
  return out;
}

std::string SpecToText(const Message& m) {
  std::string s;
  TextFormat::Printer p;
  p.PrintToString(m, &s);
  return s;
}

}  // namespace tinylm
