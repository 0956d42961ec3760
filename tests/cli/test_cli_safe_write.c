/* Outputs are never left half-written (man quanta-quantize(1), safe_file.h):
 * - quanta quantize killed by SIGINT or SIGTERM while it writes over an
 *   existing output leaves the old output as it was and no temporary file;
 * - a full disk (a 1 MiB tmpfs) is exit 4 with a message, the old output
 *   intact and no partial file;
 * - -o naming an input (by the same path, another spelling, or a hard link)
 *   is refused with exit 2 by quantize, dequantize, run --output and
 *   calibrate -o, and the input is untouched; so is -o naming a device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_fixture.h"

/* A checkpoint without a graph of n_tensors F32 [rows, cols] matrices,
 * streamed through st_writer (one row in memory). */
static void sw_write_bag(const char *path, int n_tensors, int64_t rows, int64_t cols)
{
    struct st_tensor_desc *t = calloc((size_t)n_tensors, sizeof *t);
    char (*names)[32] = calloc((size_t)n_tensors, sizeof *names);
    float *row = malloc((size_t)cols * sizeof *row);
    ck_assert(t && names && row);
    for (int i = 0; i < n_tensors; i++) {
        snprintf(names[i], sizeof names[i], "layers.%d.weight", i);
        t[i] = (struct st_tensor_desc){names[i], QUANTA_F32, {2, {rows, cols}}, NULL};
    }
    struct st_meta meta = {"origin", "safe write test"};
    struct st_writer *w;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_writer_open(&w, path, t, (size_t)n_tensors, &meta, 1, &err) == QUANTA_OK,
                  "%s", err.message);
    uint32_t x = 7;
    for (int i = 0; i < n_tensors; i++) {
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++) {
                x = x * 1664525u + 1013904223u;
                row[c] = (float)(x >> 8) / 16777216.0f - 0.5f;
            }
            ck_assert(st_writer_put(w, row, (size_t)cols * sizeof *row, &err) == QUANTA_OK);
        }
    }
    ck_assert_msg(st_writer_commit(w, &err) == QUANTA_OK, "%s", err.message);
    free(row);
    free(names);
    free(t);
}

/* Number of entries of dir whose names start with prefix. */
static int sw_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* Whether dir holds a file named prefix... with bytes in it already. */
static bool sw_written_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    bool found = false;
    struct dirent *e;
    struct stat sb;
    while (!found && (e = readdir(d)))
        found = strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
                fstatat(dirfd(d), e->d_name, &sb, 0) == 0 && sb.st_size > 0;
    closedir(d);
    return found;
}

static void sw_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *sw_bin(void)
{
    const char *bin = getenv("QUANTA_BIN");
    return bin && *bin ? bin : "./quanta";
}

/* Starts quanta quantize in -o out (weight-only), waits for its temporary
 * file in dir to hold bytes, sends sig. Returns the wait status, and *seen
 * whether the temporary was seen before the process ended. (Waiting for
 * bytes, not just the name, keeps clear of the instant between the file's
 * creation and its registration for clean-up in safe_file_open, when a
 * signal would leave it behind: a known race, reported.) */
