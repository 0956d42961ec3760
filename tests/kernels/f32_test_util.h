/* Helpers for the float kernel suites: array comparison, the list of
 * kernel tables (levels) to test, exact-size buffers and random conv2d
 * cases. */
#ifndef QUANTA_F32_TEST_UTIL_H
#define QUANTA_F32_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "kernels/kernels.h"
#include "support/test_support.h"

/* |got - want| <= atol + rtol * |want| for every element, reporting the first miss. */
static inline void ft_expect_near(const float *got, const double *want, size_t n, double atol,
                                  double rtol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(want[i]);
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol,
                      "%s: element %zu is %.9g, expected %.9g (tolerance %.3g)", what, i,
                      (double)got[i], want[i], tol);
    }
}

/* Calls body(k) for every kernel table this machine has; at least ref. */
#define FT_FOR_EACH_LEVEL(k)                                                   \
    for (int ft_l_ = 0; ft_l_ < KERNELS_LEVEL_COUNT; ft_l_++)                  \
        for (const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)ft_l_); \
             k; k = NULL)

/* Exactly n floats (at least one): ASan sees any overrun. */
static inline float *ft_alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* n floats (at least one) one float past a 64-byte boundary, then guard
 * bytes (ts_guarded_alloc): float kernels need no alignment beyond a
 * float's (kernels.h: packed and scratch "should be 64-byte aligned
 * (faster, not required)"). Check with ts_guarded_check after each kernel
 * call, free with ts_guarded_free. */
static inline float *ft_alloc_guarded(size_t n)
{
    return ts_guarded_alloc((n ? n : 1) * sizeof(float), sizeof(float));
}

/* Uniform in [lo, hi]. */
static inline size_t ft_pick(uint64_t *rng, size_t lo, size_t hi)
{
    return lo + (size_t)(ts_next(rng) % (hi - lo + 1));
}

/* A conv2d case: shapes, kernel, strides, dilations, pads (top, left,
 * bottom, right) and groups. */
struct ft_conv_case {
    size_t batch, in_h, in_w, in_c, out_c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};

static inline size_t ft_conv_out(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1)
{
    return (in + p0 + p1 - (k - 1) * d - 1) / s + 1;
}

/* Random batch 1-3, kernel 1-4, stride 1-3, dilation 1-2, pads 0-2; the
 * caller picks channels, groups and the input size. */
static inline void ft_random_conv_window(uint64_t *rng, struct ft_conv_case *c)
{
    c->batch = ft_pick(rng, 1, 3);
    c->kh = ft_pick(rng, 1, 4);
    c->kw = ft_pick(rng, 1, 4);
    c->sh = ft_pick(rng, 1, 3);
    c->sw = ft_pick(rng, 1, 3);
    c->dh = ft_pick(rng, 1, 2);
    c->dw = ft_pick(rng, 1, 2);
    c->pt = ft_pick(rng, 0, 2);
    c->pl = ft_pick(rng, 0, 2);
    c->pb = ft_pick(rng, 0, 2);
    c->pr = ft_pick(rng, 0, 2);
}

#endif
