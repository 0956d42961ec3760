/* json_read: recursive descent over the buffer, one call per nesting level
 * (bounded by max_depth), nodes and decoded strings carved from a few large
 * blocks that json_doc_free releases together. */
#include "base/json_read.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 16384

struct json_block {
    struct json_block *next;
    size_t used, size;
    unsigned char data[];
};

struct reader {
    const unsigned char *s;
    size_t n, pos;
    int depth, max_depth;
    struct json_doc *doc;
    void *(*alloc)(size_t size);
};

static bool fail(struct reader *r, enum json_error error, size_t at)
{
    if (r->doc->error == JSON_OK) {
        r->doc->error = error;
        r->doc->offset = at;
    }
    return false;
}

static void *carve(struct json_block *b, size_t size, size_t align)
{
    uintptr_t at = (uintptr_t)(b->data + b->used);
    size_t pad = (align - at % align) % align;
    if (b->size - b->used < pad + size)
        return NULL;
    b->used += pad + size;
    return (void *)(at + pad);
}

/* size bytes aligned to align from the current block, or a new one; a
 * large request gets a block of its own behind the current one, which
 * stays in use. */
static void *take(struct reader *r, size_t size, size_t align)
{
    struct json_block *head = r->doc->blocks;
    void *p = head ? carve(head, size, align) : NULL;
    if (p)
        return p;
    bool own = size > BLOCK_SIZE / 4;
    size_t want = own ? size + align : BLOCK_SIZE;
    struct json_block *b = want < SIZE_MAX - sizeof *b ? r->alloc(sizeof *b + want) : NULL;
    if (!b) {
        fail(r, JSON_ERR_NOMEM, r->pos);
        return NULL;
    }
    b->used = 0;
    b->size = want;
    if (own && head) {
        b->next = head->next;
        head->next = b;
    } else {
        b->next = head;
        r->doc->blocks = b;
    }
    return carve(b, size, align);
}

static struct json_node *new_node(struct reader *r)
{
    struct json_node *node = take(r, sizeof *node, _Alignof(struct json_node));
    if (node)
        memset(node, 0, sizeof *node);
    return node;
}

