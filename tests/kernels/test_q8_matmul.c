/* The int8 matmul of two activations: the reference against the
 * documented arithmetic (kernels_q8.h, quanta-format(5)) written out here
 * with the requantization as a rational number, and every level against
 * the reference byte for byte at every level this CPU has (a skip for each
 * missing one): random M, K, N (odd ones, column tails below 16, K of 1
 * and past 512),
 * leading axes with broadcast of a or b, batches, both zero points
 * nonzero, random multipliers and clamps that make outputs saturate. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "kernels/requant.h"
#include "support/test_support.h"

struct mm_case {
    struct q8_matmul_shape s;
    struct q8_mul_params p;
    int64_t a_dims[6], b_dims[6]; /* leading dims of a and b (1 where broadcast) */
    int64_t na, nb, ny;
    int8_t *a, *b;
};

static void pick_case(struct tq_rng *r, struct mm_case *c)
{
    memset(c, 0, sizeof *c);
    c->s.lead = (int)tq_int(r, 0, 3);
    c->s.m = (int)tq_int(r, 1, tq_int(r, 0, 3) ? 9 : 70);
    const int kind = (int)tq_int(r, 0, 5); /* past 512: the AVX2 tails' other path */
    c->s.k = (int)tq_int(r, kind == 0 ? 500 : 1, kind < 2 ? 700 : 40);
    c->s.n = (int)tq_int(r, 1, tq_int(r, 0, 3) ? 40 : 70);
    int64_t step_a = (int64_t)c->s.m * c->s.k, step_b = (int64_t)c->s.k * c->s.n;
    c->na = step_a, c->nb = step_b, c->ny = (int64_t)c->s.m * c->s.n;
    for (int d = c->s.lead - 1; d >= 0; d--) {
        int64_t dim = tq_int(r, 1, 4);
        int which = (int)tq_int(r, 0, 3); /* 0: a broadcasts, 1: b broadcasts */
        c->s.dims[d] = dim;
        c->a_dims[d] = which == 0 ? 1 : dim;
        c->b_dims[d] = which == 1 ? 1 : dim;
        c->s.a_stride[d] = c->a_dims[d] == 1 ? 0 : c->na;
        c->s.b_stride[d] = c->b_dims[d] == 1 ? 0 : c->nb;
        c->na *= c->a_dims[d];
        c->nb *= c->b_dims[d];
        c->ny *= dim;
    }
    c->a = malloc((size_t)c->na);
    c->b = malloc((size_t)c->nb);
    for (int64_t i = 0; i < c->na; i++) /* extremes often: the largest terms */
        c->a[i] = (int8_t)(tq_int(r, 0, 5) ? tq_int(r, -128, 127) : tq_int(r, 0, 1) ? 127 : -128);
    for (int64_t i = 0; i < c->nb; i++)
        c->b[i] = (int8_t)(tq_int(r, 0, 5) ? tq_int(r, -128, 127) : tq_int(r, 0, 1) ? 127 : -128);
    c->p.a_zero_point = (int32_t)tq_int(r, -128, 127);
    c->p.b_zero_point = (int32_t)tq_int(r, -128, 127);
    c->p.out_zero_point = (int32_t)tq_int(r, -128, 127);
    /* outputs spread over about +-(100..1000) steps: many saturate */
    double m = tq_uniform(r, 100.0, 1000.0) / (65025.0 * sqrt((double)c->s.k) * 4.0);
    if (tq_int(r, 0, 7) == 0)
        m = ldexp(1.0, -(int)tq_int(r, 8, 20)); /* exact ties */
    ck_assert(q8_multiplier_from_double(m, &c->p.multiplier, &c->p.shift));
    c->p.qmin = INT8_MIN, c->p.qmax = INT8_MAX;
    if (tq_int(r, 0, 2) == 0) { /* a fused relu's clamp */
        c->p.qmin = c->p.out_zero_point;
        c->p.qmax = (int32_t)tq_int(r, c->p.qmin, 127);
    }
}

/* Flat element offset of output element t's product in a or b. */
static int64_t lead_offset(const struct mm_case *c, int64_t t, bool is_a)
{
    int64_t off = 0;
    for (int d = c->s.lead - 1; d >= 0; d--) {
        int64_t i = t % c->s.dims[d];
        t /= c->s.dims[d];
        off += i * (is_a ? c->s.a_stride[d] : c->s.b_stride[d]);
    }
    return off;
}

/* round(acc * M / 2^(31 + shift)) ties away, from the definition (long
 * double holds the 62-bit product exactly), then zy, the clamp. */
static int8_t documented(int64_t acc, const struct q8_mul_params *p)
{
    if (acc > INT32_MAX)
        acc = INT32_MAX;
    if (acc < INT32_MIN)
        acc = INT32_MIN;
    long double v = ldexpl((long double)acc * (long double)p->multiplier, -(31 + p->shift));
    long double q = v < 0 ? -floorl(-v + 0.5L) : floorl(v + 0.5L);
    long double y = q + p->out_zero_point;
    return (int8_t)(y < p->qmin ? p->qmin : y > p->qmax ? p->qmax : y);
}

