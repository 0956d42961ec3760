/* The int8 embedding bag of every level against the reference, byte for
 * byte (memcmp), at every level this CPU has (a skip for each missing one):
 * random 8- and 4-bit tables, per-row or one scale, with and without zero
 * points, sum / mean / max, float or int8 per-sample weights, empty bags,
 * offsets and fixed-length bags, dims 1..67 (tails of the 4-column groups,
 * more than one 64-column chunk), outputs that saturate, a bad id (the same
 * position returned, the same bags written before it), and outputs that sit
 * exactly on a rounding tie (where a kernel dividing by a multiply would
 * differ). Levels whose bag is the reference pass trivially. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "support/test_support.h"

struct bag_case {
    struct q8_embedding_bag_params p;
    int64_t *ids, *offsets;
    int8_t *table;
    float *scale, *weights;
    int32_t *zp;
    int8_t *weights_q8;
};

static void case_free(struct bag_case *c)
{
    free(c->ids), free(c->offsets), free(c->table), free(c->scale), free(c->weights);
    free(c->zp), free(c->weights_q8);
}

/* A random case; dim 0 picks one in 1..67. */
static void case_make(struct tq_rng *r, int dim, struct bag_case *c)
{
    memset(c, 0, sizeof *c);
    struct q8_embedding_bag_params *p = &c->p;
    p->dim = dim ? dim : (int)tq_int(r, 1, 67);
    p->bits = tq_int(r, 0, 1) ? 8 : 4;
    p->mode = (int)tq_int(r, F32_BAG_SUM, F32_BAG_MAX);
    p->per_row = tq_int(r, 0, 3) != 0;
    p->vocab = tq_int(r, 1, 50);
    p->n_bags = tq_int(r, 0, 7);
    const bool fixed = tq_int(r, 0, 1);
    if (fixed) {
        p->bag = tq_int(r, 1, 9);
        p->n_ids = p->n_bags * p->bag;
    } else { /* offsets: bags of 0..9 ids, some empty */
        c->offsets = malloc(sizeof(int64_t) * (size_t)(p->n_bags + 1));
        int64_t at = 0;
        for (int64_t b = 0; b < p->n_bags; b++) {
            c->offsets[b] = at;
            at += tq_int(r, 0, 3) ? tq_int(r, 0, 9) : 0;
        }
        p->n_ids = at;
    }
    c->ids = malloc(sizeof(int64_t) * (size_t)(p->n_ids + 1));
    for (int64_t t = 0; t < p->n_ids; t++)
        c->ids[t] = tq_int(r, 0, p->vocab - 1);
    const int64_t stride = p->bits == 8 ? p->dim : (p->dim + 1) / 2;
    c->table = malloc((size_t)(p->vocab * stride));
    for (int64_t i = 0; i < p->vocab * stride; i++)
        c->table[i] = (int8_t)tq_int(r, -128, 127);
    const int64_t n_params = p->per_row ? p->vocab : 1;
    c->scale = malloc(sizeof(float) * (size_t)n_params);
    for (int64_t i = 0; i < n_params; i++)
        c->scale[i] = (float)tq_uniform(r, 1e-3, 2e-2);
    if (tq_int(r, 0, 1)) {
        c->zp = malloc(sizeof(int32_t) * (size_t)n_params);
        for (int64_t i = 0; i < n_params; i++)
            c->zp[i] = (int32_t)(p->bits == 8 ? tq_int(r, -128, 127) : tq_int(r, -8, 7));
    }
    const int w = (int)tq_int(r, 0, 2); /* none, float, int8 */
    if (w == 1) {
        c->weights = malloc(sizeof(float) * (size_t)(p->n_ids + 1));
        for (int64_t t = 0; t < p->n_ids; t++)
            c->weights[t] = (float)tq_uniform(r, -2.0, 2.0);
    } else if (w == 2) {
        c->weights_q8 = malloc((size_t)(p->n_ids + 1));
        for (int64_t t = 0; t < p->n_ids; t++)
            c->weights_q8[t] = (int8_t)tq_int(r, -128, 127);
        p->w_scale = (float)tq_uniform(r, 1e-3, 2e-2);
        p->w_zero_point = (int32_t)tq_int(r, -20, 20);
    }
    p->scale = c->scale;
    p->zero_point = c->zp;
    p->weights = c->weights;
    p->weights_q8 = c->weights_q8;
    /* an output range a little narrow for a few rows: some outputs clamp */
    const double span = (p->bits == 8 ? 255.0 : 15.0) * 2e-2 * (tq_int(r, 0, 1) ? 1.0 : 4.0);
    p->out_scale = (float)(span / 255.0 * tq_uniform(r, 0.3, 1.0));
    p->out_zero_point = (int32_t)tq_int(r, -128, 127);
}

