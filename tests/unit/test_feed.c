/* The data feed and an input's declared element type (quanta/feed.h): data
 * of the declared type, or of a type every value of which it holds, is fed
 * as float; anything else is refused with one line; F32 inputs take any
 * numeric data, as before. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quanta/quanta.h"
#include "support/test_model.h"
#include "support/test_support.h"

/* A relu graph whose input [-1, 2] declares dtype declared. */
static void load_graph(struct tmodel *m, const char *declared)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"f\","
             "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"%s\"}],"
             "\"outputs\":[\"y\"],\"nodes\":[{\"op\":\"relu\",\"name\":\"r\","
             "\"inputs\":[\"x\"],\"outputs\":[\"y\"]}]}",
             declared);
    tm_load(m, json);
}

/* Feeds a [1, 2] NPY file of dtype file holding data to the graph: the
 * status, and the two floats fed in got. */
static enum quanta_status feed(const char *declared, enum quanta_dtype file, const void *data,
                               float *got, struct quanta_error *err)
{
    struct tmodel m = {0};
    load_graph(&m, declared);
    const char *path = ts_tmp_path("feed.npy");
    struct quanta_shape shape = {2, {1, 2}};
    ck_assert_int_eq(npy_write(path, file, &shape, data, err), QUANTA_OK);
    struct data_feed f;
    enum quanta_status st = data_feed_open(&f, &m.g, path, 0, 1, QUANTA_LAYOUT_NHWC, err);
    if (st == QUANTA_OK) {
        ck_assert_int_eq(data_feed_read(&f, 0, 1, err), QUANTA_OK);
        memcpy(got, f.buffers[0], 2 * sizeof *got);
        data_feed_close(&f);
    }
    graph_free(&m.g);
    return st;
}

START_TEST(test_declared_types_take_exact_data)
{
    struct quanta_error err = {0};
    float got[2];
    const uint8_t u8[2] = {0, 255};
    const int8_t i8[2] = {-128, 127};
    const float f32[2] = {0.1f, 1.5f};
    const double f64[2] = {0.1, -2.5};
    const uint16_t f16[2] = {0x3e00, 0xc000}; /* 1.5, -2 */
    const uint8_t b[2] = {1, 0};
    ck_assert_int_eq(feed("F16", QUANTA_U8, u8, got, &err), QUANTA_OK);
    ck_assert(got[0] == 0.0f && got[1] == 255.0f);
    ck_assert_int_eq(feed("F16", QUANTA_F16, f16, got, &err), QUANTA_OK);
    ck_assert(got[0] == 1.5f && got[1] == -2.0f);
    ck_assert_int_eq(feed("I16", QUANTA_I8, i8, got, &err), QUANTA_OK);
    ck_assert(got[0] == -128.0f && got[1] == 127.0f);
    ck_assert_int_eq(feed("F64", QUANTA_F32, f32, got, &err), QUANTA_OK);
    ck_assert(got[0] == 0.1f && got[1] == 1.5f);
    /* a model declaring F64 computes in float32: F64 data rounds to nearest */
    ck_assert_int_eq(feed("F64", QUANTA_F64, f64, got, &err), QUANTA_OK);
    ck_assert(got[0] == 0.1f && got[1] == -2.5f);
    ck_assert_int_eq(feed("U8", QUANTA_BOOL, b, got, &err), QUANTA_OK);
    ck_assert(got[0] == 1.0f && got[1] == 0.0f);
    /* F32 inputs take any numeric data, as they always have */
    ck_assert_int_eq(feed("F32", QUANTA_F64, f64, got, &err), QUANTA_OK);
    ck_assert(got[0] == 0.1f);
}
END_TEST

/* data of file's dtype for a declared input is refused with that line */
static void expect_refused(const char *declared, enum quanta_dtype file, const void *data)
{
    struct quanta_error err = {0};
    float got[2];
    char want[160];
    snprintf(want, sizeof want,
             "feed.npy: samples of 'x' are %s but the model declares %s; %s does not convert "
             "exactly to %s",
             quanta_dtype_name(file), declared, quanta_dtype_name(file), declared);
    ck_assert_int_eq(feed(declared, file, data, got, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, want) && !strchr(err.message, '\n'), "%s", err.message);
}

START_TEST(test_declared_types_refuse_inexact_data)
{
    const int8_t i8[2] = {1, 2};
    const uint8_t u8[2] = {1, 2};
    const float f32[2] = {1, 2};
    const int64_t i64[2] = {1, 2};
    const int32_t i32[2] = {1, 2};
    expect_refused("U8", QUANTA_I8, i8);
    expect_refused("I8", QUANTA_U8, u8);
    expect_refused("U8", QUANTA_F32, f32);
    expect_refused("F16", QUANTA_F32, f32);
    expect_refused("BF16", QUANTA_F32, f32);
    expect_refused("I16", QUANTA_I32, i32);
    expect_refused("F64", QUANTA_I64, i64);
    expect_refused("BOOL", QUANTA_U8, u8);
}
END_TEST

Suite *suite_feed(void);
Suite *suite_feed(void)
{
    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("declared_types");
    tcase_add_test(tc, test_declared_types_take_exact_data);
    tcase_add_test(tc, test_declared_types_refuse_inexact_data);
    suite_add_tcase(s, tc);
    return s;
}
