/* safe_file: temporary file + rename, no partial output, cleanup. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quanta/safe_file.h"
#include "support/test_support.h"

/* A fresh, empty folder under the test temp folder. */
static const char *fresh_dir(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s", ts_tmp_path(name));
    ck_assert_int_eq(mkdir(buf, 0755), 0);
    return buf;
}

/* Names in dir (excluding . and ..), joined by '|' in readdir order. */
static int list_dir(const char *dir, char *names, size_t size)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    names[0] = '\0';
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        strncat(names, e->d_name, size - strlen(names) - 2);
        strcat(names, "|");
    }
    closedir(d);
    return n;
}

START_TEST(write_all_creates_file)
{
    char dir[512], path[1200], names[512];
    fresh_dir("w1", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    mode_t old = umask(022);
    struct quanta_error err = {0};
    ck_assert_int_eq(safe_file_write_all(path, "hello", 5, &err), QUANTA_OK);
    size_t size;
    char *bytes = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 5);
    ck_assert(memcmp(bytes, "hello", 5) == 0);
    free(bytes);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    /* umask respected like fopen */
    umask(077);
    ck_assert_int_eq(safe_file_write_all(path, "x", 1, &err), QUANTA_OK);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    umask(old);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 1);
    ck_assert_str_eq(names, "out.bin|");
}
END_TEST

START_TEST(temp_file_until_commit)
{
    char dir[512], path[1200], names[512];
    fresh_dir("w2", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ts_write_file(path, "old", 3);
    struct quanta_error err = {0};
    struct safe_file f;
    ck_assert_int_eq(safe_file_open(&f, path, &err), QUANTA_OK);
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%s/.model.safetensors.tmp-", dir);
    ck_assert_msg(strncmp(f.tmp_path, prefix, strlen(prefix)) == 0, "%s", f.tmp_path);
    ck_assert_uint_eq(strlen(f.tmp_path), strlen(prefix) + 6);
    ck_assert_int_eq(safe_file_write(&f, "new data", 8, &err), QUANTA_OK);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 2); /* target + temporary */
    size_t size;
    char *bytes = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 3); /* untouched until commit */
    free(bytes);
    ck_assert_int_eq(safe_file_commit(&f, &err), QUANTA_OK);
    ck_assert_ptr_null(f.path);
    ck_assert_ptr_null(f.tmp_path);
    bytes = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 8);
    ck_assert(memcmp(bytes, "new data", 8) == 0);
    free(bytes);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 1);
}
END_TEST

START_TEST(abort_leaves_target_untouched)
{
    char dir[512], path[1200], names[512];
    fresh_dir("w3", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    ts_write_file(path, "original", 8);
    struct quanta_error err = {0};
    struct safe_file f;
    ck_assert_int_eq(safe_file_open(&f, path, &err), QUANTA_OK);
    ck_assert_int_eq(safe_file_write(&f, "partial", 7, &err), QUANTA_OK);
    safe_file_abort(&f);
    safe_file_abort(&f); /* harmless twice */
    size_t size;
    char *bytes = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 8);
    ck_assert(memcmp(bytes, "original", 8) == 0);
    free(bytes);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 1);
    ck_assert_str_eq(names, "keep.txt|");
    /* abort of a new file: nothing at all */
    snprintf(path, sizeof path, "%s/new.txt", dir);
    ck_assert_int_eq(safe_file_open(&f, path, &err), QUANTA_OK);
    safe_file_abort(&f);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 1);
}
END_TEST

START_TEST(unwritable_folder_is_output_error)
{
    char path[1200];
    struct quanta_error err = {0};
    snprintf(path, sizeof path, "%s/no-such-dir/out.bin", ts_tmp_dir());
    ck_assert_int_eq(safe_file_write_all(path, "x", 1, &err), QUANTA_ERR_OUTPUT);
    ck_assert_int_eq(err.status, QUANTA_ERR_OUTPUT);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "%s", err.message);
    ck_assert_msg(strstr(err.message, "No such file or directory"), "%s", err.message);
    /* a "folder" that is a regular file (refused even for root) */
    char file[600];
    snprintf(file, sizeof file, "%s", ts_tmp_path("plain-file"));
    ts_write_file(file, "x", 1);
    snprintf(path, sizeof path, "%s/out.bin", file);
    ck_assert_int_eq(safe_file_write_all(path, "x", 1, &err), QUANTA_ERR_OUTPUT);
    ck_assert_msg(strstr(err.message, "Not a directory"), "%s", err.message);
    /* a target that is a folder, or a device: refused before anything is
     * created (rename would replace it with a regular file) */
    char dir[512], names[512];
    fresh_dir("w4", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(safe_file_write_all(path, "x", 1, &err), QUANTA_ERR_OUTPUT);
    ck_assert_msg(strstr(err.message, "not a regular file"), "%s", err.message);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 1);
    ck_assert_int_eq(safe_file_write_all("/dev/null", "x", 1, &err), QUANTA_ERR_OUTPUT);
    ck_assert_msg(strstr(err.message, "/dev/null: not a regular file"), "%s", err.message);
    /* no file name */
    snprintf(path, sizeof path, "%s/", dir);
    ck_assert_int_eq(safe_file_write_all(path, "x", 1, &err), QUANTA_ERR_OUTPUT);
}
END_TEST

