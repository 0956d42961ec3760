/* The calibration table: deterministic JSON writer and strict reader
 * (format in src/include/quanta/calib.h). */
#include "quanta/calib.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/safe_file.h"

#define CALIB_FORMAT "quanta.calibration"
#define CALIB_VERSION 1
#define CALIB_MAX_DEPTH 8
#define CALIB_MAX_FILE_SIZE (256u << 20)

/* Parameters stored for each method, in this order. */
enum calib_param { PARAM_BINS, PARAM_ENTROPY_BINS, PARAM_K, PARAM_MSE_BITS, PARAM_PERCENTILE, PARAM_COUNT };
static const char *const param_names[PARAM_COUNT] = {"bins", "entropy_bins", "k", "mse_bits", "percentile"};

static bool method_has_param(enum calib_method m, enum calib_param p)
{
    switch (m) {
    case CALIB_MEANSTD:
        return p == PARAM_K;
    case CALIB_PERCENTILE:
        return p == PARAM_BINS || p == PARAM_PERCENTILE;
    case CALIB_ENTROPY:
        return p == PARAM_BINS || p == PARAM_ENTROPY_BINS;
    case CALIB_MSE:
        return p == PARAM_BINS || p == PARAM_MSE_BITS;
    case CALIB_AUTO: /* every method's candidate */
        return true;
    default:
        return false;
    }
}

void calib_table_free(struct calib_table *table)
{
    for (int i = 0; i < table->n_values; i++)
        free(table->values[i].name);
    free(table->values);
    memset(table, 0, sizeof *table);
}

const struct calib_value *calib_table_find(const struct calib_table *table, const char *name)
{
    for (int i = 0; i < table->n_values; i++)
        if (strcmp(table->values[i].name, name) == 0)
            return &table->values[i];
    return NULL;
}

bool calib_table_range(void *table, const char *name, float *lo, float *hi)
{
    const struct calib_value *v = calib_table_find(table, name);
    if (!v)
        return false;
    *lo = (float)v->lo;
    *hi = (float)v->hi;
    return true;
}

/* ---- writer ---- */

