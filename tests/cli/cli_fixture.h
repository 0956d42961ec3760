/* Helpers for the CLI suites: a tiny model written with st_write_file, IDX
 * data and labels written byte by byte, and an independent forward pass of
 * that model to compute the expected outputs by hand.
 *
 * The model: image [N,2,2,1] (U8 pixels normalized by 1/255) -> flatten
 * "flat.out" [N,4] -> dense "fc1" (relu) "fc1.out" [N,4] -> dense "fc2"
 * "logits" [N,3]. */
#ifndef QUANTA_TEST_CLI_FIXTURE_H
#define QUANTA_TEST_CLI_FIXTURE_H

#include <cJSON.h>
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quanta/quanta.h"
#include "support/test_support.h"

#define CF_N 8        /* samples in the IDX file */
#define CF_PIX 4      /* 2x2 pixels */
#define CF_CLASSES 3

struct cf_weights {
    float w1[4][4], b1[4];
    float w2[CF_CLASSES][4], b2[CF_CLASSES];
};

static inline void cf_default_weights(struct cf_weights *w)
{
    static const float w1[4][4] = {
        {1.0f, 0.0f, 0.0f, 0.0f},
        {0.0f, 1.0f, 0.0f, 0.0f},
        {0.0f, 0.0f, 1.0f, 0.5f},
        {-0.5f, 0.25f, 0.0f, 1.0f},
    };
    static const float b1[4] = {0.0f, 0.1f, -0.1f, 0.0f};
    static const float w2[CF_CLASSES][4] = {
        {2.0f, -1.0f, 0.0f, 0.5f},
        {-1.0f, 2.0f, 0.5f, 0.0f},
        {0.0f, 0.5f, -1.0f, 2.0f},
    };
    static const float b2[CF_CLASSES] = {0.05f, 0.0f, -0.05f};
    memcpy(w->w1, w1, sizeof w1);
    memcpy(w->b1, b1, sizeof b1);
    memcpy(w->w2, w2, sizeof w2);
    memcpy(w->b2, b2, sizeof b2);
}

/* Pixels of sample i: varied, deterministic. */
static inline unsigned char cf_pixel(int i, int p)
{
    return (unsigned char)((i * 37 + p * 91 + (i * p) * 13) % 256);
}

#define CF_GRAPH                                                                          \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"tiny\", "                 \
    "\"inputs\": [{\"name\": \"image\", \"shape\": [-1, 2, 2, 1], \"dtype\": \"F32\", "   \
    "\"normalize\": {\"scale\": 0.00392156862745098, \"mean\": [0.0], \"std\": [1.0]}}], " \
    "\"outputs\": [\"logits\"], \"nodes\": ["                                             \
    "{\"op\": \"flatten\", \"name\": \"flat\", \"inputs\": [\"image\"], "                 \
    "\"outputs\": [\"flat.out\"]}, "                                                      \
    "{\"op\": \"dense\", \"name\": \"fc1\", \"inputs\": [\"flat.out\", \"fc1.weight\", "  \
    "\"fc1.bias\"], \"outputs\": [\"fc1.out\"], \"attrs\": {\"activation\": \"relu\"}}, " \
    "{\"op\": \"dense\", \"name\": \"fc2\", \"inputs\": [\"fc1.out\", \"fc2.weight\", "   \
    "\"fc2.bias\"], \"outputs\": [\"logits\"]}]}"

/* A model whose input is token ids: embedding "table" [5, 4] over ids
 * [N, 3], flattened, then dense "fc.w" [2, 12] to 2 logits. */
#define CF_EMB_GRAPH                                                                        \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"emb\", "                    \
    "\"inputs\": [{\"name\": \"ids\", \"shape\": [-1, 3], \"dtype\": \"I64\"}], "           \
    "\"outputs\": [\"logits\"], \"nodes\": ["                                               \
    "{\"op\": \"embedding\", \"name\": \"emb\", \"inputs\": [\"ids\", \"table\"], "         \
    "\"outputs\": [\"emb.out\"]}, "                                                         \
    "{\"op\": \"flatten\", \"name\": \"flat\", \"inputs\": [\"emb.out\"], "                 \
    "\"outputs\": [\"flat.out\"]}, "                                                        \
    "{\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"flat.out\", \"fc.w\"], "          \
    "\"outputs\": [\"logits\"]}]}"

/* Writes the model; with_graph false writes the same tensors as a bag. */
static inline void cf_write_model(const char *path, const struct cf_weights *w, bool with_graph)
{
    struct st_tensor_desc t[4] = {
        {"fc1.weight", QUANTA_F32, {2, {4, 4}}, w->w1},
        {"fc1.bias", QUANTA_F32, {1, {4}}, w->b1},
        {"fc2.weight", QUANTA_F32, {2, {CF_CLASSES, 4}}, w->w2},
        {"fc2.bias", QUANTA_F32, {1, {CF_CLASSES}}, w->b2},
    };
    struct st_meta meta[2] = {{"quanta.graph", CF_GRAPH}, {"origin", "cli test"}};
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = with_graph ? st_write_file(path, t, 4, meta, 2, &err)
                                       : st_write_file(path, t, 4, meta + 1, 1, &err);
    ck_assert_msg(st == QUANTA_OK, "st_write_file: %s", err.message);
}