START_TEST(reference_follows_the_documented_arithmetic)
{
    struct tq_rng r = {0x3A7A};
    int saturated = 0, total = 0;
    for (int it = 0; it < 300; it++) {
        struct mm_case c;
        pick_case(&r, &c);
        int8_t *got = malloc((size_t)c.ny + 1);
        q8_matmul__ref(&c.s, &c.p, c.a, c.b, got);
        const int64_t per = (int64_t)c.s.m * c.s.n;
        for (int64_t e = 0; e < c.ny; e++) {
            const int64_t t = e / per, i = e % per / c.s.n, j = e % c.s.n;
            const int8_t *a = c.a + lead_offset(&c, t, true), *b = c.b + lead_offset(&c, t, false);
            int64_t acc = 0;
            for (int k = 0; k < c.s.k; k++)
                acc += (int64_t)(a[i * c.s.k + k] - c.p.a_zero_point) *
                       (b[(int64_t)k * c.s.n + j] - c.p.b_zero_point);
            const int8_t want = documented(acc, &c.p);
            saturated += want == c.p.qmin || want == c.p.qmax;
            total++;
            ck_assert_msg(got[e] == want, "case %d, element %lld: %d, documented %d", it,
                          (long long)e, got[e], want);
        }
        free(got);
        free(c.a);
        free(c.b);
    }
    ck_assert_int_gt(saturated, total / 50); /* the clamp was exercised */
    ck_assert_int_lt(saturated, total / 2);  /* and not everything */
}
END_TEST

/* A reduction past Q8_MATMUL_EXACT_K whose int32 sum saturates: every
 * level must saturate as the reference does. */
START_TEST(long_reduction_saturates)
{
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT];
    const int nl = tq_levels(levels, KERNELS_LEVEL_REF + 1);
    struct q8_matmul_shape s = {.m = 2, .k = Q8_MATMUL_EXACT_K + 7, .n = 3};
    struct q8_mul_params p = {.a_zero_point = 127, .b_zero_point = 127, .out_zero_point = 0,
                              .qmin = INT8_MIN, .qmax = INT8_MAX};
    ck_assert(q8_multiplier_from_double(ldexp(1.0, -24), &p.multiplier, &p.shift));
    int8_t *a = malloc((size_t)s.m * s.k), *b = malloc((size_t)s.k * s.n);
    memset(a, -128, (size_t)s.m * s.k); /* every term is 255 * 255 */
    memset(b, -128, (size_t)s.k * s.n);
    int8_t want[6], got[6];
    q8_matmul__ref(&s, &p, a, b, want);
    /* sat32 then 2^-24: (2^31 - 1) / 2^24 = 128 - 2^-24, rounds to 128, clamps to 127 */
    for (int e = 0; e < 6; e++)
        ck_assert_int_eq(want[e], 127);
    for (int l = 0; l < nl; l++) {
        levels[l]->matmul(&s, &p, a, b, got);
        ck_assert_msg(memcmp(got, want, sizeof got) == 0, "level %s", levels[l]->level);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(matmul_equals_reference)
{
    struct tq_rng r = {0x3A7B};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT];
    const int nl = tq_levels(levels, KERNELS_LEVEL_REF + 1);
    for (int it = 0; it < 1500; it++) {
        struct mm_case c;
        pick_case(&r, &c);
        int8_t *want = malloc((size_t)c.ny + 1);
        q8_matmul__ref(&c.s, &c.p, c.a, c.b, want);
        for (int l = 0; l < nl; l++) {
            int8_t *got = ts_guarded_alloc((size_t)c.ny, 1);
            memset(got, 0x5a, (size_t)c.ny);
            levels[l]->matmul(&c.s, &c.p, c.a, c.b, got);
            ts_guarded_check(got, levels[l]->level);
            int64_t j = 0;
            while (j < c.ny && got[j] == want[j])
                j++;
            ck_assert_msg(j == c.ny,
                          "case %d, level %s (lead %d, m %d, k %d, n %d): byte %lld is %d, the "
                          "reference's %d",
                          it, levels[l]->level, c.s.lead, c.s.m, c.s.k, c.s.n, (long long)j,
                          j < c.ny ? got[j] : 0, j < c.ny ? want[j] : 0);
            ts_guarded_free(got);
        }
        free(want);
        free(c.a);
        free(c.b);
    }
}
END_TEST

Suite *suite_q8_matmul(void); /* called by tests/main.c */
Suite *suite_q8_matmul(void)
{
    Suite *s = suite_create("q8_matmul");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reference_follows_the_documented_arithmetic);
    tcase_add_test(tc, long_reduction_saturates);
    tcase_add_test(tc, matmul_equals_reference);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            ts_add_level_skip(tc, "q8_matmul", l, true);
    }
    suite_add_tcase(s, tc);
    return s;
}
