/* Data readers: IDX (raw and gzip), NPY 1.0/2.0/3.0, safetensors data,
 * normalization, labels, and the NPY writer. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "quanta/data.h"
#include "quanta/safetensors.h"
#include "support/test_support.h"

static char path_a[1200];

static const char *tmp(const char *name)
{
    snprintf(path_a, sizeof path_a, "%s", ts_tmp_path(name));
    return path_a;
}

/* IDX bytes: magic 00 00 type ndims, big-endian dims, then payload. */
static size_t idx_build(unsigned char *buf, unsigned type, int ndims, const uint32_t *dims,
                        const unsigned char *payload, size_t payload_len)
{
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = (unsigned char)type;
    buf[n++] = (unsigned char)ndims;
    for (int i = 0; i < ndims; i++) {
        buf[n++] = (unsigned char)(dims[i] >> 24);
        buf[n++] = (unsigned char)(dims[i] >> 16);
        buf[n++] = (unsigned char)(dims[i] >> 8);
        buf[n++] = (unsigned char)dims[i];
    }
    if (payload_len)
        memcpy(buf + n, payload, payload_len);
    return n + payload_len;
}

static void write_gz(const char *path, const void *bytes, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    ck_assert_ptr_nonnull(gz);
    ck_assert_int_eq(gzwrite(gz, bytes, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

/* NPY file: preamble for `major`, dict text, padding (spaces + '\n') to a
 * multiple of 64, then data. */
static void write_npy(const char *path, int major, const char *dict, const void *data,
                      size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t hlen = strlen(dict) + 1;
    while ((pre + hlen) % 64)
        hlen++;
    unsigned char *buf = calloc(1, pre + hlen + data_len + 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, strlen(dict));
    buf[pre + hlen - 1] = '\n';
    if (data_len)
        memcpy(buf + pre + hlen, data, data_len);
    ts_write_file(path, buf, pre + hlen + data_len);
    free(buf);
}

static void expect_open_fails(const char *path, const char *needle)
{
    struct dataset *ds = (struct dataset *)0x1;
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_open(&ds, path, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "'%s' lacks path", err.message);
    ck_assert_msg(strstr(err.message, needle), "'%s' lacks '%s'", err.message, needle);
}

static struct dataset *open_ok(const char *path, const char *tensor)
{
    struct dataset *ds = NULL;
    struct quanta_error err = {0};
    ck_assert_msg(dataset_open(&ds, path, tensor, &err) == QUANTA_OK, "%s", err.message);
    return ds;
}

/* 3 images of 2x2: pixel values 10*i + k */
static const uint32_t img_dims[3] = {3, 2, 2};
static const unsigned char img_pixels[12] = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 255};

static void check_images(struct dataset *ds)
{
    ck_assert_int_eq(ds->format, DATASET_IDX);
    ck_assert_int_eq(ds->dtype, QUANTA_U8);
    ck_assert_int_eq(ds->n_samples, 3);
    ck_assert_int_eq(ds->sample_shape.rank, 3);
    ck_assert_int_eq(ds->sample_shape.dims[0], 2);
    ck_assert_int_eq(ds->sample_shape.dims[1], 2);
    ck_assert_int_eq(ds->sample_shape.dims[2], 1);
    struct quanta_error err = {0};
    float out[12];
    ck_assert_int_eq(dataset_read_f32(ds, 0, 3, NULL, out, &err), QUANTA_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(out[i], (float)img_pixels[i]);
    /* backwards, then forwards again */
    ck_assert_int_eq(dataset_read_f32(ds, 2, 1, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[3], 255.0f);
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[1], 1.0f);
    ck_assert_int_eq(dataset_read_f32(ds, 1, 2, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[0], 10.0f);
    ck_assert_float_eq(out[7], 255.0f);
    int64_t ids[4];
    ck_assert_int_eq(dataset_read_i64(ds, 1, 1, ids, &err), QUANTA_OK);
    ck_assert_int_eq(ids[3], 13);
    /* outside the file */
    ck_assert_int_eq(dataset_read_f32(ds, 2, 2, NULL, out, &err), QUANTA_ERR_INTERNAL);
    ck_assert_int_eq(dataset_read_f32(ds, -1, 1, NULL, out, &err), QUANTA_ERR_INTERNAL);
    ck_assert_int_eq(dataset_read_f32(ds, 3, 0, NULL, out, &err), QUANTA_OK);
}

START_TEST(idx_raw)
{
    unsigned char buf[64];
    size_t n = idx_build(buf, 0x08, 3, img_dims, img_pixels, 12);
    ts_write_file(tmp("img-raw"), buf, n);
    struct dataset *ds = open_ok(path_a, NULL);
    ck_assert_str_eq(ds->path, path_a);
    check_images(ds);
    dataset_close(ds);
}
END_TEST

START_TEST(idx_gzip)
{
    unsigned char buf[64];
    size_t n = idx_build(buf, 0x08, 3, img_dims, img_pixels, 12);
    write_gz(tmp("img.gz"), buf, n);
    struct dataset *ds = open_ok(path_a, NULL);
    check_images(ds);
    dataset_close(ds);
}
END_TEST

START_TEST(idx_gzip_large_skips)
{
    /* 300 samples of 1000 bytes: skipping forward crosses buffer sizes */
    enum { N = 300, S = 1000 };
    unsigned char *payload = malloc(N * S), *buf = malloc(N * S + 64);
    for (int i = 0; i < N * S; i++)
        payload[i] = (unsigned char)((i / S) * 7 + i % S);
    uint32_t dims[2] = {N, S};
    size_t n = idx_build(buf, 0x08, 2, dims, payload, N * S);
    write_gz(tmp("big.gz"), buf, n);
    struct dataset *ds = open_ok(path_a, NULL);
    ck_assert_int_eq(ds->sample_shape.rank, 1);
    float out[S];
    struct quanta_error err = {0};
    int order[] = {250, 3, 299, 0, 100};
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(dataset_read_f32(ds, order[k], 1, NULL, out, &err), QUANTA_OK);
        for (int j = 0; j < S; j += 97)
            ck_assert_float_eq(out[j], (float)payload[order[k] * S + j]);
    }
    dataset_close(ds);
    free(payload);
    free(buf);
}
END_TEST

START_TEST(idx_errors)
{
    unsigned char buf[64];
    /* truncated raw: one byte short */
    size_t n = idx_build(buf, 0x08, 3, img_dims, img_pixels, 12);
    ts_write_file(tmp("trunc-idx"), buf, n - 1);
    expect_open_fails(path_a, "file is 27 bytes but the IDX header [3, 2, 2] promises 28");
    /* one byte too many */
    buf[n] = 0;
    ts_write_file(tmp("long-idx"), buf, n + 1);
    expect_open_fails(path_a, "promises 28");
    /* truncated inside the dims */
    ts_write_file(tmp("trunc-dims"), buf, 9);
    expect_open_fails(path_a, "data ends early");
    /* unsupported element type */
    buf[2] = 0x0d;
    ts_write_file(tmp("float-idx"), buf, n);
    expect_open_fails(path_a, "IDX element type 0x0d (float) is not supported");
    /* no dimensions */
    buf[2] = 0x08;
    buf[3] = 0;
    ts_write_file(tmp("zero-dims"), buf, 4);
    expect_open_fails(path_a, "IDX file has 0 dimensions");
    /* bad magic inside gzip */
    n = idx_build(buf, 0x07, 3, img_dims, img_pixels, 12);
    write_gz(tmp("magic.gz"), buf, n);
    expect_open_fails(path_a, "not an IDX file (magic 0x00000703)");
    /* garbage gzip: the magic only */
    ts_write_file(tmp("garbage.gz"), "\x1f\x8b\x08\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    struct dataset *ds = NULL;
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_open(&ds, path_a, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(idx_gzip_wrong_isize)
{
    unsigned char buf[64];
    size_t n = idx_build(buf, 0x08, 3, img_dims, img_pixels, 12);
    write_gz(tmp("isize.gz"), buf, n);
    size_t size;
    unsigned char *gz = (unsigned char *)ts_read_file(path_a, &size);
    ck_assert_uint_eq(gz[size - 4], 28); /* the real ISIZE */
    gz[size - 4] = 200;
    ts_write_file(path_a, gz, size);
    expect_open_fails(path_a, "gzip trailer says 200 bytes uncompressed (mod 2^32) but the IDX "
                              "header [3, 2, 2] promises 28");
    /* a "bomb": header promises 2^32+28 bytes but the stream has 28 */
    uint32_t bomb_dims[3] = {3, 65536, 21846};
    n = idx_build(buf, 0x08, 3, bomb_dims, img_pixels, 12);
    write_gz(tmp("bomb.gz"), buf, n);
    expect_open_fails(path_a, "gzip trailer says 28 bytes");
    free(gz);
    /* too short to hold a trailer */
    ts_write_file(tmp("tiny.gz"), "\x1f\x8b\x08\0", 4);
    expect_open_fails(path_a, "gzip file is truncated");
}
END_TEST

START_TEST(idx_gzip_ends_early)
{
    /* header promises 300 samples of 1000 bytes but the stream holds 299;
     * ISIZE patched to agree with the header so that only reading can
     * notice. Pseudo-random bytes keep the stream larger than zlib's
     * buffers, so the first samples still read fine. */
    enum { N = 300, S = 1000 };
    unsigned char *buf = malloc(N * S + 64);
    uint32_t x = 1;
    uint32_t dims[2] = {N, S};
    size_t n = idx_build(buf, 0x08, 2, dims, NULL, 0);
    for (int i = 0; i < (N - 1) * S; i++) {
        x = x * 1664525u + 1013904223u;
        buf[n + (size_t)i] = (unsigned char)(x >> 24);
    }
    write_gz(tmp("short.gz"), buf, n + (N - 1) * S);
    size_t size;
    unsigned char *gz = (unsigned char *)ts_read_file(path_a, &size);
    uint32_t promised = (uint32_t)(n + N * S);
    for (int i = 0; i < 4; i++)
        gz[size - 4 + (size_t)i] = (unsigned char)(promised >> (8 * i));
    ts_write_file(path_a, gz, size);
    free(gz);
    struct dataset *ds = open_ok(path_a, NULL);
    float *out = malloc(S * sizeof *out);
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[0], (float)buf[n]);
    ck_assert_int_eq(dataset_read_f32(ds, N - 1, 1, NULL, out, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strncmp(err.message, path_a, strlen(path_a)) == 0, "%s", err.message);
    ck_assert_msg(strstr(err.message, "ends early") || strstr(err.message, "corrupt gzip"), "%s",
                  err.message);
    dataset_close(ds);
    free(out);
    free(buf);
}
END_TEST

START_TEST(npy_versions)
{
    const float v[6] = {0.5f, -1, 2, 3.25f, 4, 1e-3f};
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    for (int major = 1; major <= 3; major++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.npy", major);
        write_npy(tmp(name), major, dict, v, sizeof v);
        struct dataset *ds = open_ok(path_a, NULL);
        ck_assert_int_eq(ds->format, DATASET_NPY);
        ck_assert_int_eq(ds->dtype, QUANTA_F32);
        ck_assert_int_eq(ds->n_samples, 3);
        ck_assert_int_eq(ds->sample_shape.rank, 1);
        ck_assert_int_eq(ds->sample_shape.dims[0], 2);
        float out[6];
        struct quanta_error err = {0};
        ck_assert_int_eq(dataset_read_f32(ds, 0, 3, NULL, out, &err), QUANTA_OK);
        ck_assert(memcmp(out, v, sizeof v) == 0);
        ck_assert_int_eq(dataset_read_f32(ds, 2, 1, NULL, out, &err), QUANTA_OK);
        ck_assert_float_eq(out[0], 4.0f);
        dataset_close(ds);
    }
    /* key order, quotes, no trailing comma, 1-D */
    const int64_t ids[3] = {7, -2, 40000000000};
    write_npy(tmp("ids.npy"), 1, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i8\"}",
              ids, sizeof ids);
    struct dataset *ds = open_ok(path_a, NULL);
    ck_assert_int_eq(ds->dtype, QUANTA_I64);
    ck_assert_int_eq(ds->sample_shape.rank, 0);
    int64_t back[3];
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_read_i64(ds, 0, 3, back, &err), QUANTA_OK);
    ck_assert(memcmp(back, ids, sizeof ids) == 0);
    dataset_close(ds);
}
END_TEST

START_TEST(npy_dtypes)
{
    const double f8[2] = {1.5, -2.25};
    const int8_t i1[2] = {-128, 127};
    const int32_t i4[2] = {-70000, 5};
    const unsigned char u1[2] = {0, 255};
    struct {
        const char *descr;
        const void *data;
        size_t size;
        enum quanta_dtype dtype;
        float expect[2];
    } cases[] = {
        {"<f8", f8, 16, QUANTA_F64, {1.5f, -2.25f}},
        {"|i1", i1, 2, QUANTA_I8, {-128, 127}},
        {"<i1", i1, 2, QUANTA_I8, {-128, 127}},
        {"<i4", i4, 8, QUANTA_I32, {-70000, 5}},
        {"=i4", i4, 8, QUANTA_I32, {-70000, 5}},
        {"|u1", u1, 2, QUANTA_U8, {0, 255}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 cases[i].descr);
        write_npy(tmp("t.npy"), 1, dict, cases[i].data, cases[i].size);
        struct dataset *ds = open_ok(path_a, NULL);
        ck_assert_int_eq(ds->dtype, cases[i].dtype);
        float out[2];
        struct quanta_error err = {0};
        ck_assert_int_eq(dataset_read_f32(ds, 0, 2, NULL, out, &err), QUANTA_OK);
        ck_assert_float_eq(out[0], cases[i].expect[0]);
        ck_assert_float_eq(out[1], cases[i].expect[1]);
        int64_t ids[2];
        ck_assert_int_eq(dataset_read_i64(ds, 0, 2, ids, &err), cases[i].dtype == QUANTA_F64
                                                                     ? QUANTA_ERR_INPUT
                                                                     : QUANTA_OK);
        if (cases[i].dtype != QUANTA_F64)
            ck_assert_int_eq(ids[0], (int64_t)cases[i].expect[0]);
        else
            ck_assert_ptr_nonnull(strstr(err.message, "sample 0 element 0 is 1.5, not an integer"));
        dataset_close(ds);
    }
}
END_TEST

START_TEST(npy_errors)
{
    const float v[4] = {0};
    write_npy(tmp("be.npy"), 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
    expect_open_fails(path_a, "big-endian NPY data ('>f4') is not supported");
    write_npy(tmp("fo.npy"), 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, 16);
    expect_open_fails(path_a, "Fortran order is not supported");
    write_npy(tmp("size.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 12);
    expect_open_fails(path_a, "promises");
    write_npy(tmp("size2.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, 16);
    expect_open_fails(path_a, "promises");
    write_npy(tmp("noshape.npy"), 1, "{'descr': '<f4', 'fortran_order': False, }", v, 16);
    expect_open_fails(path_a, "NPY header lacks 'shape'");
    write_npy(tmp("extra.npy"), 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", v, 16);
    expect_open_fails(path_a, "NPY header has an unexpected key 'x'");
    write_npy(tmp("rep.npy"), 1,
              "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", v, 16);
    expect_open_fails(path_a, "NPY header has a repeated key 'descr'");
    write_npy(tmp("tuple.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", v, 16);
    expect_open_fails(path_a, "invalid value for 'shape'");
    write_npy(tmp("neg.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", v, 16);
    expect_open_fails(path_a, "invalid value for 'shape'");
    write_npy(tmp("dt.npy"), 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", v, 16);
    expect_open_fails(path_a, "NPY dtype '<c8' is not supported");
    write_npy(tmp("scalar.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", v, 4);
    expect_open_fails(path_a, "no sample axis");
    write_npy(tmp("garb.npy"), 1, "not a dict at all", v, 16);
    expect_open_fails(path_a, "NPY header is not a dict");
    write_npy(tmp("tail.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x", v, 16);
    expect_open_fails(path_a, "bytes after the dict");
    write_npy(tmp("ver.npy"), 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", v, 16);
    expect_open_fails(path_a, "NPY version 4.0 is not supported");
    /* header length beyond the file */
    ts_write_file(tmp("cut.npy"), "\x93NUMPY\x01\x00\x40\x00{'descr'", 17);
    expect_open_fails(path_a, "NPY header is truncated");
    ts_write_file(tmp("cut2.npy"), "\x93NUMPY\x01", 7);
    expect_open_fails(path_a, "NPY file is truncated");
}
END_TEST

START_TEST(normalization)
{
    /* 2 samples of [1, 2, 3] U8 pixels, 3 channels */
    const unsigned char px[12] = {0, 51, 255, 102, 204, 0, 255, 255, 255, 1, 2, 3};
    write_npy(tmp("rgb.npy"), 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 2, 3), }",
              px, sizeof px);
    struct dataset *ds = open_ok(path_a, NULL);
    const float mean[3] = {0.5f, 0.25f, 0.0f};
    const float std[3] = {0.5f, 0.25f, 2.0f};
    struct quanta_normalize norm = {1.0 / 255.0, 3, mean, 3, std};
    float out[12];
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_read_f32(ds, 0, 2, &norm, out, &err), QUANTA_OK);
    for (int i = 0; i < 12; i++) {
        int c = i % 3;
        double expect = ((double)px[i] / 255.0 - mean[c]) / std[c];
        ck_assert_double_eq_tol(out[i], expect, 1e-6);
    }
    /* spot values by hand: 255 in channel 0 -> (1 - 0.5) / 0.5 = 1 */
    ck_assert_float_eq_tol(out[6], 1.0f, 1e-6f);            /* px 255, channel 0 */
    ck_assert_float_eq_tol(out[0], -1.0f, 1e-6f);           /* (0 - .5)/.5 */
    ck_assert_float_eq_tol(out[1], -0.2f, 1e-6f);           /* (.2 - .25)/.25 */
    /* one-element lists apply to every channel */
    const float m1[1] = {0.5f}, s1[1] = {0.25f};
    struct quanta_normalize one = {1.0 / 255.0, 1, m1, 1, s1};
    ck_assert_int_eq(dataset_read_f32(ds, 1, 1, &one, out, &err), QUANTA_OK);
    ck_assert_float_eq_tol(out[0], 2.0f, 1e-6f);                        /* (1-.5)/.25 */
    ck_assert_float_eq_tol(out[3], (float)((1 / 255.0 - 0.5) / 0.25), 1e-6f);
    /* wrong count and zero std */
    struct quanta_normalize bad = {1.0, 2, mean, 1, s1};
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, &bad, out, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, "normalize has 2 mean and 1 std values but the samples "
                                      "have 3 channels"), "%s", err.message);
    const float zero[1] = {0};
    struct quanta_normalize z = {1.0, 1, m1, 1, zero};
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, &z, out, &err), QUANTA_ERR_INPUT);
    dataset_close(ds);

    /* float data is fed as it is, even with norm */
    const float f[3] = {10, 20, 30};
    write_npy(tmp("f.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", f,
              sizeof f);
    ds = open_ok(path_a, NULL);
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, &norm, out, &err), QUANTA_OK);
    ck_assert(memcmp(out, f, sizeof f) == 0);
    dataset_close(ds);
}
END_TEST

START_TEST(safetensors_data)
{
    const unsigned char img[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int64_t lab[2] = {3, 9};
    struct st_tensor_desc d[2] = {{"images", QUANTA_U8, {3, {2, 2, 2}}, img},
                                  {"labels", QUANTA_I64, {1, {2}}, lab}};
    char path[1200];
    snprintf(path, sizeof path, "%s", tmp("data.safetensors"));
    struct quanta_error err = {0};
    ck_assert_int_eq(st_write_file(path, d, 2, NULL, 0, &err), QUANTA_OK);
    struct dataset *ds = open_ok(path, NULL);
    ck_assert_int_eq(ds->format, DATASET_SAFETENSORS);
    ck_assert_int_eq(ds->n_samples, 2);
    ck_assert_int_eq(ds->sample_shape.rank, 2);
    float out[4];
    ck_assert_int_eq(dataset_read_f32(ds, 1, 1, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[0], 5.0f);
    ck_assert_float_eq(out[3], 8.0f);
    dataset_close(ds);
    struct labels l;
    ck_assert_int_eq(labels_load_for_data(&l, path, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 2);
    ck_assert_int_eq(l.values[0], 3);
    ck_assert_int_eq(l.values[1], 9);
    labels_free(&l);
    ck_assert_int_eq(labels_load(&l, path, &err), QUANTA_OK);
    ck_assert_int_eq(l.values[1], 9);
    labels_free(&l);

    /* two candidate tensors: name one */
    struct st_tensor_desc d2[2] = {{"a", QUANTA_U8, {2, {2, 2}}, img},
                                   {"b", QUANTA_U8, {2, {2, 2}}, img + 4}};
    ck_assert_int_eq(st_write_file(path, d2, 2, NULL, 0, &err), QUANTA_OK);
    expect_open_fails(path, "2 tensors besides 'labels'");
    ds = open_ok(path, "b");
    ck_assert_int_eq(dataset_read_f32(ds, 0, 1, NULL, out, &err), QUANTA_OK);
    ck_assert_float_eq(out[0], 5.0f);
    dataset_close(ds);
    ck_assert_int_eq(dataset_open(&ds, path, "c", &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "no tensor named 'c'"));
    /* no labels tensor: none found, not an error */
    ck_assert_int_eq(labels_load_for_data(&l, path, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 0);
    ck_assert_int_eq(labels_load(&l, path, &err), QUANTA_ERR_INPUT);
}
END_TEST

START_TEST(labels_from_idx_and_npy)
{
    char dir[1200], images[1300], labels_path[1300];
    snprintf(dir, sizeof dir, "%s", ts_tmp_path("mnist"));
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(labels_path, sizeof labels_path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    unsigned char buf[64];
    size_t n = idx_build(buf, 0x08, 3, img_dims, img_pixels, 12);
    write_gz(images, buf, n);
    struct labels l;
    struct quanta_error err = {0};
    /* no sibling yet */
    ck_assert_int_eq(labels_load_for_data(&l, images, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 0);
    const uint32_t ldims[1] = {3};
    n = idx_build(buf, 0x08, 1, ldims, (const unsigned char *)"\x07\x00\x09", 3);
    write_gz(labels_path, buf, n);
    ck_assert_int_eq(labels_load_for_data(&l, images, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 3);
    ck_assert_int_eq(l.values[0], 7);
    ck_assert_int_eq(l.values[1], 0);
    ck_assert_int_eq(l.values[2], 9);
    labels_free(&l);
    ck_assert_int_eq(l.n, 0);

    const int32_t ints[4] = {1, 2, 3, -4};
    write_npy(tmp("lab.npy"), 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }",
              ints, sizeof ints);
    ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 4);
    ck_assert_int_eq(l.values[3], -4);
    labels_free(&l);
    const int64_t big[1] = {3000000000};
    write_npy(tmp("big.npy"), 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
              big, sizeof big);
    ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "label 0 is 3000000000, outside int32"));
    const float fl[2] = {1, 2};
    write_npy(tmp("fl.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fl,
              sizeof fl);
    ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "labels must be integers, not F32"));
    ck_assert_ptr_null(l.values);
    write_npy(tmp("2d.npy"), 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
              ints, sizeof ints);
    ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_ERR_INPUT);
}
END_TEST

START_TEST(npy_writer)
{
    const float v[6] = {1, 2, 3, 4, 5, 6};
    struct quanta_shape shape = {2, {2, 3}};
    struct quanta_error err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s", tmp("out.npy"));
    ck_assert_int_eq(npy_write(path, QUANTA_F32, &shape, v, &err), QUANTA_OK);
    size_t size;
    char *bytes = ts_read_file(path, &size);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    /* 10 + 60-byte dict + newline = 71: padded to 128, as numpy does */
    ck_assert_uint_eq(size, 128 + sizeof v);
    ck_assert(memcmp(bytes, "\x93NUMPY\x01\x00\x76\x00", 10) == 0); /* 118 = 128 - 10 */
    ck_assert(memcmp(bytes + 10, dict, strlen(dict)) == 0);
    for (size_t i = 10 + strlen(dict); i < 127; i++)
        ck_assert_int_eq(bytes[i], ' ');
    ck_assert_int_eq(bytes[127], '\n');
    ck_assert(memcmp(bytes + 128, v, sizeof v) == 0);
    free(bytes);
    struct dataset *ds = open_ok(path, NULL);
    float out[6];
    ck_assert_int_eq(dataset_read_f32(ds, 0, 2, NULL, out, &err), QUANTA_OK);
    ck_assert(memcmp(out, v, sizeof v) == 0);
    dataset_close(ds);

    /* 1-D needs the tuple comma; I64; a long shape goes past 64 bytes */
    const int64_t ids[3] = {1, 2, 3};
    struct quanta_shape s1 = {1, {3}};
    ck_assert_int_eq(npy_write(path, QUANTA_I64, &s1, ids, &err), QUANTA_OK);
    bytes = ts_read_file(path, &size);
    ck_assert_ptr_nonnull(strstr(bytes + 10, "'shape': (3,), }"));
    free(bytes);
    ds = open_ok(path, NULL);
    ck_assert_int_eq(ds->dtype, QUANTA_I64);
    dataset_close(ds);
    uint8_t one = 9;
    struct quanta_shape s8b = {8, {1, 1, 1, 1, 1, 1, 1, 1}};
    ck_assert_int_eq(npy_write(path, QUANTA_U8, &s8b, &one, &err), QUANTA_OK);
    bytes = ts_read_file(path, &size);
    ck_assert_uint_eq((size - 1) % 64, 0);
    free(bytes);
    ck_assert_int_eq(npy_write(path, QUANTA_BF16, &s1, ids, &err), QUANTA_ERR_INTERNAL);
}
END_TEST

START_TEST(garbage_is_input_error)
{
    /* random-looking bytes of several lengths: an error, never a crash */
    unsigned char junk[300];
    uint32_t x = 12345;
    for (size_t len = 0; len < sizeof junk; len += 37) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (unsigned char)(x >> 16);
        }
        ts_write_file(tmp("junk"), junk, len);
        struct dataset *ds = NULL;
        struct quanta_error err = {0};
        ck_assert_int_eq(dataset_open(&ds, path_a, NULL, &err), QUANTA_ERR_INPUT);
        ck_assert_ptr_null(ds);
        struct labels l;
        ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_ERR_INPUT);
    }
    struct quanta_error err = {0};
    struct dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, tmp("missing"), NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
}
END_TEST

START_TEST(debian_fashion_mnist)
{
    const char *path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    if (access(path, R_OK) != 0)
        TS_SKIP("%s absent (package dataset-fashion-mnist)", path);
    struct dataset *ds = open_ok(path, NULL);
    ck_assert_int_eq(ds->n_samples, 10000);
    ck_assert_int_eq(ds->sample_shape.rank, 3);
    ck_assert_int_eq(ds->sample_shape.dims[0], 28);
    ck_assert_int_eq(ds->sample_shape.dims[1], 28);
    ck_assert_int_eq(ds->sample_shape.dims[2], 1);
    float *out = malloc(100 * 784 * sizeof *out);
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_read_f32(ds, 9900, 100, NULL, out, &err), QUANTA_OK);
    float max = 0;
    for (int i = 0; i < 100 * 784; i++)
        max = out[i] > max ? out[i] : max;
    ck_assert_float_le(max, 255.0f);
    ck_assert_float_gt(max, 0.0f);
    free(out);
    dataset_close(ds);
    struct labels l;
    ck_assert_int_eq(labels_load_for_data(&l, path, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 10000);
    for (int64_t i = 0; i < l.n; i++)
        ck_assert(l.values[i] >= 0 && l.values[i] <= 9);
    labels_free(&l);
}
END_TEST

/* labels_load_any: token labels [N, T], float targets, and what it refuses */
START_TEST(labels_any_shapes)
{
    struct labels l;
    struct quanta_error err = {0};
    const int64_t tok[6] = {1, 2, -100, 4, 5, 6};
    write_npy(tmp("tok.npy"), 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }",
              tok, sizeof tok);
    ck_assert_int_eq(labels_load(&l, path_a, &err), QUANTA_ERR_INPUT); /* [N] only */
    ck_assert_int_eq(labels_load_any(&l, path_a, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 3);
    ck_assert_int_eq(l.per_sample, 2);
    ck_assert_ptr_null(l.targets);
    ck_assert_int_eq(l.values[2], -100);
    ck_assert_int_eq(l.values[5], 6);
    ck_assert_str_eq(l.path, path_a);
    labels_free(&l);
    ck_assert_ptr_null(l.values);
    ck_assert_ptr_null(l.path);
    const float fl[6] = {0.5f, -1.0f, 2.0f, 3.25f, 0.0f, 1e-3f};
    write_npy(tmp("fl2.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              fl, sizeof fl);
    ck_assert_int_eq(labels_load_any(&l, path_a, &err), QUANTA_OK);
    ck_assert_int_eq(l.n, 2);
    ck_assert_int_eq(l.per_sample, 3);
    ck_assert_int_eq(l.dtype, QUANTA_F32);
    ck_assert_ptr_null(l.values);
    ck_assert_float_eq(l.targets[3], 3.25f);
    ck_assert_float_eq(l.targets[5], 1e-3f);
    labels_free(&l);
    const int64_t big[2] = {1, 3000000000};
    write_npy(tmp("big2.npy"), 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }",
              big, sizeof big);
    ck_assert_int_eq(labels_load_any(&l, path_a, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "sample 0 element 1 is 3000000000, outside int32"));
    /* F64 targets are read as float too */
    const double d[2] = {0.5, -2.0};
    write_npy(tmp("f8.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", d,
              sizeof d);
    ck_assert_int_eq(labels_load_any(&l, path_a, &err), QUANTA_OK);
    ck_assert_int_eq(l.per_sample, 1);
    ck_assert_float_eq(l.targets[1], -2.0f);
    labels_free(&l);
}
END_TEST

Suite *suite_data(void); /* called by tests/main.c */
Suite *suite_data(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, idx_raw);
    tcase_add_test(tc, idx_gzip);
    tcase_add_test(tc, idx_gzip_large_skips);
    tcase_add_test(tc, idx_errors);
    tcase_add_test(tc, idx_gzip_wrong_isize);
    tcase_add_test(tc, idx_gzip_ends_early);
    tcase_add_test(tc, npy_versions);
    tcase_add_test(tc, npy_dtypes);
    tcase_add_test(tc, npy_errors);
    tcase_add_test(tc, normalization);
    tcase_add_test(tc, safetensors_data);
    tcase_add_test(tc, labels_from_idx_and_npy);
    tcase_add_test(tc, labels_any_shapes);
    tcase_add_test(tc, npy_writer);
    tcase_add_test(tc, garbage_is_input_error);
    tcase_add_test(tc, debian_fashion_mnist);
    suite_add_tcase(s, tc);
    return s;
}
