/* The protobuf wire decoder (src/import/protobuf_wire.c) on bytes written
 * by hand from the encoding rules, and the ONNX decoder on every
 * truncation and many corruptions of a small valid file: errors, never a
 * crash (run under ASan/UBSan by make test-asan). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_model.h"
#include "import/protobuf_wire.h"
#include "support/test_support.h"

static enum pb_result varint_of(const uint8_t *bytes, size_t n, uint64_t *v, size_t *used)
{
    const uint8_t *p = bytes;
    enum pb_result r = pb_read_varint(&p, bytes + n, v);
    *used = (size_t)(p - bytes);
    return r;
}

START_TEST(test_varint_values)
{
    uint64_t v;
    size_t used;
    static const uint8_t zero[] = {0x00}, one50[] = {0x96, 0x01}, big[] = {0xac, 0x02};
    ck_assert_int_eq(varint_of(zero, 1, &v, &used), PB_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_uint_eq(used, 1);
    ck_assert_int_eq(varint_of(one50, 2, &v, &used), PB_OK);
    ck_assert_uint_eq(v, 150); /* 0x16 + (1 << 7) */
    ck_assert_uint_eq(used, 2);
    ck_assert_int_eq(varint_of(big, 2, &v, &used), PB_OK);
    ck_assert_uint_eq(v, 300); /* 0x2c + (2 << 7) */
    /* 2^64 - 1: nine bytes of 0xff then 0x01 (bit 63) */
    uint8_t max[10];
    memset(max, 0xff, 9);
    max[9] = 0x01;
    ck_assert_int_eq(varint_of(max, 10, &v, &used), PB_OK);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_uint_eq(used, 10);
    /* -1 as an int64 field is the same ten bytes */
    ck_assert_int_eq((int64_t)v, -1);
}
END_TEST

START_TEST(test_varint_errors)
{
    uint64_t v = 7;
    size_t used;
    uint8_t bytes[12];
    memset(bytes, 0xff, sizeof bytes);
    /* beyond 64 bits in the tenth byte */
    bytes[9] = 0x02;
    ck_assert_int_eq(varint_of(bytes, 10, &v, &used), PB_VARINT_OVERFLOW);
    /* eleven bytes */
    bytes[9] = 0x81;
    bytes[10] = 0x01;
    ck_assert_int_eq(varint_of(bytes, 11, &v, &used), PB_VARINT_OVERFLOW);
    /* cut short: continuation bit on the last byte there is */
    static const uint8_t cut[] = {0x80, 0x80};
    ck_assert_int_eq(varint_of(cut, 2, &v, &used), PB_TRUNCATED);
    ck_assert_uint_eq(used, 0); /* position untouched on failure */
    ck_assert_int_eq(varint_of(cut, 0, &v, &used), PB_TRUNCATED);
    ck_assert_uint_eq(v, 7);    /* output untouched too */
}
END_TEST

START_TEST(test_fields_of_each_wire_type)
{
    /* field 1 varint 150; field 2 fixed64; field 3 "hi"; field 4 fixed32 1.5f */
    static const uint8_t msg[] = {
        0x08, 0x96, 0x01,
        0x11, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x1a, 0x02, 'h', 'i',
        0x25, 0x00, 0x00, 0xc0, 0x3f,
    };
    struct pb_reader r;
    struct pb_field f;
    pb_reader_init(&r, msg, sizeof msg);
    ck_assert_int_eq(pb_next(&r, &f), PB_OK);
    ck_assert_uint_eq(f.number, 1);
    ck_assert_int_eq(f.wire, PB_WIRE_VARINT);
    ck_assert_uint_eq(f.value, 150);
    ck_assert_int_eq(pb_next(&r, &f), PB_OK);
    ck_assert_uint_eq(f.number, 2);
    ck_assert_int_eq(f.wire, PB_WIRE_I64);
    ck_assert_uint_eq(f.value, 0x0807060504030201ull); /* little-endian */
    ck_assert_int_eq(pb_next(&r, &f), PB_OK);
    ck_assert_uint_eq(f.number, 3);
    ck_assert_int_eq(f.wire, PB_WIRE_LEN);
    ck_assert_uint_eq(f.size, 2);
    ck_assert_int_eq(memcmp(f.data, "hi", 2), 0);
    ck_assert_int_eq(pb_next(&r, &f), PB_OK);
    ck_assert_uint_eq(f.number, 4);
    ck_assert_int_eq(f.wire, PB_WIRE_I32);
    ck_assert(pb_field_float(&f) == 1.5f);
    ck_assert_int_eq(pb_next(&r, &f), PB_END);
}
END_TEST

