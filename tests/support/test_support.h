/* Helpers shared by the Check suites. */
#ifndef QUANTA_TEST_SUPPORT_H
#define QUANTA_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

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
