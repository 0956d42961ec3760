/* json_read, the model file's JSON reader: valid and invalid documents
 * with the error and the byte it names, every escape, numbers against
 * strtod, the depth limit, repeated keys in document order, buffers
 * without a NUL, and allocation failure at every allocation.
 * test_json_read_cjson.c compares it with cJSON on real headers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "support/test_support.h"

static enum json_error parse(struct json_doc *doc, const char *text)
{
    return json_parse(doc, text, strlen(text), NULL);
}

START_TEST(valid_documents)
{
    static const struct {
        const char *text;
        enum json_type type;
        size_t count;
    } cases[] = {
        {"{}", JSON_OBJECT, 0},
        {" \t\r\n{ \t\r\n} \t\r\n", JSON_OBJECT, 0},
        {"[]", JSON_ARRAY, 0},
        {"[1, \"a\", true, false, null, {}, []]", JSON_ARRAY, 7},
        {"{\"a\": {\"b\": [1, {\"c\": null}]}, \"\": 0}", JSON_OBJECT, 2},
        {"\"just a string\"", JSON_STRING, 0},
        {"-0.5e-3", JSON_NUMBER, 0},
        {"true", JSON_TRUE, 0},
        {"false", JSON_FALSE, 0},
        {"null", JSON_NULL, 0},
        {"[[[[[]]]]]", JSON_ARRAY, 1},
        {"{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\": \"\xf4\x8f\xbf\xbf\"}", JSON_OBJECT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_doc doc;
        enum json_error e = parse(&doc, cases[i].text);
        ck_assert_msg(e == JSON_OK, "'%s': %s at %zu", cases[i].text, json_error_text(e),
                      doc.offset);
        ck_assert_int_eq(doc.root->type, cases[i].type);
        ck_assert_uint_eq(json_size(doc.root), cases[i].count);
        ck_assert_uint_eq(doc.offset, strlen(cases[i].text));
        size_t children = 0;
        for (const struct json_node *c = doc.root->child; c; c = c->next)
            children++;
        ck_assert_uint_eq(children, cases[i].count);
        json_doc_free(&doc);
        ck_assert_ptr_null(doc.root);
    }
}
END_TEST

START_TEST(invalid_documents)
{
    static const struct {
        const char *text;
        enum json_error error;
        size_t offset;
    } cases[] = {
        {"", JSON_ERR_SYNTAX, 0},
        {"   ", JSON_ERR_SYNTAX, 3},
        {"\xef\xbb\xbf{}", JSON_ERR_SYNTAX, 0}, /* byte order mark */
        {"{", JSON_ERR_SYNTAX, 1},
        {"{\"a\"}", JSON_ERR_SYNTAX, 4},
        {"{\"a\" 1}", JSON_ERR_SYNTAX, 5},
        {"{\"a\": 1,}", JSON_ERR_SYNTAX, 8},
        {"{a: 1}", JSON_ERR_SYNTAX, 1},
        {"{'a': 1}", JSON_ERR_SYNTAX, 1},
        {"[1 2]", JSON_ERR_SYNTAX, 3},
        {"[1,]", JSON_ERR_SYNTAX, 3},
        {"[,1]", JSON_ERR_SYNTAX, 1},
        {"[1}", JSON_ERR_SYNTAX, 2},
        {"{\"a\": 1]", JSON_ERR_SYNTAX, 7},
        {"tru", JSON_ERR_SYNTAX, 0},
        {"True", JSON_ERR_SYNTAX, 0},
        {"nul", JSON_ERR_SYNTAX, 0},
        {"\"abc", JSON_ERR_SYNTAX, 4},
        {"\"abc\\\"", JSON_ERR_SYNTAX, 6},
        {"[\f1]", JSON_ERR_SYNTAX, 1}, /* form feed is no JSON whitespace */
        {"[\v1]", JSON_ERR_SYNTAX, 1},
        {"\xc3\xa9", JSON_ERR_SYNTAX, 0},
        {"[0x10]", JSON_ERR_SYNTAX, 2},
        {"{} x", JSON_ERR_TRAILING, 3},
        {"{}{}", JSON_ERR_TRAILING, 2},
        {"1 2", JSON_ERR_TRAILING, 2},
        {"[\"a\tb\"]", JSON_ERR_STRING, 3},
        {"[\"a\nb\"]", JSON_ERR_STRING, 3},
        {"[\"\x7f\x01\"]", JSON_ERR_STRING, 3},
        {"[\"a\xff\"]", JSON_ERR_STRING, 3},
        {"[\"\xc0\xaf\"]", JSON_ERR_STRING, 2},         /* overlong '/' */
        {"[\"\xed\xa0\x80\"]", JSON_ERR_STRING, 2},     /* encoded surrogate */
        {"[\"\xf4\x90\x80\x80\"]", JSON_ERR_STRING, 2}, /* above U+10FFFF */
        {"[\"\xe2\x82\"]", JSON_ERR_STRING, 2},         /* cut sequence */
        {"[\"\\x41\"]", JSON_ERR_ESCAPE, 2},
        {"[\"\\U0041\"]", JSON_ERR_ESCAPE, 2},
        {"[\"\\u004\"]", JSON_ERR_ESCAPE, 2},
        {"[\"\\u00g1\"]", JSON_ERR_ESCAPE, 2},
        {"[\"\\'\"]", JSON_ERR_ESCAPE, 2},
        {"[\"\\ud800\\u00g1\"]", JSON_ERR_ESCAPE, 8},
        {"[\"\\ud800\"]", JSON_ERR_SURROGATE, 2},
        {"[\"\\udc00\"]", JSON_ERR_SURROGATE, 2},
        {"[\"\\ud800x\\udc00\"]", JSON_ERR_SURROGATE, 2},
        {"[\"\\ud800\\u0041\"]", JSON_ERR_SURROGATE, 2},
        {"[\"\\ud800\\ud800\"]", JSON_ERR_SURROGATE, 2},
        {"[\"a\\u0000b\"]", JSON_ERR_NUL, 3},
        {"{\"\\u0000\": 1}", JSON_ERR_NUL, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_doc doc;
        enum json_error e = parse(&doc, cases[i].text);
        ck_assert_msg(e == cases[i].error && doc.offset == cases[i].offset,
                      "case %zu '%s': %s at %zu, want %s at %zu", i, cases[i].text,
                      json_error_text(e), doc.offset, json_error_text(cases[i].error),
                      cases[i].offset);
        ck_assert_ptr_null(doc.root);
        ck_assert_ptr_null(doc.blocks); /* a failed parse keeps no memory */
        json_doc_free(&doc);
    }
}
END_TEST

