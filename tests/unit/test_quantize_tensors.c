/* quantize_tensors_file / quantize_tensors_sharded (checkpoints without a
 * graph), quantize_find_nonfinite, the non-finite check of quantize_model,
 * and quanta_sha256_update. Expected values are computed here by hand
 * or by the definition (real = scale * q, round half away from zero), not
 * by the code under test. */
#include <cJSON.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quanta.h"
#include "quanta/quantize.h"
#include "quanta/sha256.h"
#include "support/test_support.h"

static char *tq_tmp(const char *name)
{
    char *p = strdup(ts_tmp_path(name));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void tq_write(const char *path, const struct st_tensor_desc *t, size_t n,
                     const struct st_meta *meta, size_t n_meta)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(path, t, n, meta, n_meta, &err) == QUANTA_OK, "%s", err.message);
}

static void tq_open(struct st_file *f, const char *path)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(f, path, &err) == QUANTA_OK, "%s", err.message);
}

static const struct st_tensor *tq_find(const struct st_file *f, const char *name,
                                       enum quanta_dtype dtype, int rank, int64_t d0, int64_t d1)
{
    const struct st_tensor *t = st_find(f, name);
    ck_assert_msg(t != NULL, "no tensor '%s'", name);
    ck_assert_int_eq(t->dtype, dtype);
    ck_assert_int_eq(t->shape.rank, rank);
    if (rank > 0)
        ck_assert_int_eq(t->shape.dims[0], d0);
    if (rank > 1)
        ck_assert_int_eq(t->shape.dims[1], d1);
    return t;
}

static float tq_f32(const struct st_tensor *t, int64_t i)
{
    float f;
    memcpy(&f, (const char *)t->data + 4 * i, 4);
    return f;
}

static uint16_t tq_u16(const struct st_tensor *t, int64_t i)
{
    uint16_t h;
    memcpy(&h, (const char *)t->data + 2 * i, 2);
    return h;
}

static int tq_index_of(const struct st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- quantize_find_nonfinite ---- */

START_TEST(test_find_nonfinite)
{
    float f[5] = {0.0f, -1.0f, 3.4e38f, INFINITY, NAN};
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F32, f, 3), -1);
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F32, f, 5), 3);
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F32, f + 4, 1), 0);
    double d[3] = {1e300, -INFINITY, 0.0};
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F64, d, 1), -1); /* finite in F64 */
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F64, d, 3), 1);
    uint16_t h[3] = {0x7bff /* 65504 */, 0xfc00 /* -inf */, 0x7e00 /* nan */};
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F16, h, 1), -1);
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_F16, h, 3), 1);
    uint16_t b[2] = {0x7f7f /* max bf16 */, 0x7fc0 /* nan */};
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_BF16, b, 1), -1);
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_BF16, b, 2), 1);
    int32_t ints[2] = {-1, 0x7f800000}; /* the bits of +inf, but an integer */
    ck_assert_int_eq(quantize_find_nonfinite(QUANTA_I32, ints, 2), -1);
}
END_TEST

/* ---- SHA-256 as quantize hashes a checkpoint (large, in pieces) ---- */

