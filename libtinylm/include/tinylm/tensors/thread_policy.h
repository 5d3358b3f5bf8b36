// How tinylm's OpenMP threads wait, chosen by measurement (docs/performance.md, "A busy
// machine"). By default libgomp lets an idle thread spin for ~300,000 iterations before it
// sleeps. Alone on the cores that is fastest; beside another process with a thread team (a
// second ablation, `generate` while training) the spinning threads burn the time slices the
// other team's threads need to reach the barrier they spin at, and a train step became 7.6x
// slower, batch-1 generation 200x. With passive waiting both stay within 2x of quiet speed, for
// 2-4% of quiet training speed.
//
// libgomp reads its settings once, when it is loaded, before main(): a tool that wants the
// policy re-executes itself with it set. Setting OMP_WAIT_POLICY (or GOMP_SPINCOUNT) yourself
// overrides the choice, e.g. OMP_WAIT_POLICY=active on a machine reserved for one run.
#pragma once

namespace tinylm {

// Call first in main(): unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, sets
// OMP_WAIT_POLICY=passive and re-executes the program (same arguments) so that the OpenMP
// runtime starts with it. Returns only when the policy is in effect, or when re-executing is
// impossible (then the runtime's default applies).
void ApplyThreadWaitPolicy(char** argv);

}  // namespace tinylm

namespace tinylm {

// Threads a Context uses when asked for "all cores": the cores this process may run on, shared
// with the other ranks of an MPI job on this node when they may run on the same cores (mpirun
// binds ranks to cores by default for up to two ranks and to sockets beyond; with --bind-to none
// every rank sees every core, and N ranks of all-core teams would oversubscribe them N times).
int DefaultThreads();

}  // namespace tinylm
