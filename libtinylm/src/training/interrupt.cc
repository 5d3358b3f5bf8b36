#include "tinylm/training/interrupt.h"

#include <signal.h>

#include <atomic>

namespace tinylm {
namespace {

std::atomic<int> g_signal{0};

extern "C" void OnInterrupt(int sig) {
  if (g_signal.exchange(sig) != 0) {
    // Second signal: the default action, now.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int InterruptSignal() { return g_signal.load(std::memory_order_relaxed); }

void SetInterruptSignal(int signal) { g_signal.store(signal); }

}  // namespace tinylm