/* The decoded text of the one string in "[<literal>]". */
static void expect_string(const char *literal, const char *want, size_t want_len)
{
    char text[256];
    snprintf(text, sizeof text, "[%s]", literal);
    struct json_doc doc;
    enum json_error e = parse(&doc, text);
    ck_assert_msg(e == JSON_OK, "%s: %s", text, json_error_text(e));
    const struct json_node *s = doc.root->child;
    ck_assert(json_is_string(s));
    ck_assert_msg(strlen(s->string) == want_len && memcmp(s->string, want, want_len) == 0,
                  "%s decodes to '%s'", text, s->string);
    json_doc_free(&doc);
}

START_TEST(escapes)
{
    expect_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    expect_string("\"\"", "", 0);
    expect_string("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9", 5);
    expect_string("\"\\u0001\\u001f\\u007f\"", "\x01\x1f\x7f", 3);
    expect_string("\"\\u0080\\u07ff\\u0800\\uffff\"", "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf",
                  10);
    expect_string("\"\\u20ac\"", "\xe2\x82\xac", 3);
    /* surrogate pairs: the first and last astral code points, and U+1F600 */
    expect_string("\"\\ud800\\udc00\"", "\xf0\x90\x80\x80", 4);
    expect_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
    expect_string("\"a\\ud83d\\ude00b\"", "a\xf0\x9f\x98\x80" "b", 6);
    /* raw UTF-8 passes through */
    expect_string("\"\xe2\x82\xac\xf0\x9f\x98\x80\"", "\xe2\x82\xac\xf0\x9f\x98\x80", 7);
    /* escaped and raw give the same key */
    struct json_doc doc;
    ck_assert_int_eq(parse(&doc, "{\"\\u0064type\": \"F\\u0033\\u0032\"}"), JSON_OK);
    ck_assert_str_eq(json_member(doc.root, "dtype")->string, "F32");
    json_doc_free(&doc);
}
END_TEST

