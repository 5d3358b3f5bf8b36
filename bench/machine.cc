#include "machine.h"

#include <chrono>
#include <fstream>
#include <string>

#include "tinylm/tensors/ops.h"

namespace tinylm::bench {

double MeasureMatmulPeakGflops(Context& ctx, double seconds) {
  struct Shape3 {
    int64_t m, k, n;
  };
  const Shape3 shapes[] = {{8192, 128, 384}, {8192, 128, 672}, {8192, 336, 128}, {8192, 128, 128}};
  double best = 0;
  for (const Shape3& s : shapes) {
    Tensor a = Tensor::Empty({s.m, s.k}), b = Tensor::Empty({s.k, s.n}), c = Tensor::Empty({s.m, s.n});
    a.Fill(0.5f);
    b.Fill(0.25f);
    Matmul(ctx, a, b, c);  // primitive creation, first touch
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const auto t0 = std::chrono::steady_clock::now();
      Matmul(ctx, a, b, c);
      const auto t1 = std::chrono::steady_clock::now();
      const double secs = std::chrono::duration<double>(t1 - t0).count();
      best = std::max(best, 2.0 * s.m * s.k * s.n / secs / 1e9);
      if (std::chrono::duration<double>(t1 - start).count() > seconds / 4) break;
    }
  }
  return best;
}

bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  return static_cast<bool>(f.flush());
}

double PeakRssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024 / 1e6;  // kB
  return 0;
}

}  // namespace tinylm::bench