START_TEST(test_sha256_fast_million_a)
{
    /* FIPS 180-2 example: one million 'a' */
    size_t n = 1000000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', n);
    struct quanta_sha256 ctx;
    uint8_t digest[QUANTA_SHA256_SIZE];
    char hex[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_init(&ctx);
    quanta_sha256_update(&ctx, a, 7);       /* leaves a partial block */
    quanta_sha256_update(&ctx, a + 7, n - 7);
    quanta_sha256_final(&ctx, digest);
    quanta_sha256_hex(digest, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}
END_TEST

/* Whole blocks take the SHA-NI path where the CPU has it, pieces of blocks
 * the portable one: every length and split gives the same digest. */
START_TEST(test_sha256_any_split_same_digest)
{
    unsigned char buf[700];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t len = 0; len <= sizeof buf; len += 13) {
        for (size_t cut = 0; cut <= len; cut += 37) {
            struct quanta_sha256 a, b;
            uint8_t da[QUANTA_SHA256_SIZE], db[QUANTA_SHA256_SIZE];
            quanta_sha256_init(&a);
            quanta_sha256_update(&a, buf, len);
            quanta_sha256_final(&a, da);
            quanta_sha256_init(&b);
            quanta_sha256_update(&b, buf, cut);
            quanta_sha256_update(&b, buf + cut, len - cut > 5 ? 5 : len - cut); /* mixed */
            if (len - cut > 5)
                quanta_sha256_update(&b, buf + cut + 5, len - cut - 5);
            quanta_sha256_final(&b, db);
            ck_assert_msg(memcmp(da, db, sizeof da) == 0, "len %zu cut %zu", len, cut);
        }
    }
}
END_TEST

/* ---- a bag of tensors, weight-only ---- */

struct bag {
    float w[3][5];        /* "layer.weight" F32 [3,5] */
    float bias[3];        /* "layer.bias" F32 [3]: copied */
    uint16_t emb[2][4];   /* "emb" BF16 [2,4] */
    uint16_t half[2][2];  /* "half" F16 [2,2] */
    int64_t ids[4];       /* "ids" I64 [4]: copied */
    float taken[1];       /* "half.scale" F32 [1]: makes the scale "half.scale2" */
};

static void bag_fill(struct bag *b)
{
    /* row 0: max 127 -> scale 1 exactly; the halves round away from zero */
    static const float w[3][5] = {
        {127.0f, 2.5f, -2.5f, 0.5f, -0.49f},
        {0.0f, 0.0f, 0.0f, 0.0f, 0.0f},        /* a row of zeros: scale 1 */
        {-0.254f, 0.1f, 0.05f, 0.0013f, 0.2f}, /* max 0.254 -> scale 0.002 */
    };
    memcpy(b->w, w, sizeof w);
    b->bias[0] = 0.5f;
    b->bias[1] = -1.0f;
    b->bias[2] = 1e-3f;
    /* bf16: 0.75 = 0x3f40, -2.0 = 0xc000, 0.5 = 0x3f00, 4.0 = 0x4080 */
    static const uint16_t emb[2][4] = {{0x3f40, 0xc000, 0x3f00, 0x0000}, {0x4080, 0x4080, 0, 0}};
    memcpy(b->emb, emb, sizeof emb);
    /* f16: 1.0 = 0x3c00, -0.5 = 0xb800 */
    static const uint16_t half[2][2] = {{0x3c00, 0xb800}, {0x0000, 0x3c00}};
    memcpy(b->half, half, sizeof half);
    for (int i = 0; i < 4; i++)
        b->ids[i] = (int64_t)i * 1000000007LL - 3;
    b->taken[0] = 42.0f;
}

static void bag_write(const char *path, const struct bag *b)
{
    struct st_tensor_desc t[] = {
        {"layer.weight", QUANTA_F32, {2, {3, 5}}, b->w},
        {"layer.bias", QUANTA_F32, {1, {3}}, b->bias},
        {"emb", QUANTA_BF16, {2, {2, 4}}, b->emb},
        {"half", QUANTA_F16, {2, {2, 2}}, b->half},
        {"ids", QUANTA_I64, {1, {4}}, b->ids},
        {"half.scale", QUANTA_F32, {1, {1}}, b->taken},
    };
    struct st_meta meta[] = {{"format", "pt"}, {"quanta.version", "0.0.0-old"}};
    tq_write(path, t, sizeof t / sizeof t[0], meta, 2);
}

static enum quanta_status run_bag(const char *in, const char *out,
                                  const struct quantize_tensors_options *opt,
                                  struct quanta_error *err)
{
    quanta_error_clear(err);
    return quantize_tensors_file(in, out, opt, err);
}

START_TEST(test_bag_weight_only)
{
    struct bag b;
    bag_fill(&b);
    char *in = tq_tmp("bag.safetensors"), *out = tq_tmp("bag-int8.safetensors");
    bag_write(in, &b);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    opt.options_json = "{\"mode\":\"weight-only\"}";
    struct quanta_error err;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);

    struct st_file f;
    tq_open(&f, out);
    ck_assert_uint_eq(f.n_tensors, 6 + 3);
    /* weight: I8, the scale tensor right after it */
    const struct st_tensor *q = tq_find(&f, "layer.weight", QUANTA_I8, 2, 3, 5);
    const struct st_tensor *s = tq_find(&f, "layer.weight.scale", QUANTA_F32, 1, 3, 0);
    ck_assert_int_eq(tq_index_of(&f, "layer.weight.scale"), tq_index_of(&f, "layer.weight") + 1);
    static const int8_t expect_q[3][5] = {
        {127, 3, -3, 1, 0},   /* 2.5 -> 3, -2.5 -> -3, 0.5 -> 1, -0.49 -> 0 */
        {0, 0, 0, 0, 0},
        {-127, 50, 25, 1, 100}, /* / 0.002 (0.65 -> 1) */
    };
    const int8_t *qv = q->data;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 5; c++)
            ck_assert_msg(qv[r * 5 + c] == expect_q[r][c], "q[%d][%d] = %d, expected %d", r, c,
                          qv[r * 5 + c], expect_q[r][c]);
    ck_assert(tq_f32(s, 0) == 1.0f);
    ck_assert(tq_f32(s, 1) == 1.0f);
    ck_assert(tq_f32(s, 2) == (float)((double)0.254f / 127.0));
    /* BF16 and F16 matrices are quantized too */
    const struct st_tensor *e = tq_find(&f, "emb", QUANTA_I8, 2, 2, 4);
    const int8_t *ev = e->data;
    /* 0.75 / (2/127) = 47.6 -> 48, 0.5 / (2/127) = 31.75 -> 32 */
    static const int8_t expect_e[8] = {48, -127, 32, 0, 127, 127, 0, 0};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(ev[i], expect_e[i]);
    const struct st_tensor *es = tq_find(&f, "emb.scale", QUANTA_F32, 1, 2, 0);
    ck_assert(tq_f32(es, 0) == (float)(2.0 / 127.0));
    ck_assert(tq_f32(es, 1) == (float)(4.0 / 127.0));
    tq_find(&f, "half", QUANTA_I8, 2, 2, 2);
    /* "half.scale" is an input tensor: the new scale takes the next free name */
    tq_find(&f, "half.scale2", QUANTA_F32, 1, 2, 0);
    const struct st_tensor *kept = tq_find(&f, "half.scale", QUANTA_F32, 1, 1, 0);
    ck_assert(tq_f32(kept, 0) == 42.0f);
    /* everything else byte for byte */
    const struct st_tensor *bias = tq_find(&f, "layer.bias", QUANTA_F32, 1, 3, 0);
    ck_assert(memcmp(bias->data, b.bias, sizeof b.bias) == 0);
    const struct st_tensor *ids = tq_find(&f, "ids", QUANTA_I64, 1, 4, 0);
    ck_assert(memcmp(ids->data, b.ids, sizeof b.ids) == 0);
    /* metadata: unknown keys kept, old provenance replaced */
    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(in, sha, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&f, "format"), "pt");
    ck_assert_str_eq(st_meta_find(&f, "quanta.version"), QUANTA_VERSION);
    ck_assert_str_eq(st_meta_find(&f, "quanta.quantize.options"), "{\"mode\":\"weight-only\"}");
    ck_assert_str_eq(st_meta_find(&f, "quanta.source_sha256"), sha);
    ck_assert_uint_eq(f.n_meta, 4);
    st_close(&f);

    /* deterministic */
    char *out2 = tq_tmp("bag-int8-2.safetensors");
    ck_assert_int_eq(run_bag(in, out2, &opt, &err), QUANTA_OK);
    size_t na, nb;
    char *x = ts_read_file(out, &na), *y = ts_read_file(out2, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(x, y, na) == 0);
    free(x);
    free(y);
    free(out2);
    free(in);
    free(out);
}
END_TEST

