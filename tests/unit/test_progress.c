/* The progress line (base/progress.h): nothing unless the stream is a
 * terminal and not --quiet; on a terminal (a pseudo-terminal here), lines
 * rewritten with \r, rate-limited, erased at the end. And end to end:
 * quanta eval with stderr on a pseudo-terminal shows it, with --quiet or a
 * pipe it does not. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/progress.h"
#include "support/test_support.h"

/* What the stream received, read back from its temporary file. */
static char *contents(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    char *buf = calloc((size_t)n + 1, 1);
    ck_assert_ptr_nonnull(buf);
    rewind(f);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

START_TEST(test_progress_not_a_terminal)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert(!progress_wanted(f, false));
    ck_assert(!progress_wanted(f, true));
    /* a silent progress (what the CLI makes then) writes nothing */
    struct progress p;
    progress_init(&p, NULL);
    progress_label(&p, "calibrating");
    progress_show(&p, 5, 10);
    progress_clear(&p);
    progress_show(NULL, 1, 2);
    char *got = contents(f);
    ck_assert_str_eq(got, "");
    free(got);
    fclose(f);
}
END_TEST

START_TEST(test_progress_lines)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    struct progress p;
    progress_init(&p, f);
    progress_label(&p, "calibrating");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    progress_show(&p, 32, 128);
    progress_show(&p, 64, 128); /* within 1/PROGRESS_HZ s of the first: not drawn */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    progress_label(&p, "x");    /* a new label draws at once, over the longer line */
    progress_show(&p, 7, 0);
    progress_clear(&p);
    char *got = contents(f);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* "calibrating: 32/128 (25%)" is 25 characters, "x: 7" 4: 21 spaces pad */
    char want[256];
    snprintf(want, sizeof want, "\rcalibrating: 32/128 (25%%)%s\rx: 7%21s\r%4s\r",
             elapsed < 1.0 / PROGRESS_HZ ? "" : "\rcalibrating: 64/128 (50%)", "", "");
    ck_assert_str_eq(got, want);
    free(got);
    fclose(f);
}
END_TEST

START_TEST(test_progress_terminal)
{
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        TS_SKIP("openpty failed: %s (no pseudo-terminals here)", strerror(errno));
    FILE *tty = fdopen(slave, "w");
    ck_assert_ptr_nonnull(tty);
    ck_assert(progress_wanted(tty, false));
    ck_assert(!progress_wanted(tty, true)); /* --quiet */
    fclose(tty);
    close(master);
}
END_TEST

/* Everything the pseudo-terminal's master side receives until the child
 * exits and the slave side closes. */
static char *drain(int master)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        struct pollfd pfd = {.fd = master, .events = POLLIN};
        if (poll(&pfd, 1, 60000) <= 0)
            break;
        ssize_t n = read(master, buf + len, cap - len);
        if (n <= 0) /* EIO once the slave side is closed */
            break;
        len += (size_t)n;
        if (len == cap)
            break;
    }
    buf[len] = '\0';
    return buf;
}

/* Runs quanta with stdout on /dev/null and stderr on a pseudo-terminal;
 * returns what the terminal got and the exit code in *rc. */
static char *run_on_terminal(char *const argv[], int *rc)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(slave, 2);
        close(master);
        execv(argv[0], argv);
        _exit(127);
    }
    close(slave);
    char *got = drain(master);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(master);
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return got;
}

START_TEST(test_progress_eval_on_terminal)
{
    /* copies: ts_src_path returns a static buffer */
    char *m = strdup(ts_src_path("models/fmnist-cnn.safetensors"));
    char *d = strdup(ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    ck_assert(m && d);
    if (access(m, R_OK) != 0 || access(d, R_OK) != 0)
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        TS_SKIP("openpty failed: %s (no pseudo-terminals here)", strerror(errno));
    close(master);
    close(slave);
    const char *bin = getenv("QUANTA_BIN");
    char *binary = realpath(bin && *bin ? bin : "./quanta", NULL);
    ck_assert_ptr_nonnull(binary);
    char *shown[] = {binary, "eval", m, "--data", d, "--batch", "8", NULL};
    char *quiet[] = {binary, "eval", m, "--data", d, "--batch", "8", "--quiet", NULL};
    int rc;
    char *got = run_on_terminal(shown, &rc);
    ck_assert_msg(rc == 0, "quanta eval exited %d: %s", rc, got);
    ck_assert_msg(strstr(got, "\revaluating on fmnist-test-1000-images-idx3-ubyte.gz: ") != NULL,
                  "no progress line on the terminal: '%s'", got);
    ck_assert_msg(strstr(got, "/1000 (") != NULL, "no sample count: '%s'", got);
    /* erased at the end: the last bytes are \r, spaces, \r */
    size_t len = strlen(got);
    ck_assert(len >= 2 && got[len - 1] == '\r' && got[len - 2] == ' ');
    free(got);
    got = run_on_terminal(quiet, &rc);
    ck_assert_msg(rc == 0, "quanta eval --quiet exited %d: %s", rc, got);
    ck_assert_str_eq(got, "");
    free(got);
    /* not a terminal (ts_run_quanta: stderr is a file): no progress bytes */
    char args[2048], *out = NULL, *errout = NULL;
    snprintf(args, sizeof args, "eval '%s' --data '%s' --batch 8", m, d);
    ck_assert_int_eq(ts_run_quanta(args, &out, &errout), 0);
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    free(m);
    free(d);
    free(binary);
}
END_TEST

Suite *suite_progress(void);
Suite *suite_progress(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_progress_not_a_terminal);
    tcase_add_test(tc, test_progress_lines);
    tcase_add_test(tc, test_progress_terminal);
    tcase_add_test(tc, test_progress_eval_on_terminal);
    suite_add_tcase(s, tc);
    return s;
}