struct sbuf {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void sb_append(struct sbuf *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 1024;
        while (sb->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(sb->buf, cap);
        if (!p) {
            sb->failed = true;
            return;
        }
        sb->buf = p;
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static void sb_puts(struct sbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        sb->failed = true;
    else
        sb_append(sb, tmp, (size_t)n);
}

/* The fewest significant digits (15..17) that read back as exactly v. */
static void sb_number(struct sbuf *sb, double v)
{
    char tmp[64];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    sb_puts(sb, tmp);
}

static void sb_string(struct sbuf *sb, const char *s)
{
    sb_append(sb, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sb_append(sb, esc, 2);
        } else if (*p < 0x20) {
            sb_printf(sb, "\\u%04x", *p);
        } else {
            sb_append(sb, (const char *)p, 1);
        }
    }
    sb_append(sb, "\"", 1);
}

char *calib_table_to_json(const struct calib_table *table)
{
    struct sbuf sb = {0};
    sb_printf(&sb, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"method\": ", CALIB_FORMAT,
              CALIB_VERSION);
    sb_string(&sb, calib_method_name(table->method));
    sb_puts(&sb, ",\n  \"params\": {");
    const char *sep = "";
    for (int p = 0; p < PARAM_COUNT; p++) {
        if (!method_has_param(table->method, (enum calib_param)p))
            continue;
        sb_printf(&sb, "%s\"%s\": ", sep, param_names[p]);
        switch ((enum calib_param)p) {
        case PARAM_BINS:
            sb_printf(&sb, "%d", table->params.bins);
            break;
        case PARAM_ENTROPY_BINS:
            sb_printf(&sb, "%d", table->params.entropy_bins);
            break;
        case PARAM_K:
            sb_number(&sb, table->params.k);
            break;
        case PARAM_MSE_BITS:
            sb_printf(&sb, "%d", table->params.mse_bits);
            break;
        default:
            sb_number(&sb, table->params.percentile);
            break;
        }
        sep = ", ";
    }
    sb_printf(&sb, "},\n  \"samples\": %lld,\n  \"data_sha256\": ", (long long)table->samples);
    sb_string(&sb, table->data_sha256);
    sb_puts(&sb, ",\n  \"model_sha256\": ");
    sb_string(&sb, table->model_sha256);
    sb_puts(&sb, ",\n  \"values\": {");
    for (int i = 0; i < table->n_values; i++) {
        const struct calib_value *v = &table->values[i];
        sb_puts(&sb, i ? ",\n    " : "\n    ");
        sb_string(&sb, v->name);
        sb_printf(&sb, ": {\"count\": %lld, ", (long long)v->count);
        if (v->nonfinite > 0) /* only then: tables without any stay as they were */
            sb_printf(&sb, "\"nonfinite\": %lld, ", (long long)v->nonfinite);
        if (table->method == CALIB_AUTO) {
            sb_puts(&sb, "\"method\": ");
            sb_string(&sb, calib_method_name(v->method));
            sb_puts(&sb, ", ");
        }
        sb_puts(&sb, "\"min\": ");
        sb_number(&sb, v->min);
        sb_puts(&sb, ", \"max\": ");
        sb_number(&sb, v->max);
        sb_puts(&sb, ", \"lo\": ");
        sb_number(&sb, v->lo);
        sb_puts(&sb, ", \"hi\": ");
        sb_number(&sb, v->hi);
        sb_puts(&sb, "}");
    }
    sb_puts(&sb, table->n_values ? "\n  }\n}\n" : "}\n}\n");
    if (sb.failed) {
        free(sb.buf);
        return NULL;
    }
    return sb.buf;
}

enum quanta_status calib_table_save(const struct calib_table *table, const char *path,
                                    struct quanta_error *err)
{
    char *json = calib_table_to_json(table);
    if (!json)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory writing the calibration table", path);
    enum quanta_status st = safe_file_write_all(path, json, strlen(json), err);
    free(json);
    return st;
}

/* ---- reader ---- */

/* Before cJSON sees the text: no NUL byte, no control byte inside a
 * string, no "\u0000" escape, nesting at most CALIB_MAX_DEPTH. */
static const char *prescan(const char *s, size_t n, size_t *at)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        *at = i;
        if (c == 0)
            return "contains a NUL byte";
        if (in_string) {
            if (c < 0x20)
                return "has a control character inside a string";
            if (c == '\\') {
                if (i + 5 < n && memcmp(s + i + 1, "u0000", 5) == 0)
                    return "has a \\u0000 escape";
                i++;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > CALIB_MAX_DEPTH)
                return "nests too deep";
        } else if (c == '}' || c == ']')
            depth--;
    }
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks obj is an object whose keys are all among names[0..n) (NULL
 * entries skipped) and unique; fills found[]. Returns the offending key or
 * NULL; *dup tells a duplicate from an unknown key. */
static const char *check_keys(const cJSON *obj, const char *const *names, int n,
                              const cJSON **found, bool *dup)
{
    for (int k = 0; k < n; k++)
        found[k] = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        int k = 0;
        while (k < n && !(names[k] && strcmp(names[k], c->string) == 0))
            k++;
        if (k == n) {
            *dup = false;
            return c->string;
        }
        if (found[k]) {
            *dup = true;
            return c->string;
        }
        found[k] = c;
    }
    return NULL;
}

static bool json_int(const cJSON *item, double min, double max, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < min || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}

static bool sha_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return true;
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static enum quanta_status parse_params(struct calib_table *t, const cJSON *params, const char *source,
                                       struct quanta_error *err)
{
    if (!cJSON_IsObject(params))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"params\" is not an object", source);
    const char *wanted[PARAM_COUNT];
    const cJSON *found[PARAM_COUNT];
    for (int p = 0; p < PARAM_COUNT; p++)
        wanted[p] = method_has_param(t->method, (enum calib_param)p) ? param_names[p] : NULL;
    bool dup = false;
    const char *bad = check_keys(params, wanted, PARAM_COUNT, found, &dup);
    if (bad)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"params\": %s key \"%s\"%s", source,
                           dup ? "duplicate" : "unexpected", bad,
                           dup ? "" : " for this method");
    for (int p = 0; p < PARAM_COUNT; p++) {
        if (!wanted[p])
            continue;
        if (!found[p])
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"params\" lacks \"%s\" needed by method %s",
                               source, param_names[p], calib_method_name(t->method));
        int64_t iv = 0;
        bool ok = true;
        switch ((enum calib_param)p) {
        case PARAM_BINS:
            ok = json_int(found[p], 0, CALIB_MAX_BINS, &iv);
            t->params.bins = (int)iv;
            break;
        case PARAM_ENTROPY_BINS:
            ok = json_int(found[p], 0, CALIB_MAX_BINS, &iv);
            t->params.entropy_bins = (int)iv;
            break;
        case PARAM_MSE_BITS:
            ok = json_int(found[p], 0, 64, &iv);
            t->params.mse_bits = (int)iv;
            break;
        case PARAM_K:
            ok = cJSON_IsNumber(found[p]);
            t->params.k = found[p]->valuedouble;
            break;
        default:
            ok = cJSON_IsNumber(found[p]);
            t->params.percentile = found[p]->valuedouble;
            break;
        }
        if (!ok)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"params\": \"%s\" is not a %s", source,
                               param_names[p],
                               p == PARAM_K || p == PARAM_PERCENTILE ? "number" : "non-negative integer");
    }
    /* parameters the method does not store keep their defaults, bounded
     * by the stored bins */
    if (!wanted[PARAM_ENTROPY_BINS] && t->params.entropy_bins > t->params.bins)
        t->params.entropy_bins = t->params.bins;
    struct quanta_error perr = {0};
    if (calib_options_check(&t->params, &perr) != QUANTA_OK)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"params\": %s", source, perr.message);
    return QUANTA_OK;
}

