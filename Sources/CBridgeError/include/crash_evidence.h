// Evidence of what a process was working on when it died, written by a fatal-signal handler (async-signal-safe).
#ifndef CURATE_CRASH_EVIDENCE_H
#define CURATE_CRASH_EVIDENCE_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Writes evidence to `fd` (an open file) from now on, and installs the handler for SIGSEGV, SIGBUS, SIGILL,
/// SIGFPE, SIGABRT and SIGTRAP: it writes the dying thread's item as a line of decimal digits, then lets the
/// signal take the process down as it would have. -1 stops writing.
void curate_evidence_open(int fd);
/// The item this thread works on now (0: none). The first call on a thread also gives it an alternate signal
/// stack, so that the handler runs after a stack overflow too, and names it `curate-worker`.
void curate_evidence_working_on(int64_t item);
/// Writes the line "interrupted": the user ended the process (a second Ctrl-C, a hang-up).
void curate_evidence_interrupted(void);

#ifdef __cplusplus
}
#endif
#endif
