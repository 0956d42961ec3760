#include "support/test_support.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "kernels/kernels_q8.h"
#include "kernels/q8_packed.h"

static char tmp_dir[256];
static char path_buf[1024];

const char *ts_self_exe(void)
{
    const char *s = getenv("QUANTA_TESTS_EXE");
    return s && *s ? s : "/proc/self/exe";
}

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

/* ---- guarded buffers ---- */

/* Kept just before the usable bytes (copied with memcpy: that address may
 * be misaligned). */
struct guard_header {
    void *raw;
    size_t bytes;
};

static unsigned char guard_byte(size_t i)
{
    return (unsigned char)(0xa5 ^ (i * 29));
}

void *ts_guarded_alloc(size_t bytes, size_t misalign)
{
    ck_assert_uint_lt(misalign, 64);
    const size_t head = 64; /* holds the header, keeps p's offset from 64 */
    unsigned char *raw = aligned_alloc(64, (head + 64 + bytes + TS_GUARD_BYTES + 63) / 64 * 64);
    ck_assert_ptr_nonnull(raw);
    unsigned char *p = raw + head + misalign;
    struct guard_header h = {raw, bytes};
    memcpy(p - sizeof h, &h, sizeof h);
    memset(p, 0x5a, bytes);
    for (size_t i = 0; i < TS_GUARD_BYTES; i++)
        p[bytes + i] = guard_byte(i);
    return p;
}

void ts_guarded_check(const void *p, const char *what)
{
    const unsigned char *q = p;
    struct guard_header h;
    memcpy(&h, q - sizeof h, sizeof h);
    for (size_t i = 0; i < TS_GUARD_BYTES; i++)
        ck_assert_msg(q[h.bytes + i] == guard_byte(i),
                      "%s: written past the end of its %zu-byte buffer (guard byte %zu is 0x%02x, "
                      "not 0x%02x)",
                      what, h.bytes, i, q[h.bytes + i], guard_byte(i));
}

void ts_guarded_free(void *p)
{
    if (!p)
        return;
    struct guard_header h;
    memcpy(&h, (unsigned char *)p - sizeof h, sizeof h);
    free(h.raw);
}

/* ---- skips ---- */

static char skip_log[512];

void ts_skip_log_set(const char *path)
{
    snprintf(skip_log, sizeof skip_log, "%s", path ? path : "");
}

const char *ts_skip_log(void)
{
    return skip_log[0] ? skip_log : NULL;
}

/* One line per skip: kind, suite, test, iteration, reason, tab-separated.
 * One write(2) with O_APPEND, so lines from forked tests do not mix. */
void ts_skip_record(enum ts_skip_kind kind, const char *file, int iteration, const char *fmt,
                    ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    for (char *p = reason; *p; p++)
        if (*p == '\t' || *p == '\n')
            *p = ' ';
    /* the suite is the file's name without "test_" and ".c" */
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (strncmp(base, "test_", 5) == 0)
        base += 5;
    int base_len = (int)strcspn(base, ".");
    char line[700];
    int n = snprintf(line, sizeof line, "%s\t%.*s\t%s\t%d\t%s\n",
                     kind == TS_SKIP_HARDWARE_MISSING ? "hardware" : "environment", base_len,
                     base, tcase_name(), iteration, reason);
    if (n < 0 || n >= (int)sizeof line)
        n = (int)sizeof line - 1, line[n - 1] = '\n';
    const char *log = ts_skip_log();
    int fd = log ? open(log, O_WRONLY | O_APPEND) : -1;
    ck_assert_msg(fd >= 0, "skip not recorded (no skip log: run through tests/main.c): %s",
                  reason);
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    ck_assert_msg(w == n, "skip log %s: write failed", log);
}

const char *ts_level_missing(int level, bool int8, bool *hardware)
{
    static char why[300];
    enum kernels_level l = (enum kernels_level)level;
    *hardware = false;
    if (!f32_kernels_for_level(l)) {
        char have[200];
        kernels_cpu_describe(have, sizeof have);
        snprintf(why, sizeof why, "kernel level %s: not supported by this cpu (cpu: %s)",
                 kernels_level_name(l), have);
        *hardware = true;
        return why;
    }
    /* the CPU has AMX but Linux refused the tile permission: the int8 amx
     * table would be the vnni one, so testing it as "amx" would be false */
#if defined(__x86_64__)
    if (int8 && l == KERNELS_LEVEL_AMX && !q8_amx_ready()) {
        snprintf(why, sizeof why,
                 "kernel level amx: the os refused the AMX tile permission (arch_prctl)");
        return why;
    }
#else
    (void)int8;
#endif
    return NULL;
}

