/* Helpers shared by the Check suites. */
#ifndef QUANTA_TEST_SUPPORT_H
#define QUANTA_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The test binary to exec for a fresh process: $QUANTA_TESTS_EXE (a
 * script running it under qemu in a cross build), else /proc/self/exe. */
const char *ts_self_exe(void);

/* Path of the source tree ($QUANTA_SRC, else "."), and of a file in it. */
const char *ts_src_dir(void);
/* Returns a static buffer valid until the next call: "<src>/<relative>". */
const char *ts_src_path(const char *relative);

/* A fresh temporary folder for this test (removed at exit); ts_tmp_path
 * joins a name to it (static buffer, valid until the next call). */
const char *ts_tmp_dir(void);
const char *ts_tmp_path(const char *name);

/* Writes size bytes to path; aborts the test on failure. */
void ts_write_file(const char *path, const void *bytes, size_t size);
/* Reads a whole file (malloc'd, NUL-terminated); NULL if absent. */
char *ts_read_file(const char *path, size_t *size);

/* Runs the quanta binary ($QUANTA_BIN) with a shell-quoted argument string,
 * capturing stdout and stderr (malloc'd, caller frees; may pass NULL).
 * Returns the exit code, or -1 if it did not exit normally (a crash). */
int ts_run_quanta(const char *args, char **out, char **errout);

/* ---- skips (tests/README.md) ----
 * Check has no skip of its own: a test that cannot run its check calls
 * TS_SKIP (missing root, data, ...) or TS_SKIP_HARDWARE (this CPU lacks an
 * instruction set) with the reason, directly in its START_TEST body. The
 * macro appends one line to the run's skip log (a file named by main.c, so
 * it works in Check's forked children and with CK_FORK=no alike) and returns
 * from the test. tests/main.c counts these apart from passes, prints their
 * reasons, and fails the run on any non-hardware skip when CI=true or
 * QUANTA_TEST_NO_SKIP=1. */
enum ts_skip_kind { TS_SKIP_ENVIRONMENT, TS_SKIP_HARDWARE_MISSING };

void ts_skip_record(enum ts_skip_kind kind, const char *file, int iteration, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#define TS_SKIP(...)                                                                 \
    do {                                                                             \
        ts_skip_record(TS_SKIP_ENVIRONMENT, __FILE__, _i, __VA_ARGS__);              \
        return;                                                                      \
    } while (0)
#define TS_SKIP_HARDWARE(...)                                                        \
    do {                                                                             \
        ts_skip_record(TS_SKIP_HARDWARE_MISSING, __FILE__, _i, __VA_ARGS__);         \
        return;                                                                      \
    } while (0)

/* The skip log: main.c sets its path before running; NULL when unset. */
void ts_skip_log_set(const char *path);
const char *ts_skip_log(void);

/* Whether kernel level `level` (enum kernels_level) can be tested here for
 * float (int8 false) or int8 kernels. NULL if it can; else the reason, and
 * *hardware says whether the CPU lacks it (cpuid) rather than the OS
 * refusing it (AMX tile permission). */
const char *ts_level_missing(int level, bool int8, bool *hardware);

/* Skips the running test unless `level` can be tested (see above). */
#define TS_REQUIRE_LEVEL(level, int8)                                                \
    do {                                                                             \
        bool ts_hw_;                                                                 \
        const char *ts_why_ = ts_level_missing((level), (int8), &ts_hw_);            \
        if (ts_why_ && ts_hw_)                                                       \
            TS_SKIP_HARDWARE("%s", ts_why_);                                         \
        if (ts_why_)                                                                 \
            TS_SKIP("%s", ts_why_);                                                  \
    } while (0)

/* Registers in tc one test that records the skip of kernel level `level`
 * for suite `suite` (the reason from ts_level_missing): for suites that
 * register their per-level tests only for the levels this machine runs. */
struct TCase;
void ts_add_level_skip(struct TCase *tc, const char *suite, int level, bool int8);

/* Runs this test program again in a child process, only test case
 * `tcase` of `suite` (CK_RUN_CASE), with the NULL-terminated "NAME=value"
 * (or "NAME" to unset) environment changes in env. The child's Check logs
 * (CK_LOG_FILE_NAME, CK_XML_LOG_FILE_NAME, CK_TAP_LOG_FILE_NAME) are
 * switched off so the parent's stay intact. Fails the calling test unless
 * the child exited 0 and its summary line says it ran at least one test
 * with none failed or skipped. */
void ts_rerun_case(const char *suite, const char *tcase, const char *const *env);

/* The child of ts_rerun_case, spawned and waited for, but judged by the
 * caller: returns its wait status and sets *output to what it printed
 * (malloc'ed; NULL if unreadable). */
int ts_spawn_case(const char *suite, const char *tcase, const char *const *env, char **output);

/* ---- guarded buffers for kernel outputs ----
 * ts_guarded_alloc returns `bytes` usable bytes starting `misalign` bytes
 * past a 64-byte boundary, followed by TS_GUARD_BYTES of a known pattern
 * (the contents are 0x5a). ts_guarded_check fails the test, naming `what`
 * and the first changed byte, if a kernel wrote past the end: an overrun
 * fails the plain run, not only the sanitizer one. */
#define TS_GUARD_BYTES 64
void *ts_guarded_alloc(size_t bytes, size_t misalign);
void ts_guarded_check(const void *p, const char *what);
void ts_guarded_free(void *p);

/* Deterministic test data (xorshift64*): the same numbers on every machine. */
static inline uint64_t ts_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi). */
static inline float ts_uniform(uint64_t *state, float lo, float hi)
{
    double u = (double)(ts_next(state) >> 11) * 0x1p-53;
    return (float)(lo + (hi - lo) * u);
}

static inline void ts_fill(uint64_t *state, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = ts_uniform(state, lo, hi);
}

#endif