/* Random rows whose lengths exercise the vector loop and its tail give
 * the bytes of quantize_weights_i8, and dequantize within half a step. */
START_TEST(test_bag_matches_quantize_weights_i8)
{
    enum { ROWS = 37, COLS = 1003 };
    float *w = malloc(sizeof(float) * ROWS * COLS);
    int8_t *q = malloc(ROWS * COLS);
    float scales[ROWS];
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(q);
    uint32_t x = 99;
    for (int i = 0; i < ROWS * COLS; i++) {
        x = x * 1664525u + 1013904223u;
        w[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * (float)(1 + i % 7);
    }
    /* exact ties: a row whose max is 127 has scale 1 */
    w[5 * COLS] = 127.0f;
    for (int c = 1; c < 40; c++)
        w[5 * COLS + c] = (float)(c % 2 ? c : -c) + 0.5f;
    quantize_weights_i8(w, ROWS, COLS, true, NULL, q, scales);

    char *in = tq_tmp("rand.safetensors"), *out = tq_tmp("rand-int8.safetensors");
    struct st_tensor_desc t = {"w", QUANTA_F32, {2, {ROWS, COLS}}, w};
    tq_write(in, &t, 1, NULL, 0);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    struct quanta_error err;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    struct st_file f;
    tq_open(&f, out);
    const struct st_tensor *qt = tq_find(&f, "w", QUANTA_I8, 2, ROWS, COLS);
    const struct st_tensor *st = tq_find(&f, "w.scale", QUANTA_F32, 1, ROWS, 0);
    ck_assert(memcmp(qt->data, q, ROWS * COLS) == 0);
    ck_assert(memcmp(st->data, scales, sizeof scales) == 0);
    const int8_t *qv = qt->data;
    for (int r = 0; r < ROWS; r++) {
        double s = tq_f32(st, r);
        for (int c = 0; c < COLS; c++)
            ck_assert(fabs(s * qv[r * COLS + c] - w[r * COLS + c]) <= 0.5 * s * (1 + 1e-9));
    }
    ck_assert_int_eq(qv[5 * COLS + 1], 2);   /* 1.5 -> 2 */
    ck_assert_int_eq(qv[5 * COLS + 2], -2);  /* -1.5 -> -2 */
    ck_assert_int_eq(qv[5 * COLS + 4], -4);  /* -3.5 -> -4 */
    ck_assert_int_eq(qv[5 * COLS + 5], 6);   /* 5.5 -> 6 */
    st_close(&f);

    /* per tensor: one scale, max|w| / 127 of the whole tensor */
    opt.weights = QUANTIZE_PER_TENSOR;
    ck_assert_int_eq(run_bag(in, out, &opt, &err), QUANTA_OK);
    quantize_weights_i8(w, ROWS, COLS, false, NULL, q, scales);
    tq_open(&f, out);
    qt = tq_find(&f, "w", QUANTA_I8, 2, ROWS, COLS);
    st = tq_find(&f, "w.scale", QUANTA_F32, 1, 1, 0);
    ck_assert(tq_f32(st, 0) == scales[0]);
    ck_assert(tq_f32(st, 0) == 1.0f); /* max |w| is 127 */
    ck_assert(memcmp(qt->data, q, ROWS * COLS) == 0);
    st_close(&f);
    free(w);
    free(q);
    free(in);
    free(out);
}
END_TEST

START_TEST(test_bag_fp16)
{
    float a[4] = {1.0f, 0.5f, -65504.0f, 1.0f / 3.0f};
    double d[2] = {2.0, -0.25};
    uint16_t bf[2] = {0x3f80, 0xc040}; /* 1.0, -3.0 */
    uint16_t h[2] = {0x1234, 0xabcd};  /* F16: copied as is */
    int32_t n[2] = {7, -7};
    struct st_tensor_desc t[] = {
        {"a", QUANTA_F32, {2, {2, 2}}, a},     {"d", QUANTA_F64, {1, {2}}, d},
        {"bf", QUANTA_BF16, {1, {2}}, bf},     {"h", QUANTA_F16, {1, {2}}, h},
        {"n", QUANTA_I32, {1, {2}}, n},
    };
    char *in = tq_tmp("mixed.safetensors"), *out = tq_tmp("mixed-f16.safetensors");
    tq_write(in, t, 5, NULL, 0);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    opt.mode = QUANTIZE_FP16;
    struct quanta_error err;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    struct st_file f;
    tq_open(&f, out);
    ck_assert_uint_eq(f.n_tensors, 5);
    const struct st_tensor *x = tq_find(&f, "a", QUANTA_F16, 2, 2, 2);
    ck_assert_uint_eq(tq_u16(x, 0), 0x3c00);
    ck_assert_uint_eq(tq_u16(x, 1), 0x3800);
    ck_assert_uint_eq(tq_u16(x, 2), 0xfbff);
    ck_assert_uint_eq(tq_u16(x, 3), 0x3555); /* 1/3 to nearest f16 */
    x = tq_find(&f, "d", QUANTA_F16, 1, 2, 0);
    ck_assert_uint_eq(tq_u16(x, 0), 0x4000);
    ck_assert_uint_eq(tq_u16(x, 1), 0xb400);
    x = tq_find(&f, "bf", QUANTA_F16, 1, 2, 0);
    ck_assert_uint_eq(tq_u16(x, 0), 0x3c00);
    ck_assert_uint_eq(tq_u16(x, 1), 0xc200);
    x = tq_find(&f, "h", QUANTA_F16, 1, 2, 0);
    ck_assert_uint_eq(tq_u16(x, 0), 0x1234);
    ck_assert_uint_eq(tq_u16(x, 1), 0xabcd);
    x = tq_find(&f, "n", QUANTA_I32, 1, 2, 0);
    ck_assert(memcmp(x->data, n, sizeof n) == 0);
    ck_assert_ptr_null(st_meta_find(&f, "quanta.quantize.options")); /* none given */
    ck_assert_ptr_nonnull(st_meta_find(&f, "quanta.source_sha256"));
    st_close(&f);
    free(in);
    free(out);
}
END_TEST

START_TEST(test_bag_globs)
{
    struct bag b;
    bag_fill(&b);
    char *in = tq_tmp("bag.safetensors"), *out = tq_tmp("bag-g.safetensors");
    bag_write(in, &b);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    const char *exclude[] = {"layer.*"};
    opt.exclude = exclude;
    opt.n_exclude = 1;
    struct quanta_error err;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    struct st_file f;
    tq_open(&f, out);
    const struct st_tensor *w = tq_find(&f, "layer.weight", QUANTA_F32, 2, 3, 5);
    ck_assert(memcmp(w->data, b.w, sizeof b.w) == 0);
    ck_assert_ptr_null(st_find(&f, "layer.weight.scale"));
    tq_find(&f, "emb", QUANTA_I8, 2, 2, 4);
    st_close(&f);

    /* include: only what matches ("h?lf" matches "half" only) */
    const char *include[] = {"h?lf"};
    opt.exclude = NULL;
    opt.n_exclude = 0;
    opt.include = include;
    opt.n_include = 1;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    tq_open(&f, out);
    tq_find(&f, "half", QUANTA_I8, 2, 2, 2);
    tq_find(&f, "emb", QUANTA_BF16, 2, 2, 4);
    tq_find(&f, "layer.weight", QUANTA_F32, 2, 3, 5);
    ck_assert_uint_eq(f.n_tensors, 7);
    st_close(&f);

    /* a pattern that matches nothing is a usage error, nothing written */
    remove(out);
    const char *typo[] = {"layers.*"};
    opt.include = typo;
    ck_assert_int_eq(run_bag(in, out, &opt, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "'layers.*' matches no tensor"));
    ck_assert_ptr_null(ts_read_file(out, NULL));
    /* and the output may not be the input */
    opt.include = NULL;
    opt.n_include = 0;
    ck_assert_int_eq(run_bag(in, in, &opt, &err), QUANTA_ERR_USAGE);
    /* static needs a graph */
    opt.mode = QUANTIZE_STATIC;
    ck_assert_int_eq(run_bag(in, out, &opt, &err), QUANTA_ERR_USAGE);
    free(in);
    free(out);
}
END_TEST

START_TEST(test_bag_nonfinite)
{
    float w[2][3] = {{1.0f, 2.0f, 3.0f}, {0.25f, NAN, -1.0f}};
    char *in = tq_tmp("nan.safetensors"), *out = tq_tmp("nan-int8.safetensors");
    struct st_tensor_desc t = {"proj.weight", QUANTA_F32, {2, {2, 3}}, w};
    tq_write(in, &t, 1, NULL, 0);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    struct quanta_error err;
    ck_assert_int_eq(run_bag(in, out, &opt, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, "tensor 'proj.weight' holds nan at element 4 (row 1") != NULL,
                  "%s", err.message);
    ck_assert_ptr_null(ts_read_file(out, NULL)); /* no partial file */
    opt.mode = QUANTIZE_FP16;
    ck_assert_int_eq(run_bag(in, out, &opt, &err), QUANTA_ERR_INPUT);

    /* allowed: the scale comes from the finite values, NaN -> 0, Inf -> 127 */
    w[0][1] = -INFINITY;
    tq_write(in, &t, 1, NULL, 0);
    opt.mode = QUANTIZE_WEIGHT_ONLY;
    opt.allow_nonfinite = true;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    struct st_file f;
    tq_open(&f, out);
    const int8_t *q = tq_find(&f, "proj.weight", QUANTA_I8, 2, 2, 3)->data;
    const struct st_tensor *s = tq_find(&f, "proj.weight.scale", QUANTA_F32, 1, 2, 0);
    ck_assert(tq_f32(s, 0) == (float)(3.0 / 127.0));
    ck_assert(tq_f32(s, 1) == (float)(1.0 / 127.0));
    ck_assert_int_eq(q[0], 42);  /* 1 / (3/127) = 42.33 */
    ck_assert_int_eq(q[1], -127);
    ck_assert_int_eq(q[2], 127);
    ck_assert_int_eq(q[3], 32);  /* 0.25 / (1/127) = 31.75 */
    ck_assert_int_eq(q[4], 0);
    ck_assert_int_eq(q[5], -127);
    st_close(&f);
    free(in);
    free(out);
}
END_TEST

/* ---- quantize_model refuses non-finite constants ---- */

START_TEST(test_graph_nonfinite)
{
    static const char graph_json[] =
        "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"g\", "
        "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 2], \"dtype\": \"F32\"}], "
        "\"outputs\": [\"y\"], \"nodes\": [{\"op\": \"dense\", \"name\": \"fc\", "
        "\"inputs\": [\"x\", \"fc.weight\", \"fc.bias\"], \"outputs\": [\"y\"]}]}";
    float w[2][2] = {{1.0f, 0.0f}, {0.0f, 1.0f}};
    float bias[2] = {0.0f, INFINITY};
    struct st_tensor_desc t[] = {
        {"fc.weight", QUANTA_F32, {2, {2, 2}}, w},
        {"fc.bias", QUANTA_F32, {1, {2}}, bias},
    };
    struct st_meta meta = {"quanta.graph", graph_json};
    char *path = tq_tmp("g.safetensors");
    tq_write(path, t, 2, &meta, 1);
    struct model m;
    struct graph out;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(model_open(&m, path, &err) == QUANTA_OK, "%s", err.message);
    struct quantize_options opt;
    quantize_options_default(&opt);
    ck_assert(!opt.allow_nonfinite);
    opt.mode = QUANTIZE_WEIGHT_ONLY;
    ck_assert_int_eq(quantize_model(&m.graph, &opt, NULL, &out, "g.safetensors", &err),
                     QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, "g.safetensors: tensor 'fc.bias' holds inf at element 1") !=
                      NULL, "%s", err.message);
    opt.allow_nonfinite = true;
    ck_assert_msg(quantize_model(&m.graph, &opt, NULL, &out, "g.safetensors", &err) == QUANTA_OK,
                  "%s", err.message);
    graph_free(&out);
    model_close(&m);
    free(path);
}
END_TEST