START_TEST(numbers_read_as_strtod)
{
    static const char *const valid[] = {
        "0", "-0", "1", "-1", "123456789", "0.5", "-0.5", "1e3", "1E3", "1e+3", "1e-3", "1E-0",
        "1e05", "0.1", "0.30000000000000004", "9007199254740993", "18446744073709551616",
        "1.7976931348623157e308", "1e309", "-1e309", "4.9e-324", "1e-400", "2.5e-308",
        "123.456e-7", "0e0", "-0.0e+00",
        "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899"
        "86280348253421170679",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[%s]", valid[i]);
        struct json_doc doc;
        enum json_error e = parse(&doc, text);
        ck_assert_msg(e == JSON_OK, "%s: %s", valid[i], json_error_text(e));
        const struct json_node *n = doc.root->child;
        ck_assert(json_is_number(n));
        double want = strtod(valid[i], NULL);
        ck_assert_msg(memcmp(&n->number, &want, sizeof want) == 0, "%s reads %.17g, strtod %.17g",
                      valid[i], n->number, want);
        json_doc_free(&doc);
    }
    static const char *const invalid[] = {
        "01", "-01", "00", "1.", "-", "-.5", "1.e5", "1e", "1e+", "1E-", "+1", "--1", "1-2",
        "1.5.3", "0.5e1.5", "1ee5", "-a",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "[%s]", invalid[i]);
        struct json_doc doc;
        enum json_error e = parse(&doc, text);
        ck_assert_msg(e == JSON_ERR_NUMBER || (invalid[i][0] == '+' && e == JSON_ERR_SYNTAX),
                      "%s: %s", invalid[i], json_error_text(e));
        ck_assert_uint_eq(doc.offset, 1);
        json_doc_free(&doc);
    }
    static const char *const not_values[] = {".5", "NaN", "nan", "Infinity", "-Infinity", "+inf"};
    for (size_t i = 0; i < sizeof not_values / sizeof not_values[0]; i++) {
        struct json_doc doc;
        enum json_error e = parse(&doc, not_values[i]);
        ck_assert_msg(e == JSON_ERR_SYNTAX || e == JSON_ERR_NUMBER, "%s: %s", not_values[i],
                      json_error_text(e));
        json_doc_free(&doc);
    }
}
END_TEST

/* depth brackets, then as many closing ones. */
static char *nested(int depth, char open, char close)
{
    char *text = malloc(2 * (size_t)depth + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, open, (size_t)depth);
    memset(text + depth, close, (size_t)depth);
    text[2 * depth] = '\0';
    return text;
}

START_TEST(depth_limit)
{
    struct json_doc doc;
    char *ok = nested(JSON_MAX_DEPTH, '[', ']');
    ck_assert_int_eq(parse(&doc, ok), JSON_OK);
    json_doc_free(&doc);
    char *deep = nested(JSON_MAX_DEPTH + 1, '[', ']');
    ck_assert_int_eq(parse(&doc, deep), JSON_ERR_DEPTH);
    ck_assert_uint_eq(doc.offset, JSON_MAX_DEPTH);
    /* a chosen limit, objects counted like arrays */
    const struct json_options three = {.max_depth = 3};
    const char *mixed = "{\"a\": [{\"b\": 1}]}", *deeper = "{\"a\": [{\"b\": []}]}";
    ck_assert_int_eq(json_parse(&doc, mixed, strlen(mixed), &three), JSON_OK);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse(&doc, deeper, strlen(deeper), &three), JSON_ERR_DEPTH);
    ck_assert_uint_eq(doc.offset, 13);
    /* far deeper than any stack would allow if the limit were not kept */
    char *huge = nested(4000000, '[', ']');
    ck_assert_int_eq(parse(&doc, huge), JSON_ERR_DEPTH);
    char *huge_open = nested(4000000, '{', '}'); /* "{{": a syntax error at once */
    ck_assert_int_eq(parse(&doc, huge_open), JSON_ERR_SYNTAX);
    ck_assert_uint_eq(doc.offset, 1);
    free(ok), free(deep), free(huge), free(huge_open);
}
END_TEST

START_TEST(repeated_keys_in_document_order)
{
    struct json_doc doc;
    ck_assert_int_eq(parse(&doc, "{\"a\": 1, \"b\": 2, \"a\": 3, \"c\": {\"a\": 4, \"a\": 5}}"),
                     JSON_OK);
    static const char *const keys[] = {"a", "b", "a", "c"};
    size_t i = 0;
    for (const struct json_node *c = doc.root->child; c; c = c->next, i++) {
        ck_assert_uint_lt(i, 4);
        ck_assert_str_eq(c->key, keys[i]);
        if (i < 3)
            ck_assert(json_is_number(c) && c->number == (double)(i + 1));
    }
    ck_assert_uint_eq(i, 4);
    ck_assert_uint_eq(json_size(doc.root), 4);
    /* json_member finds the first */
    ck_assert(json_member(doc.root, "a")->number == 1);
    const struct json_node *c = json_member(doc.root, "c");
    ck_assert_uint_eq(json_size(c), 2);
    ck_assert(json_member(c, "a")->number == 4 && c->child->next->number == 5);
    ck_assert_ptr_null(json_member(doc.root, "A"));
    ck_assert_ptr_null(json_member(doc.root, "d"));
    /* accessors on what is not a container */
    ck_assert_ptr_null(json_member(json_member(doc.root, "b"), "a"));
    ck_assert_ptr_null(json_member(NULL, "a"));
    ck_assert_uint_eq(json_size(json_member(doc.root, "b")), 0);
    ck_assert_uint_eq(json_size(NULL), 0);
    ck_assert(!json_is_object(NULL) && !json_is_string(NULL) && !json_is_bool(NULL));
    ck_assert(json_is_object(c) && !json_is_array(c));
    json_doc_free(&doc);
    ck_assert_int_eq(parse(&doc, "[true, false, null]"), JSON_OK);
    const struct json_node *t = doc.root->child, *f = t->next, *z = f->next;
    ck_assert(json_is_bool(t) && json_is_true(t) && json_is_bool(f) && !json_is_true(f));
    ck_assert(!json_is_bool(z) && z->type == JSON_NULL && !z->next);
    json_doc_free(&doc);
}
END_TEST

