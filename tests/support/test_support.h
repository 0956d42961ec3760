/* Helpers shared by the Check suites. */
#ifndef QUANTA_TEST_SUPPORT_H
#define QUANTA_TEST_SUPPORT_H

#include <stddef.h>

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

#endif
