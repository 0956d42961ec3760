/* The installed libraries: `make install DESTDIR=<tmp> PREFIX=/usr` lays
 * out libquanta and libquanta-rt (.a, .so with soname), the public headers
 * only, the man pages and the pkg-config files; nm shows that each library
 * defines exactly the functions its public headers declare, all quanta_*;
 * libquanta-rt needs no cJSON (nor zlib), shared, static or in its .pc;
 * and examples/classify.c, built through pkg-config against the installed
 * files, classifies like `quanta run` on the bundled model made int8. */
#include <cJSON.h>
#include <ctype.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli/cli_fixture.h"

/* Runs a shell command, returns its exit code (-1: killed) and, when out
 * is not NULL, its stdout and stderr together. Nested make must not see
 * the test run's own make (jobserver descriptors it does not hold). */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
    char cmd[8192], path[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof cmd);
    static int counter;
    snprintf(path, sizeof path, "%s/.sh-%d-%d", ts_tmp_dir(), (int)getpid(), counter++);
    char full[9000];
    snprintf(full, sizeof full, "unset MAKEFLAGS MFLAGS MAKELEVEL; ( %s ) >'%s' 2>&1 </dev/null",
             cmd, path);
    int status = system(full);
    if (out)
        *out = ts_read_file(path, NULL);
    unlink(path);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Installs into a fresh DESTDIR under the test's folder; returns it. */
static char *install_tree(void)
{
    char *dest = cf_tmp("destdir");
    char *out = NULL;
    int rc = sh(&out, "make -s --no-print-directory -C '%s' %s install DESTDIR='%s' PREFIX=/usr",
                ts_src_dir(), env_or("QUANTA_MAKE_VARS", ""), dest);
    ck_assert_msg(rc == 0, "make install exited %d:\n%s", rc, out);
    free(out);
    return dest;
}

