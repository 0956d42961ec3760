/* Calibration for the quantizer suites: the min/max of every value of a
 * float graph over some samples, recorded by a runner hook, and looked up
 * by name as quantize_ranges. */
#ifndef QUANTA_TEST_RANGES_H
#define QUANTA_TEST_RANGES_H

#include <check.h>
#include <math.h>
#include <string.h>
#include "quanta/quantize.h"
#include "support/test_model.h"

#define TR_MAX_RANGES 32

struct tr_ranges {
    int n;
    const char *name[TR_MAX_RANGES];   /* point into the graph calibrated */
    float lo[TR_MAX_RANGES], hi[TR_MAX_RANGES];
};

static inline void tr_hook(void *ctx, const struct graph *g, int value, const float *data,
                           const struct quanta_shape *shape)
{
    struct tr_ranges *t = ctx;
    int i = 0;
    while (i < t->n && strcmp(t->name[i], g->values[value].name) != 0)
        i++;
    if (i == t->n) {
        ck_assert_int_lt(t->n, TR_MAX_RANGES);
        t->name[t->n] = g->values[value].name;
        t->lo[t->n] = INFINITY;
        t->hi[t->n] = -INFINITY;
        t->n++;
    }
    for (int64_t k = 0; k < quanta_shape_numel(shape); k++) {
        t->lo[i] = fminf(t->lo[i], data[k]);
        t->hi[i] = fmaxf(t->hi[i], data[k]);
    }
}

static inline bool tr_find(void *ctx, const char *value, float *lo, float *hi)
{
    const struct tr_ranges *t = ctx;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], value) == 0) {
            *lo = t->lo[i];
            *hi = t->hi[i];
            return true;
        }
    return false;
}

/* Overrides the range of one value (it must have been recorded). */
static inline void tr_set(struct tr_ranges *t, const char *value, float lo, float hi)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->name[i], value) == 0) {
            t->lo[i] = lo;
            t->hi[i] = hi;
            return;
        }
    ck_abort_msg("no range recorded for '%s'", value);
}

static inline void tr_run(struct runner *r, int64_t batch, const float *x)
{
    struct quanta_error err = {0};
    const void *in[1] = {x};
    enum quanta_status st = runner_run(r, batch, in, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_run: %s", err.message);
}

/* Ranges of g over n samples of x. */
static inline void tr_calibrate(const struct graph *g, const float *x, int64_t n,
                                struct tr_ranges *t)
{
    memset(t, 0, sizeof *t);
    struct runner *r = tm_new_runner(g, n);
    runner_set_hook(r, tr_hook, t);
    tr_run(r, n, x);
    runner_free(r);
}

#endif