/* A value of a table of the given method: "method" only in an auto table,
 * and required there. */
static enum quanta_status parse_value(struct calib_value *v, const cJSON *item,
                                      enum calib_method table_method, const char *source,
                                      struct quanta_error *err)
{
    const bool is_auto = table_method == CALIB_AUTO;
    const char *const keys[] = {"count", "min", "max", "lo", "hi", "nonfinite",
                                is_auto ? "method" : NULL};
    const cJSON *found[7];
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' is not an object", source, name);
    bool dup = false;
    const char *bad = check_keys(item, keys, 7, found, &dup);
    if (bad)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s': %s key \"%s\"%s", source,
                           name, dup ? "duplicate" : "unexpected", bad,
                           !dup && strcmp(bad, "method") == 0 ? " (only \"auto\" tables have it)"
                                                             : "");
    v->method = table_method;
    if (is_auto) {
        if (!found[6])
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: value '%s' lacks \"method\" (an \"auto\" table names each "
                               "value's)",
                               source, name);
        if (!cJSON_IsString(found[6]) ||
            (v->method = calib_method_parse(found[6]->valuestring)) >= CALIB_METHOD_COUNT)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: value '%s': \"method\" is not one of minmax, meanstd, "
                               "percentile, entropy, mse",
                               source, name);
    }
    for (int k = 0; k < 5; k++) {
        if (!found[k])
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' lacks \"%s\"", source, name, keys[k]);
        if (!cJSON_IsNumber(found[k]) || !isfinite(found[k]->valuedouble))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s': \"%s\" is not a finite number",
                               source, name, keys[k]);
    }
    if (!json_int(found[0], 0, 9007199254740992.0, &v->count))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s': \"count\" is not a non-negative integer",
                           source, name);
    v->nonfinite = 0; /* optional */
    if (found[5] && !json_int(found[5], 0, 9007199254740992.0, &v->nonfinite))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: value '%s': \"nonfinite\" is not a non-negative integer", source,
                           name);
    v->min = found[1]->valuedouble;
    v->max = found[2]->valuedouble;
    v->lo = found[3]->valuedouble;
    v->hi = found[4]->valuedouble;
    if (v->min > v->max)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s': min %.9g is above max %.9g", source,
                           name, v->min, v->max);
    if (v->lo > v->hi)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s': lo %.9g is above hi %.9g", source,
                           name, v->lo, v->hi);
    return QUANTA_OK;
}

