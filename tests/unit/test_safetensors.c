/* safetensors reader and writer: every rejection rule of model-format.md
 * section 1 on a file built byte by byte, and writer round trips. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quanta/safetensors.h"
#include "support/test_support.h"

static char file_path[1024];

/* Writes N (little-endian) + header + data to a temp file; returns its path. */
static const char *make_file(const char *name, const char *header, size_t header_len,
                             const void *data, size_t data_len)
{
    size_t total = 8 + header_len + data_len;
    unsigned char *buf = malloc(total);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(buf + 8, header, header_len);
    if (data_len)
        memcpy(buf + 8 + header_len, data, data_len);
    snprintf(file_path, sizeof file_path, "%s", ts_tmp_path(name));
    ts_write_file(file_path, buf, total);
    free(buf);
    return file_path;
}

static const char *make_st(const char *header, size_t data_len)
{
    static unsigned char zeros[256];
    ck_assert_uint_le(data_len, sizeof zeros);
    return make_file("t.safetensors", header, strlen(header), zeros, data_len);
}

static bool file_is_empty(const struct st_file *f)
{
    return !f->path && !f->map && !f->tensors && !f->meta && !f->strings && f->n_tensors == 0 &&
           f->n_meta == 0 && f->map_size == 0;
}

/* st_open must fail with QUANTA_ERR_INPUT, a message naming the file and
 * containing needle, and leave the struct empty. */
static void expect_reject_path(const char *path, const char *needle)
{
    struct st_file f;
    memset(&f, 0xab, sizeof f);
    struct quanta_error err = {0};
    enum quanta_status st = st_open(&f, path, &err);
    ck_assert_int_eq(st, QUANTA_ERR_INPUT);
    ck_assert_int_eq(err.status, QUANTA_ERR_INPUT);
    ck_assert_msg(strncmp(err.message, path, strlen(path)) == 0, "message '%s' lacks path",
                  err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message,
                  needle);
    ck_assert(file_is_empty(&f));
    st_close(&f);
}

static void expect_reject(const char *header, size_t data_len, const char *needle)
{
    expect_reject_path(make_st(header, data_len), needle);
}

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

START_TEST(rejects_short_file)
{
    const char *path = ts_tmp_path("short.safetensors");
    ts_write_file(path, "\x02\0\0\0\0", 5);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", path);
    expect_reject_path(copy, "shorter than the 8-byte header length");
}
END_TEST

START_TEST(rejects_header_over_limit)
{
    unsigned char buf[16] = {0};
    uint64_t n = ST_MAX_HEADER_SIZE + 1;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, "{}      ", 8);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", ts_tmp_path("big.safetensors"));
    ts_write_file(copy, buf, sizeof buf);
    expect_reject_path(copy, "exceeds the limit of 100000000");
}
END_TEST

START_TEST(rejects_header_longer_than_file)
{
    unsigned char buf[16] = {0};
    buf[0] = 9; /* 9 > the 8 bytes that follow */
    memcpy(buf + 8, "{}      ", 8);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", ts_tmp_path("long.safetensors"));
    ts_write_file(copy, buf, sizeof buf);
    expect_reject_path(copy, "header length 9 is more than the 8 bytes after it");
}
END_TEST

START_TEST(rejects_bad_utf8)
{
    expect_reject("{\"a\xff\":{}}", 0, "not valid UTF-8");
    expect_reject("{\"a\xc0\xaf\":{}}", 0, "not valid UTF-8");     /* overlong '/' */
    expect_reject("{\"a\xed\xa0\x80\":{}}", 0, "not valid UTF-8"); /* surrogate */
}
END_TEST

START_TEST(rejects_not_json)
{
    expect_reject("{\"a\":", 0, "not valid JSON");
    expect_reject("", 0, "not valid JSON");
}
END_TEST

START_TEST(rejects_not_object)
{
    expect_reject("[1, 2]", 0, "not a JSON object");
    expect_reject("\"x\"", 0, "not a JSON object");
}
END_TEST

START_TEST(rejects_trailing_garbage)
{
    expect_reject("{} x", 0, "bytes other than spaces after the JSON object (byte 3)");
    expect_reject("{}{}", 0, "bytes other than spaces");
    expect_reject("{}\n", 0, "other than spaces after the JSON object (byte 2)"); /* only spaces pad */
}
END_TEST

