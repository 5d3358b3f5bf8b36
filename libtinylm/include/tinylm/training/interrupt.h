// Stopping gracefully on SIGINT (Ctrl-C) and SIGTERM (a scheduler, `kill`, a laptop shutting
// down): the first signal asks every run in progress to stop at its next step boundary, write
// a checkpoint there and give up with RunInterrupted; `--resume` then continues bit-exactly.
// A second signal ends the process at once (the default action), for a user who means it.
#pragma once
#include <stdexcept>

namespace tinylm {

// Installs the handlers (idempotent). Tools call it; the library never does on its own.
void InstallInterruptHandlers();
// The signal received (SIGINT or SIGTERM), or 0. Async-signal-safe to set, cheap to poll.
int InterruptSignal();
// For tests: as if `signal` had arrived (0 clears).
void SetInterruptSignal(int signal);

// Thrown by TrainRun after an interrupted run has written its checkpoint.
struct RunInterrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace tinylm