enum quanta_status calib_table_parse(struct calib_table *table, const char *json, size_t size,
                                     const char *source, struct quanta_error *err)
{
    static const char *const keys[] = {"format", "version", "method", "params", "samples",
                                       "data_sha256", "model_sha256", "values"};
    enum { K_FORMAT, K_VERSION, K_METHOD, K_PARAMS, K_SAMPLES, K_DATA, K_MODEL, K_VALUES, K_COUNT };
    memset(table, 0, sizeof *table);
    calib_options_default(&table->params);
    enum quanta_status st = QUANTA_ERR_INPUT;
    cJSON *root = NULL;
    const char **names = NULL;

    size_t at = 0;
    const char *problem = prescan(json, size, &at);
    if (problem)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: %s at byte %zu", source, problem, at);
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(json, size, &end, false);
    if (!root) {
        size_t off = end && end >= json && end <= json + size ? (size_t)(end - json) : 0;
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: not valid JSON (near byte %zu)", source, off);
    }
    for (const char *p = end; p < json + size; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            quanta_fail(err, QUANTA_ERR_INPUT, "%s: text after the JSON document at byte %zu", source,
                        (size_t)(p - json));
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: the calibration table is not a JSON object", source);
        goto fail;
    }
    const cJSON *found[K_COUNT];
    bool dup = false;
    const char *bad = check_keys(root, keys, K_COUNT, found, &dup);
    if (bad) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: %s key \"%s\"", source, dup ? "duplicate" : "unexpected", bad);
        goto fail;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (!found[k]) {
            quanta_fail(err, QUANTA_ERR_INPUT, "%s: no \"%s\" key", source, keys[k]);
            goto fail;
        }
    if (!cJSON_IsString(found[K_FORMAT]) || strcmp(found[K_FORMAT]->valuestring, CALIB_FORMAT) != 0) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"format\" is not \"%s\"", source, CALIB_FORMAT);
        goto fail;
    }
    int64_t version = 0;
    if (!json_int(found[K_VERSION], 0, 1e9, &version) || version != CALIB_VERSION) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"version\" is not %d", source, CALIB_VERSION);
        goto fail;
    }
    if (!cJSON_IsString(found[K_METHOD]) ||
        (table->method = calib_method_parse(found[K_METHOD]->valuestring)) == CALIB_METHOD_COUNT) {
        quanta_fail(err, QUANTA_ERR_INPUT,
                    "%s: \"method\" is not one of minmax, meanstd, percentile, entropy, mse, "
                    "auto",
                    source);
        goto fail;
    }
    if ((st = parse_params(table, found[K_PARAMS], source, err)) != QUANTA_OK)
        goto fail;
    st = QUANTA_ERR_INPUT;
    if (!json_int(found[K_SAMPLES], 0, 9007199254740992.0, &table->samples)) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"samples\" is not a non-negative integer", source);
        goto fail;
    }
    for (int k = K_DATA; k <= K_MODEL; k++) {
        const cJSON *s = found[k];
        if (!cJSON_IsString(s) || !sha_valid(s->valuestring)) {
            quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"%s\" is not \"\" or 64 lowercase hex digits",
                        source, keys[k]);
            goto fail;
        }
        strcpy(k == K_DATA ? table->data_sha256 : table->model_sha256, s->valuestring);
    }

    const cJSON *values = found[K_VALUES];
    if (!cJSON_IsObject(values)) {
        quanta_fail(err, QUANTA_ERR_INPUT, "%s: \"values\" is not an object", source);
        goto fail;
    }
    int n = cJSON_GetArraySize(values);
    if (n > 0) {
        table->values = calloc((size_t)n, sizeof *table->values);
        names = malloc((size_t)n * sizeof *names);
        if (!table->values || !names) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory for %d values", source, n);
            goto fail;
        }
    }
    int i = 0;
    for (const cJSON *item = values->child; item; item = item->next, i++) {
        if (item->string[0] == '\0') {
            quanta_fail(err, QUANTA_ERR_INPUT, "%s: a value has an empty name", source);
            goto fail;
        }
        names[i] = item->string;
        if ((st = parse_value(&table->values[i], item, table->method, source, err)) != QUANTA_OK)
            goto fail;
        st = QUANTA_ERR_INPUT;
        if (!(table->values[i].name = strdup(item->string))) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
            goto fail;
        }
        table->n_values = i + 1;
    }
    if (n > 1) {
        qsort(names, (size_t)n, sizeof *names, cmp_names);
        for (int k = 1; k < n; k++)
            if (strcmp(names[k - 1], names[k]) == 0) {
                quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' appears twice", source, names[k]);
                goto fail;
            }
    }
    free(names);
    cJSON_Delete(root);
    return QUANTA_OK;

fail:
    free(names);
    cJSON_Delete(root);
    calib_table_free(table);
    return st;
}

enum quanta_status calib_table_load(struct calib_table *table, const char *path, struct quanta_error *err)
{
    memset(table, 0, sizeof *table);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    enum quanta_status st = QUANTA_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= CALIB_MAX_FILE_SIZE) {
                st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: larger than %u bytes", path,
                                 CALIB_MAX_FILE_SIZE);
                break;
            }
            cap = cap ? 2 * cap : 65536;
            char *p = realloc(buf, cap);
            if (!p) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory reading it", path);
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) {
            if (ferror(fp))
                st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
    }
    fclose(fp);
    if (st == QUANTA_OK)
        st = calib_table_parse(table, buf ? buf : "", len, path, err);
    free(buf);
    return st;
}

void calib_nonfinite_format(const struct calib_value *v, const char *source, char *buf,
                            size_t size)
{
    snprintf(buf, size, "%s: value '%s': %lld NaN or infinite elements (of %lld) were left out "
                        "of its range", source, v->name, (long long)v->nonfinite,
             (long long)(v->nonfinite + v->count));
}