START_TEST(rejects_bad_entries)
{
    expect_reject("{\"a\":5}", 0, "tensor 'a': entry is not an object");
    expect_reject("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a': missing dtype");
    expect_reject("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'a': dtype is not a string");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
                  "tensor 'a': missing shape");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
                  "tensor 'a': shape is not an array");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'a': dimension 0 is not an integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                  "dimension 0 is not an integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a': missing data_offsets");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
                  "data_offsets is not an array of two integers");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
                  "data_offsets is not an array of two integers");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"b\":0}}}", 8,
                  "data_offsets is not an array of two integers");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8,
                  "data_offsets holds something other than an integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]}}", 8,
                  "data_offsets holds something other than an integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                  8, "tensor 'a': duplicate key in entry");
}
END_TEST

START_TEST(rejects_unknown_dtype)
{
    expect_reject("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                  "tensor 'a': unknown dtype 'F8'");
    expect_reject("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "unknown dtype 'f32'");
}
END_TEST

START_TEST(rejects_negative_dimension)
{
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", 0,
                  "tensor 'a': dimension 1 is negative (-1)");
}
END_TEST

START_TEST(rejects_shape_overflow)
{
    /* 2^32 * 2^32 overflows int64 even though each dim is small */
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
                  "\"data_offsets\":[0,0]}}",
                  0, "tensor 'a': shape [4294967296, 4294967296] has too many elements");
    /* elements fit int64 but bytes overflow 64 bits: 2^62 F64 elements */
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],"
                  "\"data_offsets\":[0,0]}}",
                  0, "has too many elements");
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,0]}}", 0,
                  "dimension 0 is too large");
}
END_TEST

START_TEST(rejects_rank_above_max)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
                  1, "tensor 'a': shape has rank 9, more than 8");
    /* rank 8 is fine */
    const char *path = make_st(
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1);
    struct st_file f;
    struct quanta_error err = {0};
    ck_assert_int_eq(st_open(&f, path, &err), QUANTA_OK);
    ck_assert_int_eq(f.tensors[0].shape.rank, 8);
    st_close(&f);
}
END_TEST

START_TEST(rejects_bad_offsets)
{
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
                  "tensor 'a': data_offsets [8, 4] begin after end");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                  "tensor 'a': data_offsets [0, 16] end beyond the data buffer of 8 bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
                  "tensor 'a': data_offsets [0, 12] hold 12 bytes but F32 [2, 2] needs 16");
}
END_TEST

