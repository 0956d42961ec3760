#include "support/test_support.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_dir[256];
static char path_buf[1024];

const char *ts_src_dir(void)
{
    const char *s = getenv("QUANTA_SRC");
    return s && *s ? s : ".";
}

const char *ts_src_path(const char *relative)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", ts_src_dir(), relative);
    return path_buf;
}

static void remove_tmp_dir(void)
{
    if (tmp_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
}

const char *ts_tmp_dir(void)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/quanta-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
        atexit(remove_tmp_dir);
    }
    return tmp_dir;
}

const char *ts_tmp_path(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", ts_tmp_dir(), name);
    return path_buf;
}

void ts_write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

char *ts_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(buf, cap + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    if (size)
        *size = len;
    return buf;
}

int ts_run_quanta(const char *args, char **out, char **errout)
{
    const char *bin = getenv("QUANTA_BIN");
    if (!bin || !*bin)
        bin = "./quanta";
    static int counter;
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/.run-%d-%d.out", ts_tmp_dir(), (int)getpid(), counter);
    snprintf(err_path, sizeof err_path, "%s/.run-%d-%d.err", ts_tmp_dir(), (int)getpid(), counter++);
    size_t len = strlen(bin) + strlen(args) + 2 * sizeof out_path + 32;
    char *cmd = malloc(len);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, len, "'%s' %s >'%s' 2>'%s' </dev/null", bin, args, out_path, err_path);
    int status = system(cmd);
    free(cmd);
    if (out)
        *out = ts_read_file(out_path, NULL);
    if (errout)
        *errout = ts_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    /* sh reports a child killed by a signal as 128+n */
    int code = WEXITSTATUS(status);
    return code >= 128 ? -1 : code;
}
