/* json_read against cJSON, which read the model file before it: the header
 * of every safetensors file under tests/fixtures and models, the graph JSON
 * in its metadata, and deterministic mutations of both (bytes replaced or
 * bit-flipped, texts cut short). Both readers must accept or both reject,
 * accepted trees must be equal (types, keys, strings, numbers bit for bit,
 * order) and end at the same byte.
 *
 * The comparison is over texts the header prescan (io_json_prescan)
 * passes, as in the safetensors reader: cJSON takes any byte below 0x21 for
 * whitespace, raw control characters and bad UTF-8 in strings, and a byte
 * order mark. Past the prescan its known laxities are the only differences
 * allowed, each checked for what it is: numbers outside the JSON grammar
 * that strtod reads ("01", "1.", "-.5"), and \u followed by something other
 * than four hex digits (cJSON reads U+0000 and cuts the string). cJSON is
 * never the stricter one. */
#include <cJSON.h>
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"
#include "io/io_internal.h"
#include "quanta/safetensors.h"
#include "support/test_support.h"

#define MUTATIONS_PER_TEXT 24

static bool same_tree(const cJSON *a, const struct json_node *b)
{
    if ((a->string == NULL) != (b->key == NULL) || (a->string && strcmp(a->string, b->key)))
        return false;
    switch (b->type) {
    case JSON_NULL:
        return cJSON_IsNull(a);
    case JSON_FALSE:
        return cJSON_IsFalse(a);
    case JSON_TRUE:
        return cJSON_IsTrue(a);
    case JSON_NUMBER:
        return cJSON_IsNumber(a) && memcmp(&a->valuedouble, &b->number, sizeof b->number) == 0;
    case JSON_STRING:
        return cJSON_IsString(a) && strcmp(a->valuestring, b->string) == 0;
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (b->type == JSON_ARRAY ? !cJSON_IsArray(a) : !cJSON_IsObject(a))
            return false;
        if ((size_t)cJSON_GetArraySize(a) != json_size(b))
            return false;
        const cJSON *x = a->child;
        const struct json_node *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!same_tree(x, y))
                return false;
        return !x && !y;
    }
    return false;
}

