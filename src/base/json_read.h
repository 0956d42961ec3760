/* json_read: a strict RFC 8259 reader for the model file's JSON (the
 * safetensors header and the graph in its metadata), so that loading a
 * model needs no JSON library. It parses a buffer of given length (no NUL
 * needed) into a read-only tree; members keep document order, repeated
 * keys included (callers decide what a repeat means).
 *
 * Stricter than cJSON where the RFC is: numbers follow the JSON grammar
 * (no leading zeros, "1.", "-.5", "+1", NaN, hex), \u needs four hex
 * digits, lone surrogates are refused (as cJSON does), text must be UTF-8,
 * whitespace is space, tab, LF and CR only, and no byte order mark.
 * Strings are C strings, so "\u0000" is refused (cJSON cuts the string
 * there). Nesting deeper than max_depth fails cleanly: the parser recurses
 * once per level and never further. */
#ifndef QUANTA_BASE_JSON_READ_H
#define QUANTA_BASE_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

/* cJSON's limit, the default */
#define JSON_MAX_DEPTH 1000

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
};

struct json_node {
    enum json_type type;
    const char *key;               /* member of an object: its name, else NULL */
    const char *string;            /* JSON_STRING: the decoded UTF-8 text */
    double number;                 /* JSON_NUMBER: as strtod reads it in the C locale */
    size_t count;                  /* JSON_ARRAY, JSON_OBJECT: number of children */
    const struct json_node *child; /* first element or member */
    const struct json_node *next;  /* next sibling, in document order */
};

enum json_error {
    JSON_OK = 0,
    JSON_ERR_NOMEM,     /* the allocator failed */
    JSON_ERR_SYNTAX,    /* an unexpected byte, or the text ended too soon */
    JSON_ERR_NUMBER,    /* a number outside the JSON grammar */
    JSON_ERR_STRING,    /* a control character or bad UTF-8 inside a string */
    JSON_ERR_ESCAPE,    /* an unknown escape, or \u without four hex digits */
    JSON_ERR_SURROGATE, /* a \u escape of a lone surrogate */
    JSON_ERR_NUL,       /* "\u0000" */
    JSON_ERR_DEPTH,     /* objects and arrays nested deeper than max_depth */
    JSON_ERR_TRAILING,  /* something other than whitespace after the value */
};

struct json_options {
    int max_depth;                /* <= 0: JSON_MAX_DEPTH */
    bool allow_trailing;          /* stop after the value; the caller checks the rest */
    void *(*alloc)(size_t size);  /* NULL: malloc (tests make it fail) */
    void (*release)(void *block); /* NULL: free */
};

struct json_block;

struct json_doc {
    const struct json_node *root; /* NULL when parsing failed */
    enum json_error error;
    /* on error the byte where it was found; on success the byte after the
     * value (after trailing whitespace too, unless allow_trailing) */
    size_t offset;
    struct json_block *blocks; /* the tree's memory */
    void (*release)(void *block);
};

/* Parses text[0..n) (options may be NULL). Returns doc->error; call
 * json_doc_free in every case. */
enum json_error json_parse(struct json_doc *doc, const char *text, size_t n,
                           const struct json_options *options);
void json_doc_free(struct json_doc *doc);
/* "a number outside the JSON grammar", ... */
const char *json_error_text(enum json_error error);

static inline bool json_is_object(const struct json_node *n) { return n && n->type == JSON_OBJECT; }
static inline bool json_is_array(const struct json_node *n) { return n && n->type == JSON_ARRAY; }
static inline bool json_is_string(const struct json_node *n) { return n && n->type == JSON_STRING; }
static inline bool json_is_number(const struct json_node *n) { return n && n->type == JSON_NUMBER; }
static inline bool json_is_bool(const struct json_node *n)
{
    return n && (n->type == JSON_TRUE || n->type == JSON_FALSE);
}
static inline bool json_is_true(const struct json_node *n) { return n && n->type == JSON_TRUE; }

/* Children of an array or object, 0 for anything else (NULL too). */
size_t json_size(const struct json_node *n);
/* The first member of obj named key (case-sensitive); NULL when obj is not
 * an object or has none. */
const struct json_node *json_member(const struct json_node *obj, const char *key);

#endif
