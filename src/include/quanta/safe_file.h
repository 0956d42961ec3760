/* Writing an output without ever leaving a partial file: a temporary file
 * in the target folder, checked writes, fsync, then rename over the target.
 * Until commit the target is untouched; on abort, on error, or on SIGINT /
 * SIGTERM (see safe_file_install_signal_cleanup) the temporary is removed. */
#ifndef QUANTA_SAFE_FILE_H
#define QUANTA_SAFE_FILE_H

#include <stdio.h>
#include "quanta/status.h"

struct safe_file {
    FILE *fp;
    char *path;      /* final name */
    char *tmp_path;  /* "<dir>/.<base>.tmp-XXXXXX" */
};

enum quanta_status safe_file_open(struct safe_file *file, const char *path, struct quanta_error *err);
/* A short write (full disk) is QUANTA_ERR_OUTPUT naming the path. */
enum quanta_status safe_file_write(struct safe_file *file, const void *bytes, size_t size,
                                   struct quanta_error *err);
/* fflush + fsync + close + rename + fsync of the folder. Frees file's
 * members whatever happens; on failure the temporary is removed. */
enum quanta_status safe_file_commit(struct safe_file *file, struct quanta_error *err);
void safe_file_abort(struct safe_file *file);

/* Writes a whole buffer to path through a safe_file. */
enum quanta_status safe_file_write_all(const char *path, const void *bytes, size_t size,
                                       struct quanta_error *err);

/* Installs SIGINT/SIGTERM handlers that unlink every open temporary, then
 * re-raise the signal. Called once by the CLI. */
void safe_file_install_signal_cleanup(void);

/* QUANTA_ERR_USAGE when output names the same file as input (same path, or
 * same device and inode when both exist), or names something other than a
 * regular file (a rename would replace a device or folder). For commands to
 * call before they start work; safe_file_open refuses the latter too. */
enum quanta_status safe_file_check_not_input(const char *output, const char *input,
                                             struct quanta_error *err);

#endif