START_TEST(check_not_input)
{
    char dir[512], a[600], b[600], a2[600], hard[600];
    fresh_dir("w5", dir, sizeof dir);
    snprintf(a, sizeof a, "%s/a.safetensors", dir);
    snprintf(b, sizeof b, "%s/b.safetensors", dir);
    snprintf(a2, sizeof a2, "%s/./a.safetensors", dir);
    snprintf(hard, sizeof hard, "%s/hard.safetensors", dir);
    ts_write_file(a, "a", 1);
    ts_write_file(b, "b", 1);
    ck_assert_int_eq(link(a, hard), 0);
    struct quanta_error err = {0};
    ck_assert_int_eq(safe_file_check_not_input(a, a, &err), QUANTA_ERR_USAGE);
    char expect[700];
    snprintf(expect, sizeof expect, "refusing to overwrite input '%s'", a);
    ck_assert_str_eq(err.message, expect);
    ck_assert_int_eq(safe_file_check_not_input(a2, a, &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(safe_file_check_not_input(hard, a, &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(safe_file_check_not_input(b, a, &err), QUANTA_OK);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/new.safetensors", dir);
    ck_assert_int_eq(safe_file_check_not_input(missing, a, &err), QUANTA_OK);
    /* same string, even when the file does not exist yet */
    ck_assert_int_eq(safe_file_check_not_input(missing, missing, &err), QUANTA_ERR_USAGE);
}
END_TEST

/* The child of signal_removes_temporaries, registered only in the process
 * that test spawns (QUANTA_SAFE_FILE_SIGNAL_DIR set): two outputs open,
 * one with bytes in it, then SIGTERM. It never returns. */
START_TEST(signal_child)
{
    const char *dir = getenv("QUANTA_SAFE_FILE_SIGNAL_DIR");
    char path[700], path2[700];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(path2, sizeof path2, "%s/other.bin", dir);
    safe_file_install_signal_cleanup();
    struct safe_file f1, f2;
    if (safe_file_open(&f1, path, NULL) != QUANTA_OK ||
        safe_file_open(&f2, path2, NULL) != QUANTA_OK ||
        safe_file_write(&f1, "abc", 3, NULL) != QUANTA_OK)
        _exit(3);
    raise(SIGTERM);
    _exit(4); /* not reached */
}
END_TEST

/* A process spawned (not forked: under qemu-aarch64 7.2 a fork()ed child
 * hangs) to die of SIGTERM with two temporaries open leaves none. */
START_TEST(signal_removes_temporaries)
{
    char dir[512], names[512], dir_env[600];
    fresh_dir("w6", dir, sizeof dir);
    snprintf(dir_env, sizeof dir_env, "QUANTA_SAFE_FILE_SIGNAL_DIR=%s", dir);
    const char *const env[] = {dir_env, "CK_FORK=no", NULL};
    char *out;
    const int status = ts_spawn_case("safe_file", "signal_child", env, &out);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
                  "child did not die of SIGTERM (status %d): %s", status, out ? out : "");
    free(out);
    ck_assert_int_eq(list_dir(dir, names, sizeof names), 0);
}
END_TEST

Suite *suite_safe_file(void); /* called by tests/main.c */
Suite *suite_safe_file(void)
{
    Suite *s = suite_create("safe_file");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, write_all_creates_file);
    tcase_add_test(tc, temp_file_until_commit);
    tcase_add_test(tc, abort_leaves_target_untouched);
    tcase_add_test(tc, unwritable_folder_is_output_error);
    tcase_add_test(tc, check_not_input);
    tcase_add_test(tc, signal_removes_temporaries);
    suite_add_tcase(s, tc);
    if (getenv("QUANTA_SAFE_FILE_SIGNAL_DIR")) {
        TCase *child = tcase_create("signal_child");
        tcase_add_test(child, signal_child);
        suite_add_tcase(s, child);
    }
    return s;
}