/* ---- sharded ---- */

struct shards {
    float a[2][2], c[3];
    uint16_t b[1][4];
    char *dir_index, *shard1, *shard2;
};

static void shards_write(struct shards *s, const char *weight_map_extra)
{
    static const float a[2][2] = {{0.75f, -2.0f}, {0.125f, 0.5f}};
    static const float c[3] = {1.0f, 2.0f, 3.0f};
    memcpy(s->a, a, sizeof a);
    memcpy(s->c, c, sizeof c);
    s->b[0][0] = 0x3f40;  /* bf16 0.75 */
    s->b[0][1] = 0xbf00;  /* -0.5 */
    s->b[0][2] = 0x0000;
    s->b[0][3] = 0x4000;  /* 2.0 */
    s->shard1 = tq_tmp("model-00001-of-00002.safetensors");
    s->shard2 = tq_tmp("model-00002-of-00002.safetensors");
    s->dir_index = tq_tmp("model.safetensors.index.json");
    struct st_tensor_desc t1[] = {{"a.weight", QUANTA_F32, {2, {2, 2}}, s->a},
                                  {"c.bias", QUANTA_F32, {1, {3}}, s->c}};
    struct st_tensor_desc t2[] = {{"b.weight", QUANTA_BF16, {2, {1, 4}}, s->b}};
    struct st_meta meta = {"format", "pt"};
    tq_write(s->shard1, t1, 2, &meta, 1);
    tq_write(s->shard2, t2, 1, &meta, 1);
    char index[1024];
    snprintf(index, sizeof index,
             "{\"metadata\": {\"total_size\": 36, \"note\": \"kept\"}, \"weight_map\": {"
             "\"a.weight\": \"model-00001-of-00002.safetensors\", "
             "\"b.weight\": \"model-00002-of-00002.safetensors\", "
             "\"c.bias\": \"model-00001-of-00002.safetensors\"%s}}",
             weight_map_extra);
    ts_write_file(s->dir_index, index, strlen(index));
}

