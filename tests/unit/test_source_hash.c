/* The one pass of quantize on checkpoints without a graph: the digest
 * quanta.source_sha256, computed while the tensors are converted and put
 * into the header afterwards, is the SHA-256 of the source file (a hard
 * value from sha256sum of a file built here byte by byte); the patched
 * header is the one a direct write gives. And the writer calls behind it:
 * st_writer_set_meta (same-length rewrite of a metadata value in place)
 * and st_writer_write_behind (the output dropped from the page cache as it
 * goes), checked against files written in one go. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quanta/quanta.h"
#include "quanta/quantize.h"
#include "quanta/sha256.h"
#include "support/test_support.h"

static char *sh_tmp(const char *name)
{
    char *p = strdup(ts_tmp_path(name));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* A fresh folder under the test's temporary one. */
static char *sh_dir(const char *name)
{
    char *p = sh_tmp(name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    return p;
}

static char *sh_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int sh_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void sh_same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = ts_read_file(a, &na), *y = ts_read_file(b, &nb);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* ---- a checkpoint built byte by byte ---- */

/* Its tensors, in file order: an I8 of 3 bytes that leaves the next ones
 * unaligned, an F32 matrix (quantized; rows read unaligned), 5 MiB + 7 of
 * U8 (copied: larger than the output buffer, written in pieces), a BF16
 * matrix, an F32 vector (copied). 5,407,286 data bytes, so the digest
 * runs over many hashing steps. */
#define KF_W_ROWS 40
#define KF_W_COLS 1001
#define KF_BLOB ((5u << 20) + 7u)
#define KF_E_ROWS 7
#define KF_E_COLS 300
/* sha256sum of the file kf_write makes, computed outside quanta. */
#define KF_SHA256 "756f50a824da2794152447cf20db07266751c9122150f655845ce7f2367162d2"

static uint32_t kf_next(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x;
}

/* A float in [-0.5, 0.5) from the generator, as its 4 IEEE bytes. */
static uint32_t kf_float_bits(uint32_t *x)
{
    float f = (float)(kf_next(x) >> 8) / 16777216.0f - 0.5f;
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void kf_put_u32(unsigned char *p, uint32_t u)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

static void kf_write(const char *path)
{
    uint64_t a = 3, w = 4ull * KF_W_ROWS * KF_W_COLS, e = 2ull * KF_E_ROWS * KF_E_COLS, v = 36;
    uint64_t o1 = a, o2 = o1 + w, o3 = o2 + KF_BLOB, o4 = o3 + e, o5 = o4 + v;
    char header[1024];
    int n = snprintf(header, sizeof header,
                     "{\"__metadata__\":{\"format\":\"pt\"},"
                     "\"a.i8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,%llu]},"
                     "\"w\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]},"
                     "\"blob\":{\"dtype\":\"U8\",\"shape\":[%u],\"data_offsets\":[%llu,%llu]},"
                     "\"e\":{\"dtype\":\"BF16\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]},"
                     "\"v\":{\"dtype\":\"F32\",\"shape\":[9],\"data_offsets\":[%llu,%llu]}}",
                     (unsigned long long)o1, KF_W_ROWS, KF_W_COLS, (unsigned long long)o1,
                     (unsigned long long)o2, KF_BLOB, (unsigned long long)o2,
                     (unsigned long long)o3, KF_E_ROWS, KF_E_COLS, (unsigned long long)o3,
                     (unsigned long long)o4, (unsigned long long)o4, (unsigned long long)o5);
    ck_assert(n > 0 && (size_t)n + 8 < sizeof header);
    while (n % 8 != 0)
        header[n++] = ' ';
    size_t size = 8 + (size_t)n + (size_t)o5;
    unsigned char *b = malloc(size), *p = b;
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++)
        *p++ = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(p, header, (size_t)n);
    p += n;
    uint32_t x = 2024;
    for (uint64_t i = 0; i < a; i++)
        *p++ = (unsigned char)(kf_next(&x) >> 24);
    for (uint64_t i = 0; i < w / 4; i++, p += 4)
        kf_put_u32(p, kf_float_bits(&x));
    for (uint64_t i = 0; i < KF_BLOB; i++)
        *p++ = (unsigned char)(kf_next(&x) >> 24);
    for (uint64_t i = 0; i < e / 2; i++) {
        uint32_t u = kf_float_bits(&x) >> 16; /* bf16: the high half */
        *p++ = (unsigned char)u;
        *p++ = (unsigned char)(u >> 8);
    }
    for (uint64_t i = 0; i < v / 4; i++, p += 4)
        kf_put_u32(p, kf_float_bits(&x));
    ck_assert_uint_eq((size_t)(p - b), size);
    ts_write_file(path, b, size);
    free(b);
}

static const char *source_sha(const char *path)
{
    static char sha[QUANTA_SHA256_HEX_SIZE];
    struct st_file f;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    const char *v = st_meta_find(&f, "quanta.source_sha256");
    ck_assert_ptr_nonnull(v);
    snprintf(sha, sizeof sha, "%s", v);
    st_close(&f);
    return sha;
}

START_TEST(test_digest_is_sha256sum)
{
    char *in = sh_tmp("known.safetensors"), *out = sh_tmp("known-q.safetensors");
    kf_write(in);
    /* the file is the one sha256sum was run on (and the library agrees) */
    size_t size;
    char *bytes = ts_read_file(in, &size);
    ck_assert_ptr_nonnull(bytes);
    char hex[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_buffer_hex(bytes, size, hex);
    free(bytes);
    ck_assert_str_eq(hex, KF_SHA256);

    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    struct quanta_error err;
    const enum quantize_mode modes[] = {QUANTIZE_WEIGHT_ONLY, QUANTIZE_FP16,
                                        QUANTIZE_WEIGHT_ONLY};
    for (int m = 0; m < 3; m++) {
        opt.mode = modes[m];
        opt.weights = m == 2 ? QUANTIZE_PER_TENSOR : QUANTIZE_PER_CHANNEL;
        quanta_error_clear(&err);
        ck_assert_msg(quantize_tensors_file(in, out, &opt, &err) == QUANTA_OK, "%s",
                      err.message);
        ck_assert_str_eq(source_sha(out), KF_SHA256);
    }
    /* something was converted: w is I8 in the last output */
    struct st_file f;
    ck_assert_msg(st_open(&f, out, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(st_find(&f, "w")->dtype, QUANTA_I8);
    ck_assert_int_eq(st_find(&f, "e")->dtype, QUANTA_I8);
    ck_assert_int_eq(st_find(&f, "blob")->dtype, QUANTA_U8);
    st_close(&f);
    free(in);
    free(out);
}
END_TEST

/* Nothing to convert (no float matrix): the output must be exactly what
 * st_write_file writes for the same tensors and the provenance with the
 * file's digest, so the placeholder left nothing behind. */
START_TEST(test_patched_header_is_direct_header)
{
    int32_t ids[5] = {1, -2, 3, -4, 5};
    uint8_t raw[13];
    for (int i = 0; i < 13; i++)
        raw[i] = (uint8_t)(i * 37);
    float bias[3] = {0.5f, -0.25f, 2.0f};
    struct st_tensor_desc t[] = {
        {"ids", QUANTA_I32, {1, {5}}, ids},
        {"raw", QUANTA_U8, {2, {1, 13}}, raw},
        {"bias", QUANTA_F32, {1, {3}}, bias},
    };
    struct st_meta meta_in[] = {{"format", "pt"}, {"quanta.source_sha256", "stale"}};
    char *in = sh_tmp("copy.safetensors"), *out = sh_tmp("copy-q.safetensors");
    char *expect = sh_tmp("copy-expect.safetensors");
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(in, t, 3, meta_in, 2, &err) == QUANTA_OK, "%s", err.message);

    struct quantize_tensors_options opt;
    quantize_tensors_options_default(&opt);
    opt.options_json = "{\"mode\":\"weight-only\"}";
    ck_assert_msg(quantize_tensors_file(in, out, &opt, &err) == QUANTA_OK, "%s", err.message);

    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(in, sha, &err), QUANTA_OK);
    struct st_meta meta_out[] = {{"format", "pt"},
                                 {"quanta.version", QUANTA_VERSION},
                                 {"quanta.quantize.options", "{\"mode\":\"weight-only\"}"},
                                 {"quanta.source_sha256", sha}};
    ck_assert_msg(st_write_file(expect, t, 3, meta_out, 4, &err) == QUANTA_OK, "%s",
                  err.message);
    sh_same_file(out, expect);
    free(in);
    free(out);
    free(expect);
}
END_TEST

/* ---- st_writer_set_meta ---- */

static const float sm_w[4] = {1.0f, -2.0f, 0.5f, 8.0f};
static const int8_t sm_q[3] = {-1, 0, 1};

static void sm_descs(struct st_tensor_desc d[2])
{
    d[0] = (struct st_tensor_desc){"w", QUANTA_F32, {2, {2, 2}}, sm_w};
    d[1] = (struct st_tensor_desc){"q", QUANTA_I8, {1, {3}}, sm_q};
}

/* The value set before the data (header still in the stdio buffer) and
 * after it give the bytes of a direct write with the final value. */
START_TEST(test_set_meta_in_place)
{
    char *dir = sh_dir("setmeta");
    char *path = sh_join(dir, "a.safetensors"), *expect = sh_join(dir, "b.safetensors");
    struct st_tensor_desc d[2];
    sm_descs(d);
    struct st_meta before[] = {{"x", "keep"}, {"digest", "00000000"}, {"y", "caf\xc3\xa9"}};
    struct st_meta after[] = {{"x", "keep"}, {"digest", "0f1e2d3c"}, {"y", "caf\xc3\xa9"}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(expect, d, 2, after, 3, &err) == QUANTA_OK, "%s", err.message);
    for (int when = 0; when < 2; when++) {
        struct st_writer *w;
        ck_assert_int_eq(st_writer_open(&w, path, d, 2, before, 3, &err), QUANTA_OK);
        if (when == 0)
            ck_assert_msg(st_writer_set_meta(w, "digest", "0f1e2d3c", &err) == QUANTA_OK, "%s",
                          err.message);
        ck_assert_int_eq(st_writer_put(w, sm_w, sizeof sm_w, &err), QUANTA_OK);
        ck_assert_int_eq(st_writer_put(w, sm_q, sizeof sm_q, &err), QUANTA_OK);
        if (when == 1) {
            /* twice: the last one counts */
            ck_assert_int_eq(st_writer_set_meta(w, "digest", "ffffffff", &err), QUANTA_OK);
            ck_assert_int_eq(st_writer_set_meta(w, "digest", "0f1e2d3c", &err), QUANTA_OK);
        }
        ck_assert_msg(st_writer_commit(w, &err) == QUANTA_OK, "%s", err.message);
        sh_same_file(path, expect);
    }
    free(path);
    free(expect);
    free(dir);
}
END_TEST

START_TEST(test_set_meta_refuses)
{
    char *dir = sh_dir("setmeta-bad");
    char *path = sh_join(dir, "a.safetensors");
    struct st_tensor_desc d[2];
    sm_descs(d);
    struct st_meta meta[] = {{"digest", "0000"}};
    struct quanta_error err;
    quanta_error_clear(&err);
    struct st_writer *w;
    ck_assert_int_eq(st_writer_open(&w, path, d, 2, meta, 1, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_set_meta(w, "other", "abcd", &err), QUANTA_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.message, "no metadata key 'other'"));
    ck_assert_int_eq(st_writer_set_meta(w, "digest", "abc", &err), QUANTA_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.message, "the new value is 5 bytes of JSON, the one "
                                              "written 6"));
    /* four characters, but six in JSON: the quote and backslash are escaped */
    ck_assert_int_eq(st_writer_set_meta(w, "digest", "a\"b\\", &err), QUANTA_ERR_INTERNAL);
    ck_assert_int_eq(st_writer_set_meta(w, "digest", "\xff\xfe\xfd\xfc", &err),
                     QUANTA_ERR_INTERNAL); /* not UTF-8 */
    st_writer_abort(w);
    ck_assert_int_eq(sh_count_files(dir), 0); /* no temporary left */

    /* no metadata at all */
    ck_assert_int_eq(st_writer_open(&w, path, d, 2, NULL, 0, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_set_meta(w, "digest", "0000", &err), QUANTA_ERR_INTERNAL);
    st_writer_abort(w);
    ck_assert_int_eq(sh_count_files(dir), 0);
    free(path);
    free(dir);
}
END_TEST

/* ---- st_writer_write_behind ---- */

#define WB_PIECE ((size_t)1 << 20)
#define WB_PIECES 80 /* 80 MiB: two full write-behind steps of 32 MiB and a rest */

static void wb_fill(unsigned char *b, size_t piece)
{
    for (size_t i = 0; i < WB_PIECE; i++) {
        uint64_t k = (uint64_t)piece * WB_PIECE + i;
        b[i] = (unsigned char)((k * 2654435761u) >> 11);
    }
}

/* Bytes dropped from the page cache on the way and a header rewritten at
 * the end (its page long dropped) read back as written. */
START_TEST(test_write_behind_round_trip)
{
    char *dir = sh_dir("behind");
    char *path = sh_join(dir, "big.safetensors");
    struct st_tensor_desc d[2] = {
        {"head", QUANTA_U8, {1, {5}}, NULL},
        {"body", QUANTA_U8, {2, {WB_PIECES, WB_PIECE}}, NULL},
    };
    struct st_meta meta[] = {{"digest", "................"}, {"z", "1"}};
    static const unsigned char head[5] = {9, 8, 7, 6, 5};
    unsigned char *b = malloc(WB_PIECE);
    ck_assert_ptr_nonnull(b);
    struct quanta_error err;
    quanta_error_clear(&err);
    struct st_writer *w;
    ck_assert_int_eq(st_writer_open(&w, path, d, 2, meta, 2, &err), QUANTA_OK);
    st_writer_write_behind(w);
    ck_assert_int_eq(st_writer_put(w, head, sizeof head, &err), QUANTA_OK);
    for (size_t p = 0; p < WB_PIECES; p++) {
        wb_fill(b, p);
        ck_assert_msg(st_writer_put(w, b, WB_PIECE, &err) == QUANTA_OK, "%s", err.message);
    }
    ck_assert_int_eq(st_writer_set_meta(w, "digest", "written at last!", &err), QUANTA_OK);
    ck_assert_msg(st_writer_commit(w, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(sh_count_files(dir), 1);

    struct st_file f;
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_str_eq(st_meta_find(&f, "digest"), "written at last!");
    ck_assert_str_eq(st_meta_find(&f, "z"), "1");
    ck_assert(memcmp(st_find(&f, "head")->data, head, sizeof head) == 0);
    const unsigned char *body = st_find(&f, "body")->data;
    for (size_t p = 0; p < WB_PIECES; p++) {
        wb_fill(b, p);
        ck_assert_msg(memcmp(body + p * WB_PIECE, b, WB_PIECE) == 0, "MiB %zu differs", p);
    }
    st_close(&f);

    /* abandoned half-way: nothing left */
    char *other = sh_join(dir, "other.safetensors");
    ck_assert_int_eq(st_writer_open(&w, other, d, 2, meta, 2, &err), QUANTA_OK);
    st_writer_write_behind(w);
    ck_assert_int_eq(st_writer_put(w, head, sizeof head, &err), QUANTA_OK);
    for (size_t p = 0; p < 40; p++)
        ck_assert_int_eq(st_writer_put(w, b, WB_PIECE, &err), QUANTA_OK);
    st_writer_abort(w);
    ck_assert_int_eq(sh_count_files(dir), 1);
    free(other);
    free(b);
    free(path);
    free(dir);
}
END_TEST

Suite *suite_source_hash(void); /* called by tests/main.c */
Suite *suite_source_hash(void)
{
    Suite *s = suite_create("source_hash");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_digest_is_sha256sum);
    tcase_add_test(tc, test_patched_header_is_direct_header);
    tcase_add_test(tc, test_set_meta_in_place);
    tcase_add_test(tc, test_set_meta_refuses);
    tcase_add_test(tc, test_write_behind_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
