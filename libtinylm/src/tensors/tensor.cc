#include "tinylm/tensors/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>
#include <stdexcept>

namespace tinylm {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kBF16: return 2;
    case DType::kS32: return 4;
  }
  return 0;
}

dnnl::memory::data_type ToDnnl(DType t) {
  switch (t) {
    case DType::kF32: return dnnl::memory::data_type::f32;
    case DType::kBF16: return dnnl::memory::data_type::bf16;
    case DType::kS32: return dnnl::memory::data_type::s32;
  }
  return dnnl::memory::data_type::undef;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kBF16: return "bf16";
    case DType::kS32: return "s32";
  }
  return "?";
}

int64_t NumElements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string ShapeString(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << "]";
  return os.str();
}

Buffer::Buffer(size_t bytes) : bytes_(bytes) {
  // Round up so aligned_alloc's size requirement holds; 64 bytes = one cache line / AVX-512 vector.
  size_t rounded = ((bytes + 63) / 64) * 64;
  if (rounded == 0) rounded = 64;
  data_ = std::aligned_alloc(64, rounded);
  if (!data_) throw std::bad_alloc();
}

Buffer::~Buffer() { std::free(data_); }

Tensor Tensor::Empty(const Shape& shape, DType dtype) {
  Tensor t;
  t.buf_ = std::make_shared<Buffer>(NumElements(shape) * DTypeSize(dtype));
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::Zeros(const Shape& shape, DType dtype) {
  Tensor t = Empty(shape, dtype);
  t.SetZero();
  return t;
}

Tensor Tensor::View(std::shared_ptr<Buffer> buf, size_t byte_offset, const Shape& shape,
                    DType dtype) {
  if (byte_offset + NumElements(shape) * DTypeSize(dtype) > buf->bytes())
    throw std::out_of_range("Tensor::View beyond buffer end");
  Tensor t;
  t.buf_ = std::move(buf);
  t.offset_ = byte_offset;
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

void* Tensor::raw() const {
  if (!buf_) throw std::logic_error("access to an undefined tensor");
  return static_cast<char*>(buf_->data()) + offset_;
}

float* Tensor::f32() const {
  if (dtype_ != DType::kF32) throw std::logic_error("tensor is not f32");
  return static_cast<float*>(raw());
}
int32_t* Tensor::s32() const {
  if (dtype_ != DType::kS32) throw std::logic_error("tensor is not s32");
  return static_cast<int32_t*>(raw());
}
uint16_t* Tensor::bf16() const {
  if (dtype_ != DType::kBF16) throw std::logic_error("tensor is not bf16");
  return static_cast<uint16_t*>(raw());
}

Tensor Tensor::Reshape(const Shape& shape) const {
  if (NumElements(shape) != numel())
    throw std::invalid_argument("Reshape " + ShapeString(shape_) + " -> " + ShapeString(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::Slice0(int64_t begin, int64_t count) const {
  if (begin < 0 || begin + count > shape_[0]) throw std::out_of_range("Slice0 out of range");
  Tensor t = *this;
  const int64_t row = numel() / shape_[0];
  t.offset_ += begin * row * DTypeSize(dtype_);
  t.shape_[0] = count;
  return t;
}

void Tensor::Fill(float v) const {
  if (dtype_ == DType::kF32) {
    float* p = f32();
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
  } else if (dtype_ == DType::kBF16) {
    uint16_t h = FloatToBf16(v);
    uint16_t* p = bf16();
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = h;
  } else {
    int32_t* p = s32();
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = static_cast<int32_t>(v);
  }
}

void Tensor::SetZero() const { std::memset(raw(), 0, bytes()); }

void Tensor::CopyFrom(const Tensor& src) const {
  if (src.numel() != numel() || src.dtype() != dtype())
    throw std::invalid_argument("CopyFrom: " + ShapeString(src.shape()) + " into " +
                                ShapeString(shape_));
  std::memcpy(raw(), src.raw(), bytes());
}

Tensor Tensor::Clone() const {
  Tensor t = Empty(shape_, dtype_);
  t.CopyFrom(*this);
  return t;
}

dnnl::memory::desc Tensor::md() const {
  dnnl::memory::dims dims(shape_.begin(), shape_.end());
  dnnl::memory::dims strides(shape_.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape_.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape_[i];
  }
  return dnnl::memory::desc(dims, ToDnnl(dtype_), strides);
}

dnnl::memory Tensor::mem(const dnnl::engine& eng) const { return dnnl::memory(md(), eng, raw()); }

uint16_t FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

float Bf16ToFloat(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace tinylm
