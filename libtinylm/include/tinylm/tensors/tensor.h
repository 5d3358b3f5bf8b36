// Tensor: an n-d (up to 5-d) array in a 64-byte-aligned, reference-counted buffer.
// Views share the buffer (cheap); md()/mem() describe the bytes to oneDNN without copying.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace tinylm {

enum class DType { kF32, kBF16, kS32 };

size_t DTypeSize(DType t);
dnnl::memory::data_type ToDnnl(DType t);
const char* DTypeName(DType t);

using Shape = std::vector<int64_t>;
int64_t NumElements(const Shape& s);
std::string ShapeString(const Shape& s);

// Owns aligned storage; never resized after creation.
class Buffer {
 public:
  explicit Buffer(size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  // A new zero-filled contiguous tensor.
  static Tensor Zeros(const Shape& shape, DType dtype = DType::kF32);
  // A new tensor with uninitialised contents (for outputs fully overwritten).
  static Tensor Empty(const Shape& shape, DType dtype = DType::kF32);
  // Wraps a buffer someone else owns (e.g. a slice of a parameter arena).
  static Tensor View(std::shared_ptr<Buffer> buf, size_t byte_offset, const Shape& shape,
                     DType dtype = DType::kF32);

  bool defined() const { return buf_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return NumElements(shape_); }
  DType dtype() const { return dtype_; }
  size_t bytes() const { return numel() * DTypeSize(dtype_); }

  void* raw() const;  // throws std::logic_error on an undefined tensor
  float* f32() const;
  int32_t* s32() const;
  uint16_t* bf16() const;

  // Same bytes, new shape (element count must match). Cheap.
  Tensor Reshape(const Shape& shape) const;
  // Rows [begin, begin+count) along dimension 0. Cheap.
  Tensor Slice0(int64_t begin, int64_t count) const;

  void Fill(float v) const;
  void SetZero() const;
  void CopyFrom(const Tensor& src) const;  // same numel and dtype
  Tensor Clone() const;

  // Contiguous (row-major) oneDNN descriptor and memory over the same bytes.
  dnnl::memory::desc md() const;
  dnnl::memory mem(const dnnl::engine& eng) const;

 private:
  std::shared_ptr<Buffer> buf_;
  size_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::kF32;
};

// bf16 <-> f32 with round-to-nearest-even.
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t h);

}  // namespace tinylm