static int sw_kill_mid_write(const char *in, const char *out, const char *dir,
                             const char *tmp_prefix, int sig, bool *seen)
{
    /* Spawned, not forked: under qemu-aarch64 7.2 a fork()ed child hangs. */
    posix_spawn_file_actions_t fa;
    ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
    for (int fd = 0; fd < 3; fd++)
        ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0), 0);
    char *argv[] = {(char *)sw_bin(), (char *)"quantize", (char *)in,     (char *)"-o",
                    (char *)out,      (char *)"--mode",   (char *)"weight-only", NULL};
    pid_t pid;
    const int spawned = posix_spawn(&pid, sw_bin(), &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(spawned == 0, "posix_spawn %s: %s", sw_bin(), strerror(spawned));
    *seen = false;
    int status = 0;
    for (int i = 0; i < 60000; i++) { /* up to about a minute */
        if (sw_written_prefix(dir, tmp_prefix)) {
            *seen = true;
            kill(pid, sig);
            break;
        }
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        sw_sleep_ms(1);
    }
    if (!*seen)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(test_signal_keeps_old_output)
{
    char *dir = cf_tmp("sig");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *in = cf_tmp("sig/big.safetensors"), *out = cf_tmp("sig/out.safetensors");
    sw_write_bag(in, 4, 1024, 12800); /* 4 x 52 MB = 210 MB */
    static const char old[] = "the previous output, which must survive";
    const int sigs[2] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        ts_write_file(out, old, sizeof old - 1);
        bool killed = false;
        for (int attempt = 0; attempt < 5 && !killed; attempt++) {
            bool seen;
            int status = sw_kill_mid_write(in, out, dir, ".out.safetensors.tmp-", sigs[k], &seen);
            if (WIFEXITED(status)) {
                /* finished before the signal landed: valid output, try again */
                ck_assert_msg(WEXITSTATUS(status) == 0, "quanta exited %d", WEXITSTATUS(status));
                ts_write_file(out, old, sizeof old - 1);
                continue;
            }
            ck_assert(seen);
            ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == sigs[k],
                          "quanta ended with status %#x, not by signal %d", status, sigs[k]);
            killed = true;
        }
        ck_assert_msg(killed, "quanta was never caught writing (signal %d)", sigs[k]);
        size_t n;
        char *now = ts_read_file(out, &n);
        ck_assert_ptr_nonnull(now);
        ck_assert_uint_eq(n, sizeof old - 1);
        ck_assert(memcmp(now, old, n) == 0);
        free(now);
        ck_assert_int_eq(sw_count_prefix(dir, ".out.safetensors.tmp-"), 0);
        ck_assert_int_eq(sw_count_prefix(dir, "."), 2); /* "." and ".." only */
    }
    /* and left alone it completes: the output is replaced */
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s -o %s --mode weight-only", in, out), NULL,
                           &errout);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, errout);
    free(errout);
    struct st_file f;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(&f, out, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(f.n_tensors, 8);
    st_close(&f);
    remove(in);
    remove(out);
    free(in);
    free(out);
    free(dir);
}
END_TEST

START_TEST(test_full_disk)
{
    char *dir = cf_tmp("small-disk");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        /* -o /dev/full is no substitute: quanta refuses to replace a device
         * (test_output_not_input), so the full disk is only testable here */
        int mount_errno = errno;
        ck_assert_int_eq(rmdir(dir), 0);
        free(dir);
        TS_SKIP("cannot mount a 1 MiB tmpfs for the full disk (needs root): %s",
                strerror(mount_errno));
    }
    char *in = cf_tmp("bag4.safetensors");
    char *out = cf_tmp("small-disk/out.safetensors");
    char *out16 = cf_tmp("small-disk/out16.safetensors");
    sw_write_bag(in, 2, 256, 4096); /* 8 MiB in, 2 MiB int8 out: more than the disk */
    static const char old[] = "old output";
    ts_write_file(out, old, sizeof old - 1);
    char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL;
    int rc1 = ts_run_quanta(cf_args("quantize %s -o %s --mode weight-only", in, out), &o1, &e1);
    int rc2 = ts_run_quanta(cf_args("quantize %s -o %s --mode fp16", in, out16), &o2, &e2);
    size_t n = 0;
    char *now = ts_read_file(out, &n);
    int n_files = sw_count_prefix(dir, "");
    bool have16 = cf_file_exists(out16);
    int rc_umount = umount2(dir, MNT_DETACH);
    rmdir(dir);

    ck_assert_int_eq(rc_umount, 0);
    ck_assert_msg(rc1 == 4, "weight-only into a full disk exited %d (stderr: %s)", rc1, e1);
    ck_assert_msg(rc2 == 4, "fp16 into a full disk exited %d (stderr: %s)", rc2, e2);
    ck_assert_str_eq(o1, "");
    ck_assert_int_eq(cf_lines(e1), 1);
    ck_assert_msg(strncmp(e1, "quanta: ", 8) == 0 && strstr(e1, "out.safetensors") &&
                      strstr(e1, "No space left on device"),
                  "stderr: %s", e1);
    ck_assert_ptr_nonnull(strstr(e2, "No space left on device"));
    ck_assert_ptr_nonnull(now); /* the old output as it was */
    ck_assert_uint_eq(n, sizeof old - 1);
    ck_assert(memcmp(now, old, n) == 0);
    ck_assert_int_eq(n_files, 3); /* ".", ".." and the old output: no partial file */
    ck_assert(!have16);
    free(now);
    free(o1);
    free(e1);
    free(o2);
    free(e2);
    remove(in);
    free(in);
    free(out);
    free(out16);
    free(dir);
}
END_TEST

static char *sw_slurp(const char *path, size_t *n)
{
    char *bytes = ts_read_file(path, n);
    ck_assert_msg(bytes != NULL, "cannot read %s", path);
    return bytes;
}