static void shards_free(struct shards *s)
{
    free(s->dir_index);
    free(s->shard1);
    free(s->shard2);
}

START_TEST(test_sharded)
{
    struct shards s;
    shards_write(&s, "");
    char *out_index = tq_tmp("q8.safetensors.index.json");
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    opt.options_json = "{}";
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(quantize_tensors_sharded(s.dir_index, out_index, &opt, &err) == QUANTA_OK, "%s",
                  err.message);

    /* the index */
    char *text = ts_read_file(out_index, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    ck_assert_ptr_nonnull(doc);
    const cJSON *map = cJSON_GetObjectItem(doc, "weight_map");
    ck_assert_int_eq(cJSON_GetArraySize(map), 5);
    ck_assert_str_eq(cJSON_GetObjectItem(map, "a.weight")->valuestring,
                     "q8-00001-of-00002.safetensors");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "a.weight.scale")->valuestring,
                     "q8-00001-of-00002.safetensors");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "c.bias")->valuestring,
                     "q8-00001-of-00002.safetensors");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "b.weight")->valuestring,
                     "q8-00002-of-00002.safetensors");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "b.weight.scale")->valuestring,
                     "q8-00002-of-00002.safetensors");
    const cJSON *meta = cJSON_GetObjectItem(doc, "metadata");
    /* I8 a [2,2] 4 + scale 8 + c F32 12 + I8 b [1,4] 4 + scale 4 = 32 bytes */
    ck_assert(cJSON_GetObjectItem(meta, "total_size")->valuedouble == 32.0);
    ck_assert_str_eq(cJSON_GetObjectItem(meta, "note")->valuestring, "kept");
    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(s.dir_index, sha, &err), QUANTA_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(meta, "quanta.source_sha256")->valuestring, sha);
    ck_assert_str_eq(cJSON_GetObjectItem(meta, "quanta.quantize.options")->valuestring, "{}");
    cJSON_Delete(doc);
    free(text);

    /* the shards */
    struct st_file f;
    tq_open(&f, ts_tmp_path("q8-00001-of-00002.safetensors"));
    const int8_t *q = tq_find(&f, "a.weight", QUANTA_I8, 2, 2, 2)->data;
    ck_assert_int_eq(q[0], 48);   /* 0.75 / (2/127) = 47.6 */
    ck_assert_int_eq(q[1], -127);
    ck_assert_int_eq(q[2], 32);   /* 0.125 / (0.5/127) = 31.75 */
    ck_assert_int_eq(q[3], 127);
    const struct st_tensor *c = tq_find(&f, "c.bias", QUANTA_F32, 1, 3, 0);
    ck_assert(memcmp(c->data, s.c, sizeof s.c) == 0);
    ck_assert_int_eq(quanta_sha256_file(s.shard1, sha, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&f, "quanta.source_sha256"), sha);
    ck_assert_str_eq(st_meta_find(&f, "format"), "pt");
    st_close(&f);
    tq_open(&f, ts_tmp_path("q8-00002-of-00002.safetensors"));
    q = tq_find(&f, "b.weight", QUANTA_I8, 2, 1, 4)->data;
    ck_assert_int_eq(q[0], 48);
    ck_assert_int_eq(q[1], -32);
    ck_assert_int_eq(q[2], 0);
    ck_assert_int_eq(q[3], 127);
    st_close(&f);

    /* the output must name an index; no output may be an input */
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, ts_tmp_path("q8.json"), &opt, &err),
                     QUANTA_ERR_USAGE);
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, s.dir_index, &opt, &err),
                     QUANTA_ERR_USAGE);
    /* "model.safetensors.index.json" would write model-00001-of-00002: an input */
    char *again = tq_tmp("model.safetensors.index.json");
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, again, &opt, &err), QUANTA_ERR_USAGE);
    free(again);
    free(out_index);
    shards_free(&s);
}
END_TEST

