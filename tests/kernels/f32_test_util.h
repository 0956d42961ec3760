/* Helpers for the float kernel suites: a deterministic generator, array
 * comparison, and the list of kernel tables (levels) to test. */
#ifndef QUANTA_F32_TEST_UTIL_H
#define QUANTA_F32_TEST_UTIL_H

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
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

#endif