static bool is_file(const char *dir, const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return lstat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool link_to(const char *dir, const char *rel, const char *target)
{
    char p[1024], t[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0)
        return false;
    t[n] = '\0';
    return strcmp(t, target) == 0;
}

/* The functions a public header declares: "type quanta_name(" at the start
 * of a line (the API's one-declaration-per-line form), appended to names. */
static int header_functions(const char *path, char names[][64], int n, int max)
{
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    for (char *line = text, *end; line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (!islower((unsigned char)*line))
            continue;
        char *paren = strchr(line, '(');
        if (!paren || (end && paren > end))
            continue;
        char *name = paren;
        while (name > line && (isalnum((unsigned char)name[-1]) || name[-1] == '_'))
            name--;
        if (strncmp(name, "quanta_", 7) != 0)
            continue;
        ck_assert(n < max);
        snprintf(names[n], 64, "%.*s", (int)(paren - name), name);
        n++;
    }
    free(text);
    return n;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names lib defines as globals (nm -g --defined-only), sorted. */
static int defined_globals(const char *lib, char names[][64], int max)
{
    char *out = NULL;
    int rc = sh(&out, "'%s' -g --defined-only '%s'", env_or("QUANTA_NM", "nm"), lib);
    ck_assert_msg(rc == 0, "nm %s exited %d:\n%s", lib, rc, out);
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char addr[64], type[8], name[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
            continue; /* "libquanta.o:" member lines of an archive */
        ck_assert_msg(n < max, "%s: more than %d globals", lib, max);
        ck_assert_msg(strlen(name) < 64, "%s: global %s has a long name", lib, name);
        memcpy(names[n++], name, strlen(name) + 1);
    }
    free(out);
    qsort(names, (size_t)n, 64, cmp_name);
    return n;
}

START_TEST(test_install_layout)
{
    char *dest = install_tree();
    static const char *const files[] = {
        "usr/lib/libquanta.a", "usr/lib/libquanta.so.0.1.0", "usr/lib/libquanta-rt.a",
        "usr/lib/libquanta-rt.so.0.1.0", "usr/lib/pkgconfig/quanta.pc",
        "usr/lib/pkgconfig/quanta-rt.pc", "usr/include/quanta/quanta.h",
        "usr/include/quanta/quanta_types.h", "usr/include/quanta/quanta_offline.h",
        "usr/share/man/man3/quanta.3", "usr/share/man/man1/quanta.1",
        "usr/share/man/man5/quanta-format.5", "usr/bin/quanta",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_msg(is_file(dest, files[i]), "%s is not installed", files[i]);
    ck_assert(link_to(dest, "usr/lib/libquanta.so.0", "libquanta.so.0.1.0"));
    ck_assert(link_to(dest, "usr/lib/libquanta.so", "libquanta.so.0"));
    ck_assert(link_to(dest, "usr/lib/libquanta-rt.so.0", "libquanta-rt.so.0.1.0"));
    ck_assert(link_to(dest, "usr/lib/libquanta-rt.so", "libquanta-rt.so.0"));
    /* internal headers stay home */
    ck_assert(!is_file(dest, "usr/include/quanta/graph.h"));
    ck_assert(!is_file(dest, "usr/include/quanta/status.h"));
    char *out = NULL;
    ck_assert_int_eq(sh(&out, "ls '%s/usr/include/quanta' | wc -l", dest), 0);
    ck_assert_int_eq(atoi(out), 3);
    free(out);

    /* pkg-config sees the prefix and the soname is the major version */
    ck_assert_int_eq(sh(&out, "PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' pkg-config "
                              "--variable=prefix quanta-rt && PKG_CONFIG_PATH="
                              "'%s/usr/lib/pkgconfig' pkg-config --modversion quanta",
                        dest, dest),
                     0);
    ck_assert_str_eq(out, "/usr\n0.1.0\n");
    free(out);
    ck_assert_int_eq(sh(&out, "LC_ALL=C readelf -d '%s/usr/lib/libquanta-rt.so.0.1.0' | "
                              "grep SONAME", dest),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "[libquanta-rt.so.0]"));
    free(out);
    /* the static libraries are one relocatable object each */
    ck_assert_int_eq(sh(&out, "ar t '%s/usr/lib/libquanta.a'", dest), 0);
    ck_assert_str_eq(out, "libquanta.o\n");
    free(out);
    free(dest);
}
END_TEST

START_TEST(test_installed_symbols)
{
    char *dest = install_tree();
    static char want_rt[128][64], want[128][64], got[4096][64];
    char h[1024];
    int n_rt = 0;
    snprintf(h, sizeof h, "%s/usr/include/quanta/quanta_types.h", dest);
    n_rt = header_functions(h, want_rt, n_rt, 128);
    snprintf(h, sizeof h, "%s/usr/include/quanta/quanta.h", dest);
    n_rt = header_functions(h, want_rt, n_rt, 128);
    memcpy(want, want_rt, sizeof want_rt);
    snprintf(h, sizeof h, "%s/usr/include/quanta/quanta_offline.h", dest);
    int n_all = header_functions(h, want, n_rt, 128);
    ck_assert_int_ge(n_rt, 15);
    ck_assert_int_ge(n_all, n_rt + 3);
    qsort(want_rt, (size_t)n_rt, 64, cmp_name);
    qsort(want, (size_t)n_all, 64, cmp_name);

    static const char *const libs[] = {"libquanta.a", "libquanta.so.0.1.0", "libquanta-rt.a",
                                       "libquanta-rt.so.0.1.0"};
    for (int l = 0; l < 4; l++) {
        char lib[1024];
        snprintf(lib, sizeof lib, "%s/usr/lib/%s", dest, libs[l]);
        int n = defined_globals(lib, got, 4096);
        bool rt = strstr(libs[l], "-rt") != NULL;
        char (*expect)[64] = rt ? want_rt : want;
        int n_expect = rt ? n_rt : n_all;
        for (int i = 0; i < n; i++)
            ck_assert_msg(strncmp(got[i], "quanta_", 7) == 0, "%s exports %s", libs[l], got[i]);
        for (int i = 0; i < n && i < n_expect; i++)
            ck_assert_msg(strcmp(got[i], expect[i]) == 0,
                          "%s: exported %s where the headers declare %s", libs[l], got[i],
                          expect[i]);
        ck_assert_msg(n == n_expect, "%s exports %d functions, the headers declare %d", libs[l],
                      n, n_expect);
    }
    /* the named decisions: internal quanta_* helpers stay local, and the
     * runtime library has no offline step */
    for (int i = 0; i < n_all; i++) {
        ck_assert_str_ne(want[i], "quanta_fail");
        ck_assert_str_ne(want[i], "quanta_status_string");
    }
    for (int i = 0; i < n_rt; i++)
        ck_assert_str_ne(want_rt[i], "quanta_quantize_file");
    free(dest);
}
END_TEST

/* What a library brings in besides itself: the shared one's NEEDED
 * entries, the static one's undefined symbols, and the .pc's static libs. */
static char *lib_needs(const char *dest, const char *lib)
{
    char *out = NULL;
    int rc = sh(&out,
                "LC_ALL=C readelf -d '%s/usr/lib/lib%s.so.0.1.0' | grep NEEDED && "
                "'%s' -u '%s/usr/lib/lib%s.a' && PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' "
                "pkg-config --static --libs %s",
                dest, lib, env_or("QUANTA_NM", "nm"), dest, lib, dest, lib);
    ck_assert_msg(rc == 0, "listing what %s needs exited %d:\n%s", lib, rc, out);
    return out;
}

START_TEST(test_runtime_needs_no_cjson)
{
    char *dest = install_tree();
    char *rt = lib_needs(dest, "quanta-rt"), *all = lib_needs(dest, "quanta");
    /* the full library still reads calibration tables with cJSON: the
     * same listing shows it there */
    ck_assert_msg(strstr(all, "libcjson.so") && strstr(all, " cJSON_") &&
                      strstr(all, "-lcjson"),
                  "libquanta's listing lacks cJSON:\n%s", all);
    ck_assert_msg(strstr(rt, "libc.so") && strstr(rt, " memcpy") && strstr(rt, "-lquanta-rt"),
                  "libquanta-rt's listing is incomplete:\n%s", rt);
    ck_assert_msg(!strstr(rt, "cjson") && !strstr(rt, "cJSON"), "libquanta-rt needs cJSON:\n%s",
                  rt);
    ck_assert_msg(!strstr(rt, "libz") && !strstr(rt, "-lz"), "libquanta-rt needs zlib:\n%s", rt);
    free(rt);
    free(all);
    free(dest);
}
END_TEST

#define MODEL "models/fmnist-cnn.safetensors"
#define CALIB "models/data/fmnist-calib-1000-images-idx3-ubyte.gz"
#define TEST "models/data/fmnist-test-1000-images-idx3-ubyte.gz"
#define N_CLASSIFY 12

/* gunzips src into dst (the example reads uncompressed files). */
static void gunzip(const char *src, const char *dst)
{
    gzFile in = gzopen(src, "rb");
    FILE *out = fopen(dst, "wb");
    ck_assert_msg(in && out, "cannot open %s or %s", src, dst);
    char buf[65536];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0)
        ck_assert((int)fwrite(buf, 1, (size_t)n, out) == n);
    ck_assert_int_eq(n, 0);
    gzclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* The first N_CLASSIFY images of an uncompressed IDX [N, 28, 28] file as
 * an NPY |u1 [N_CLASSIFY, 28, 28]. */
static void idx_to_npy(const char *idx, const char *npy)
{
    size_t size;
    unsigned char *d = (unsigned char *)ts_read_file(idx, &size);
    ck_assert(d && size >= 16 + N_CLASSIFY * 784u);
    char header[128];
    int len = snprintf(header, sizeof header,
                       "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 28, 28), }",
                       N_CLASSIFY);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    unsigned char *out = malloc((size_t)(total + pad) + N_CLASSIFY * 784u);
    ck_assert_ptr_nonnull(out);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)((len + pad + 1) & 255);
    out[9] = (unsigned char)((len + pad + 1) >> 8);
    memcpy(out + 10, header, (size_t)len);
    memset(out + 10 + len, ' ', (size_t)pad);
    out[10 + len + pad] = '\n';
    memcpy(out + total + pad, d + 16, N_CLASSIFY * 784u);
    ts_write_file(npy, out, (size_t)(total + pad) + N_CLASSIFY * 784u);
    free(out);
    free(d);
}

/* The top-1 class `quanta run --json` gives each of the first N_CLASSIFY
 * samples. */
static void run_top1(const char *model, const char *data, int *classes)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(cf_args("run %s --data %s --samples %d --json", model, data, N_CLASSIFY),
                           &out, &errout);
    ck_assert_msg(rc == 0, "quanta run exited %d: %s", rc, errout);
    cJSON *root = cJSON_Parse(out);
    cJSON *pred = cJSON_GetObjectItem(root, "predictions");
    ck_assert_int_eq(cJSON_GetArraySize(pred), N_CLASSIFY);
    for (int i = 0; i < N_CLASSIFY; i++) {
        cJSON *top = cJSON_GetObjectItem(cJSON_GetArrayItem(pred, i), "classes");
        cJSON *c = cJSON_GetArrayItem(top, 0);
        ck_assert(cJSON_IsNumber(c));
        classes[i] = c->valueint;
    }
    cJSON_Delete(root);
    free(out);
    free(errout);
}