/* Runs c at every fast level; the output and the return value must be the
 * reference's, and nothing written past the output. */
static void check_case(const struct bag_case *c, const char *what, int it)
{
    const struct q8_embedding_bag_params *p = &c->p;
    const size_t n = (size_t)(p->n_bags * p->dim);
    int8_t *want = malloc(n + 1);
    memset(want, 0x5a, n + 1);
    const int64_t want_bad = q8_embedding_bag__ref(p, c->ids, c->offsets, c->table, want);
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT];
    const int nl = tq_levels(levels, KERNELS_LEVEL_REF + 1);
    for (int l = 0; l < nl; l++) {
        int8_t *got = ts_guarded_alloc(n + 1, 1);
        memset(got, 0x5a, n + 1);
        const int64_t bad = levels[l]->embedding_bag(p, c->ids, c->offsets, c->table, got);
        ts_guarded_check(got, levels[l]->level);
        ck_assert_msg(bad == want_bad, "%s %d, level %s: returned %lld, the reference %lld", what,
                      it, levels[l]->level, (long long)bad, (long long)want_bad);
        size_t j = 0;
        while (j < n && got[j] == want[j])
            j++;
        ck_assert_msg(j == n,
                      "%s %d, level %s (bits %d, mode %d, dim %d, per_row %d, zp %d, weights %s, "
                      "%s): byte %zu is %d, the reference's %d",
                      what, it, levels[l]->level, p->bits, p->mode, p->dim, p->per_row,
                      p->zero_point != NULL,
                      p->weights ? "float" : p->weights_q8 ? "int8" : "none",
                      p->bag ? "fixed" : "offsets", j, j < n ? got[j] : 0, j < n ? want[j] : 0);
        ts_guarded_free(got);
    }
    free(want);
}

START_TEST(random_tables_equal_reference)
{
    struct tq_rng r = {0xBA6};
    for (int it = 0; it < 3000; it++) {
        struct bag_case c;
        case_make(&r, it < 67 ? it + 1 : 0, &c); /* every dim 1..67 once, then random */
        check_case(&c, "case", it);
        case_free(&c);
    }
}
END_TEST

/* An id outside [0, vocab) in a later bag: every level returns its
 * position and writes the bags before it as the reference does. */
START_TEST(bad_id_equals_reference)
{
    struct tq_rng r = {0xBAD};
    int tried = 0;
    for (int it = 0; it < 400; it++) {
        struct bag_case c;
        case_make(&r, 0, &c);
        if (c.p.n_ids > 0) {
            c.ids[tq_int(&r, 0, c.p.n_ids - 1)] = tq_int(&r, 0, 1) ? -1 : c.p.vocab;
            check_case(&c, "bad id", it);
            tried++;
        }
        case_free(&c);
    }
    ck_assert_int_gt(tried, 100);
}
END_TEST

/* Outputs exactly on a rounding tie: out_scale sy = m * 2^e (m odd, so
 * 1 / sy is inexact) and row scales s = (2k + 1) / 2 * sy (exact floats)
 * make s * (q - z) / sy = (2k + 1)(q - z) / 2 a tie for every odd q - z,
 * which the reference's division computes exactly. A kernel multiplying by
 * 1 / sy lands beside some of these ties (the test counts them and needs
 * some) and must fall back to the division there. Sums of one row and
 * means of one to nine rows of the same scale. */