START_TEST(buffer_without_nul)
{
    /* only n bytes are read: what follows them is never looked at */
    static const char text[] = "[12, \"ab\"]]]garbage";
    struct json_doc doc;
    ck_assert_int_eq(json_parse(&doc, text, 10, NULL), JSON_OK);
    ck_assert(doc.root->child->number == 12);
    ck_assert_str_eq(doc.root->child->next->string, "ab");
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse(&doc, text, 2, NULL), JSON_ERR_SYNTAX);
    ck_assert_uint_eq(doc.offset, 2);
    ck_assert_int_eq(json_parse(&doc, "12345", 2, NULL), JSON_OK);
    ck_assert(doc.root->number == 12);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse(&doc, "[\"ab\"]", 4, NULL), JSON_ERR_SYNTAX);
    ck_assert_int_eq(json_parse(&doc, "1.5", 2, NULL), JSON_ERR_NUMBER);
    ck_assert_int_eq(json_parse(&doc, "truex", 3, NULL), JSON_ERR_SYNTAX);
    ck_assert_int_eq(json_parse(&doc, NULL, 0, NULL), JSON_ERR_SYNTAX);
    /* a NUL byte inside the length is just a bad byte */
    ck_assert_int_eq(json_parse(&doc, "[1]\0", 4, NULL), JSON_ERR_TRAILING);
    ck_assert_int_eq(json_parse(&doc, "[\"a\0\"]", 6, NULL), JSON_ERR_STRING);
    /* allow_trailing: stop after the value, report where */
    const struct json_options rest = {.allow_trailing = true};
    ck_assert_int_eq(json_parse(&doc, "{\"a\": 1}  \n x", 13, &rest), JSON_OK);
    ck_assert_uint_eq(doc.offset, 8);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse(&doc, "{\"a\": 1}  \n ", 12, NULL), JSON_OK);
    ck_assert_uint_eq(doc.offset, 12);
    json_doc_free(&doc);
}
END_TEST

/* An allocator that fails from the fail_at-th call on, counting live
 * blocks. */
static int calls, fail_at, live;

static void *counting_alloc(size_t size)
{
    if (calls++ >= fail_at)
        return NULL;
    void *p = malloc(size);
    live += p != NULL;
    return p;
}

static void counting_release(void *p)
{
    live -= p != NULL;
    free(p);
}

START_TEST(allocation_failure)
{
    /* big enough for several blocks: many nodes and one long string */
    size_t n = 200000;
    char *text = malloc(n + 64);
    ck_assert_ptr_nonnull(text);
    size_t len = (size_t)sprintf(text, "{\"long\": \"");
    memset(text + len, 'x', 30000);
    len += 30000;
    len += (size_t)sprintf(text + len, "\", \"list\": [");
    while (len < n - 8)
        len += (size_t)sprintf(text + len, "%d,", (int)(len % 97));
    len += (size_t)sprintf(text + len, "0]}");
    const struct json_options opt = {.alloc = counting_alloc, .release = counting_release};
    int needed = -1;
    for (fail_at = 0; fail_at < 1000 && needed < 0; fail_at++) {
        calls = live = 0;
        struct json_doc doc;
        enum json_error e = json_parse(&doc, text, len, &opt);
        if (e == JSON_OK) {
            needed = fail_at;
            ck_assert_int_gt(live, 2);
            ck_assert_uint_eq(json_size(json_member(doc.root, "list")) > 1000, 1);
            ck_assert_uint_eq(strlen(json_member(doc.root, "long")->string), 30000);
        } else {
            ck_assert_msg(e == JSON_ERR_NOMEM, "failing allocation %d gave %s", fail_at,
                          json_error_text(e));
            ck_assert_int_eq(live, 0); /* released at once */
        }
        json_doc_free(&doc);
        ck_assert_int_eq(live, 0);
    }
    ck_assert_int_gt(needed, 2);
    free(text);
}
END_TEST

Suite *suite_json_read(void); /* called by tests/main.c */
Suite *suite_json_read(void)
{
    Suite *s = suite_create("json_read");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, valid_documents);
    tcase_add_test(tc, invalid_documents);
    tcase_add_test(tc, escapes);
    tcase_add_test(tc, numbers_read_as_strtod);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, repeated_keys_in_document_order);
    tcase_add_test(tc, buffer_without_nul);
    tcase_add_test(tc, allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