/* Builds classify against package pc of the installed tree (static: the
 * .a and only the libraries the .pc lists for it, else the .so). */
static void build_classify(const char *dest, const char *pc, bool static_lib, const char *exe)
{
    char *out = NULL;
    int rc = sh(&out,
                "export PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='%s' "
                "PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 && "
                "libs=$(pkg-config %s --libs %s) && cflags=$(pkg-config --cflags %s) && "
                "%s -std=c11 -Wall -Wextra -Werror -o '%s' '%s/examples/classify.c' $cflags %s -lm",
                dest, dest, static_lib ? "--static" : "", pc, pc, env_or("QUANTA_CC", "cc"), exe,
                ts_src_dir(),
                static_lib
                    ? "$(echo \" $libs \" | sed 's/ -l\\(quanta[-a-z]*\\) / -l:lib\\1.a /')"
                    : "$libs");
    ck_assert_msg(rc == 0, "building classify against %s exited %d:\n%s", pc, rc, out);
    free(out);
}

static int classify_top1(const char *dest, const char *exe, const char *model, const char *data,
                         int i)
{
    char *out = NULL;
    int rc = sh(&out, "LD_LIBRARY_PATH='%s/usr/lib' %s '%s' '%s' '%s' %d 2", dest,
                env_or("QUANTA_EXEC", ""), exe, model, data, i);
    ck_assert_msg(rc == 0, "classify exited %d:\n%s", rc, out);
    /* "model ..., kernels ..., output 'logits'", then "class probability" lines */
    char *line = strchr(out, '\n');
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(out, "output 'logits'"));
    int cls = -1, cls2 = -1;
    double p = -1, p2 = -1;
    ck_assert_int_eq(sscanf(line + 1, "%d %lf\n%d %lf", &cls, &p, &cls2, &p2), 4);
    ck_assert(p >= p2 && p2 >= 0 && p + p2 <= 1.000001 && cls != cls2);
    free(out);
    return cls;
}