START_TEST(ties_equal_reference)
{
    struct tq_rng r = {0x71E};
    int beside = 0;
    for (int it = 0; it < 300; it++) {
        struct bag_case c;
        case_make(&r, 0, &c);
        struct q8_embedding_bag_params *p = &c.p;
        p->weights = NULL, p->weights_q8 = NULL;
        p->mode = it % 2 ? F32_BAG_MEAN : F32_BAG_SUM;
        p->per_row = false;
        p->zero_point = NULL;
        p->bits = 8;
        free(c.table);
        c.table = malloc((size_t)(p->vocab * p->dim));
        for (int64_t i = 0; i < p->vocab * p->dim; i++)
            c.table[i] = (int8_t)tq_int(&r, -40, 40);
        const int32_t m = 2 * (int32_t)tq_int(&r, 1, 16000) + 1;
        p->out_scale = ldexpf((float)m, -(int)tq_int(&r, 16, 24));
        c.scale[0] = p->out_scale * (float)(2 * tq_int(&r, 0, 2) + 1) / 2.0f;
        if (p->mode == F32_BAG_SUM && !p->bag) /* one row a bag */
            for (int64_t b = 0; b < p->n_bags; b++)
                c.offsets[b] = b < p->n_ids ? b : p->n_ids;
        for (int64_t i = 0; i < p->vocab * p->dim; i++) {
            const double a = (double)c.scale[0] * c.table[i], sy = (double)p->out_scale;
            beside += round(a / sy) != round(a * (1.0 / sy));
        }
        check_case(&c, "tie", it);
        case_free(&c);
    }
    ck_assert_int_gt(beside, 10);
}
END_TEST

/* The case above by hand, so the tie is certain: rows 3 and -3 of scale
 * 1/4, out_scale 1/2: 1.5 -> 2 and -1.5 -> -2, plus the zero point. */
START_TEST(tie_by_hand)
{
    const int8_t table[2 * 4] = {3, -3, 1, -1, 5, -5, 0, 127};
    const float scale = 0.25f;
    const int64_t ids[1] = {0};
    struct q8_embedding_bag_params p = {.n_bags = 1, .n_ids = 1, .bag = 1, .vocab = 2,
                                        .dim = 4, .bits = 8, .mode = F32_BAG_SUM,
                                        .scale = &scale, .out_scale = 0.5f,
                                        .out_zero_point = 10};
    int8_t want[4] = {12, 8, 11, 9}; /* 1.5, -1.5, 0.5, -0.5 rounded away from 0, + 10 */
    int8_t y[4];
    ck_assert_int_eq(q8_embedding_bag__ref(&p, ids, NULL, table, y), -1);
    ck_assert_mem_eq(y, want, 4);
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT];
    const int nl = tq_levels(levels, KERNELS_LEVEL_REF + 1);
    for (int l = 0; l < nl; l++) {
        memset(y, 0, sizeof y);
        ck_assert_int_eq(levels[l]->embedding_bag(&p, ids, NULL, table, y), -1);
        ck_assert_msg(memcmp(y, want, 4) == 0, "level %s: %d %d %d %d", levels[l]->level, y[0],
                      y[1], y[2], y[3]);
    }
}
END_TEST

Suite *suite_q8_bag(void); /* called by tests/main.c */
Suite *suite_q8_bag(void)
{
    Suite *s = suite_create("q8_bag");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tie_by_hand);
    tcase_add_test(tc, random_tables_equal_reference);
    tcase_add_test(tc, bad_id_equals_reference);
    tcase_add_test(tc, ties_equal_reference);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            ts_add_level_skip(tc, "q8_bag", l, true);
    }
    suite_add_tcase(s, tc);
    return s;
}
