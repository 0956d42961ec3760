/* int8 conv2d (general, grouped, depthwise) and dense against the float
 * operator on the dequantized inputs, within the bound of kernels_q8.h
 * (1/2 step + 2^-29 relative); hand-computed cases; saturation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"
#include "kernels/requant.h"

/* ---- random cases ---- */

struct conv_case {
    struct q8_conv2d_shape s;
    int pad_bottom, pad_right;
    enum quanta_dtype in_dtype, out_dtype;
    enum graph_activation act;
    int per_channel;
};

static int out_size(int in, int pad0, int pad1, int k, int dil, int stride)
{
    const int span = in + pad0 + pad1 - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

static void random_case(struct tq_rng *r, struct conv_case *c)
{
    struct q8_conv2d_shape *s = &c->s;
    do {
        memset(c, 0, sizeof *c);
        s->batch = tq_int(r, 1, 2);
        s->in_h = (int)tq_int(r, 1, 7);
        s->in_w = (int)tq_int(r, 1, 7);
        const int mode = (int)tq_int(r, 0, 2); /* general, grouped, depthwise */
        if (mode == 0) {
            s->groups = 1;
            s->in_c = (int)tq_int(r, 1, 5);
            s->out_c = (int)tq_int(r, 1, 5);
        } else if (mode == 1) {
            s->groups = (int)tq_int(r, 2, 3);
            s->in_c = s->groups * (int)tq_int(r, 1, 3);
            s->out_c = s->groups * (int)tq_int(r, 1, 3);
        } else {
            s->in_c = (int)tq_int(r, 1, 6);
            s->groups = s->in_c;
            s->out_c = s->in_c * (int)tq_int(r, 1, 2);
        }
        s->kernel_h = (int)tq_int(r, 1, 3);
        s->kernel_w = (int)tq_int(r, 1, 3);
        s->stride_h = (int)tq_int(r, 1, 2);
        s->stride_w = (int)tq_int(r, 1, 2);
        s->dilation_h = (int)tq_int(r, 1, 2);
        s->dilation_w = (int)tq_int(r, 1, 2);
        s->pad_top = (int)tq_int(r, 0, 2);
        s->pad_left = (int)tq_int(r, 0, 2);
        c->pad_bottom = (int)tq_int(r, 0, 2);
        c->pad_right = (int)tq_int(r, 0, 2);
        s->out_h = out_size(s->in_h, s->pad_top, c->pad_bottom, s->kernel_h, s->dilation_h,
                            s->stride_h);
        s->out_w = out_size(s->in_w, s->pad_left, c->pad_right, s->kernel_w, s->dilation_w,
                            s->stride_w);
    } while (s->out_h < 1 || s->out_w < 1);
    c->in_dtype = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    c->out_dtype = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    c->act = (enum graph_activation)tq_int(r, 0, 2);
    c->per_channel = (int)tq_int(r, 0, 1);
}

/* Float conv2d in double on dequantized values: xr [N,H,W,C], wr [O,KH,KW,C/g]. */
static void float_conv(const struct q8_conv2d_shape *s, const double *xr, const double *wr,
                       const double *br, double *yr)
{
    const int cg = s->in_c / s->groups, og = s->out_c / s->groups;
    for (int64_t b = 0; b < s->batch; b++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++)
                for (int o = 0; o < s->out_c; o++) {
                    double acc = br[o];
                    for (int kh = 0; kh < s->kernel_h; kh++)
                        for (int kw = 0; kw < s->kernel_w; kw++)
                            for (int ci = 0; ci < cg; ci++) {
                                const int iy = oy * s->stride_h + kh * s->dilation_h - s->pad_top;
                                const int ix = ox * s->stride_w + kw * s->dilation_w - s->pad_left;
                                if (iy < 0 || ix < 0 || iy >= s->in_h || ix >= s->in_w)
                                    continue; /* zero padding in the real domain */
                                const int c = (o / og) * cg + ci;
                                acc += xr[((b * s->in_h + iy) * s->in_w + ix) * s->in_c + c] *
                                       wr[((o * s->kernel_h + kh) * s->kernel_w + kw) * cg + ci];
                            }
                    yr[((b * s->out_h + oy) * s->out_w + ox) * s->out_c + o] = acc;
                }
}

static double apply_act(enum graph_activation act, double v)
{
    if (act != GRAPH_ACT_NONE && v < 0)
        v = 0;
    if (act == GRAPH_ACT_RELU6 && v > 6)
        v = 6;
    return v;
}

/* Quantized inputs (in the file's dtype, U8 as 0..255), the int8-domain
 * copy for the kernel, dequantized reals, prepare, run, compare. */
static void run_case(struct tq_rng *r, const struct conv_case *c, int is_dense, int id)
{
    const struct q8_conv2d_shape *s = &c->s;
    const int cg = s->in_c / s->groups;
    const int64_t nx = s->batch * s->in_h * s->in_w * s->in_c;
    const int64_t nw = (int64_t)s->out_c * s->kernel_h * s->kernel_w * cg;
    const int64_t ny = s->batch * s->out_h * s->out_w * s->out_c;
    int32_t *xq = malloc(sizeof(int32_t) * nx);
    int8_t *x8 = malloc(nx), *w8 = malloc(nw), *y8 = malloc(ny);
    double *xr = malloc(sizeof(double) * nx), *wr = malloc(sizeof(double) * nw);
    double *yr = malloc(sizeof(double) * ny), *br = malloc(sizeof(double) * s->out_c);
    float *sw = malloc(sizeof(float) * s->out_c), *sb = malloc(sizeof(float) * s->out_c);
    int32_t *zw = calloc(s->out_c, sizeof(int32_t)), *zb = calloc(s->out_c, sizeof(int32_t));
    int32_t *bias = malloc(sizeof(int32_t) * s->out_c);
    int32_t *mult = malloc(sizeof(int32_t) * s->out_c), *shift = malloc(sizeof(int32_t) * s->out_c);

    const int u8in = c->in_dtype == QUANTA_U8;
    const float sx = (float)tq_uniform(r, 0.005, 0.05);
    const int32_t zx = (int32_t)(u8in ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
    for (int64_t i = 0; i < nx; i++) {
        xq[i] = (int32_t)(u8in ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
        x8[i] = (int8_t)(u8in ? xq[i] - 128 : xq[i]);
        xr[i] = (double)sx * (xq[i] - zx);
    }
    const float sw0 = (float)tq_uniform(r, 0.002, 0.02);
    for (int o = 0; o < s->out_c; o++) {
        sw[o] = c->per_channel ? (float)tq_uniform(r, 0.002, 0.02) : sw0;
        sb[o] = (float)((double)sx * sw[o]);
        bias[o] = (int32_t)tq_int(r, -3000, 3000);
        br[o] = (double)sx * (double)sw[o] * bias[o];
    }
    for (int64_t i = 0; i < nw; i++) {
        const int o = (int)(i / (nw / s->out_c));
        w8[i] = (int8_t)tq_int(r, -127, 127);
        wr[i] = (double)sw[o] * w8[i];
    }
    float_conv(s, xr, wr, br, yr);
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < ny; i++) {
        lo = fmin(lo, yr[i]);
        hi = fmax(hi, yr[i]);
    }
    float sy;
    int32_t zy;
    tq_choose_out(lo, hi, c->out_dtype, &sy, &zy);

    struct graph_quant qx, qw, qb, qy;
    tq_set(&qx, c->in_dtype, sx, zx);
    tq_set(&qy, c->out_dtype, sy, zy);
    if (c->per_channel)
        tq_set_channels(&qw, QUANTA_I8, s->out_c, sw, zw);
    else
        tq_set(&qw, QUANTA_I8, sw0, 0);
    tq_set_channels(&qb, QUANTA_I32, s->out_c, sb, zb);
    struct q8_requant rq;
    struct quanta_error err = {0};
    enum quanta_status st;
    if (is_dense) {
        st = q8_dense_prepare(&qx, &qw, &qb, &qy, c->act, s->out_c, mult, shift, &rq, "fc", &err);
        ck_assert_msg(st == QUANTA_OK, "%s", err.message);
        const struct q8_dense_shape ds = {s->batch, s->in_c, s->out_c};
        q8_dense__ref(&ds, &rq, x8, w8, bias, y8);
    } else {
        st = q8_conv2d_prepare(&qx, &qw, &qb, &qy, c->act, s->out_c, mult, shift, &rq, "conv",
                               &err);
        ck_assert_msg(st == QUANTA_OK, "%s", err.message);
        q8_conv2d__ref(s, &rq, x8, w8, bias, y8);
    }
    ck_assert_int_eq(rq.n, c->per_channel ? s->out_c : 1);
    /* the float output from the same accumulator: within three float
     * roundings of the exact real result (quanta-format(5)) */
    float *yf = malloc(sizeof(float) * ny), *fscale = malloc(sizeof(float) * s->out_c);
    struct q8_acc_f32 fp;
    st = q8_reduction_f32_prepare(&qx, &qw, &qb, c->act, s->out_c, fscale, &fp, "f32", &err);
    ck_assert_msg(st == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(fp.n, c->per_channel ? s->out_c : 1);
    if (is_dense) {
        const struct q8_dense_shape ds = {s->batch, s->in_c, s->out_c};
        q8_dense_f32__ref(&ds, &fp, x8, w8, bias, yf);
    } else {
        q8_conv2d_f32__ref(s, &fp, x8, w8, bias, yf);
    }
    for (int64_t i = 0; i < ny; i++) {
        const double want = apply_act(c->act, yr[i]);
        ck_assert_msg(fabs(yf[i] - want) <= 0x1p-22 * fabs(want) + 1e-30,
                      "%s case %d float output %lld: %.9g, want %.9g",
                      is_dense ? "dense" : "conv2d", id, (long long)i, (double)yf[i], want);
    }
    free(yf);
    free(fscale);
    const int u8out = c->out_dtype == QUANTA_U8;
    const int32_t qlo = u8out ? 0 : -128, qhi = qlo + 255;
    char what[64];
    snprintf(what, sizeof what, "%s case %d", is_dense ? "dense" : "conv2d", id);
    for (int64_t i = 0; i < ny; i++) {
        const int32_t q = u8out ? y8[i] + 128 : y8[i];
        const double ideal = tq_ideal(apply_act(c->act, yr[i]), sy, zy, qlo, qhi);
        TQ_CHECK(q, ideal, tq_bound1(ideal, zy), what, i);
    }
    free(xq), free(x8), free(w8), free(y8), free(xr), free(wr), free(yr), free(br);
    free(sw), free(sb), free(zw), free(zb), free(bias), free(mult), free(shift);
}

START_TEST(conv2d_random_against_float)
{
    struct tq_rng r = {2024};
    for (int i = 0; i < 300; i++) {
        struct conv_case c;
        random_case(&r, &c);
        run_case(&r, &c, 0, i);
    }
}
END_TEST

START_TEST(dense_random_against_float)
{
    struct tq_rng r = {31337};
    for (int i = 0; i < 200; i++) {
        struct conv_case c;
        memset(&c, 0, sizeof c);
        /* dense == 1x1 conv on [batch, 1, 1, K] */
        c.s = (struct q8_conv2d_shape){tq_int(&r, 1, 4), 1, 1, (int)tq_int(&r, 1, 64), 1, 1,
                                       (int)tq_int(&r, 1, 12), 1, 1, 1, 1, 0, 0, 1, 1, 1};
        c.in_dtype = tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        c.out_dtype = tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        c.act = (enum graph_activation)tq_int(&r, 0, 2);
        c.per_channel = (int)tq_int(&r, 0, 1);
        run_case(&r, &c, 1, i);
    }
}
END_TEST

/* ---- hand-computed cases ---- */

static const int32_t one_m = INT32_C(1) << 30; /* with shift -1: m = 1; with 0: m = 1/2 */

START_TEST(conv2d_2x2_exact)
{
    /* x - zx = 0..8 (zx = 1), w = [[1, -1], [2, 0]], bias 10:
     * (0,0) = 0 - 1 + 6 + 0 + 10 = 15, (0,1) = 1 - 2 + 8 + 10 = 17,
     * (1,0) = 3 - 4 + 12 + 10 = 21,    (1,1) = 4 - 5 + 14 + 10 = 23 */
    const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int8_t w[4] = {1, -1, 2, 0};
    const int32_t bias[1] = {10};
    const struct q8_conv2d_shape s = {1, 3, 3, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1};
    int32_t m[1] = {one_m}, sh[1] = {-1};
    struct q8_requant rq = {1, -5, -128, 127, 1, m, sh};
    int8_t y[4];
    q8_conv2d__ref(&s, &rq, x, w, bias, y);
    ck_assert_int_eq(y[0], 10);
    ck_assert_int_eq(y[1], 12);
    ck_assert_int_eq(y[2], 16);
    ck_assert_int_eq(y[3], 18);
    /* m = 1/2: 7.5 -> 8, 8.5 -> 9, 10.5 -> 11, 11.5 -> 12 (ties away from zero) */
    sh[0] = 0;
    q8_conv2d__ref(&s, &rq, x, w, bias, y);
    ck_assert_int_eq(y[0], 3);
    ck_assert_int_eq(y[1], 4);
    ck_assert_int_eq(y[2], 6);
    ck_assert_int_eq(y[3], 7);
    /* a negative tie: bias -20 gives acc 5 - 20 = -15, m = 1/2: -7.5 -> -8 */
    const int32_t nbias[1] = {-20};
    q8_conv2d__ref(&s, &rq, x, w, nbias, y);
    ck_assert_int_eq(y[0], -5 - 8);
}
END_TEST

START_TEST(conv2d_padding_reads_input_zero_point)
{
    /* zx = -2, so x - zx = x + 2 = 3..11; pad 1 on every side, 2x2 kernel
     * w = [[1, -1], [2, 3]]: output (0,0) sees only input (0,0) under
     * w[1][1] = 3: 3 * 3 = 9. If padding read 0 instead of zx, the three
     * padded taps would add 2 * (1 - 1 + 2) = 4. */
    const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int8_t w[4] = {1, -1, 2, 3};
    const struct q8_conv2d_shape s = {1, 3, 3, 1, 4, 4, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1};
    int32_t m[1] = {one_m}, sh[1] = {-1};
    struct q8_requant rq = {-2, 0, -128, 127, 1, m, sh};
    int8_t y[16];
    q8_conv2d__ref(&s, &rq, x, w, NULL, y);
    ck_assert_int_eq(y[0], 9);
    /* (0,1): inputs (0,0),(0,1) under w[1][0]=2, w[1][1]=3: 2*3 + 3*4 = 18 */
    ck_assert_int_eq(y[1], 18);
    /* (3,3): only input (2,2) = 11 under w[0][0] = 1 */
    ck_assert_int_eq(y[15], 11);
    /* (1,1): full window over (0,0),(0,1),(1,0),(1,1): 3 - 4 + 12 + 21 = 32 */
    ck_assert_int_eq(y[5], 32);
}
END_TEST

START_TEST(conv2d_depthwise_and_dilation_exact)
{
    /* depthwise, channel multiplier 2: x [1,1,1,2] = [5, 6], w [4,1,1,1] =
     * [1, 2, 3, 4]: out = [5, 10, 18, 24] */
    const int8_t x[2] = {5, 6};
    const int8_t w[4] = {1, 2, 3, 4};
    const struct q8_conv2d_shape s = {1, 1, 1, 2, 1, 1, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2};
    int32_t m[4] = {one_m, one_m, one_m, one_m}, sh[4] = {-1, -1, -1, 0};
    struct q8_requant rq = {0, 0, -128, 127, 4, m, sh};
    int8_t y[4];
    q8_conv2d__ref(&s, &rq, x, w, NULL, y);
    ck_assert_int_eq(y[0], 5);
    ck_assert_int_eq(y[1], 10);
    ck_assert_int_eq(y[2], 18);
    ck_assert_int_eq(y[3], 12); /* per-channel m = 1/2 on channel 3 */
    /* dilation 2: 1x5 input, kernel 1x2 reads columns ox and ox + 2 */
    const int8_t x2[5] = {1, 2, 3, 4, 5};
    const int8_t w2[2] = {1, 10};
    const struct q8_conv2d_shape s2 = {1, 1, 5, 1, 1, 3, 1, 1, 2, 1, 1, 0, 0, 1, 2, 1};
    int32_t m2[1] = {one_m}, sh2[1] = {-1};
    struct q8_requant rq2 = {0, 0, -128, 127, 1, m2, sh2};
    int8_t y2[3];
    q8_conv2d__ref(&s2, &rq2, x2, w2, NULL, y2);
    ck_assert_int_eq(y2[0], 31);
    ck_assert_int_eq(y2[1], 42);
    ck_assert_int_eq(y2[2], 53);
}
END_TEST

START_TEST(conv2d_and_dense_saturate)
{
    const int8_t x[4] = {127, 127, -128, -128};
    const int8_t w[4] = {127, 127, -128, -128};
    int32_t m[1] = {one_m}, sh[1] = {-1};
    struct q8_requant rq = {0, 0, -128, 127, 1, m, sh};
    int8_t y[1];
    const struct q8_dense_shape ds = {1, 4, 1};
    q8_dense__ref(&ds, &rq, x, w, NULL, y);
    ck_assert_int_eq(y[0], 127);
    const int32_t big_neg[1] = {INT32_MIN};
    q8_dense__ref(&ds, &rq, x, w, big_neg, y); /* acc = INT32_MIN + 65,026: still huge */
    ck_assert_int_eq(y[0], -128);
    /* the int32 accumulator saturates: INT32_MAX bias + positive sum stays
     * INT32_MAX, so with m = 2^-31 (M 2^30, shift 30) the result is
     * round(0.99999...) = 1, not a wrapped negative number */
    const int32_t big_pos[1] = {INT32_MAX};
    sh[0] = 30;
    q8_dense__ref(&ds, &rq, x, w, big_pos, y);
    ck_assert_int_eq(y[0], 1);
    /* relu clamp: negative result clamps to zy = 3 */
    const int8_t xn[1] = {10};
    const int8_t wn[1] = {-5};
    const struct q8_dense_shape d1 = {1, 1, 1};
    sh[0] = -1;
    struct q8_requant relu = {0, 3, 3, 127, 1, m, sh};
    q8_dense__ref(&d1, &relu, xn, wn, NULL, y);
    ck_assert_int_eq(y[0], 3);
}
END_TEST

START_TEST(dense_exact)
{
    /* x = [1, 2, 3], w = [[1, 0, -1], [2, 2, 2]], bias [0, -12] -> [-2, 0];
     * batch 2 with the second row x = [-1, -2, -3] -> [2, -24] */
    const int8_t x[6] = {1, 2, 3, -1, -2, -3};
    const int8_t w[6] = {1, 0, -1, 2, 2, 2};
    const int32_t bias[2] = {0, -12};
    int32_t m[1] = {one_m}, sh[1] = {-1};
    struct q8_requant rq = {0, 0, -128, 127, 1, m, sh};
    int8_t y[4];
    const struct q8_dense_shape ds = {2, 3, 2};
    q8_dense__ref(&ds, &rq, x, w, bias, y);
    ck_assert_int_eq(y[0], -2);
    ck_assert_int_eq(y[1], 0);
    ck_assert_int_eq(y[2], 2);
    ck_assert_int_eq(y[3], -24);
}
END_TEST

START_TEST(dense_and_conv2d_float_output_exact)
{
    /* acc as in dense_exact: [-2, 0] and [2, -24]; s = 0.5 * [0.25, 3] =
     * [0.125, 1.5] per channel: y = [-0.25, 0, 0.25, -36] */
    const int8_t x[6] = {1, 2, 3, -1, -2, -3};
    const int8_t w[6] = {1, 0, -1, 2, 2, 2};
    const int32_t bias[2] = {0, -12};
    const float scale[2] = {0.125f, 1.5f};
    struct q8_acc_f32 p = {0, 2, scale, -INFINITY, INFINITY};
    float y[4];
    const struct q8_dense_shape ds = {2, 3, 2};
    q8_dense_f32__ref(&ds, &p, x, w, bias, y);
    ck_assert_float_eq(y[0], -0.25f);
    ck_assert_float_eq(y[1], 0.0f);
    ck_assert(!signbit(y[1])); /* acc 0 gives +0 */
    ck_assert_float_eq(y[2], 0.25f);
    ck_assert_float_eq(y[3], -36.0f);
    p.lo = 0.0f; /* relu */
    q8_dense_f32__ref(&ds, &p, x, w, bias, y);
    ck_assert_float_eq(y[0], 0.0f);
    ck_assert_float_eq(y[3], 0.0f);
    /* relu6, and the saturated accumulator converted to float:
     * (float)INT32_MAX = 2^31 (round to nearest even), times 2^-20 = 2048 -> 6 */
    const int32_t big[1] = {INT32_MAX};
    const float s1[1] = {0x1p-20f};
    struct q8_acc_f32 p6 = {0, 1, s1, 0.0f, 6.0f};
    const struct q8_dense_shape d1 = {1, 3, 1};
    q8_dense_f32__ref(&d1, &p6, x, w, big, y);
    ck_assert_float_eq(y[0], 6.0f);
    struct q8_acc_f32 pn = {0, 1, s1, -INFINITY, INFINITY};
    q8_dense_f32__ref(&d1, &pn, x, w, big, y);
    ck_assert_float_eq(y[0], 2048.0f);
    /* (float)acc rounds to nearest even past 2^24: 2^24 + 1 -> 2^24 */
    const int32_t odd[1] = {(1 << 24) + 3}; /* + sum x*w (1 - 3) = 2^24 + 1 */
    const float one[1] = {1.0f};
    struct q8_acc_f32 p1 = {0, 1, one, -INFINITY, INFINITY};
    q8_dense_f32__ref(&d1, &p1, x, w, odd, y);
    ck_assert_float_eq(y[0], 16777216.0f);
    /* conv2d 1x1 over a 1x2 image with input zero point 1 and padding 1
     * (taps outside add nothing): x - zx = [2, 4], w = 3 -> acc per pixel
     * of the 3x4 output, scale 0.5 */
    const int8_t xc[2] = {3, 5};
    const int8_t wc[1] = {3};
    const float sc[1] = {0.5f};
    struct q8_acc_f32 pc = {1, 1, sc, -INFINITY, INFINITY};
    struct q8_conv2d_shape cs = {.batch = 1, .in_h = 1, .in_w = 2, .in_c = 1, .out_h = 3,
                                 .out_w = 4, .out_c = 1, .kernel_h = 1, .kernel_w = 1,
                                 .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_left = 1,
                                 .dilation_h = 1, .dilation_w = 1, .groups = 1};
    float yc[12];
    q8_conv2d_f32__ref(&cs, &pc, xc, wc, NULL, yc);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(yc[i], i == 5 ? 3.0f : i == 6 ? 6.0f : 0.0f);
}
END_TEST

Suite *suite_q8_conv2d(void); /* called by tests/main.c */
Suite *suite_q8_conv2d(void)
{
    Suite *s = suite_create("q8_conv2d");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv2d_random_against_float);
    tcase_add_test(tc, dense_random_against_float);
    tcase_add_test(tc, conv2d_2x2_exact);
    tcase_add_test(tc, conv2d_padding_reads_input_zero_point);
    tcase_add_test(tc, conv2d_depthwise_and_dilation_exact);
    tcase_add_test(tc, conv2d_and_dense_saturate);
    tcase_add_test(tc, dense_exact);
    tcase_add_test(tc, dense_and_conv2d_float_output_exact);
    suite_add_tcase(s, tc);
    return s;
}