/* The levels registered by ts_add_level_skip, indexed by the loop value. */
static struct {
    const char *suite;
    int level;
    bool int8;
} level_skips[64];
static int n_level_skips;

START_TEST(kernel_level_unavailable)
{
    bool hardware;
    const char *why = ts_level_missing(level_skips[_i].level, level_skips[_i].int8, &hardware);
    ck_assert_msg(why != NULL, "level %d was registered as missing but runs here",
                  level_skips[_i].level);
    ts_skip_record(hardware ? TS_SKIP_HARDWARE_MISSING : TS_SKIP_ENVIRONMENT,
                   level_skips[_i].suite, level_skips[_i].level, "%s", why);
}
END_TEST

void ts_add_level_skip(struct TCase *tc, const char *suite, int level, bool int8)
{
    if (n_level_skips == (int)(sizeof level_skips / sizeof level_skips[0]))
        abort();
    level_skips[n_level_skips].suite = suite;
    level_skips[n_level_skips].level = level;
    level_skips[n_level_skips].int8 = int8;
    tcase_add_loop_test(tc, kernel_level_unavailable, n_level_skips, n_level_skips + 1);
    n_level_skips++;
}

/* ---- re-running one test case in a child ---- */

int ts_spawn_case(const char *suite, const char *tcase, const char *const *env, char **output)
{
    char out_path[300];
    static int counter;
    snprintf(out_path, sizeof out_path, "%s/.rerun-%d-%d.out", ts_tmp_dir(), (int)getpid(),
             counter++);
    /* The child's environment: ours without Check's log and selection
     * variables and the names env sets or unsets, then CK_RUN_CASE and
     * env's NAME=value entries. Spawned (posix_spawn): one call that
     * execs, with no copy of the (possibly emulated) parent. */
    static const char *const logs[] = {"CK_LOG_FILE_NAME", "CK_XML_LOG_FILE_NAME",
                                       "CK_TAP_LOG_FILE_NAME", "CK_RUN_SUITE",
                                       "CK_INCLUDE_TAGS", "CK_EXCLUDE_TAGS", "CK_RUN_CASE"};
    size_t n_env = 0, n_set = 0;
    while (environ[n_env])
        n_env++;
    for (const char *const *e = env; e && *e; e++)
        n_set++;
    char **envp = calloc(n_env + n_set + 2, sizeof *envp);
    ck_assert_ptr_nonnull(envp);
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        const char *v = environ[i];
        const size_t len = strcspn(v, "=");
        bool drop = false;
        for (size_t j = 0; j < sizeof logs / sizeof logs[0] && !drop; j++)
            drop = strlen(logs[j]) == len && strncmp(v, logs[j], len) == 0;
        for (const char *const *e = env; e && *e && !drop; e++)
            drop = strcspn(*e, "=") == len && strncmp(v, *e, len) == 0;
        if (!drop)
            envp[n++] = environ[i];
    }
    char run_case[300];
    snprintf(run_case, sizeof run_case, "CK_RUN_CASE=%s", tcase);
    envp[n++] = run_case;
    for (const char *const *e = env; e && *e; e++)
        if (strchr(*e, '='))
            envp[n++] = (char *)*e;
    envp[n] = NULL;
    posix_spawn_file_actions_t fa;
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path,
                                                      O_WRONLY | O_CREAT | O_TRUNC, 0644),
                     0);
    char *argv[] = {(char *)"quanta-tests", (char *)suite, NULL};
    pid_t pid;
    const int spawned = posix_spawn(&pid, ts_self_exe(), &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    ck_assert_msg(spawned == 0, "re-run of %s/%s: posix_spawn %s: %s", suite, tcase,
                  ts_self_exe(), strerror(spawned));
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *output = ts_read_file(out_path, NULL);
    unlink(out_path);
    return status;
}

void ts_rerun_case(const char *suite, const char *tcase, const char *const *env)
{
    char *out;
    const int status = ts_spawn_case(suite, tcase, env, &out);
    ck_assert_msg(out != NULL, "no output from the re-run of %s/%s", suite, tcase);
    /* the summary is the last line */
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '\n')
        out[--len] = '\0';
    const char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    int passed = -1, failed = -1, skipped = -1;
    int got = sscanf(last, "%d passed, %d failed, %d skipped", &passed, &failed, &skipped);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == 3 && passed >= 1 &&
                      failed == 0 && skipped == 0,
                  "re-run of %s/%s: status %d, summary '%s' (want exit 0 and at least one "
                  "test passed, none failed or skipped)",
                  suite, tcase, status, last);
    free(out);
}