static enum pb_result first_field(const uint8_t *bytes, size_t n)
{
    struct pb_reader r;
    struct pb_field f;
    pb_reader_init(&r, bytes, n);
    return pb_next(&r, &f);
}

START_TEST(test_field_errors)
{
    static const uint8_t len_beyond[] = {0x0a, 0x05, 'a', 'b'};       /* 5 bytes, 2 there */
    static const uint8_t len_huge[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    static const uint8_t group_start[] = {0x0b, 0x0c};               /* field 1, type 3 */
    static const uint8_t group_end[] = {0x0c};                       /* field 1, type 4 */
    static const uint8_t wire6[] = {0x0e, 0x00};
    static const uint8_t wire7[] = {0x0f, 0x00};
    static const uint8_t field0[] = {0x00, 0x01};
    static const uint8_t fixed32_cut[] = {0x0d, 0x01, 0x02, 0x03};
    static const uint8_t fixed64_cut[] = {0x09, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    static const uint8_t key_cut[] = {0x80};
    static const uint8_t value_cut[] = {0x08, 0x80};
    ck_assert_int_eq(first_field(len_beyond, sizeof len_beyond), PB_BAD_LENGTH);
    ck_assert_int_eq(first_field(len_huge, sizeof len_huge), PB_BAD_LENGTH);
    ck_assert_int_eq(first_field(group_start, sizeof group_start), PB_GROUP);
    ck_assert_int_eq(first_field(group_end, sizeof group_end), PB_GROUP);
    ck_assert_int_eq(first_field(wire6, sizeof wire6), PB_BAD_WIRE_TYPE);
    ck_assert_int_eq(first_field(wire7, sizeof wire7), PB_BAD_WIRE_TYPE);
    ck_assert_int_eq(first_field(field0, sizeof field0), PB_BAD_FIELD);
    ck_assert_int_eq(first_field(fixed32_cut, sizeof fixed32_cut), PB_TRUNCATED);
    ck_assert_int_eq(first_field(fixed64_cut, sizeof fixed64_cut), PB_TRUNCATED);
    ck_assert_int_eq(first_field(key_cut, sizeof key_cut), PB_TRUNCATED);
    ck_assert_int_eq(first_field(value_cut, sizeof value_cut), PB_TRUNCATED);
    ck_assert_int_eq(first_field(NULL, 0), PB_END);
    /* every result has a message */
    for (int r = PB_OK; r <= PB_BAD_PACKED; r++)
        ck_assert_str_ne(pb_result_string((enum pb_result)r), "unknown error");
}
END_TEST

START_TEST(test_nesting_bound)
{
    /* 40 messages each holding the next as field 1: built inside out */
    enum { LEVELS = 40 };
    uint8_t buf[LEVELS * 2 + 2];
    size_t n = 0;
    for (int i = 0; i < LEVELS; i++) {
        /* prepend key 0x0a and length n (< 128) */
        memmove(buf + 2, buf, n);
        buf[0] = 0x0a;
        buf[1] = (uint8_t)n;
        n += 2;
    }
    struct pb_reader r, child;
    struct pb_field f;
    pb_reader_init(&r, buf, n);
    int depth = 0;
    enum pb_result res;
    for (;;) {
        ck_assert_int_eq(pb_next(&r, &f), PB_OK);
        res = pb_enter(&r, &f, &child);
        if (res != PB_OK)
            break;
        r = child;
        depth++;
    }
    ck_assert_int_eq(res, PB_TOO_DEEP);
    ck_assert_int_eq(depth, PB_MAX_DEPTH);
}
END_TEST

START_TEST(test_packed)
{
    static const uint8_t packed[] = {0x01, 0xac, 0x02, 0x7f};
    size_t count = 0;
    int64_t out[3];
    ck_assert_int_eq(pb_packed_varint_count(packed, sizeof packed, &count), PB_OK);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(pb_packed_varints(packed, sizeof packed, out, count), PB_OK);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 300);
    ck_assert_int_eq(out[2], 127);
    static const uint8_t cut[] = {0x01, 0x80};
    ck_assert_int_eq(pb_packed_varint_count(cut, sizeof cut, &count), PB_BAD_PACKED);
    ck_assert_int_eq(pb_packed_fixed_count(packed, 4, 4, &count), PB_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(pb_packed_fixed_count(packed, 3, 4, &count), PB_BAD_PACKED);
    ck_assert_int_eq(pb_packed_fixed_count(packed, 4, 8, &count), PB_BAD_PACKED);
}
END_TEST

/* A decode that fails must say so in one line. */
static void check_decode(const uint8_t *bytes, size_t n)
{
    struct onnx_model m;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = onnx_model_decode(&m, bytes, n, "fuzz.onnx", NULL, &err);
    ck_assert(st == QUANTA_OK || st == QUANTA_ERR_INPUT);
    if (st == QUANTA_OK) {
        onnx_model_free(&m);
    } else {
        ck_assert_ptr_null(strchr(err.message, '\n'));
        ck_assert_ptr_nonnull(strstr(err.message, "fuzz.onnx: "));
    }
}

START_TEST(test_onnx_truncations_and_corruptions)
{
    size_t size;
    char *bytes = ts_read_file(ts_src_path("tests/fixtures/onnx/cnn_bn.onnx"), &size);
    ck_assert_ptr_nonnull(bytes);
    struct onnx_model m;
    struct quanta_error err;
    ck_assert_int_eq(onnx_model_decode(&m, bytes, size, "cnn_bn.onnx", NULL, &err), QUANTA_OK);
    ck_assert_int_eq(m.opset, 13);
    ck_assert_int_gt(m.graph.n_nodes, 5);
    ck_assert_str_eq(m.graph.inputs[0].name, "image");
    onnx_model_free(&m);
    /* every prefix of the first 2 KB and a spread of longer ones */
    for (size_t n = 0; n < size; n += n < 2048 ? 1 : 97)
        check_decode((const uint8_t *)bytes, n);
    /* each of the first 1500 bytes set to values that break structure */
    static const uint8_t evil[] = {0x00, 0x7f, 0x80, 0xff, 0x0b, 0x0f};
    uint8_t *copy = malloc(size);
    ck_assert_ptr_nonnull(copy);
    for (size_t i = 0; i < size && i < 1500; i++) {
        for (size_t k = 0; k < sizeof evil; k++) {
            memcpy(copy, bytes, size);
            copy[i] = evil[k];
            check_decode(copy, size);
        }
    }
    free(copy);
    free(bytes);
}
END_TEST

Suite *suite_protobuf_wire(void);
Suite *suite_protobuf_wire(void)
{
    Suite *s = suite_create("protobuf_wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, test_varint_values);
    tcase_add_test(tc, test_varint_errors);
    tcase_add_test(tc, test_fields_of_each_wire_type);
    tcase_add_test(tc, test_field_errors);
    tcase_add_test(tc, test_nesting_bound);
    tcase_add_test(tc, test_packed);
    suite_add_tcase(s, tc);
    TCase *fz = tcase_create("fuzz");
    tcase_set_timeout(fz, 120);
    tcase_add_test(fz, test_onnx_truncations_and_corruptions);
    suite_add_tcase(s, fz);
    return s;
}
