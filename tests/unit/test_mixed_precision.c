/* The accuracy-budget search (quant/mixed_precision.h) on synthetic
 * layers: each layer i costs err[i] while int8, and a candidate meets the
 * budget when its summed cost is at most the budget. The fewest layers to
 * keep in float is then found by brute force over every subset and
 * compared with the search's answer and its number of measurements. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/mixed_precision.h"
#include "support/test_support.h"

#define MAX_LAYERS 12

struct synthetic {
    int n;
    double err[MAX_LAYERS];
    double budget;
    int calls;
    bool (*pass)(const struct synthetic *t, double cost, int kept); /* NULL: cost <= budget */
};

static double cost_of(const struct synthetic *t, const bool *keep, int *kept)
{
    double c = 0.0;
    *kept = 0;
    for (int i = 0; i < t->n; i++) {
        if (keep[i])
            (*kept)++;
        else
            c += t->err[i];
    }
    return c;
}

static enum quanta_status measure(void *ctx, const bool *keep, struct mixed_score *s,
                                  struct quanta_error *err)
{
    (void)err;
    struct synthetic *t = ctx;
    int kept;
    double c = cost_of(t, keep, &kept);
    t->calls++;
    s->pass = t->pass ? t->pass(t, c, kept) : c <= t->budget;
    s->merit = -c;
    s->drop = c;
    s->agreement = 100.0 - c;
    s->kl = c / 10.0;
    return QUANTA_OK;
}

/* The fewest layers whose float keeps the cost within budget, over all 2^n
 * subsets. */
static int brute_force_fewest(const struct synthetic *t)
{
    int best = t->n + 1;
    bool keep[MAX_LAYERS];
    for (unsigned mask = 0; mask < (1u << t->n); mask++) {
        for (int i = 0; i < t->n; i++)
            keep[i] = (mask >> i) & 1u;
        int kept;
        if (cost_of(t, keep, &kept) <= t->budget && kept < best)
            best = kept;
    }
    return best;
}

static int ceil_log2(int n)
{
    int k = 0;
    while ((1 << k) < n)
        k++;
    return k;
}

START_TEST(test_mixed_search_finds_fewest_additive)
{
    uint64_t rng = 0x5eedULL;
    for (int round = 0; round < 200; round++) {
        struct synthetic t = {.n = 1 + round % MAX_LAYERS};
        double total = 0.0;
        for (int i = 0; i < t.n; i++)
            total += t.err[i] = (double)ts_uniform(&rng, 0.0f, 1.0f);
        t.budget = total * (double)ts_uniform(&rng, 0.0f, 1.2f);
        struct mixed_search s;
        struct quanta_error err = {0};
        ck_assert_int_eq(mixed_search_run(t.n, measure, &t, NULL, NULL, &s, &err), QUANTA_OK);
        int want = brute_force_fewest(&t);
        ck_assert(s.met);
        ck_assert_int_eq(s.n_kept, want);
        /* the chosen layers are the kept ones, and they meet the budget */
        bool keep[MAX_LAYERS];
        int kept = 0;
        for (int i = 0; i < t.n; i++)
            if ((keep[i] = s.layers[i].kept))
                kept++;
        ck_assert_int_eq(kept, want);
        ck_assert(cost_of(&t, keep, &kept) <= t.budget);
        ck_assert(s.chosen.pass);
        ck_assert_double_eq_tol(s.chosen.drop, cost_of(&t, keep, &kept), 1e-12);
        /* linear cost: base, n alone, a binary search, the whole order */
        int bound = want == 0 ? 1 : 1 + t.n + ceil_log2(t.n) + 1;
        ck_assert_int_le(s.measured, bound);
        ck_assert_int_eq(s.measured, t.calls);
        /* the order: larger cost (gain) first */
        for (int k = 1; want > 0 && k < t.n; k++)
            ck_assert(t.err[s.order[k - 1]] >= t.err[s.order[k]]);
        mixed_search_free(&s);
    }
}
END_TEST

START_TEST(test_mixed_search_int8_meets_budget)
{
    struct synthetic t = {.n = 5, .err = {0.1, 0.2, 0.1, 0.0, 0.05}, .budget = 1.0};
    struct mixed_search s;
    struct quanta_error err = {0};
    ck_assert_int_eq(mixed_search_run(t.n, measure, &t, NULL, NULL, &s, &err), QUANTA_OK);
    ck_assert(s.met);
    ck_assert_int_eq(s.n_kept, 0);
    ck_assert_int_eq(s.measured, 1); /* no sensitivity pass needed */
    for (int i = 0; i < t.n; i++)
        ck_assert(!s.layers[i].kept);
    mixed_search_free(&s);
}
END_TEST

static bool never(const struct synthetic *t, double cost, int kept)
{
    (void)t, (void)cost, (void)kept;
    return false;
}

START_TEST(test_mixed_search_budget_unreachable)
{
    struct synthetic t = {.n = 4, .err = {1, 2, 3, 4}, .pass = never};
    struct mixed_search s;
    struct quanta_error err = {0};
    ck_assert_int_eq(mixed_search_run(t.n, measure, &t, NULL, NULL, &s, &err), QUANTA_OK);
    ck_assert(!s.met);
    ck_assert_int_eq(s.n_kept, 0);
    /* base, 4 alone, 2 binary steps (k = 2, 3), then the whole order */
    ck_assert_int_le(s.measured, 1 + 4 + 2 + 1);
    mixed_search_free(&s);
}
END_TEST

/* A budget that is not monotone in the prefix: only exactly 3 kept
 * passes. The search may miss it, but whatever it returns was measured
 * and passed. */
static bool only_three(const struct synthetic *t, double cost, int kept)
{
    (void)t, (void)cost;
    return kept == 3 || kept == 6;
}

START_TEST(test_mixed_search_result_is_measured)
{
    struct synthetic t = {.n = 6, .err = {6, 5, 4, 3, 2, 1}, .pass = only_three};
    struct mixed_search s;
    struct quanta_error err = {0};
    ck_assert_int_eq(mixed_search_run(t.n, measure, &t, NULL, NULL, &s, &err), QUANTA_OK);
    ck_assert(s.met);
    ck_assert(s.n_kept == 3 || s.n_kept == 6);
    ck_assert(s.chosen.pass);
    mixed_search_free(&s);
}
END_TEST

Suite *suite_mixed_precision(void);
Suite *suite_mixed_precision(void)
{
    Suite *s = suite_create("mixed_precision");
    TCase *tc = tcase_create("search");
    tcase_add_test(tc, test_mixed_search_finds_fewest_additive);
    tcase_add_test(tc, test_mixed_search_int8_meets_budget);
    tcase_add_test(tc, test_mixed_search_budget_unreachable);
    tcase_add_test(tc, test_mixed_search_result_is_measured);
    suite_add_tcase(s, tc);
    return s;
}
