/* SHA-256 against the FIPS 180-2/180-4 example vectors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/sha256.h"
#include "support/test_support.h"

static const char *hex_of(const void *bytes, size_t size)
{
    static char hex[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_buffer_hex(bytes, size, hex);
    return hex;
}

START_TEST(test_sha256_abc)
{
    ck_assert_str_eq(hex_of("abc", 3),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_sha256_empty)
{
    ck_assert_str_eq(hex_of("", 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

/* 448 bits: the padding needs a second block. */
START_TEST(test_sha256_448_bits)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_assert_uint_eq(strlen(m) * 8, 448);
    ck_assert_str_eq(hex_of(m, strlen(m)),
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

static const char *million_a = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

START_TEST(test_sha256_million_a_one_buffer)
{
    char *a = malloc(1000000);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', 1000000);
    ck_assert_str_eq(hex_of(a, 1000000), million_a);
    free(a);
}
END_TEST

/* Streaming in uneven pieces (1, 2, ..., 127 bytes, repeating) gives the same digest. */
START_TEST(test_sha256_million_a_streamed)
{
    char a[127];
    memset(a, 'a', sizeof a);
    struct quanta_sha256 ctx;
    quanta_sha256_init(&ctx);
    size_t done = 0, piece = 1;
    while (done < 1000000) {
        size_t n = piece < 1000000 - done ? piece : 1000000 - done;
        quanta_sha256_update(&ctx, a, n);
        done += n;
        piece = piece % 127 + 1;
    }
    uint8_t digest[QUANTA_SHA256_SIZE];
    char hex[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_final(&ctx, digest);
    quanta_sha256_hex(digest, hex);
    ck_assert_str_eq(hex, million_a);
}
END_TEST

/* Lengths 55, 56, 63, 64, 65 straddle the padding boundary: streamed byte
 * by byte must equal one call. */
START_TEST(test_sha256_boundaries)
{
    static const size_t lengths[] = {55, 56, 57, 63, 64, 65, 119, 120, 128};
    uint8_t msg[128];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        char one[QUANTA_SHA256_HEX_SIZE], bytewise[QUANTA_SHA256_HEX_SIZE];
        quanta_sha256_buffer_hex(msg, lengths[k], one);
        struct quanta_sha256 ctx;
        uint8_t digest[QUANTA_SHA256_SIZE];
        quanta_sha256_init(&ctx);
        for (size_t i = 0; i < lengths[k]; i++)
            quanta_sha256_update(&ctx, msg + i, 1);
        quanta_sha256_final(&ctx, digest);
        quanta_sha256_hex(digest, bytewise);
        ck_assert_str_eq(one, bytewise);
    }
    /* different lengths differ */
    char a[QUANTA_SHA256_HEX_SIZE], b[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_buffer_hex(msg, 55, a);
    quanta_sha256_buffer_hex(msg, 56, b);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_sha256_file)
{
    const char *path = ts_tmp_path("abc.bin");
    ts_write_file(path, "abc", 3);
    char hex[QUANTA_SHA256_HEX_SIZE];
    struct quanta_error err = {0};
    ck_assert_int_eq(quanta_sha256_file(path, hex, &err), QUANTA_OK);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* a file larger than the read buffer */
    size_t n = 200000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < n; i++)
        a[i] = (char)(i * 31);
    path = ts_tmp_path("big.bin");
    ts_write_file(path, a, n);
    char expect[QUANTA_SHA256_HEX_SIZE];
    quanta_sha256_buffer_hex(a, n, expect);
    ck_assert_int_eq(quanta_sha256_file(path, hex, &err), QUANTA_OK);
    ck_assert_str_eq(hex, expect);
    free(a);
}
END_TEST

START_TEST(test_sha256_file_missing)
{
    char hex[QUANTA_SHA256_HEX_SIZE];
    struct quanta_error err = {0};
    const char *path = ts_tmp_path("no-such-file");
    ck_assert_int_eq(quanta_sha256_file(path, hex, &err), QUANTA_ERR_INPUT);
    ck_assert_int_eq(err.status, QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "no-such-file"));
}
END_TEST

Suite *suite_sha256(void);
Suite *suite_sha256(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("fips");
    tcase_add_test(tc, test_sha256_abc);
    tcase_add_test(tc, test_sha256_empty);
    tcase_add_test(tc, test_sha256_448_bits);
    tcase_add_test(tc, test_sha256_million_a_one_buffer);
    tcase_add_test(tc, test_sha256_million_a_streamed);
    tcase_add_test(tc, test_sha256_boundaries);
    tcase_add_test(tc, test_sha256_file);
    tcase_add_test(tc, test_sha256_file_missing);
    suite_add_tcase(s, tc);
    return s;
}
