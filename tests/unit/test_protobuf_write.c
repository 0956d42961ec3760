/* The protobuf wire encoder (src/io/protobuf_write.c): bytes compared with
 * encodings written by hand from the rules (the examples of protobuf's
 * encoding guide), nested lengths across the 1- to 2-byte varint boundary,
 * and a round trip through the decoder (src/import/protobuf_wire.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import/protobuf_wire.h"
#include "io/protobuf_write.h"
#include "support/test_support.h"

static void expect_bytes(const struct pbw *w, const uint8_t *want, size_t n)
{
    ck_assert(pbw_ok(w));
    ck_assert_uint_eq(w->size, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(w->buf[i] == want[i], "byte %zu is 0x%02x, not 0x%02x", i, w->buf[i],
                      want[i]);
}

START_TEST(test_pbw_scalars)
{
    struct pbw w;
    pbw_init(&w);
    pbw_varint(&w, 1, 150);   /* 08 96 01 */
    pbw_string(&w, 2, "testing"); /* 12 07 74 65 73 74 69 6e 67 */
    pbw_int64(&w, 3, -2);     /* 18 then ten bytes: fe ff ff ff ff ff ff ff ff 01 */
    pbw_float(&w, 4, 1.0f);   /* 25 00 00 80 3f */
    static const uint8_t want[] = {0x08, 0x96, 0x01, 0x12, 0x07, 't',  'e',  's',  't',
                                   'i',  'n',  'g',  0x18, 0xfe, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0x01, 0x25, 0x00, 0x00, 0x80,
                                   0x3f};
    expect_bytes(&w, want, sizeof want);
    pbw_free(&w);
}
END_TEST

START_TEST(test_pbw_nested_lengths)
{
    /* message 3 { field 1: 150 } is 1a 03 08 96 01 (the guide's example) */
    struct pbw w;
    pbw_init(&w);
    pbw_begin(&w, 3);
    pbw_varint(&w, 1, 150);
    pbw_end(&w);
    static const uint8_t want[] = {0x1a, 0x03, 0x08, 0x96, 0x01};
    expect_bytes(&w, want, sizeof want);
    pbw_free(&w);

    /* payloads of 127 and 128 bytes: a 1- and a 2-byte length, nested */
    for (size_t n = 125; n <= 126; n++) {
        char *s = malloc(n + 1);
        ck_assert_ptr_nonnull(s);
        memset(s, 'a', n);
        s[n] = 0;
        pbw_init(&w);
        pbw_begin(&w, 7);
        pbw_begin(&w, 8);
        pbw_string(&w, 1, s); /* 1 + 1 + n bytes */
        pbw_end(&w);
        pbw_end(&w);
        ck_assert(pbw_ok(&w));
        size_t inner = n + 2, inner_len = inner < 128 ? 1 : 2;
        size_t outer = 1 + inner_len + inner, outer_len = outer < 128 ? 1 : 2;
        ck_assert_uint_eq(w.size, 1 + outer_len + outer);
        struct pb_reader r, c1, c2;
        struct pb_field f;
        pb_reader_init(&r, w.buf, w.size);
        ck_assert_int_eq(pb_next(&r, &f), PB_OK);
        ck_assert_uint_eq(f.number, 7);
        ck_assert_uint_eq(f.size, outer);
        ck_assert_int_eq(pb_enter(&r, &f, &c1), PB_OK);
        ck_assert_int_eq(pb_next(&c1, &f), PB_OK);
        ck_assert_uint_eq(f.number, 8);
        ck_assert_uint_eq(f.size, inner);
        ck_assert_int_eq(pb_enter(&c1, &f, &c2), PB_OK);
        ck_assert_int_eq(pb_next(&c2, &f), PB_OK);
        ck_assert_uint_eq(f.size, n);
        ck_assert(memcmp(f.data, s, n) == 0);
        ck_assert_int_eq(pb_next(&c2, &f), PB_END);
        ck_assert_int_eq(pb_next(&r, &f), PB_END);
        pbw_free(&w);
        free(s);
    }
}
END_TEST

START_TEST(test_pbw_round_trip)
{
    struct pbw w, part;
    pbw_init(&w);
    pbw_init(&part);
    static const int64_t ints[] = {0, 1, -1, 300, INT64_MAX, INT64_MIN};
    static const float floats[] = {0.5f, -2.25f, 1e30f};
    pbw_packed_int64(&part, 5, ints, 6);
    pbw_packed_float(&part, 6, floats, 3);
    pbw_begin(&w, 1);
    pbw_raw(&w, part.buf, part.size);
    pbw_bytes(&w, 2, "", 0);
    pbw_end(&w);
    ck_assert(pbw_ok(&w));
    struct pb_reader r, c;
    struct pb_field f;
    pb_reader_init(&r, w.buf, w.size);
    ck_assert_int_eq(pb_next(&r, &f), PB_OK);
    ck_assert_int_eq(pb_enter(&r, &f, &c), PB_OK);
    ck_assert_int_eq(pb_next(&c, &f), PB_OK);
    ck_assert_uint_eq(f.number, 5);
    size_t count = 0;
    int64_t got[6];
    ck_assert_int_eq(pb_packed_varint_count(f.data, f.size, &count), PB_OK);
    ck_assert_uint_eq(count, 6);
    ck_assert_int_eq(pb_packed_varints(f.data, f.size, got, 6), PB_OK);
    for (int i = 0; i < 6; i++)
        ck_assert(got[i] == ints[i]);
    ck_assert_int_eq(pb_next(&c, &f), PB_OK);
    ck_assert_uint_eq(f.number, 6);
    ck_assert_uint_eq(f.size, 12);
    for (int i = 0; i < 3; i++) {
        float v;
        memcpy(&v, f.data + 4 * i, 4); /* little-endian host */
        ck_assert(v == floats[i]);
    }
    ck_assert_int_eq(pb_next(&c, &f), PB_OK);
    ck_assert_uint_eq(f.number, 2);
    ck_assert_uint_eq(f.size, 0);
    ck_assert_int_eq(pb_next(&c, &f), PB_END);
    pbw_free(&w);
    pbw_free(&part);
}
END_TEST

START_TEST(test_pbw_misuse)
{
    struct pbw w;
    pbw_init(&w);
    pbw_end(&w); /* nothing open */
    ck_assert(!pbw_ok(&w));
    pbw_free(&w);
    pbw_init(&w);
    pbw_begin(&w, 1); /* left open */
    ck_assert(!pbw_ok(&w));
    pbw_end(&w);
    ck_assert(pbw_ok(&w));
    for (int i = 0; i <= PBW_MAX_DEPTH; i++)
        pbw_begin(&w, 1);
    ck_assert(!pbw_ok(&w));
    pbw_free(&w);
}
END_TEST

Suite *suite_protobuf_write(void);
Suite *suite_protobuf_write(void)
{
    Suite *s = suite_create("protobuf_write");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, test_pbw_scalars);
    tcase_add_test(tc, test_pbw_nested_lengths);
    tcase_add_test(tc, test_pbw_round_trip);
    tcase_add_test(tc, test_pbw_misuse);
    suite_add_tcase(s, tc);
    return s;
}