static bool number_byte(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

static bool hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* cJSON accepted what json_read refused with error at off: one of the
 * laxities named at the top? */
static bool cjson_laxity(const char *t, size_t n, enum json_error error, size_t off)
{
    if (error == JSON_ERR_ESCAPE) {
        if (off + 2 > n || t[off] != '\\' || t[off + 1] != 'u')
            return false;
        for (size_t i = off + 2; i < off + 6; i++)
            if (i >= n || !hex_digit(t[i]))
                return true;
        return false;
    }
    if (error != JSON_ERR_NUMBER)
        return false;
    size_t i = off, end = off;
    while (end < n && number_byte(t[end]))
        end++;
    if (i < end && t[i] == '-')
        i++;
    if (i < end && t[i] == '.') /* "-.5" */
        return true;
    if (i + 1 < end && t[i] == '0' && t[i + 1] >= '0' && t[i + 1] <= '9') /* "01" */
        return true;
    for (; i < end; i++) /* "1." and "1.e5" */
        if (t[i] == '.' && (i + 1 == end || t[i + 1] < '0' || t[i + 1] > '9'))
            return true;
    return false;
}

struct tally {
    int texts, both_accept, both_reject, prescan_reject, cjson_laxer;
};

/* header: the safetensors reader's way (the value may be followed by
 * anything, its end is compared); else the graph's (the whole text). */
static void compare(const char *what, const char *text, size_t n, bool header, struct tally *t)
{
    size_t off;
    t->texts++;
    if (io_json_prescan(text, n, ST_MAX_JSON_DEPTH, &off)) {
        t->prescan_reject++;
        return;
    }
    char *copy = malloc(n + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, n);
    copy[n] = '\0';
    const char *end = NULL;
    /* cJSON_ParseWithOpts counts the NUL in the length */
    cJSON *c = cJSON_ParseWithLengthOpts(copy, header ? n : n + 1, &end, !header);
    struct json_doc doc;
    const struct json_options opt = {.allow_trailing = header};
    enum json_error e = json_parse(&doc, text, n, &opt);
    if (c && e == JSON_OK) {
        ck_assert_msg(same_tree(c, doc.root), "%s: the trees differ:\n%.*s", what, (int)n, text);
        if (header)
            ck_assert_msg((size_t)(end - copy) == doc.offset, "%s: ends at %zu, cJSON at %zu",
                          what, doc.offset, (size_t)(end - copy));
        t->both_accept++;
    } else if (!c && e != JSON_OK) {
        t->both_reject++;
    } else if (c) {
        ck_assert_msg(cjson_laxity(text, n, e, doc.offset),
                      "%s: cJSON accepts, json_read says %s at byte %zu:\n%.*s", what,
                      json_error_text(e), doc.offset, (int)n, text);
        t->cjson_laxer++;
    } else {
        ck_abort_msg("%s: json_read accepts, cJSON does not:\n%.*s", what, (int)n, text);
    }
    cJSON_Delete(c);
    json_doc_free(&doc);
    free(copy);
}

/* Deterministic mutations of text, seeded by its name. */
static void compare_mutations(const char *what, const char *text, size_t n, bool header,
                              struct tally *t)
{
    static const char bytes[] = "{}[]\",:\\ 0123456789.-+eEtfnlu\t\nx/";
    uint64_t state = 1469598103934665603ull;
    for (const char *p = what; *p; p++)
        state = (state ^ (unsigned char)*p) * 1099511628211ull;
    char *m = malloc(n + 1);
    ck_assert_ptr_nonnull(m);
    for (int k = 0; k < MUTATIONS_PER_TEXT && n > 0; k++) {
        memcpy(m, text, n);
        size_t len = n, at = ts_next(&state) % n;
        switch (ts_next(&state) % 4) {
        case 0: /* a byte JSON gives meaning to */
            m[at] = bytes[ts_next(&state) % (sizeof bytes - 1)];
            break;
        case 1: /* any byte */
            m[at] = (char)(ts_next(&state) & 0xff);
            break;
        case 2:
            m[at] = (char)(m[at] ^ (1 << ts_next(&state) % 8));
            break;
        default:
            len = at;
            break;
        }
        char name[600];
        snprintf(name, sizeof name, "%s, mutation %d", what, k);
        compare(name, m, len, header, t);
    }
    free(m);
}

static char **paths;
static size_t n_paths, cap_paths;

static int collect(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    size_t len = strlen(path);
    if (flag != FTW_F || len < 12 || strcmp(path + len - 12, ".safetensors") != 0)
        return 0;
    if (n_paths == cap_paths) {
        cap_paths = cap_paths ? 2 * cap_paths : 64;
        paths = realloc(paths, cap_paths * sizeof *paths);
        ck_assert_ptr_nonnull(paths);
    }
    paths[n_paths++] = strdup(path);
    return 0;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(agrees_with_cjson_on_model_files)
{
    static const char *const dirs[] = {"tests/fixtures", "models"};
    for (int d = 0; d < 2; d++)
        ck_assert_int_eq(nftw(ts_src_path(dirs[d]), collect, 16, FTW_PHYS), 0);
    qsort(paths, n_paths, sizeof *paths, compare_paths);
    ck_assert_uint_ge(n_paths, 50);

    struct tally t = {0};
    int graphs = 0;
    size_t src_len = strlen(ts_src_path("")); /* names relative to it seed the mutations */
    for (size_t i = 0; i < n_paths; i++) {
        ck_assert(strlen(paths[i]) > src_len);
        const char *name = paths[i] + src_len;
        size_t size;
        char *file = ts_read_file(paths[i], &size);
        ck_assert_msg(file && size >= 8, "cannot read %s", paths[i]);
        uint64_t n = 0;
        for (int b = 7; b >= 0; b--)
            n = n << 8 | (unsigned char)file[b];
        ck_assert_msg(n <= size - 8, "%s: header length %llu", paths[i], (unsigned long long)n);
        const char *header = file + 8;
        struct tally before = t;
        compare(name, header, (size_t)n, true, &t);
        ck_assert_msg(t.both_accept == before.both_accept + 1, "%s: a reader refuses its header",
                      name);
        compare_mutations(name, header, (size_t)n, true, &t);

        struct json_doc doc;
        ck_assert_int_eq(json_parse(&doc, header, (size_t)n,
                                    &(struct json_options){.allow_trailing = true}),
                         JSON_OK);
        const struct json_node *graph =
            json_member(json_member(doc.root, "__metadata__"), "quanta.graph");
        if (json_is_string(graph)) {
            char what[600];
            snprintf(what, sizeof what, "%s, graph", name);
            before = t;
            compare(what, graph->string, strlen(graph->string), false, &t);
            ck_assert_msg(t.both_accept == before.both_accept + 1, "%s: a reader refuses it",
                          what);
            compare_mutations(what, graph->string, strlen(graph->string), false, &t);
            graphs++;
        }
        json_doc_free(&doc);
        free(file);
        free(paths[i]);
    }
    fprintf(stderr,
            "json_read vs cJSON: %zu files, %d graphs, %d texts: both accept %d, both reject "
            "%d, prescan rejects %d, only cJSON accepts %d\n",
            n_paths, graphs, t.texts, t.both_accept, t.both_reject, t.prescan_reject,
            t.cjson_laxer);
    free(paths);
    paths = NULL;
    n_paths = cap_paths = 0;
    ck_assert_int_ge(graphs, 50);
    ck_assert_int_ge(t.texts, 5000);
    /* both sides of the comparison are exercised */
    ck_assert_int_ge(t.both_accept, 1000);
    ck_assert_int_ge(t.both_reject, 1000);
}
END_TEST

/* The laxities themselves, so the excuses above stay honest. */
START_TEST(known_differences)
{
    static const char *const lax[] = {"[01]", "[1.]", "[-.5]", "[1.e5]", "[\"a\\u00zzb\"]"};
    for (size_t i = 0; i < sizeof lax / sizeof lax[0]; i++) {
        cJSON *c = cJSON_Parse(lax[i]);
        struct json_doc doc;
        enum json_error e = json_parse(&doc, lax[i], strlen(lax[i]), NULL);
        ck_assert_msg(c != NULL, "cJSON refuses %s now", lax[i]);
        ck_assert_msg(e != JSON_OK && cjson_laxity(lax[i], strlen(lax[i]), e, doc.offset),
                      "%s: %s at %zu", lax[i], json_error_text(e), doc.offset);
        cJSON_Delete(c);
    }
    /* a number longer than a small buffer: the same value in both */
    char big[128] = "[0.";
    memset(big + 3, '3', 100);
    strcpy(big + 103, "e-2]");
    struct json_doc doc;
    ck_assert_int_eq(json_parse(&doc, big, strlen(big), NULL), JSON_OK);
    cJSON *c = cJSON_Parse(big);
    ck_assert_ptr_nonnull(c);
    ck_assert(same_tree(c, doc.root));
    ck_assert(doc.root->child->number == strtod(big + 1, NULL));
    cJSON_Delete(c);
    json_doc_free(&doc);
    /* and what is not excused */
    ck_assert(!cjson_laxity("[1x]", 4, JSON_ERR_SYNTAX, 2));
    ck_assert(!cjson_laxity("[1-2]", 5, JSON_ERR_NUMBER, 1));
    ck_assert(!cjson_laxity("[\"\\u0041\"]", 10, JSON_ERR_ESCAPE, 2));
}
END_TEST

Suite *suite_json_read_cjson(void); /* called by tests/main.c */
Suite *suite_json_read_cjson(void)
{
    Suite *s = suite_create("json_read_cjson");
    TCase *tc = tcase_create("differential");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, agrees_with_cjson_on_model_files);
    tcase_add_test(tc, known_differences);
    suite_add_tcase(s, tc);
    return s;
}