START_TEST(rejects_overlap_gap_and_tail)
{
    expect_reject("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                  "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    /* order in the header does not matter */
    expect_reject("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}," T_A "}", 12,
                  "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    expect_reject("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16,
                  "tensor 'b': data_offsets [12, 16] leave a gap of 4 bytes before it");
    expect_reject("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                  "gap of 4 bytes");
    expect_reject("{" T_A "}", 12, "data buffer has 4 bytes after the last tensor");
    expect_reject("{}", 8, "data buffer has 8 bytes after the last tensor");
    /* a tensor of 0 bytes inside another one is not at the end of it */
    expect_reject("{" T_A ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8,
                  "tensor 'z': data_offsets [4, 4] overlap tensor 'a' [0, 8]");
}
END_TEST

START_TEST(rejects_duplicate_keys)
{
    expect_reject("{" T_A "," T_A "}", 8, "duplicate key 'a' in the header");
    expect_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
                  "duplicate key '__metadata__' in the header");
    expect_reject("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0,
                  "duplicate key 'k' in __metadata__");
}
END_TEST

START_TEST(rejects_bad_metadata)
{
    expect_reject("{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object");
    expect_reject("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' is not a string");
    expect_reject("{\"__metadata__\":{\"k\":null}}", 0, "value of 'k' is not a string");
}
END_TEST

START_TEST(rejects_bad_names)
{
    expect_reject("{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "tensor name is empty");
    size_t n = ST_MAX_NAME_LEN + 1;
    char *header = malloc(n + 128);
    ck_assert_ptr_nonnull(header);
    /* ST_MAX_NAME_LEN bytes: accepted */
    header[0] = '{';
    header[1] = '"';
    memset(header + 2, 'n', n - 1);
    snprintf(header + 2 + n - 1, 128, "\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}");
    const char *path = make_st(header, 1);
    struct st_file f;
    struct quanta_error err = {0};
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(strlen(f.tensors[0].name), ST_MAX_NAME_LEN);
    st_close(&f);
    /* one more: refused */
    memset(header + 2, 'n', n);
    snprintf(header + 2 + n, 128, "\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}");
    expect_reject(header, 1, "tensor name of 4097 bytes is longer than the limit of 4096");
    free(header);
}
END_TEST

/* {"a":[[...]]} with the object at depth 1 and `arrays` arrays inside */
static char *nested_header(int arrays)
{
    char *h = malloc((size_t)arrays * 2 + 16);
    ck_assert_ptr_nonnull(h);
    size_t n = 0;
    n += (size_t)sprintf(h + n, "{\"a\":");
    for (int i = 0; i < arrays; i++)
        h[n++] = '[';
    for (int i = 0; i < arrays; i++)
        h[n++] = ']';
    h[n++] = '}';
    h[n] = '\0';
    return h;
}

START_TEST(rejects_deep_nesting)
{
    char *h = nested_header(ST_MAX_JSON_DEPTH); /* depth 65 */
    expect_reject(h, 0, "nests objects or arrays deeper than 64 levels");
    free(h);
    h = nested_header(ST_MAX_JSON_DEPTH - 1); /* depth 64: parsed, fails later */
    expect_reject(h, 0, "tensor 'a': entry is not an object");
    free(h);
    h = nested_header(5000); /* far beyond cJSON's own limit too */
    expect_reject(h, 0, "deeper than 64 levels");
    free(h);
}
END_TEST

START_TEST(rejects_control_characters)
{
    expect_reject("{\"a\tb\":{}}", 0, "control character inside a string");
    expect_reject("{\"a\\u0000b\":{}}", 0, "escaped NUL character");
    expect_reject("{\x01}", 0, "control character");
    expect_reject("\xef\xbb\xbf{}", 0, "byte order mark");
}
END_TEST

START_TEST(accepts_empty_file)
{
    const char *path = make_st("{}      ", 0);
    struct st_file f;
    struct quanta_error err = {0};
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(f.n_tensors, 0);
    ck_assert_uint_eq(f.n_meta, 0);
    ck_assert_uint_eq(f.header_size, 8);
    ck_assert_uint_eq(f.data_size, 0);
    st_close(&f);
    ck_assert(file_is_empty(&f));
    st_close(&f); /* twice is fine */
}
END_TEST

START_TEST(accepts_zero_element_tensors)
{
    const char *path =
        make_st("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                "\"s\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[0,2]},"
                "\"z\":{\"dtype\":\"U8\",\"shape\":[4,0],\"data_offsets\":[2,2]}}",
                2);
    struct st_file f;
    struct quanta_error err = {0};
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(f.n_tensors, 3);
    ck_assert_str_eq(f.tensors[1].name, "s");
    ck_assert_int_eq(f.tensors[1].shape.rank, 0);
    ck_assert_uint_eq(f.tensors[2].begin, 2);
    ck_assert_uint_eq(f.tensors[2].end, 2);
    st_close(&f);
}
END_TEST

/* A file written from the spec text alone. */
START_TEST(reads_hand_written_file)
{
    const char *header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\xc3\xa9 \\\"q\\\"\"},"
                         "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                         "\"b\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[16,19]}}";
    unsigned char data[19];
    float w[4] = {1.5f, -2.0f, 0.25f, 1e6f};
    memcpy(data, w, 16);
    data[16] = 0xff;
    data[17] = 0x7f;
    data[18] = 0x80;
    const char *path = make_file("hand.safetensors", header, strlen(header), data, sizeof data);
    struct st_file f;
    struct quanta_error err = {0};
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(f.header_size, strlen(header));
    ck_assert_uint_eq(f.data_size, 19);
    ck_assert_uint_eq(f.n_meta, 2);
    ck_assert_str_eq(f.meta[0].key, "format");
    ck_assert_str_eq(f.meta[1].value, "caf\xc3\xa9 \"q\"");
    ck_assert_str_eq(st_meta_find(&f, "format"), "pt");
    ck_assert_ptr_null(st_meta_find(&f, "absent"));
    ck_assert_uint_eq(f.n_tensors, 2);
    const struct st_tensor *t = st_find(&f, "w");
    ck_assert_ptr_eq(t, &f.tensors[0]);
    ck_assert_int_eq(t->dtype, QUANTA_F32);
    ck_assert_int_eq(t->shape.rank, 2);
    ck_assert_int_eq(t->shape.dims[0], 2);
    /* zero copy: the data is the mapping itself */
    ck_assert_ptr_eq(t->data, (const unsigned char *)f.map + 8 + strlen(header));
    float back[4];
    memcpy(back, t->data, 16);
    ck_assert(memcmp(back, w, 16) == 0);
    t = st_find(&f, "b");
    ck_assert_int_eq(t->dtype, QUANTA_I8);
    ck_assert_int_eq(((const int8_t *)t->data)[0], -1);
    ck_assert_int_eq(((const int8_t *)t->data)[2], -128);
    ck_assert_ptr_null(st_find(&f, "c"));
    st_close(&f);
}
END_TEST

START_TEST(rejects_missing_file)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", ts_tmp_path("does-not-exist.safetensors"));
    expect_reject_path(copy, "cannot open: No such file or directory");
    snprintf(copy, sizeof copy, "%s", ts_tmp_dir());
    expect_reject_path(copy, "not a regular file");
}
END_TEST

/* ---- writer ---- */

static const float w_data[6] = {1, 2, 3, 4, 5, 6.5f};
static const int8_t q_data[3] = {-128, 0, 127};
static const uint16_t h_data[1] = {0x3c00};

static void sample_descs(struct st_tensor_desc d[3])
{
    d[0] = (struct st_tensor_desc){"fc.weight", QUANTA_F32, {2, {2, 3}}, w_data};
    d[1] = (struct st_tensor_desc){"q \"x\"\\\n", QUANTA_I8, {1, {3}}, q_data};
    d[2] = (struct st_tensor_desc){"scalar", QUANTA_F16, {0, {0}}, h_data};
}

static const struct st_meta sample_meta[2] = {{"quanta.graph", "{\"a\": [1]}"},
                                              {"b", "caf\xc3\xa9"}};

START_TEST(writer_round_trip)
{
    struct st_tensor_desc d[3];
    sample_descs(d);
    char path[1024];
    snprintf(path, sizeof path, "%s", ts_tmp_path("w.safetensors"));
    struct quanta_error err = {0};
    ck_assert_msg(st_write_file(path, d, 3, sample_meta, 2, &err) == QUANTA_OK, "%s",
                  err.message);
    struct st_file f;
    ck_assert_msg(st_open(&f, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq((8 + f.header_size) % 8, 0);
    ck_assert_uint_eq(f.n_tensors, 3);
    ck_assert_uint_eq(f.n_meta, 2);
    ck_assert_str_eq(f.meta[0].key, "quanta.graph");
    ck_assert_str_eq(f.meta[0].value, "{\"a\": [1]}");
    ck_assert_str_eq(f.meta[1].value, "caf\xc3\xa9");
    uint64_t offset = 0;
    for (int i = 0; i < 3; i++) {
        const struct st_tensor *t = &f.tensors[i];
        ck_assert_str_eq(t->name, d[i].name);
        ck_assert_int_eq(t->dtype, d[i].dtype);
        ck_assert(quanta_shape_equal(&t->shape, &d[i].shape));
        size_t size = (size_t)quanta_shape_numel(&d[i].shape) * quanta_dtype_size(d[i].dtype);
        ck_assert_uint_eq(t->begin, offset); /* offsets in the order given */
        ck_assert_uint_eq(t->end - t->begin, size);
        ck_assert(memcmp(t->data, d[i].data, size) == 0);
        offset += size;
    }
    st_close(&f);
}
END_TEST

START_TEST(writer_exact_header)
{
    static const float v[2] = {1, 2};
    struct st_tensor_desc d = {"w", QUANTA_F32, {1, {2}}, v};
    struct st_meta m = {"k", "v"};
    char path[1024];
    snprintf(path, sizeof path, "%s", ts_tmp_path("exact.safetensors"));
    struct quanta_error err = {0};
    ck_assert_int_eq(st_write_file(path, &d, 1, &m, 1, &err), QUANTA_OK);
    size_t size;
    char *bytes = ts_read_file(path, &size);
    ck_assert_ptr_nonnull(bytes);
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t json_len = strlen(json); /* 82 -> padded to 88 */
    size_t padded = (json_len + 7) / 8 * 8;
    ck_assert_uint_eq(size, 8 + padded + 8);
    ck_assert_uint_eq((unsigned char)bytes[0], padded);
    for (int i = 1; i < 8; i++)
        ck_assert_int_eq(bytes[i], 0);
    ck_assert(memcmp(bytes + 8, json, json_len) == 0);
    for (size_t i = json_len; i < padded; i++)
        ck_assert_int_eq(bytes[8 + i], ' ');
    ck_assert(memcmp(bytes + 8 + padded, v, 8) == 0);
    free(bytes);

    /* no tensors, no metadata: "{}" and 6 spaces */
    snprintf(path, sizeof path, "%s", ts_tmp_path("empty.safetensors"));
    ck_assert_int_eq(st_write_file(path, NULL, 0, NULL, 0, &err), QUANTA_OK);
    bytes = ts_read_file(path, &size);
    ck_assert_uint_eq(size, 16);
    ck_assert(memcmp(bytes, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
    free(bytes);
}
END_TEST

START_TEST(writer_is_deterministic)
{
    struct st_tensor_desc d[3];
    sample_descs(d);
    char a[1024], b[1024], c[1024];
    snprintf(a, sizeof a, "%s", ts_tmp_path("det-a.safetensors"));
    snprintf(b, sizeof b, "%s", ts_tmp_path("det-b.safetensors"));
    snprintf(c, sizeof c, "%s", ts_tmp_path("det-c.safetensors"));
    struct quanta_error err = {0};
    ck_assert_int_eq(st_write_file(a, d, 3, sample_meta, 2, &err), QUANTA_OK);
    ck_assert_int_eq(st_write_file(b, d, 3, sample_meta, 2, &err), QUANTA_OK);
    size_t na, nb, nc;
    char *ba = ts_read_file(a, &na), *bb = ts_read_file(b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(ba, bb, na) == 0);

    /* read a, write its tensors and metadata again: same bytes */
    struct st_file f;
    ck_assert_int_eq(st_open(&f, a, &err), QUANTA_OK);
    struct st_tensor_desc rd[3];
    for (size_t i = 0; i < f.n_tensors; i++)
        rd[i] = (struct st_tensor_desc){f.tensors[i].name, f.tensors[i].dtype,
                                        f.tensors[i].shape, f.tensors[i].data};
    ck_assert_int_eq(st_write_file(c, rd, f.n_tensors, f.meta, f.n_meta, &err), QUANTA_OK);
    st_close(&f);
    char *bc = ts_read_file(c, &nc);
    ck_assert_uint_eq(na, nc);
    ck_assert(memcmp(ba, bc, na) == 0);
    free(ba);
    free(bb);
    free(bc);
}
END_TEST

START_TEST(writer_streams_in_pieces)
{
    struct st_tensor_desc d[3];
    sample_descs(d);
    for (int i = 0; i < 3; i++)
        d[i].data = NULL;
    char path[1024], ref[1024];
    snprintf(path, sizeof path, "%s", ts_tmp_path("stream.safetensors"));
    snprintf(ref, sizeof ref, "%s", ts_tmp_path("stream-ref.safetensors"));
    struct quanta_error err = {0};
    struct st_writer *w;
    ck_assert_int_eq(st_writer_open(&w, path, d, 3, NULL, 0, &err), QUANTA_OK);
    /* all bytes of the three tensors, cut across tensor boundaries */
    unsigned char all[24 + 3 + 2];
    memcpy(all, w_data, 24);
    memcpy(all + 24, q_data, 3);
    memcpy(all + 27, h_data, 2);
    ck_assert_int_eq(st_writer_put(w, all, 10, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_put(w, all + 10, 0, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_put(w, all + 10, 16, &err), QUANTA_OK);
    /* more than is left: refused, nothing written */
    ck_assert_int_eq(st_writer_put(w, all + 26, 4, &err), QUANTA_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.message, "4 bytes given but the tensors have only 3"));
    ck_assert_int_eq(st_writer_put(w, all + 26, 3, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_commit(w, &err), QUANTA_OK);

    sample_descs(d);
    ck_assert_int_eq(st_write_file(ref, d, 3, NULL, 0, &err), QUANTA_OK);
    size_t n1, n2;
    char *b1 = ts_read_file(path, &n1), *b2 = ts_read_file(ref, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
}
END_TEST

START_TEST(writer_refuses_bad_use)
{
    struct st_tensor_desc d[3];
    sample_descs(d);
    char path[1024];
    snprintf(path, sizeof path, "%s", ts_tmp_path("writer-bad-use.safetensors"));
    unlink(path); /* the folder is shared by every suite when CK_FORK=no */
    struct quanta_error err = {0};
    struct st_writer *w;
    /* incomplete: commit fails, no file */
    ck_assert_int_eq(st_writer_open(&w, path, d, 3, NULL, 0, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_put(w, w_data, 24, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_put(w, q_data, 1, &err), QUANTA_OK);
    ck_assert_int_eq(st_writer_commit(w, &err), QUANTA_ERR_INTERNAL);
    ck_assert_msg(strstr(err.message, "is incomplete: 1 of 3 bytes written"), "%s", err.message);
    ck_assert_int_eq(access(path, F_OK), -1);
    /* abort: no file */
    ck_assert_int_eq(st_writer_open(&w, path, d, 3, NULL, 0, &err), QUANTA_OK);
    st_writer_abort(w);
    ck_assert_int_eq(access(path, F_OK), -1);
    /* duplicate names */
    d[1].name = "fc.weight";
    ck_assert_int_eq(st_write_file(path, d, 3, NULL, 0, &err), QUANTA_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.message, "tensor name 'fc.weight' given twice"));
    /* reserved and empty names, duplicate metadata */
    d[1].name = "__metadata__";
    ck_assert_int_eq(st_write_file(path, d, 3, NULL, 0, &err), QUANTA_ERR_INTERNAL);
    d[1].name = "";
    ck_assert_int_eq(st_write_file(path, d, 3, NULL, 0, &err), QUANTA_ERR_INTERNAL);
    sample_descs(d);
    struct st_meta m[2] = {{"k", "1"}, {"k", "2"}};
    ck_assert_int_eq(st_write_file(path, d, 3, m, 2, &err), QUANTA_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.message, "metadata key 'k' given twice"));
    ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

Suite *suite_safetensors(void); /* called by tests/main.c */
Suite *suite_safetensors(void)
{
    Suite *s = suite_create("safetensors");
    TCase *r = tcase_create("reader");
    tcase_add_test(r, rejects_short_file);
    tcase_add_test(r, rejects_header_over_limit);
    tcase_add_test(r, rejects_header_longer_than_file);
    tcase_add_test(r, rejects_bad_utf8);
    tcase_add_test(r, rejects_not_json);
    tcase_add_test(r, rejects_not_object);
    tcase_add_test(r, rejects_trailing_garbage);
    tcase_add_test(r, rejects_bad_entries);
    tcase_add_test(r, rejects_unknown_dtype);
    tcase_add_test(r, rejects_negative_dimension);
    tcase_add_test(r, rejects_shape_overflow);
    tcase_add_test(r, rejects_rank_above_max);
    tcase_add_test(r, rejects_bad_offsets);
    tcase_add_test(r, rejects_overlap_gap_and_tail);
    tcase_add_test(r, rejects_duplicate_keys);
    tcase_add_test(r, rejects_bad_metadata);
    tcase_add_test(r, rejects_bad_names);
    tcase_add_test(r, rejects_deep_nesting);
    tcase_add_test(r, rejects_control_characters);
    tcase_add_test(r, rejects_missing_file);
    tcase_add_test(r, accepts_empty_file);
    tcase_add_test(r, accepts_zero_element_tensors);
    tcase_add_test(r, reads_hand_written_file);
    suite_add_tcase(s, r);
    TCase *w = tcase_create("writer");
    tcase_add_test(w, writer_round_trip);
    tcase_add_test(w, writer_exact_header);
    tcase_add_test(w, writer_is_deterministic);
    tcase_add_test(w, writer_streams_in_pieces);
    tcase_add_test(w, writer_refuses_bad_use);
    suite_add_tcase(s, w);
    return s;
}
