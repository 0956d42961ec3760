/* Choosing quantization parameters: activations from a calibration range,
 * int8 weights per channel or per tensor, int32 biases.
 *
 * Rounding is half away from zero everywhere (round()), computed in double
 * so that results do not depend on the compiler's float contraction. */
#include "quanta/quantize.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

void quantize_options_default(struct quantize_options *opt)
{
    opt->mode = QUANTIZE_STATIC;
    opt->weights = QUANTIZE_PER_CHANNEL;
    opt->activations = QUANTIZE_ASYMMETRIC;
    opt->activation_type = QUANTA_I8;
    opt->exclude = NULL;
    opt->n_exclude = 0;
    opt->allow_nonfinite = false;
    opt->int8_outputs = false;
    opt->int8_scores = false;
    opt->embedding_bits = 8;
    opt->notes = NULL;
    opt->equalize = false;
    opt->means = NULL;
    opt->applied = NULL;
}

enum quanta_status quantize_choose_params(float lo, float hi, enum quanta_dtype dtype,
                                          enum quantize_scheme scheme, float *scale,
                                          int32_t *zero_point, struct quanta_error *err)
{
    if (dtype != QUANTA_I8 && dtype != QUANTA_U8)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "activation type %s is not I8 or U8",
                           quanta_dtype_name(dtype));
    if (!isfinite(lo) || !isfinite(hi))
        return quanta_fail(err, QUANTA_ERR_INPUT, "range [%g, %g] is not finite", (double)lo,
                           (double)hi);
    if (lo > hi)
        return quanta_fail(err, QUANTA_ERR_INPUT, "range [%g, %g] has lo above hi", (double)lo,
                           (double)hi);
    const int32_t qmin = dtype == QUANTA_I8 ? -128 : 0;
    const int32_t qmax = dtype == QUANTA_I8 ? 127 : 255;
    /* zero must be in the range so that it is exactly representable */
    double l = lo < 0.0f ? lo : 0.0;
    double h = hi > 0.0f ? hi : 0.0;
    if (scheme == QUANTIZE_SYMMETRIC) {
        double m = fmax(-l, h);
        float s = (float)(m / 127.0);
        if (s > 0.0f && s < (float)QUANTIZE_MIN_SCALE)
            s = (float)QUANTIZE_MIN_SCALE;
        *scale = s > 0.0f ? s : 1.0f; /* m <= FLT_MAX: s is finite */
        *zero_point = dtype == QUANTA_I8 ? 0 : 128;
        return QUANTA_OK;
    }
    float s = (float)((h - l) / (double)(qmax - qmin));
    if (!isfinite(s))
        return quanta_fail(err, QUANTA_ERR_INPUT, "range [%g, %g] is too wide for a float scale",
                           (double)lo, (double)hi);
    if (!(s > 0.0f)) {
        /* range of width 0 (only zeros seen): any scale represents it */
        *scale = 1.0f;
        *zero_point = 0;
        return QUANTA_OK;
    }
    if (s < (float)QUANTIZE_MIN_SCALE)
        s = (float)QUANTIZE_MIN_SCALE;
    *scale = s;
    *zero_point = quantize_zero_point(lo, dtype, scheme, s);
    return QUANTA_OK;
}

int32_t quantize_zero_point(float lo, enum quanta_dtype dtype, enum quantize_scheme scheme,
                            float scale)
{
    const int32_t qmin = dtype == QUANTA_U8 ? 0 : -128;
    const int32_t qmax = dtype == QUANTA_U8 ? 255 : 127;
    if (scheme == QUANTIZE_SYMMETRIC)
        return dtype == QUANTA_U8 ? 128 : 0;
    /* the integer nearest to the real zero's position, nudged into
     * [qmin, qmax]; the range becomes [s*(qmin-zp), s*(qmax-zp)] */
    double l = lo < 0.0f ? lo : 0.0;
    double zp = round((double)qmin - l / (double)scale);
    if (zp < qmin)
        zp = qmin;
    if (zp > qmax)
        zp = qmax;
    return (int32_t)zp;
}

void quantize_weights_i8(const float *w, int64_t n_channels, int64_t channel_size,
                         bool per_channel, const float *min_scales, int8_t *q, float *scales)
{
    int64_t groups = per_channel ? n_channels : 1;
    int64_t group_size = per_channel ? channel_size : n_channels * channel_size;
    for (int64_t c = 0; c < groups; c++) {
        const float *wc = w + c * group_size;
        double m = 0.0;
        for (int64_t i = 0; i < group_size; i++) {
            double a = fabs((double)wc[i]);
            if (a > m && a <= DBL_MAX) /* the finite values only */
                m = a;
        }
        float s = (float)(m / 127.0);
        if (!(s > 0.0f) || !isfinite(s))
            s = 1.0f; /* an all-zero row: every q is 0 whatever the scale */
        if (min_scales && s < min_scales[c])
            s = min_scales[c];
        scales[c] = s;
        int8_t *qc = q + c * group_size;
        for (int64_t i = 0; i < group_size; i++) {
            double r = round((double)wc[i] / (double)s);
            if (r > 127.0)
                r = 127.0;
            if (r < -127.0)
                r = -127.0;
            if (r != r)
                r = 0.0;
            qc[i] = (int8_t)r;
        }
    }
}

void quantize_bias_i32(const float *b, int64_t n, const float *scales, bool per_channel,
                       int32_t *q)
{
    for (int64_t i = 0; i < n; i++) {
        double s = (double)scales[per_channel ? i : 0];
        double r = s > 0.0 ? round((double)b[i] / s) : 0.0;
        if (r != r)
            r = 0.0;
        if (r > (double)INT32_MAX)
            r = (double)INT32_MAX;
        if (r < (double)INT32_MIN)
            r = (double)INT32_MIN;
        q[i] = (int32_t)r;
    }
}

void quantize_rows_i4(const float *w, int64_t rows, int64_t d, uint8_t *q, float *scales)
{
    int64_t row_bytes = (d + 1) / 2;
    memset(q, 0, (size_t)(rows * row_bytes));
    for (int64_t r = 0; r < rows; r++) {
        const float *wr = w + r * d;
        double m = 0.0;
        for (int64_t i = 0; i < d; i++) {
            double a = fabs((double)wr[i]);
            if (a > m && a <= DBL_MAX)
                m = a;
        }
        float s = (float)(m / 7.0);
        if (!(s > 0.0f) || !isfinite(s))
            s = 1.0f; /* an all-zero row */
        scales[r] = s;
        uint8_t *qr = q + r * row_bytes;
        for (int64_t i = 0; i < d; i++) {
            double v = round((double)wr[i] / (double)s);
            v = v != v ? 0.0 : v > 7.0 ? 7.0 : v < -7.0 ? -7.0 : v;
            qr[i / 2] |= (uint8_t)(((int)v & 15) << (4 * (i % 2)));
        }
    }
}