static inline void cf_put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* IDX images [CF_N, 2, 2] U8. */
static inline void cf_write_images(const char *path)
{
    unsigned char buf[16 + CF_N * CF_PIX];
    cf_put_be32(buf, 0x00000803u);
    cf_put_be32(buf + 4, CF_N);
    cf_put_be32(buf + 8, 2);
    cf_put_be32(buf + 12, 2);
    for (int i = 0; i < CF_N; i++)
        for (int p = 0; p < CF_PIX; p++)
            buf[16 + i * CF_PIX + p] = cf_pixel(i, p);
    ts_write_file(path, buf, sizeof buf);
}

/* IDX labels [CF_N] U8. */
static inline void cf_write_labels(const char *path, const int *labels)
{
    unsigned char buf[8 + CF_N];
    cf_put_be32(buf, 0x00000801u);
    cf_put_be32(buf + 4, CF_N);
    for (int i = 0; i < CF_N; i++)
        buf[8 + i] = (unsigned char)labels[i];
    ts_write_file(path, buf, sizeof buf);
}

/* The model's logits for sample i, computed here in double from the
 * definition of the ops (not by quanta's kernels). */
static inline void cf_forward(const struct cf_weights *w, int i, double logits[CF_CLASSES])
{
    double x[4], h[4];
    for (int p = 0; p < 4; p++)
        x[p] = cf_pixel(i, p) * 0.00392156862745098;
    for (int o = 0; o < 4; o++) {
        double s = w->b1[o];
        for (int k = 0; k < 4; k++)
            s += (double)w->w1[o][k] * x[k];
        h[o] = s > 0.0 ? s : 0.0;
    }
    for (int o = 0; o < CF_CLASSES; o++) {
        double s = w->b2[o];
        for (int k = 0; k < 4; k++)
            s += (double)w->w2[o][k] * h[k];
        logits[o] = s;
    }
}

static inline int cf_argmax(const double *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Counts the lines of a string (a last line without '\n' counts). */
static inline int cf_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p == '\n')
            n++;
    if (*s && s[strlen(s) - 1] != '\n')
        n++;
    return n;
}

/* Shell-quotes nothing: test paths are under /tmp/quanta-test-XXXXXX and
 * have no spaces. Formats args into a static buffer. */
static inline const char *cf_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *cf_args(const char *fmt, ...)
{
    static char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

/* Copies a path out of ts_tmp_path's static buffer. */
static inline char *cf_tmp(const char *name)
{
    char *p = strdup(ts_tmp_path(name));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Runs quanta expecting a usage error: exit 2, nothing on stdout, a usage
 * line on stderr, and on its first line `reason` (a substring of the
 * message, so the test cannot pass on some other error). */
#define cf_expect_usage(args, reason) cf_expect_usage_at(__FILE__, __LINE__, (args), (reason))
static inline void cf_expect_usage_at(const char *file, int line, const char *args,
                                      const char *reason)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 2, "%s:%d: 'quanta %s' exited %d, not 2 (stderr: %s)", file, line, args, rc,
                  errout ? errout : "");
    ck_assert_msg(out && out[0] == '\0', "%s:%d: stdout: %s", file, line, out);
    ck_assert_msg(strstr(errout, "usage: quanta") != NULL, "%s:%d: no usage line: %s", file, line,
                  errout);
    ck_assert_msg(reason && *reason, "%s:%d: no expected reason given", file, line);
    size_t first = strcspn(errout, "\n");
    const char *at = strstr(errout, reason);
    ck_assert_msg(at && (size_t)(at - errout) < first,
                  "%s:%d: 'quanta %s': the error is not '%s' but: %s", file, line, args, reason,
                  errout);
    free(out);
    free(errout);
}

/* Runs quanta expecting an invalid-input error: exit 3, empty stdout,
 * exactly one line on stderr starting "quanta: " and holding `reason` (a
 * substring of the message). */
#define cf_expect_input_error(args, reason)                                                        \
    cf_expect_input_error_at(__FILE__, __LINE__, (args), (reason))
static inline void cf_expect_input_error_at(const char *file, int line, const char *args,
                                            const char *reason)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 3, "%s:%d: 'quanta %s' exited %d, not 3 (stderr: %s)", file, line, args, rc,
                  errout ? errout : "");
    ck_assert_msg(out && out[0] == '\0', "%s:%d: stdout: %s", file, line, out);
    ck_assert_msg(cf_lines(errout) == 1, "%s:%d: not one line: %s", file, line, errout);
    ck_assert_msg(strncmp(errout, "quanta: ", 8) == 0, "%s:%d: stderr: %s", file, line, errout);
    ck_assert_msg(reason && *reason, "%s:%d: no expected reason given", file, line);
    ck_assert_msg(strstr(errout, reason) != NULL,
                  "%s:%d: 'quanta %s': the error is not '%s' but: %s", file, line, args, reason,
                  errout);
    free(out);
    free(errout);
}

