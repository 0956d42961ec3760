/* The int8 concat of every level against the reference, byte for byte, at
 * every level this CPU has (a skip for each missing one): 1 to 5 inputs,
 * widths 0 to 70 and past the fast kernel's 512-byte runs, one-byte rows
 * (the [N, C, 1] pieces of a DLRM interaction), batches 0 to 300, inputs
 * repeated over the batch (rows dividing it), identity requantizations
 * (copies) beside random multipliers, shifts at the ends of their range,
 * zero points and clamps, and input bytes at the int8 extremes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "kernels/requant.h"
#include "support/test_support.h"

/* identity (a copy), or a random requantization */
static void pick_unary(struct tq_rng *r, struct q8_unary *u)
{
    const int kind = (int)tq_int(r, 0, 5);
    if (kind == 0) {
        u->in_zero_point = u->out_zero_point = (int32_t)tq_int(r, -128, 127);
        u->multiplier = INT32_C(1) << 30, u->shift = -1;
        u->qmin = INT8_MIN, u->qmax = INT8_MAX;
        return;
    }
    u->in_zero_point = (int32_t)tq_int(r, -128, 127);
    u->out_zero_point = (int32_t)tq_int(r, -128, 127);
    double v = tq_uniform(r, 0.05, 4.0);
    if (kind == 1)
        v = ldexp(1.0, -(int)tq_int(r, 1, 8)); /* exact ties to round away */
    else if (kind == 2)
        v = -v;
    ck_assert(q8_multiplier_from_double(v, &u->multiplier, &u->shift));
    if (kind == 3) { /* the ends of the encoding */
        u->multiplier = tq_int(r, 0, 1) ? INT32_MAX : (INT32_C(1) << 30);
        u->shift = tq_int(r, 0, 1) ? Q8_SHIFT_MIN : Q8_SHIFT_MAX;
    }
    u->qmin = INT8_MIN, u->qmax = INT8_MAX;
    if (tq_int(r, 0, 2) == 0) {
        int32_t a = (int32_t)tq_int(r, -128, 127), b = (int32_t)tq_int(r, -128, 127);
        u->qmin = a < b ? a : b, u->qmax = a < b ? b : a;
    }
}

START_TEST(concat_equals_reference)
{
    struct tq_rng r = {0xC0CA};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT];
    const int nl = tq_levels(levels, KERNELS_LEVEL_REF + 1);
    int requantized = 0;
    for (int it = 0; it < 1500; it++) {
        const int n_in = (int)tq_int(&r, 1, 5);
        const int64_t outer = it % 50 == 0 ? 0 : tq_int(&r, 1, 300);
        int64_t inner[5], rows[5];
        struct q8_unary rq[5];
        int8_t *x[5];
        const bool repeat = tq_int(&r, 0, 3) == 0;
        int64_t width = 0;
        for (int i = 0; i < n_in; i++) {
            switch (tq_int(&r, 0, 4)) {
            case 0: inner[i] = 1; break;
            case 1: inner[i] = tq_int(&r, 0, 70); break;
            case 2: inner[i] = tq_int(&r, 500, 1100); break;
            default: inner[i] = tq_int(&r, 1, 40); break;
            }
            rows[i] = outer;
            if (repeat && outer > 0 && tq_int(&r, 0, 1)) { /* a divisor of outer */
                rows[i] = tq_int(&r, 1, outer);
                while (outer % rows[i])
                    rows[i]--;
            }
            pick_unary(&r, &rq[i]);
            requantized += !q8_unary_is_identity(&rq[i]);
            const int64_t n = rows[i] * inner[i];
            x[i] = malloc((size_t)n + 1);
            for (int64_t k = 0; k < n; k++)
                x[i][k] = (int8_t)(tq_int(&r, 0, 7) ? tq_int(&r, -128, 127)
                                                    : (tq_int(&r, 0, 1) ? 127 : -128));
            width += inner[i];
        }
        const size_t ny = (size_t)(outer * width);
        int8_t *want = malloc(ny + 1);
        const int8_t *const *xs = (const int8_t *const *)x;
        q8_concat__ref(n_in, outer, inner, repeat ? rows : NULL, rq, xs, want);
        for (int l = 0; l < nl; l++) {
            int8_t *got = ts_guarded_alloc(ny + 1, 1);
            memset(got, 0x5a, ny + 1);
            levels[l]->concat(n_in, outer, inner, repeat ? rows : NULL, rq, xs, got);
            ts_guarded_check(got, levels[l]->level);
            size_t j = 0;
            while (j < ny && got[j] == want[j])
                j++;
            ck_assert_msg(j == ny,
                          "case %d, level %s (%d inputs, outer %lld, width %lld): byte %zu is "
                          "%d, the reference's %d",
                          it, levels[l]->level, n_in, (long long)outer, (long long)width, j,
                          j < ny ? got[j] : 0, j < ny ? want[j] : 0);
            ts_guarded_free(got);
        }
        free(want);
        for (int i = 0; i < n_in; i++)
            free(x[i]);
    }
    ck_assert_int_gt(requantized, 1000);
}
END_TEST

Suite *suite_q8_concat(void); /* called by tests/main.c */
Suite *suite_q8_concat(void)
{
    Suite *s = suite_create("q8_concat");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, concat_equals_reference);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            ts_add_level_skip(tc, "q8_concat", l, true);
    }
    suite_add_tcase(s, tc);
    return s;
}