START_TEST(test_sharded_bad_index)
{
    struct shards s;
    /* a tensor mapped to a shard that does not hold it */
    shards_write(&s, ", \"ghost\": \"model-00002-of-00002.safetensors\"");
    char *out_index = tq_tmp("q.safetensors.index.json");
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, out_index, &opt, &err),
                     QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "'ghost'"));
    ck_assert_ptr_null(ts_read_file(out_index, NULL));
    ck_assert_ptr_null(ts_read_file(ts_tmp_path("q-00001-of-00002.safetensors"), NULL));
    /* a shard outside the index's folder */
    shards_free(&s);
    shards_write(&s, ", \"x\": \"../elsewhere.safetensors\"");
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, out_index, &opt, &err),
                     QUANTA_ERR_INPUT);
    /* not JSON */
    ts_write_file(s.dir_index, "{\"weight_map\": ", 15);
    ck_assert_int_eq(quantize_tensors_sharded(s.dir_index, out_index, &opt, &err),
                     QUANTA_ERR_INPUT);
    free(out_index);
    shards_free(&s);
}
END_TEST

/* Exact ties k + 1/2 at scales whose reciprocal is not exact in binary,
 * some (49, 99, 117, 123, 105: found by search) where (k + 1/2) s * (1/s)
 * in double lands an ulp off the tie for most k: each must still round
 * half away from zero, as w / s does. Every k in [-127, 126] in each row,
 * vector loop and tail. */
