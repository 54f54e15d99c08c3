// Evidence of what a process was working on when it died: see include/crash_evidence.h.
#define _GNU_SOURCE
#include "crash_evidence.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int evidence_fd = -1;
static _Thread_local int64_t current_item = 0;
static _Thread_local int has_alt_stack = 0;

static void write_all(const char *s, size_t n) {
    int fd = evidence_fd;
    while (fd >= 0 && n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

// SA_RESETHAND: the action is the default again, and the signal raised once more (pending until the handler
// returns) takes the process down as it would have, a fault or a signal sent from outside alike.
static void on_fatal(int sig) {
    int64_t item = current_item;
    if (item > 0) {
        char line[24];
        int i = (int)sizeof line;
        line[--i] = '\n';
        do { line[--i] = (char)('0' + item % 10); item /= 10; } while (item > 0 && i > 0);
        write_all(line + i, sizeof line - (size_t)i);
    }
    raise(sig);
}

void curate_evidence_open(int fd) {
    evidence_fd = fd;
    if (fd < 0) return;
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_fatal;
    action.sa_flags = SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t k = 0; k < sizeof fatal / sizeof fatal[0]; ++k) sigaction(fatal[k], &action, NULL);
}

void curate_evidence_working_on(int64_t item) {
    if (!has_alt_stack) {
        // Leaked with the thread: a handful of workers a run.
        stack_t stack;
        stack.ss_size = 64 * 1024;
        stack.ss_sp = malloc(stack.ss_size);
        stack.ss_flags = 0;
        if (stack.ss_sp && sigaltstack(&stack, NULL) == 0) has_alt_stack = 1;
        pthread_setname_np(pthread_self(), "curate-worker");   // in /proc/PID/task/TID/comm
    }
    current_item = item;
}

void curate_evidence_interrupted(void) {
    static const char line[] = "interrupted\n";
    write_all(line, sizeof line - 1);
}
