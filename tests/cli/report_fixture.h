/* Shared by the quanta report tests: the tiny model, a copy with one bias
 * raised (it changes some predictions), its int8 copy, data and labels,
 * and small readers of the HTML page. */
#ifndef QUANTA_TEST_REPORT_FIXTURE_H
#define QUANTA_TEST_REPORT_FIXTURE_H

#include "cli/cli_fixture.h"

struct report_fx {
    char *model, *model2, *int8, *images, *labels;
    struct cf_weights w1, w2;
    int label[CF_N];
};

/* Labels are model 1's predictions except on the last sample, so model 1
 * gets 7 of 8 right and model 2 (fc2.bias[2] + 0.5) loses some. */
static inline void report_fx_init(struct report_fx *f, bool with_int8)
{
    memset(f, 0, sizeof *f);
    f->model = cf_tmp("m1.safetensors");
    f->model2 = cf_tmp("m2.safetensors");
    f->int8 = cf_tmp("m1.int8.safetensors");
    f->images = cf_tmp("tiny-images-idx3-ubyte");
    f->labels = cf_tmp("tiny-labels-idx1-ubyte");
    cf_default_weights(&f->w1);
    f->w2 = f->w1;
    f->w2.b2[2] += 0.5f;
    cf_write_model(f->model, &f->w1, true);
    cf_write_model(f->model2, &f->w2, true);
    for (int i = 0; i < CF_N; i++) {
        double l[CF_CLASSES];
        cf_forward(&f->w1, i, l);
        int p = cf_argmax(l, CF_CLASSES);
        f->label[i] = i == CF_N - 1 ? (p + 1) % CF_CLASSES : p;
    }
    cf_write_images(f->images);
    cf_write_labels(f->labels, f->label);
    if (with_int8) {
        char *errout = NULL;
        int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f->model, f->images,
                                       f->int8), NULL, &errout);
        ck_assert_msg(rc == 0, "quantize: %s", errout);
        free(errout);
    }
}

static inline void report_fx_free(struct report_fx *f)
{
    free(f->model);
    free(f->model2);
    free(f->int8);
    free(f->images);
    free(f->labels);
}

/* Occurrences of what in [text, end) (end NULL: to the end). */
static inline int rf_count(const char *text, const char *end, const char *what)
{
    int n = 0;
    size_t len = strlen(what);
    for (const char *p = text; (p = strstr(p, what)) != NULL && (!end || p < end); p += len)
        n++;
    return n;
}

/* The element starting with `open` (e.g. "<svg class=\"chart bars"), up to
 * its `close`: *end is set past it. NULL when absent. */
static inline const char *rf_element(const char *text, const char *open, const char *close,
                                     const char **end)
{
    const char *at = strstr(text, open);
    if (!at)
        return NULL;
    const char *stop = strstr(at, close);
    ck_assert_ptr_nonnull(stop);
    *end = stop + strlen(close);
    return at;
}

/* The data-v numbers of the row whose tr has data-key="key", in order. */
static inline int rf_row(const char *html, const char *key, double *v, int max)
{
    char tag[128];
    snprintf(tag, sizeof tag, "data-key=\"%s\"", key);
    const char *at = strstr(html, tag);
    if (!at)
        return -1;
    const char *end = strstr(at, "</tr>");
    ck_assert_ptr_nonnull(end);
    int n = 0;
    for (const char *p = at; n < max && (p = strstr(p, "data-v=\"")) != NULL && p < end; n++) {
        p += 8;
        v[n] = *p == '"' ? NAN : strtod(p, NULL);
    }
    return n;
}

/* The data-v cells of the table with the given id, row by row. */
static inline int rf_table_cells(const char *html, const char *id, double *v, int max)
{
    char tag[128];
    snprintf(tag, sizeof tag, "id=\"%s\"", id);
    const char *at = strstr(html, tag);
    ck_assert_msg(at != NULL, "no table %s", id);
    const char *end = strstr(at, "</table>");
    int n = 0;
    for (const char *p = strstr(at, "<tbody>"); n < max && (p = strstr(p, "data-v=\"")) != NULL &&
                                                p < end;
         n++) {
        p += 8;
        v[n] = *p == '"' ? NAN : strtod(p, NULL);
    }
    return n;
}

#endif
