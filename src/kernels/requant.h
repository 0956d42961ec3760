/* Requantization: the one place where int8 arithmetic rescales.
 *
 * A real multiplier m (for example s_in * s_w / s_out) is held as an int32
 * M and a shift:
 *
 *     m ~= M * 2^-(31 + shift),   2^30 <= |M| < 2^31,   -30 <= shift <= 31
 *
 * so the total right shift r = 31 + shift lies in [1, 62] and the
 * representable |m| is [2^-32, 2^30). A negative m is a negative M (used by
 * leaky_relu with a negative alpha). M == 0 (with shift 0) is the exact
 * zero multiplier: every |m| < 2^-32 becomes it, which changes no result,
 * because |acc * m| < 2^31 * 2^-32 = 1/2 rounds to 0 anyway.
 *
 * requantize(acc) = round(acc * M / 2^r), computed EXACTLY in 64-bit
 * integers (|acc * M| <= 2^62), with ONE rounding:
 *
 *     ROUNDING: to nearest, ties away from zero ("round half away"):
 *       round(v) = sign(v) * floor(|v| + 1/2)
 *     so 2.5 -> 3, -2.5 -> -3, 1.49 -> 1, -1.5 -> -2.
 *
 * then saturated to int32. This is the same tie rule as C round() and as
 * gemmlowp's RoundingDivideByPOT, but unlike TFLite's reference there is no
 * second rounding (no "doubling high multiply" first): the result equals the
 * rational value acc * M / 2^r rounded once.
 *
 * It lives with the kernels, which use it, and needs only <stdint.h> and
 * <stdbool.h>; the quantizer above (q8_params.c) computes its multipliers
 * through it too, so both sides round alike. */
#ifndef QUANTA_KERNELS_REQUANT_H
#define QUANTA_KERNELS_REQUANT_H

#include <stdbool.h>
#include <stdint.h>

#define Q8_SHIFT_MIN (-30)
#define Q8_SHIFT_MAX 31

/* m as (multiplier, shift) as above. Rules, in this order:
 *   m NaN or infinite                 -> false (not representable)
 *   m == 0                            -> (0, 0), true
 *   |m| = f * 2^e with f in [1/2, 1)  (frexp)
 *   |M| = llround(f * 2^31)           (ties away; f*2^31 is exact in double)
 *   |M| == 2^31                       -> |M| = 2^30, e += 1
 *   shift = -e
 *   shift > 31  (|m| < 2^-32)         -> (0, 0), true (exact, see above)
 *   shift < -30 (|m| >= 2^30)         -> false
 * A power of two m = 2^k becomes M = 2^30, shift = -(k + 1): exact.
 * m == 1 is (2^30, -1), so requantize(acc) == acc. */
bool q8_multiplier_from_double(double m, int32_t *multiplier, int32_t *shift);

/* M * 2^-(31+shift) as a double (exact: 31 bits of mantissa). */
double q8_multiplier_to_double(int32_t multiplier, int32_t shift);

/* Saturating casts. */
static inline int32_t q8_clamp_i64(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

static inline int8_t q8_sat_i8(int64_t v)
{
    return (int8_t)q8_clamp_i64(v, INT8_MIN, INT8_MAX);
}

static inline uint8_t q8_sat_u8(int64_t v)
{
    return (uint8_t)q8_clamp_i64(v, 0, UINT8_MAX);
}

/* round(acc * multiplier / 2^(31+shift)), ties away from zero, saturated
 * to int32. shift in [Q8_SHIFT_MIN, Q8_SHIFT_MAX]. */
static inline int32_t q8_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int r = 31 + shift;                    /* 1 .. 62 */
    const int64_t p = (int64_t)acc * multiplier; /* |p| <= 2^62: exact */
    const int64_t half = INT64_C(1) << (r - 1);
    const int64_t q = p >= 0 ? (p + half) >> r : -((-p + half) >> r);
    return q8_clamp_i64(q, INT32_MIN, INT32_MAX);
}

/* round(sum * multiplier / (n * 2^(31+shift))), ties away from zero,
 * saturated to int32: the average-then-rescale of avg pools and means with
 * a single rounding. Requires |sum| <= 2^32 and n >= 1. Exact: with
 * a = |sum * M|, q1 = a >> r, rem1 = a mod 2^r, q2 = q1 / n, rem2 = q1 mod n,
 * the fraction a / (n 2^r) - q2 = (rem2 2^r + rem1) / (n 2^r) is >= 1/2
 * exactly when 2 rem2 >= n, or 2 rem2 == n - 1 and rem1 >= 2^(r-1). */
static inline int32_t q8_requantize_div(int64_t sum, int32_t multiplier, int32_t shift, int32_t n)
{
    const int r = 31 + shift;
    const bool negative = (sum < 0) != (multiplier < 0);
    const uint64_t abs_sum = sum < 0 ? (uint64_t)0 - (uint64_t)sum : (uint64_t)sum;
    const uint64_t abs_m = multiplier < 0 ? (uint64_t)0 - (uint64_t)(int64_t)multiplier
                                          : (uint64_t)multiplier;
    const uint64_t a = abs_sum * abs_m;          /* <= 2^32 * 2^31 */
    const uint64_t q1 = a >> r;
    const uint64_t rem1 = a & ((UINT64_C(1) << r) - 1);
    const uint64_t un = (uint64_t)n;
    uint64_t q = q1 / un;
    const uint64_t rem2 = q1 % un;
    if (2 * rem2 >= un || (2 * rem2 + 1 == un && rem1 >= (UINT64_C(1) << (r - 1))))
        q += 1;
    if (q > (uint64_t)INT32_MAX + 1)
        q = (uint64_t)INT32_MAX + 1;
    const int64_t s = negative ? -(int64_t)q : (int64_t)q;
    return q8_clamp_i64(s, INT32_MIN, INT32_MAX);
}

/* The output step of every single-requant kernel:
 * clamp(zero_point + requantize(acc), qmin, qmax). */
static inline int8_t q8_requant_clamp(int32_t acc, int32_t multiplier, int32_t shift,
                                      int32_t zero_point, int32_t qmin, int32_t qmax)
{
    const int64_t v = (int64_t)q8_requantize(acc, multiplier, shift) + zero_point;
    return (int8_t)q8_clamp_i64(v, qmin, qmax);
}

/* The output step of conv2d/dense with a float output: (float)acc (round
 * to nearest even beyond 2^24), one float32 multiply by the accumulator's
 * scale, then the activation's clamp [lo, hi] (infinite bounds: none). */
static inline float q8_acc_to_f32(int32_t acc, float scale, float lo, float hi)
{
    const float v = (float)acc * scale;
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- float <-> quantized, used only at quantize time and plan time ---- */

/* q = clamp(round_half_away(x / scale) + zero_point, qmin, qmax) where
 * x / scale is computed in double ((double)x / (double)scale, one IEEE
 * rounding) and round_half_away is C round(). NaN gives zero_point (then
 * clamped); +-infinity gives qmax / qmin. scale must be > 0. */
int32_t q8_quantize_value(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax);
/* The same with the full ranges: [-128, 127] and [0, 255]. */
int8_t q8_quantize_i8(float x, float scale, int32_t zero_point);
uint8_t q8_quantize_u8(float x, float scale, int32_t zero_point);
/* scale * (q - zero_point) in float: (float)(q - zero_point) is exact, then
 * one float multiply. */
float q8_dequantize_value(int32_t q, float scale, int32_t zero_point);

#endif
