/* Helpers for the int8 kernel suites (tests/kernels/test_q8_*.c):
 * a deterministic generator, graph_quant builders, and the check that a
 * quantized output lies within the documented bound of the ideal one. */
#ifndef QUANTA_TESTS_Q8_TESTING_H
#define QUANTA_TESTS_Q8_TESTING_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>

#include "kernels/kernels_q8.h"
#include "quanta/graph.h"
#include "support/test_support.h"

struct tq_rng {
    uint64_t state;
};

static inline uint64_t tq_next(struct tq_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* The int8 tables of the levels from `first` on that this machine runs
 * (the suites register a skip for each missing one); their number. */
static inline int tq_levels(const struct q8_kernels **out, int first)
{
    int n = 0;
    for (int l = first; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (!ts_level_missing(l, true, &hardware))
            out[n++] = q8_kernels_for_level((enum kernels_level)l);
    }
    return n;
}

/* Uniform integer in [lo, hi]. */
static inline int64_t tq_int(struct tq_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(tq_next(r) % (uint64_t)(hi - lo + 1));
}

/* Uniform double in [lo, hi). */
static inline double tq_uniform(struct tq_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(tq_next(r) >> 11) * 0x1.0p-53;
}

/* Per-tensor quantization parameters (scales points into q itself). */
static inline void tq_set(struct graph_quant *q, enum quanta_dtype dtype, float scale, int32_t zp)
{
    q->dtype = dtype;
    q->axis = -1;
    q->n = 1;
    q->scale = scale;
    q->zero_point = zp;
    q->scales = &q->scale;
    q->zero_points = &q->zero_point;
}

static inline void tq_set_channels(struct graph_quant *q, enum quanta_dtype dtype, int n,
                                   const float *scales, const int32_t *zps)
{
    q->dtype = dtype;
    q->axis = 0;
    q->n = n;
    q->scales = scales;
    q->zero_points = zps;
}

/* Output parameters for real values in [lo, hi]: a scale a little too
 * small, so the extremes saturate and the clamp is exercised. */
static inline void tq_choose_out(double lo, double hi, enum quanta_dtype dtype, float *scale,
                                 int32_t *zp)
{
    lo = lo < 0 ? lo : 0;
    hi = hi > 0 ? hi : 0;
    if (hi - lo < 1e-6)
        hi = lo + 1e-6;
    *scale = (float)((hi - lo) / 255.0 * 0.9);
    const double qlo = dtype == QUANTA_U8 ? 0 : -128;
    double z = round(qlo - lo / *scale + 10);
    z = z < qlo ? qlo : z > qlo + 255 ? qlo + 255 : z;
    *zp = (int32_t)z;
}

/* Bound of every single-rounding kernel (kernels_q8.h). */
static inline double tq_bound1(double ideal, int32_t zp)
{
    return 0.5 + 0x1.0p-29 * fabs(ideal - zp) + 1e-9;
}

/* ideal = zp + real / scale, clamped as a real number to [qmin, qmax]. */
static inline double tq_ideal(double real, float scale, int32_t zp, int32_t qmin, int32_t qmax)
{
    double v = zp + real / (double)scale;
    return v < qmin ? qmin : v > qmax ? qmax : v;
}

#define TQ_CHECK(q, ideal, bound, what, i)                                                     \
    ck_assert_msg(fabs((double)(q) - (ideal)) <= (bound),                                     \
                  "%s[%lld]: got %d, ideal %.6f, bound %.6f", (what), (long long)(i), (int)(q), \
                  (double)(ideal), (double)(bound))

#endif