/* Runs quanta expecting success and JSON on stdout; returns the parsed
 * document (caller cJSON_Deletes). */
static inline cJSON *cf_run_json(const char *args, int expect_rc)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == expect_rc, "'quanta %s' exited %d, not %d (stderr: %s)", args, rc,
                  expect_rc, errout ? errout : "");
    ck_assert_ptr_nonnull(out);
    cJSON *doc = cJSON_Parse(out);
    ck_assert_msg(doc != NULL, "stdout is not JSON: %s", out);
    free(out);
    free(errout);
    return doc;
}

static inline double cf_num(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(cJSON_IsNumber(item), "key '%s' is not a number", key);
    return item->valuedouble;
}

static inline bool cf_file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

/* max |got - want| / max |want| over two data files of the same samples
 * (NPY, IDX, ...): the test outputs' distance from a framework's. When got's
 * samples are [H, W, C] and want's [C, H, W] (a 4-D output quanta holds
 * NHWC against ONNX's NCHW), got is read transposed. */
static inline double cf_max_rel_diff(const char *got_path, const char *want_path)
{
    struct dataset *a, *b;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(dataset_open(&a, got_path, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_msg(dataset_open(&b, want_path, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(a->n_samples, b->n_samples);
    const struct quanta_shape *sa = &a->sample_shape, *sb = &b->sample_shape;
    int64_t per = quanta_shape_numel(sb), n = b->n_samples * per;
    ck_assert_int_eq(a->n_samples * quanta_shape_numel(sa), n);
    bool nhwc = sa->rank == 3 && sb->rank == 3 && !quanta_shape_equal(sa, sb) &&
                sa->dims[2] == sb->dims[0] && sa->dims[0] == sb->dims[1] &&
                sa->dims[1] == sb->dims[2];
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    ck_assert(x && y);
    ck_assert(dataset_read_f32(a, 0, a->n_samples, NULL, x, &err) == QUANTA_OK);
    ck_assert(dataset_read_f32(b, 0, b->n_samples, NULL, y, &err) == QUANTA_OK);
    double diff = 0.0, peak = 0.0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = i;
        if (nhwc) { /* element (c, h, w) of want's sample is got's (h, w, c) */
            int64_t c = sb->dims[0], hw = sb->dims[1] * sb->dims[2], k = i % per;
            at = i - k + (k % hw) * c + k / hw;
        }
        diff = fmax(diff, fabs((double)x[at] - (double)y[i]));
        peak = fmax(peak, fabs((double)y[i]));
    }
    free(x);
    free(y);
    dataset_close(a);
    dataset_close(b);
    return diff / peak;
}

/* The float data of an NPY file (little-endian <f4, C order) past its
 * header; *count elements (malloc'd). */
static inline float *cf_read_npy_f32(const char *path, size_t *count)
{
    size_t size;
    char *bytes = ts_read_file(path, &size);
    ck_assert_msg(bytes && size > 10 && memcmp(bytes, "\x93NUMPY\x01", 7) == 0, "%s", path);
    size_t data = 10 + ((size_t)(unsigned char)bytes[8] | (size_t)(unsigned char)bytes[9] << 8);
    ck_assert(strstr(bytes + 10, "<f4") != NULL && (size - data) % sizeof(float) == 0);
    *count = (size - data) / sizeof(float);
    float *out = malloc(*count * sizeof *out + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, bytes + data, *count * sizeof *out);
    free(bytes);
    return out;
}

/* dir/name.onnx imported (the model's path returned, *in the input's), run
 * on dir/name.input.npy, its output within tolerance of dir/name.output.npy
 * (relative to the largest |output|). */
static inline char *cf_import_and_match(const char *dir, const char *name, double tolerance, char **in)
{
    char rel[160], tmp[96];
    snprintf(rel, sizeof rel, "%s/%s.onnx", dir, name);
    char *onnx = strdup(ts_src_path(rel));
    snprintf(rel, sizeof rel, "%s/%s.input.npy", dir, name);
    *in = strdup(ts_src_path(rel));
    snprintf(rel, sizeof rel, "%s/%s.output.npy", dir, name);
    char *want = strdup(ts_src_path(rel));
    snprintf(tmp, sizeof tmp, "import-%s.safetensors", name);
    char *model = cf_tmp(tmp);
    snprintf(tmp, sizeof tmp, "import-%s.out.npy", name);
    char *got = cf_tmp(tmp);
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, &errout);
    ck_assert_msg(rc == 0, "%s: import exited %d: %s", name, rc, errout);
    free(errout);
    rc = ts_run_quanta(cf_args("run %s --data %s --output %s", model, *in, got), NULL, &errout);
    ck_assert_msg(rc == 0, "%s: run exited %d: %s", name, rc, errout);
    free(errout);
    double rel_diff = cf_max_rel_diff(got, want);
    ck_assert_msg(rel_diff <= tolerance, "%s: max |quanta - reference| / max |reference| = %g",
                  name, rel_diff);
    free(onnx), free(want), free(got);
    return model;
}

#endif