static void skip_whitespace(struct reader *r)
{
    while (r->pos < r->n) {
        unsigned char c = r->s[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        r->pos++;
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ---- strings ---- */

static bool hex4(const unsigned char *p, size_t avail, uint32_t *out)
{
    if (avail < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        uint32_t d;
        if (is_digit(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* Length of the well-formed UTF-8 sequence at p (no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (avail < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static size_t put_utf8(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at s[i] (one code unit, or a surrogate pair) into *cp;
 * returns the bytes it spans, 0 on error. */
static size_t unicode_escape(struct reader *r, size_t i, size_t end, uint32_t *cp)
{
    const unsigned char *s = r->s;
    uint32_t hi, lo;
    if (!hex4(s + i + 2, end - (i + 2), &hi))
        return fail(r, JSON_ERR_ESCAPE, i), 0;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail(r, JSON_ERR_SURROGATE, i), 0;
    if (hi < 0xd800 || hi > 0xdbff) {
        if (hi == 0)
            return fail(r, JSON_ERR_NUL, i), 0;
        *cp = hi;
        return 6;
    }
    size_t j = i + 6;
    if (end - j < 2 || s[j] != '\\' || s[j + 1] != 'u')
        return fail(r, JSON_ERR_SURROGATE, i), 0;
    if (!hex4(s + j + 2, end - (j + 2), &lo))
        return fail(r, JSON_ERR_ESCAPE, j), 0;
    if (lo < 0xdc00 || lo > 0xdfff)
        return fail(r, JSON_ERR_SURROGATE, i), 0;
    *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    return 12;
}

/* The string whose opening quote is at r->pos, decoded into *out. */
static bool parse_string(struct reader *r, const char **out)
{
    const unsigned char *s = r->s;
    size_t start = r->pos, end = start + 1;
    while (end < r->n && s[end] != '"')
        end += s[end] == '\\' ? 2 : 1; /* an escaped byte never closes it */
    if (end >= r->n)
        return fail(r, JSON_ERR_SYNTAX, r->n);
    /* decoding never lengthens: an escape of n bytes yields fewer */
    unsigned char *dst = take(r, end - start, 1);
    if (!dst)
        return false;
    size_t k = 0;
    for (size_t i = start + 1; i < end;) {
        unsigned char c = s[i];
        if (c == '\\') {
            static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
            const char *e = strchr(plain, s[i + 1]);
            if (s[i + 1] == 'u') {
                uint32_t cp;
                size_t span = unicode_escape(r, i, end, &cp);
                if (!span)
                    return false;
                k += put_utf8(dst + k, cp);
                i += span;
            } else if (e && s[i + 1]) {
                dst[k++] = (unsigned char)decoded[e - plain];
                i += 2;
            } else {
                return fail(r, JSON_ERR_ESCAPE, i);
            }
        } else if (c < 0x20) {
            return fail(r, JSON_ERR_STRING, i);
        } else if (c < 0x80) {
            dst[k++] = c;
            i++;
        } else {
            size_t len = utf8_sequence(s + i, end - i);
            if (!len)
                return fail(r, JSON_ERR_STRING, i);
            memcpy(dst + k, s + i, len);
            k += len;
            i += len;
        }
    }
    dst[k] = '\0';
    r->pos = end + 1;
    *out = (const char *)dst;
    return true;
}

/* ---- numbers ---- */

/* strtod in the C locale whatever the embedding program set: "0.5" must
 * not read as 0 under a locale with a decimal comma. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static double c_strtod(const char *text)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, and not followed
 * by anything that would make it a longer number-like token ("01", "1.",
 * "1e+"), which is a bad number rather than a syntax error after one. */
static bool parse_number(struct reader *r, struct json_node *node)
{
    const unsigned char *s = r->s;
    size_t n = r->n, start = r->pos, i = start;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        return fail(r, JSON_ERR_NUMBER, start);
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i]))
            return fail(r, JSON_ERR_NUMBER, start);
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return fail(r, JSON_ERR_NUMBER, start);
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (is_digit(s[i]) || strchr(".eE+-", s[i]) != NULL) && s[i])
        return fail(r, JSON_ERR_NUMBER, start);
    size_t len = i - start;
    char small[64];
    char *text = len < sizeof small ? small : take(r, len + 1, 1);
    if (!text)
        return false;
    memcpy(text, s + start, len);
    text[len] = '\0';
    node->type = JSON_NUMBER;
    node->number = c_strtod(text);
    r->pos = i;
    return true;
}

/* ---- values ---- */

static bool parse_value(struct reader *r, struct json_node *node);

static bool parse_container(struct reader *r, struct json_node *node, bool object)
{
    const unsigned char *s = r->s;
    unsigned char close = object ? '}' : ']';
    if (r->depth >= r->max_depth)
        return fail(r, JSON_ERR_DEPTH, r->pos);
    r->depth++;
    node->type = object ? JSON_OBJECT : JSON_ARRAY;
    r->pos++;
    skip_whitespace(r);
    if (r->pos < r->n && s[r->pos] == close) {
        r->pos++;
        r->depth--;
        return true;
    }
    struct json_node *tail = NULL;
    for (;;) {
        struct json_node *item = new_node(r);
        if (!item)
            return false;
        if (object) {
            skip_whitespace(r);
            if (r->pos >= r->n || s[r->pos] != '"')
                return fail(r, JSON_ERR_SYNTAX, r->pos);
            if (!parse_string(r, &item->key))
                return false;
            skip_whitespace(r);
            if (r->pos >= r->n || s[r->pos] != ':')
                return fail(r, JSON_ERR_SYNTAX, r->pos);
            r->pos++;
        }
        if (!parse_value(r, item))
            return false;
        if (tail)
            tail->next = item;
        else
            node->child = item;
        tail = item;
        node->count++;
        skip_whitespace(r);
        if (r->pos >= r->n)
            return fail(r, JSON_ERR_SYNTAX, r->pos);
        unsigned char c = s[r->pos++];
        if (c == close)
            break;
        if (c != ',')
            return fail(r, JSON_ERR_SYNTAX, r->pos - 1);
    }
    r->depth--;
    return true;
}

static bool parse_literal(struct reader *r, struct json_node *node, const char *word,
                          enum json_type type)
{
    size_t len = strlen(word);
    if (r->n - r->pos < len || memcmp(r->s + r->pos, word, len) != 0)
        return fail(r, JSON_ERR_SYNTAX, r->pos);
    node->type = type;
    r->pos += len;
    return true;
}

static bool parse_value(struct reader *r, struct json_node *node)
{
    skip_whitespace(r);
    if (r->pos >= r->n)
        return fail(r, JSON_ERR_SYNTAX, r->pos);
    unsigned char c = r->s[r->pos];
    switch (c) {
    case '{':
    case '[':
        return parse_container(r, node, c == '{');
    case '"':
        node->type = JSON_STRING;
        return parse_string(r, &node->string);
    case 't':
        return parse_literal(r, node, "true", JSON_TRUE);
    case 'f':
        return parse_literal(r, node, "false", JSON_FALSE);
    case 'n':
        return parse_literal(r, node, "null", JSON_NULL);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(r, node);
        return fail(r, JSON_ERR_SYNTAX, r->pos);
    }
}

/* ---- the document ---- */

enum json_error json_parse(struct json_doc *doc, const char *text, size_t n,
                           const struct json_options *options)
{
    memset(doc, 0, sizeof *doc);
    doc->release = options && options->release ? options->release : free;
    struct reader r = {
        .s = (const unsigned char *)text,
        .n = text ? n : 0,
        .max_depth = options && options->max_depth > 0 ? options->max_depth : JSON_MAX_DEPTH,
        .doc = doc,
        .alloc = options && options->alloc ? options->alloc : malloc,
    };
    struct json_node *root = new_node(&r);
    bool ok = root && parse_value(&r, root);
    if (ok && !(options && options->allow_trailing)) {
        skip_whitespace(&r);
        if (r.pos < r.n)
            ok = fail(&r, JSON_ERR_TRAILING, r.pos);
    }
    if (!ok) {
        enum json_error error = doc->error;
        size_t offset = doc->offset;
        json_doc_free(doc);
        doc->error = error;
        doc->offset = offset;
        return error;
    }
    doc->root = root;
    doc->offset = r.pos;
    return JSON_OK;
}

void json_doc_free(struct json_doc *doc)
{
    if (!doc)
        return;
    void (*release)(void *) = doc->release ? doc->release : free;
    for (struct json_block *b = doc->blocks, *next; b; b = next) {
        next = b->next;
        release(b);
    }
    memset(doc, 0, sizeof *doc);
}

const char *json_error_text(enum json_error error)
{
    switch (error) {
    case JSON_OK:
        return "no error";
    case JSON_ERR_NOMEM:
        return "out of memory";
    case JSON_ERR_SYNTAX:
        return "an unexpected byte or end of text";
    case JSON_ERR_NUMBER:
        return "a number outside the JSON grammar";
    case JSON_ERR_STRING:
        return "a control character or bad UTF-8 in a string";
    case JSON_ERR_ESCAPE:
        return "an unknown escape or \\u without four hex digits";
    case JSON_ERR_SURROGATE:
        return "a lone surrogate in a \\u escape";
    case JSON_ERR_NUL:
        return "an escaped NUL character (\\u0000)";
    case JSON_ERR_DEPTH:
        return "objects or arrays nested too deeply";
    case JSON_ERR_TRAILING:
        return "text after the JSON value";
    }
    return "unknown error";
}

size_t json_size(const struct json_node *n)
{
    return n && (n->type == JSON_ARRAY || n->type == JSON_OBJECT) ? n->count : 0;
}

const struct json_node *json_member(const struct json_node *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    for (const struct json_node *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}