START_TEST(test_bag_ties_at_any_scale)
{
    static const float scales[] = {3.0f, 49.0f, 99.0f, 117.0f / 64.0f, 123.0f, 0.375f,
                                   105.0f / 4096.0f, 1.0f, 0.5f, 1.0f / 3.0f};
    enum { ROWS = sizeof scales / sizeof scales[0], COLS = 1 + 254 + 9 };
    float *w = malloc(sizeof(float) * ROWS * COLS);
    int8_t *expect = malloc(ROWS * COLS);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(expect);
    for (int r = 0; r < ROWS; r++) {
        float s = scales[r];
        float *row = w + r * COLS;
        int8_t *e = expect + r * COLS;
        /* max |w| = 127 s, so the row's scale is s; the last row, 1/3, has
         * inexact products (k + 1/2) s: it is checked against round(w / s)
         * below */
        row[0] = 127.0f * s;
        e[0] = 127;
        for (int k = -127; k <= 126; k++) {
            int c = 1 + k + 127;
            row[c] = ((float)k + 0.5f) * s; /* exact: few mantissa bits */
            e[c] = (int8_t)(k >= 0 ? k + 1 : k); /* half away from zero */
        }
        for (int c = 255; c < COLS; c++) { /* tail: ties too */
            row[c] = ((float)(c - 255) * 13.0f - 50.5f) * s;
            e[c] = (int8_t)(c - 255 < 4 ? (c - 255) * 13 - 51 : (c - 255) * 13 - 50);
        }
    }
    char *in = tq_tmp("ties.safetensors"), *out = tq_tmp("ties-int8.safetensors");
    struct st_tensor_desc t = {"w", QUANTA_F32, {2, {ROWS, COLS}}, w};
    tq_write(in, &t, 1, NULL, 0);
    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    struct quanta_error err;
    ck_assert_msg(run_bag(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);
    struct st_file f;
    tq_open(&f, out);
    const int8_t *q = tq_find(&f, "w", QUANTA_I8, 2, ROWS, COLS)->data;
    const struct st_tensor *st = tq_find(&f, "w.scale", QUANTA_F32, 1, ROWS, 0);
    for (int r = 0; r < ROWS; r++) {
        float s = tq_f32(st, r);
        ck_assert(s == scales[r]);
        for (int c = 0; c < COLS; c++) {
            int8_t want = expect[r * COLS + c];
            if (r == ROWS - 1) /* lround: half away from zero */
                want = (int8_t)lround((double)w[r * COLS + c] / (double)s);
            ck_assert_msg(q[r * COLS + c] == want, "row %d (scale %g) col %d: %d, expected %d",
                          r, (double)scales[r], c, q[r * COLS + c], want);
        }
    }
    st_close(&f);
    free(w);
    free(expect);
    free(in);
    free(out);
}
END_TEST

Suite *suite_quantize_tensors(void);
Suite *suite_quantize_tensors(void)
{
    Suite *s = suite_create("quantize_tensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_find_nonfinite);
    tcase_add_test(tc, test_sha256_fast_million_a);
    tcase_add_test(tc, test_sha256_any_split_same_digest);
    tcase_add_test(tc, test_bag_weight_only);
    tcase_add_test(tc, test_bag_matches_quantize_weights_i8);
    tcase_add_test(tc, test_bag_fp16);
    tcase_add_test(tc, test_bag_globs);
    tcase_add_test(tc, test_bag_nonfinite);
    tcase_add_test(tc, test_graph_nonfinite);
    tcase_add_test(tc, test_sharded);
    tcase_add_test(tc, test_sharded_bad_index);
    tcase_add_test(tc, test_bag_ties_at_any_scale);
    suite_add_tcase(s, tc);
    return s;
}