/* quanta <args> exits 2, says why on stderr, writes nothing on stdout. */
static void sw_expect_refusal(const char *args, const char *why)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 2, "'quanta %s' exited %d, not 2 (stderr: %s)", args, rc,
                  errout ? errout : "");
    ck_assert_str_eq(out, "");
    ck_assert_msg(strstr(errout, why) != NULL, "'quanta %s': stderr: %s", args, errout);
    free(out);
    free(errout);
}

/* quanta <args> exits 2 refusing to overwrite an input, and path keeps its
 * bytes. */
static void sw_refused(const char *args, const char *path)
{
    size_t n0, n1;
    char *before = sw_slurp(path, &n0);
    sw_expect_refusal(args, "refusing to overwrite input");
    char *after = sw_slurp(path, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_msg(memcmp(before, after, n0) == 0, "'quanta %s' changed %s", args, path);
    free(before);
    free(after);
}

START_TEST(test_output_not_input)
{
    struct cf_weights w;
    cf_default_weights(&w);
    char *model = cf_tmp("tiny.safetensors"), *images = cf_tmp("images-idx3-ubyte");
    char *bag = cf_tmp("bag.safetensors"), *qmodel = cf_tmp("tiny-q.safetensors");
    char *alias = cf_tmp("tiny-link.safetensors"), *table = cf_tmp("calib.json");
    cf_write_model(model, &w, true);
    cf_write_model(bag, &w, false);
    cf_write_images(images);
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s -o %s --mode weight-only", model, qmodel), NULL,
                           &errout);
    ck_assert_msg(rc == 0, "%s", errout);
    free(errout);
    rc = ts_run_quanta(cf_args("calibrate %s --data %s -o %s", model, images, table), NULL,
                       &errout);
    ck_assert_msg(rc == 0, "%s", errout);
    free(errout);
    remove(alias);
    ck_assert_int_eq(link(model, alias), 0); /* another name, the same file */
    char other_spelling[1100];
    snprintf(other_spelling, sizeof other_spelling, "%s/./tiny.safetensors", ts_tmp_dir());

    /* quantize: every mode, graph and bag, each input */
    sw_refused(cf_args("quantize %s -o %s --mode weight-only", model, model), model);
    sw_refused(cf_args("quantize %s -o %s --mode fp16", model, other_spelling), model);
    sw_refused(cf_args("quantize %s -o %s --mode weight-only", model, alias), model);
    sw_refused(cf_args("quantize %s -o %s --calib %s", model, table, table), table);
    sw_refused(cf_args("quantize %s -o %s --data %s", model, images, images), images);
    sw_refused(cf_args("quantize %s -o %s --mode weight-only", bag, bag), bag);
    sw_refused(cf_args("quantize %s -o %s --mode fp16", bag, bag), bag);
    /* dequantize */
    sw_refused(cf_args("dequantize %s -o %s", qmodel, qmodel), qmodel);
    /* run --output */
    sw_refused(cf_args("run %s --data %s --output %s", model, images, model), model);
    sw_refused(cf_args("run %s --data %s --output %s", model, images, images), images);
    sw_refused(cf_args("run %s --data %s --output %s", model, images, alias), model);
    /* calibrate -o */
    sw_refused(cf_args("calibrate %s --data %s -o %s", model, images, model), model);
    sw_refused(cf_args("calibrate %s --data %s -o %s", model, images, images), images);
    /* a device is not replaced (as root, a rename over /dev/full would) */
    struct stat sb;
    if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)) {
        sw_expect_refusal(cf_args("quantize %s -o /dev/full --mode weight-only", bag),
                          "refusing to replace '/dev/full': not a regular file");
        sw_expect_refusal(cf_args("quantize %s -o /dev/full --mode fp16", model),
                          "not a regular file");
        ck_assert_int_eq(stat("/dev/full", &sb), 0);
        ck_assert(S_ISCHR(sb.st_mode));
        ck_assert_int_eq(sw_count_prefix("/dev", ".full.tmp-"), 0);
    }
    free(model);
    free(images);
    free(bag);
    free(qmodel);
    free(alias);
    free(table);
}
END_TEST

Suite *suite_cli_safe_write(void);
Suite *suite_cli_safe_write(void)
{
    Suite *s = suite_create("cli_safe_write");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_signal_keeps_old_output);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_output_not_input);
    suite_add_tcase(s, tc);
    return s;
}