START_TEST(test_classify_installed)
{
    if (!cf_file_exists(ts_src_path(MODEL)) || !cf_file_exists(ts_src_path(CALIB)) ||
        !cf_file_exists(ts_src_path(TEST))) {
        TS_SKIP("the bundled model or images (%s, %s, %s) are missing", MODEL, CALIB, TEST);
    }
    char *model = strdup(ts_src_path(MODEL)), *calib = strdup(ts_src_path(CALIB));
    char *test = strdup(ts_src_path(TEST));
    char *table = cf_tmp("calib.json"), *q = cf_tmp("int8.safetensors");
    char *idx = cf_tmp("test-images-idx3-ubyte"), *npy = cf_tmp("test-images.npy");
    char *exe_rt = cf_tmp("classify-rt"), *exe_static = cf_tmp("classify-static");
    char *exe_rt_static = cf_tmp("classify-rt-static");
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("calibrate %s --data %s -o %s --samples 8", model, calib,
                                   table),
                           NULL, &errout);
    ck_assert_msg(rc == 0, "calibrate exited %d: %s", rc, errout);
    free(errout);
    rc = ts_run_quanta(cf_args("quantize %s --calib %s -o %s", model, table, q), NULL, &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    gunzip(test, idx);
    idx_to_npy(idx, npy);

    int want[N_CLASSIFY];
    run_top1(q, test, want);
    char *dest = install_tree();
    build_classify(dest, "quanta-rt", false, exe_rt);
    build_classify(dest, "quanta", true, exe_static);
    build_classify(dest, "quanta-rt", true, exe_rt_static); /* no -lcjson given */
    int distinct = 0;
    for (int i = 0; i < N_CLASSIFY; i++) {
        int a = classify_top1(dest, exe_rt, q, idx, i);
        int b = classify_top1(dest, exe_static, q, npy, i);
        int c = classify_top1(dest, exe_rt_static, q, npy, i);
        ck_assert_msg(a == want[i], "sample %d: classify (rt, IDX) says %d, quanta run %d", i, a,
                      want[i]);
        ck_assert_msg(b == want[i], "sample %d: classify (static, NPY) says %d, quanta run %d", i,
                      b, want[i]);
        ck_assert_msg(c == want[i], "sample %d: classify (rt static, NPY) says %d, quanta run %d",
                      i, c, want[i]);
        distinct += i == 0 || want[i] != want[0];
    }
    ck_assert_int_gt(distinct, 1); /* not one class for everything */
    free(dest);
    free(model), free(calib), free(test), free(table), free(q), free(idx), free(npy);
    free(exe_rt), free(exe_static), free(exe_rt_static);
}
END_TEST

Suite *suite_lib_install(void);
Suite *suite_lib_install(void)
{
    Suite *s = suite_create("lib_install");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_install_layout);
    tcase_add_test(tc, test_installed_symbols);
    tcase_add_test(tc, test_runtime_needs_no_cjson);
    tcase_add_test(tc, test_classify_installed);
    suite_add_tcase(s, tc);
    return s;
}
