/* Every optimised int8 kernel against the reference, byte for byte
 * (memcmp), at every level this CPU has: packed conv2d (general, grouped,
 * depthwise, depthwise with a channel multiplier) and dense, max/avg/global
 * average pools, add. Levels the CPU lacks have no table and are reported
 * as skipped (ts_add_level_skip; the ref-level packed path is always
 * checked). Shapes are odd on purpose: channels 1, 3, 15, 17, 31,
 * 33, 65, reductions not multiples of 4 or 64, padding, strides, dilation,
 * batch 1 and 5, I8- and U8-like zero points at the extremes, clamps,
 * per-channel and per-tensor multipliers, biases and sums at the int32
 * limits, and the K > 65535 fallback; 1x1 convs (no im2col) and convs
 * over 1-4 channels; quantize (ties, near-ties, saturation, infinities,
 * NaN, subnormals) and dequantize. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_packed.h"
#include "kernels/q8_testing.h"
#include "kernels/requant.h"
#include "support/q8_amx_emulated.h"
#include "support/test_support.h"

static const int odd_sizes[] = {1, 3, 15, 17, 31, 33, 65};
#define N_ODD ((int)(sizeof odd_sizes / sizeof odd_sizes[0]))

/* The levels with a table of their own on this machine (the suite
 * registers a skip for each missing one), and, where VNNI runs, the AMX
 * GEMM on emulated tiles (so its code is checked without AMX hardware). */
static int fast_levels(const struct q8_kernels **out)
{
    int n = tq_levels(out, KERNELS_LEVEL_REF);
#if defined(__x86_64__)
    /* only where VNNI runs: q8_amx_emulated itself is built with the VNNI
     * flags, and the compiler may use AVX-512 before its own check */
    bool hardware;
    if (ts_level_missing(KERNELS_LEVEL_VNNI, true, &hardware))
        return n;
#endif
    if (q8_amx_emulated())
        out[n++] = q8_amx_emulated();
    return n;
}

static int pick_odd(struct tq_rng *r)
{
    return odd_sizes[tq_int(r, 0, N_ODD - 1)];
}

/* A zero point: often an extreme of the int8 domain (U8 0 / 255 map to
 * -128 / 127). */
static int32_t pick_zp(struct tq_rng *r)
{
    switch (tq_int(r, 0, 3)) {
    case 0: return -128;
    case 1: return 127;
    default: return (int32_t)tq_int(r, -128, 127);
    }
}

static void pick_clamp(struct tq_rng *r, int32_t zy, int32_t *qmin, int32_t *qmax)
{
    switch (tq_int(r, 0, 3)) {
    case 0: *qmin = -128, *qmax = 127; break;
    case 1: *qmin = zy, *qmax = 127; break; /* relu */
    case 2: {
        int32_t a = (int32_t)tq_int(r, -128, 127), b = (int32_t)tq_int(r, -128, 127);
        *qmin = a < b ? a : b, *qmax = a < b ? b : a;
        break;
    }
    default: *qmin = *qmax = (int32_t)tq_int(r, -128, 127); break;
    }
}

/* A multiplier m ~ target * [0.5, 2), sometimes extreme or negative. */
static void pick_mult(struct tq_rng *r, double target, int32_t *m, int32_t *s)
{
    const int kind = (int)tq_int(r, 0, 9);
    double v = target * tq_uniform(r, 0.5, 2.0);
    if (kind == 0)
        v = 1.0;                       /* identity: (2^30, -1) */
    else if (kind == 1)
        v = tq_uniform(r, 1e-9, 1e-6); /* tiny: long shifts */
    else if (kind == 2)
        v = tq_uniform(r, 1.0, 1000.0); /* gain: saturation */
    else if (kind == 3)
        v = -v;                        /* negative M */
    ck_assert(q8_multiplier_from_double(v, m, s));
    if (kind == 4) {                   /* the extremes of the encoding */
        *m = tq_int(r, 0, 1) ? INT32_MAX : (INT32_C(1) << 30);
        *s = tq_int(r, 0, 1) ? Q8_SHIFT_MIN : Q8_SHIFT_MAX;
    }
    if (kind == 5 && tq_int(r, 0, 3) == 0)
        *m = 0, *s = 0;
    if (kind == 6) /* a power of two: many exact ties (x.5) to round away */
        ck_assert(q8_multiplier_from_double(ldexp(1.0, -(int)tq_int(r, 1, 12)), m, s));
}

static void fill_i8(struct tq_rng *r, int8_t *p, int64_t n, int extreme)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = extreme ? (int8_t)(tq_int(r, 0, 1) ? 127 : -128) : (int8_t)tq_int(r, -128, 127);
}

/* A guarded buffer (ts_guarded_alloc) of size bytes, offset bytes past a
 * 64-byte boundary: scratch needs no alignment (offset 1), packed 4 bytes
 * (offset 4: not 8, 16 or 64 aligned); *base is what offset_free takes. */
static void *offset_alloc(size_t size, size_t offset, void **base)
{
    void *p = ts_guarded_alloc(size, offset);
    *base = p;
    return p;
}

/* Checks the guard after the buffer (nothing written past its end) and
 * frees it; NULL is fine. */
static void offset_free(void *base, const char *what)
{
    if (!base)
        return;
    ts_guarded_check(base, what);
    ts_guarded_free(base);
}

/* Activations (x, y) have no alignment contract (kernels_q8.h): the
 * comparisons take them 1 byte past a 64-byte boundary, guarded. */
static int8_t *act_alloc(int64_t n)
{
    return ts_guarded_alloc((size_t)n, 1);
}

/* ---- conv2d / dense ---- */

struct reduce_case {
    int is_dense;
    struct q8_conv2d_shape s;
    struct q8_dense_shape d;
    int64_t k;          /* reduction length */
    int per_channel;
    int extreme;        /* x and w at +-max, zx at the far end: |sum| near 2^31 */
};

static int out_size(int in, int pad0, int pad1, int k, int dil, int stride)
{
    const int span = in + pad0 + pad1 - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

static void random_conv(struct tq_rng *r, struct reduce_case *c)
{
    struct q8_conv2d_shape *s = &c->s;
    do {
        memset(c, 0, sizeof *c);
        s->batch = tq_int(r, 0, 2) ? 1 : 5;
        s->in_h = (int)tq_int(r, 1, 9);
        s->in_w = (int)tq_int(r, 1, 9);
        const int mode = (int)tq_int(r, 0, 4);
        if (mode <= 1) { /* general */
            s->groups = 1;
            s->in_c = pick_odd(r);
            s->out_c = pick_odd(r);
        } else if (mode == 2) { /* grouped */
            s->groups = (int)tq_int(r, 2, 3);
            s->in_c = s->groups * (int)tq_int(r, 1, 17);
            s->out_c = s->groups * (int)tq_int(r, 1, 17);
        } else if (mode == 3) { /* depthwise */
            s->in_c = pick_odd(r);
            s->groups = s->in_c;
            s->out_c = s->in_c;
        } else { /* depthwise with a channel multiplier */
            s->in_c = (int)tq_int(r, 1, 17);
            s->groups = s->in_c;
            s->out_c = s->in_c * (int)tq_int(r, 2, 3);
        }
        s->kernel_h = (int)tq_int(r, 1, 3);
        s->kernel_w = (int)tq_int(r, 1, 5);
        s->stride_h = (int)tq_int(r, 1, 3);
        s->stride_w = (int)tq_int(r, 1, 2);
        s->dilation_h = (int)tq_int(r, 1, 2);
        s->dilation_w = (int)tq_int(r, 1, 2);
        s->pad_top = (int)tq_int(r, 0, 2);
        s->pad_left = (int)tq_int(r, 0, 2);
        s->out_h = out_size(s->in_h, s->pad_top, (int)tq_int(r, 0, 2), s->kernel_h,
                            s->dilation_h, s->stride_h);
        s->out_w = out_size(s->in_w, s->pad_left, (int)tq_int(r, 0, 2), s->kernel_w,
                            s->dilation_w, s->stride_w);
    } while (s->out_h < 1 || s->out_w < 1);
    c->k = (int64_t)s->kernel_h * s->kernel_w * (s->in_c / s->groups);
    c->per_channel = (int)tq_int(r, 0, 1);
}

static void random_dense(struct tq_rng *r, struct reduce_case *c)
{
    static const int ks[] = {1, 3, 4, 15, 17, 63, 64, 65, 127, 129, 255, 1000};
    static const int bs[] = {1, 5, 7, 13};
    memset(c, 0, sizeof *c);
    c->is_dense = 1;
    c->d.batch = bs[tq_int(r, 0, 3)];
    c->d.in_features = ks[tq_int(r, 0, 11)];
    c->d.out_features = tq_int(r, 0, 1) ? pick_odd(r) : (int)tq_int(r, 1, 70);
    c->k = c->d.in_features;
    c->per_channel = (int)tq_int(r, 0, 1);
}

/* Runs one case at ref (unpacked) and through every table's pack/packed;
 * asserts equal bytes. */
static void check_reduce(struct tq_rng *r, const struct reduce_case *c, const char *what)
{
    const int out_c = c->is_dense ? c->d.out_features : c->s.out_c;
    const int64_t nx = c->is_dense ? c->d.batch * c->d.in_features
                                   : c->s.batch * c->s.in_h * c->s.in_w * c->s.in_c;
    const int64_t ny = c->is_dense ? c->d.batch * out_c
                                   : c->s.batch * c->s.out_h * c->s.out_w * out_c;
    const int64_t nw = (int64_t)out_c * c->k;
    int8_t *x = act_alloc(nx), *w = malloc((size_t)nw);
    int8_t *want = malloc((size_t)ny), *got = act_alloc(ny);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)out_c);
    int32_t *mult = malloc(sizeof(int32_t) * (size_t)out_c);
    int32_t *shift = malloc(sizeof(int32_t) * (size_t)out_c);
    struct q8_requant rq;
    rq.in_zero_point = pick_zp(r);
    rq.out_zero_point = pick_zp(r);
    pick_clamp(r, rq.out_zero_point, &rq.qmin, &rq.qmax);
    rq.n = c->per_channel ? out_c : 1;
    rq.multiplier = mult;
    rq.shift = shift;
    fill_i8(r, x, nx, c->extreme);
    fill_i8(r, w, nw, c->extreme);
    if (c->extreme) {
        /* all x at the far end from zx, all w of one sign: the sum's
         * magnitude is K * 255 * 128, near 2^31 for K near 65535 */
        rq.in_zero_point = tq_int(r, 0, 1) ? -128 : 127;
        memset(x, rq.in_zero_point == -128 ? 127 : -128, (size_t)nx);
        memset(w, tq_int(r, 0, 1) ? -128 : 127, (size_t)nw);
    }
    const double target = 100.0 / (sqrt((double)c->k) * 8000.0 + 1.0);
    for (int o = 0; o < out_c; o++) {
        pick_mult(r, target, &mult[o], &shift[o]);
        switch (tq_int(r, 0, 5)) {
        case 0: bias[o] = INT32_MAX - (int32_t)tq_int(r, 0, 100000); break;
        case 1: bias[o] = INT32_MIN + (int32_t)tq_int(r, 0, 100000); break;
        default: bias[o] = (int32_t)tq_int(r, -100000, 100000); break;
        }
    }
    const int with_bias = tq_int(r, 0, 4) != 0;
    if (c->is_dense)
        q8_dense__ref(&c->d, &rq, x, w, with_bias ? bias : NULL, want);
    else
        q8_conv2d__ref(&c->s, &rq, x, w, with_bias ? bias : NULL, want);

    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int l = 0; l < nl; l++) {
        const struct q8_kernels *k = levels[l];
        const size_t psize = c->is_dense ? k->dense_pack_size(&c->d) : k->conv2d_pack_size(&c->s);
        const size_t ssize =
            c->is_dense ? k->dense_scratch_size(&c->d) : k->conv2d_scratch_size(&c->s);
        void *pbase, *sbase = NULL;
        void *packed = offset_alloc(psize, 4, &pbase);
        void *scratch = ssize ? offset_alloc(ssize, 1, &sbase) : NULL;
        memset(got, 0x5a, (size_t)ny);
        if (c->is_dense) {
            k->dense_pack(&c->d, w, with_bias ? bias : NULL, packed);
            k->dense_packed(&c->d, &rq, x, packed, scratch, got);
        } else {
            k->conv2d_pack(&c->s, w, with_bias ? bias : NULL, packed);
            k->conv2d_packed(&c->s, &rq, x, packed, scratch, got);
        }
        ts_guarded_check(got, what);
        if (memcmp(want, got, (size_t)ny) != 0) {
            int64_t i = 0;
            while (want[i] == got[i])
                i++;
            ck_abort_msg("%s, level %s: y[%lld] = %d, reference %d (K %lld, out_c %d, zx %d, "
                         "zy %d, clamp [%d, %d], per_channel %d)",
                         what, k->level, (long long)i, got[i], want[i], (long long)c->k, out_c,
                         rq.in_zero_point, rq.out_zero_point, rq.qmin, rq.qmax, c->per_channel);
        }
        offset_free(pbase, "packed weights");
        offset_free(sbase, "scratch");
    }
    ts_guarded_free(x), free(w), free(want), ts_guarded_free(got);
    free(bias), free(mult), free(shift);
}

START_TEST(conv2d_packed_equals_reference)
{
    struct tq_rng r = {0xC0FFEE};
    char what[64];
    for (int i = 0; i < 400; i++) {
        struct reduce_case c;
        random_conv(&r, &c);
        snprintf(what, sizeof what, "conv2d case %d", i);
        check_reduce(&r, &c, what);
    }
}
END_TEST

START_TEST(dense_packed_equals_reference)
{
    struct tq_rng r = {0xDE115E};
    char what[64];
    for (int i = 0; i < 300; i++) {
        struct reduce_case c;
        random_dense(&r, &c);
        snprintf(what, sizeof what, "dense case %d", i);
        check_reduce(&r, &c, what);
    }
}
END_TEST

/* Sums near the int32 limits: K up to 65535 with every product at its
 * maximum, and K = 65536 / 70000 (the reference fallback of the packed
 * layout); conv with a 1x1 kernel over many channels does the same. */
START_TEST(reduce_near_int32_limits)
{
    struct tq_rng r = {0x7FFFFFFF};
    static const int ks[] = {65535, 65533, 65536, 70001};
    for (int i = 0; i < 4; i++) {
        struct reduce_case c;
        memset(&c, 0, sizeof c);
        c.is_dense = 1;
        c.d.batch = i % 2 ? 5 : 1;
        c.d.in_features = ks[i];
        c.d.out_features = 17;
        c.k = ks[i];
        c.per_channel = i % 2;
        c.extreme = 1;
        check_reduce(&r, &c, "dense near int32 limits");
        c.extreme = 0;
        check_reduce(&r, &c, "dense long random");
    }
    struct reduce_case c;
    memset(&c, 0, sizeof c);
    c.s = (struct q8_conv2d_shape){.batch = 1, .in_h = 2, .in_w = 3, .in_c = 7281,
                                   .out_h = 2, .out_w = 1, .out_c = 3, .kernel_h = 1,
                                   .kernel_w = 9, .stride_h = 1, .stride_w = 1,
                                   .pad_top = 0, .pad_left = 3, .dilation_h = 1,
                                   .dilation_w = 1, .groups = 1};
    c.k = 9 * 7281; /* 65529 */
    c.extreme = 1;
    check_reduce(&r, &c, "conv2d near int32 limits");
}
END_TEST

/* The sums really do get near 2^31 in the extreme cases (so the test
 * above exercises what it claims): K * 255 * 128 for K = 65535. */
START_TEST(extreme_sum_magnitude)
{
    const int64_t k = 65535;
    ck_assert_int_gt(k * 255 * 128, (int64_t)INT32_MAX - (INT64_C(1) << 24)); /* within 0.8% */
    ck_assert_int_le(k * 255 * 128, (int64_t)INT32_MAX);
}
END_TEST

/* 1x1 stride-1 unpadded convs (run without im2col), convs over 1 to 4
 * channels (the short-run copies of im2col), and enough output pixels
 * (batch 3 x up to 19 x 19) to cross several A chunks and sample
 * boundaries inside a chunk. */
START_TEST(conv2d_pointwise_and_few_channels)
{
    struct tq_rng r = {0x1A1A1};
    char what[96];
    for (int i = 0; i < 60; i++) {
        struct reduce_case c;
        memset(&c, 0, sizeof c);
        struct q8_conv2d_shape *s = &c.s;
        s->batch = tq_int(&r, 0, 1) ? 3 : 1;
        s->in_h = (int)tq_int(&r, 1, 19);
        s->in_w = (int)tq_int(&r, 1, 19);
        s->stride_h = s->stride_w = s->dilation_h = s->dilation_w = 1;
        if (i % 2 == 0) { /* pointwise, sometimes grouped */
            s->groups = tq_int(&r, 0, 2) ? 1 : 2;
            s->in_c = s->groups * (int)tq_int(&r, 1, 40);
            s->out_c = s->groups * (int)tq_int(&r, 1, 40);
            s->kernel_h = s->kernel_w = 1;
            s->out_h = s->in_h;
            s->out_w = s->in_w;
        } else { /* few channels, padded 3x3 / 5x5 / 1x7 windows, strides */
            s->groups = 1;
            s->in_c = (int)tq_int(&r, 1, 4);
            s->out_c = pick_odd(&r);
            s->kernel_h = (int)tq_int(&r, 1, 5);
            s->kernel_w = (int)tq_int(&r, 1, 7);
            s->stride_h = (int)tq_int(&r, 1, 2);
            s->stride_w = (int)tq_int(&r, 1, 2);
            s->dilation_w = (int)tq_int(&r, 1, 2);
            s->pad_top = (int)tq_int(&r, 0, s->kernel_h - 1);
            s->pad_left = (int)tq_int(&r, 0, s->kernel_w - 1);
            s->out_h = out_size(s->in_h, s->pad_top, s->pad_top, s->kernel_h, 1, s->stride_h);
            s->out_w = out_size(s->in_w, s->pad_left, s->pad_left, s->kernel_w, s->dilation_w,
                                s->stride_w);
            if (s->out_h < 1 || s->out_w < 1)
                continue;
        }
        c.k = (int64_t)s->kernel_h * s->kernel_w * (s->in_c / s->groups);
        c.per_channel = (int)tq_int(&r, 0, 1);
        snprintf(what, sizeof what, "conv2d %s case %d", i % 2 ? "few-channel" : "pointwise", i);
        check_reduce(&r, &c, what);
    }
}
END_TEST

/* The im2col of the packed levels: every tap position (padding on each
 * side, strides, dilations in both directions), groups, one to many
 * channels (kernel-row runs from 1 to over 256 values: the 8-, 16- and
 * 32-byte copies and the plain one), batches whose last rows end at the
 * end of the input (reads must stop there), sizes not multiple of any
 * vector. */
START_TEST(conv2d_im2col_shapes)
{
    struct tq_rng r = {0x1F2C01};
    char what[160];
    int done = 0;
    for (int i = 0; i < 220; i++) {
        struct reduce_case c;
        memset(&c, 0, sizeof c);
        struct q8_conv2d_shape *s = &c.s;
        s->batch = (int)tq_int(&r, 1, 3);
        s->in_h = (int)tq_int(&r, 1, 16);
        s->in_w = (int)tq_int(&r, 1, 16);
        s->groups = tq_int(&r, 0, 3) ? 1 : (int)tq_int(&r, 2, 4);
        const int cg = tq_int(&r, 0, 1) ? (int)tq_int(&r, 1, 5) : (int)tq_int(&r, 6, 40);
        s->in_c = s->groups * cg;
        s->out_c = s->groups * (int)tq_int(&r, 1, 20);
        s->kernel_h = (int)tq_int(&r, 1, 5);
        s->kernel_w = i % 10 == 0 ? 7 : (int)tq_int(&r, 1, 5);
        s->stride_h = (int)tq_int(&r, 1, 3);
        s->stride_w = (int)tq_int(&r, 1, 3);
        s->dilation_h = tq_int(&r, 0, 2) ? 1 : (int)tq_int(&r, 2, 3);
        s->dilation_w = tq_int(&r, 0, 2) ? 1 : (int)tq_int(&r, 2, 3);
        s->pad_top = (int)tq_int(&r, 0, 3);
        s->pad_left = (int)tq_int(&r, 0, 3);
        s->out_h = out_size(s->in_h, s->pad_top, (int)tq_int(&r, 0, 3), s->kernel_h,
                            s->dilation_h, s->stride_h);
        s->out_w = out_size(s->in_w, s->pad_left, (int)tq_int(&r, 0, 3), s->kernel_w,
                            s->dilation_w, s->stride_w);
        if (s->out_h < 1 || s->out_w < 1)
            continue;
        c.k = (int64_t)s->kernel_h * s->kernel_w * cg;
        c.per_channel = (int)tq_int(&r, 0, 1);
        snprintf(what, sizeof what,
                 "im2col case %d (in %dx%dx%d, groups %d, k %dx%d, stride %d,%d, dil %d,%d, "
                 "pad %d,%d)",
                 i, s->in_h, s->in_w, s->in_c, s->groups, s->kernel_h, s->kernel_w,
                 s->stride_h, s->stride_w, s->dilation_h, s->dilation_w, s->pad_top,
                 s->pad_left);
        check_reduce(&r, &c, what);
        done++;
    }
    ck_assert_int_gt(done, 150);
}
END_TEST

/* The vnni, dotprod and i8mm levels read a conv's A in place from the
 * padded image (packed by kernel rows, no im2col) for groups 1 and
 * dilation_w 1: every level against the reference on such convs: kernel
 * sizes 1 to 5, kernel-row runs (kernel_w * in_c) that are and are not
 * multiples of 4 (i8mm: 8), strides 1 to 3, dilation_h 1 to 3, padding
 * on every side, batch 1 to 3, images whose pixel count leaves every row
 * tail 0..7 of the 8-row tiles, images of over 256 pixels (several GEMM
 * calls each), and some dilation_w 2 (im2col). Counts what the in-place
 * paths covered. */
START_TEST(conv2d_in_place_shapes)
{
    struct tq_rng r = {0x1D1EC7};
    char what[160];
    int in_place = 0, tails = 0, kh_seen = 0, run4 = 0, run_pad = 0, stride2 = 0, dil = 0;
    int big = 0, batched = 0, in_place8 = 0, run8 = 0, run_pad8 = 0;
    for (int i = 0; i < 300; i++) {
        struct reduce_case c;
        memset(&c, 0, sizeof c);
        struct q8_conv2d_shape *s = &c.s;
        s->batch = (int)tq_int(&r, 1, 3);
        s->groups = 1;
        s->kernel_h = 1 + i % 5;
        s->kernel_w = (int)tq_int(&r, 1, 5);
        s->in_c = tq_int(&r, 0, 1) ? 4 * (int)tq_int(&r, 1, 12) : (int)tq_int(&r, 1, 40);
        s->out_c = tq_int(&r, 0, 2) ? (int)tq_int(&r, 1, 70) : pick_odd(&r);
        s->stride_h = tq_int(&r, 0, 4) ? (int)tq_int(&r, 1, 2) : 3;
        s->stride_w = tq_int(&r, 0, 4) ? (int)tq_int(&r, 1, 2) : 3;
        s->dilation_h = tq_int(&r, 0, 2) ? 1 : (int)tq_int(&r, 2, 3);
        s->dilation_w = i % 8 == 7 ? 2 : 1;
        s->pad_top = (int)tq_int(&r, 0, s->kernel_h - 1);
        s->pad_left = (int)tq_int(&r, 0, s->kernel_w - 1);
        const int large = i % 10 == 0;
        s->in_h = large ? (int)tq_int(&r, 17, 22) : (int)tq_int(&r, 1, 12);
        s->in_w = large ? (int)tq_int(&r, 17, 22) : (int)tq_int(&r, 1, 12);
        if (large)
            s->stride_h = s->stride_w = 1;
        s->out_h = out_size(s->in_h, s->pad_top, (int)tq_int(&r, 0, s->kernel_h - 1),
                            s->kernel_h, s->dilation_h, s->stride_h);
        s->out_w = out_size(s->in_w, s->pad_left, (int)tq_int(&r, 0, s->kernel_w - 1),
                            s->kernel_w, s->dilation_w, s->stride_w);
        if (s->out_h < 1 || s->out_w < 1)
            continue;
        c.k = (int64_t)s->kernel_h * s->kernel_w * s->in_c;
        c.per_channel = (int)tq_int(&r, 0, 1);
        if (q8_conv2d_in_place__vnni(s)) {
            const int pix = s->out_h * s->out_w, run = s->kernel_w * s->in_c;
            in_place++;
            tails |= 1 << (pix % 8);
            kh_seen |= 1 << s->kernel_h;
            run4 += run % 4 == 0;
            run_pad += run % 4 != 0 && s->kernel_h > 1;
            stride2 += s->stride_h == 2 && s->stride_w == 2;
            dil += s->dilation_h > 1;
            big += pix > 256;
            batched += s->batch > 1;
        }
        if (q8_conv2d_in_place__i8mm(s)) { /* kernel rows padded to 8 */
            const int run = s->kernel_w * s->in_c;
            in_place8++;
            run8 += run % 8 == 0;
            run_pad8 += run % 8 != 0 && s->kernel_h > 1;
        }
        snprintf(what, sizeof what,
                 "in-place case %d (batch %lld, in %dx%dx%d, out_c %d, k %dx%d, stride %d,%d, "
                 "dil %d,%d, pad %d,%d)",
                 i, (long long)s->batch, s->in_h, s->in_w, s->in_c, s->out_c, s->kernel_h,
                 s->kernel_w, s->stride_h, s->stride_w, s->dilation_h, s->dilation_w,
                 s->pad_top, s->pad_left);
        check_reduce(&r, &c, what);
    }
    ck_assert_int_gt(in_place, 150);
    ck_assert_int_eq(tails, 0xFF);
    ck_assert_int_eq(kh_seen, 0x3E);
    ck_assert_int_gt(run4, 20);
    ck_assert_int_gt(run_pad, 20);
    ck_assert_int_gt(stride2, 5);
    ck_assert_int_gt(dil, 10);
    ck_assert_int_gt(big, 3);
    ck_assert_int_gt(batched, 50);
    ck_assert_int_gt(in_place8, 150);
    ck_assert_int_gt(run8, 10);
    ck_assert_int_gt(run_pad8, 20);
}
END_TEST

/* A piece of output rows [oy0, oy1) of one sample, as the thread split
 * cuts a conv (src/runtime/threadpool.h): the input rows its windows
 * span and the padding above them. False when it reads no input row. */
static int row_piece(const struct q8_conv2d_shape *s, int oy0, int oy1, struct q8_conv2d_shape *q,
                     int *iy0)
{
    const int top = oy0 * s->stride_h - s->pad_top; /* first window row, input coordinates */
    const int bottom = (oy1 - 1) * s->stride_h + (s->kernel_h - 1) * s->dilation_h - s->pad_top;
    const int first = top > 0 ? top : 0;
    const int last = bottom < s->in_h - 1 ? bottom : s->in_h - 1;
    if (last < first)
        return 0;
    *q = *s;
    q->batch = 1;
    q->in_h = last - first + 1;
    q->out_h = oy1 - oy0;
    q->pad_top = first - top;
    *iy0 = first;
    return 1;
}

/* Pieces of convs as the threads run them (each sample cut into up to
 * four row ranges, packed once for the whole conv, scratch of the whole
 * conv's size): every level equals the reference on the whole output,
 * including pieces that are pointwise though the conv is not. */
START_TEST(conv2d_in_place_pieces)
{
    struct tq_rng r = {0x9D1EC5};
    int pieces = 0, pointwise_pieces = 0;
    for (int i = 0; i < 80; i++) {
        struct q8_conv2d_shape s = {0};
        s.batch = (int)tq_int(&r, 1, 3);
        s.groups = 1;
        s.kernel_h = 1 + i % 5;
        s.kernel_w = (int)tq_int(&r, 1, 4);
        s.in_c = tq_int(&r, 0, 1) ? 4 * (int)tq_int(&r, 1, 8) : (int)tq_int(&r, 1, 20);
        s.out_c = (int)tq_int(&r, 1, 40);
        s.stride_h = (int)tq_int(&r, 1, 2);
        s.stride_w = (int)tq_int(&r, 1, 2);
        s.dilation_h = tq_int(&r, 0, 2) ? 1 : 2;
        s.dilation_w = 1;
        s.pad_top = (int)tq_int(&r, 0, s.kernel_h - 1);
        s.pad_left = (int)tq_int(&r, 0, s.kernel_w - 1);
        s.in_h = (int)tq_int(&r, 2, 14);
        s.in_w = (int)tq_int(&r, 1, 14);
        if (i % 5 == 0) { /* 1x1 padded above only: its middle pieces are pointwise */
            s.kernel_w = 1;
            s.stride_h = s.stride_w = s.dilation_h = 1;
            s.pad_top = 1;
            s.pad_left = 0;
        }
        s.out_h = out_size(s.in_h, s.pad_top, (int)tq_int(&r, 0, s.kernel_h - 1), s.kernel_h,
                           s.dilation_h, s.stride_h);
        s.out_w = out_size(s.in_w, s.pad_left, (int)tq_int(&r, 0, s.kernel_w - 1), s.kernel_w,
                           1, s.stride_w);
        if (s.out_h < 1 || s.out_w < 1)
            continue;
        const int64_t k = (int64_t)s.kernel_h * s.kernel_w * s.in_c;
        const int64_t nx = s.batch * s.in_h * s.in_w * s.in_c;
        const int64_t ny = s.batch * s.out_h * s.out_w * s.out_c;
        int8_t *x = act_alloc(nx), *w = malloc((size_t)(k * s.out_c));
        int8_t *want = malloc((size_t)ny), *got = act_alloc(ny);
        int32_t *bias = malloc(sizeof(int32_t) * (size_t)s.out_c);
        int32_t *mult = malloc(sizeof(int32_t) * (size_t)s.out_c);
        int32_t *shift = malloc(sizeof(int32_t) * (size_t)s.out_c);
        struct q8_requant rq;
        rq.in_zero_point = pick_zp(&r);
        rq.out_zero_point = pick_zp(&r);
        pick_clamp(&r, rq.out_zero_point, &rq.qmin, &rq.qmax);
        rq.n = tq_int(&r, 0, 1) ? s.out_c : 1;
        rq.multiplier = mult;
        rq.shift = shift;
        fill_i8(&r, x, nx, 0);
        fill_i8(&r, w, k * s.out_c, 0);
        for (int o = 0; o < s.out_c; o++) {
            pick_mult(&r, 100.0 / (sqrt((double)k) * 8000.0 + 1.0), &mult[o], &shift[o]);
            bias[o] = (int32_t)tq_int(&r, -100000, 100000);
        }
        q8_conv2d__ref(&s, &rq, x, w, bias, want);

        /* the cuts of each sample: up to three inner row boundaries */
        int cut[3][5], n_cut[3];
        for (int n = 0; n < s.batch; n++) {
            int m = 0;
            cut[n][m++] = 0;
            for (int t = (int)tq_int(&r, 0, 3); t > 0; t--) {
                const int oy = (int)tq_int(&r, 1, s.out_h);
                if (oy > cut[n][m - 1] && oy < s.out_h)
                    cut[n][m++] = oy;
            }
            cut[n][m++] = s.out_h;
            n_cut[n] = m;
            for (int p = 0; p + 1 < m; p++) {
                struct q8_conv2d_shape q;
                int iy0;
                if (!row_piece(&s, cut[n][p], cut[n][p + 1], &q, &iy0)) {
                    /* a piece reading only padding: run the sample whole, as the runtime does */
                    cut[n][1] = s.out_h;
                    n_cut[n] = 2;
                    break;
                }
            }
        }
        const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
        const int nl = fast_levels(levels);
        for (int l = 0; l < nl; l++) {
            const struct q8_kernels *kl = levels[l];
            void *pbase, *sbase = NULL;
            void *packed = offset_alloc(kl->conv2d_pack_size(&s), 4, &pbase);
            const size_t ssize = kl->conv2d_scratch_size(&s);
            void *scratch = ssize ? offset_alloc(ssize, 1, &sbase) : NULL;
            kl->conv2d_pack(&s, w, bias, packed);
            memset(got, 0x5a, (size_t)ny);
            for (int n = 0; n < s.batch; n++) {
                for (int p = 0; p + 1 < n_cut[n]; p++) {
                    struct q8_conv2d_shape q;
                    int iy0;
                    const int oy0 = cut[n][p], oy1 = cut[n][p + 1];
                    int8_t *yp = got + ((int64_t)n * s.out_h + oy0) * s.out_w * s.out_c;
                    if (!row_piece(&s, oy0, oy1, &q, &iy0)) { /* the whole sample */
                        q = s;
                        q.batch = 1;
                        iy0 = 0;
                    }
                    if (ssize)
                        ck_assert_uint_le(kl->conv2d_scratch_size(&q), ssize);
                    kl->conv2d_packed(&q, &rq, x + ((int64_t)n * s.in_h + iy0) * s.in_w * s.in_c,
                                      packed, scratch, yp);
                    ts_guarded_check(got, "conv2d pieces");
                    pieces++;
                    pointwise_pieces += q.kernel_h == 1 && q.pad_top == 0 &&
                                        q.in_h == q.out_h && q8_conv2d_in_place__vnni(&s);
                }
            }
            for (int64_t e = 0; e < ny; e++)
                if (want[e] != got[e])
                    ck_abort_msg("pieces case %d, level %s: y[%lld] = %d, reference %d", i,
                                 kl->level, (long long)e, got[e], want[e]);
            offset_free(pbase, "packed weights");
            offset_free(sbase, "scratch");
        }
        ts_guarded_free(x), free(w), free(want), ts_guarded_free(got);
        free(bias), free(mult), free(shift);
    }
    ck_assert_int_gt(pieces, 200);
    ck_assert_int_gt(pointwise_pieces, 3);
}
END_TEST

/* The GEMM epilogues near every limit, against the reference: dense with
 * K = 4 so sums reach +-4 * 255 * 128 and biases at +-(INT32_MAX - that)
 * (the largest the no-saturation path takes) or one past it (saturating
 * path) put accumulators at INT32_MAX and -INT32_MAX; multipliers at
 * +-(2^31 - 1), +-2^30 (ties), 0; shifts at 1 (r = 32, the lowest of the
 * short path), 31 (r = 62), and below 1 (the full 64-bit path); all
 * columns in the short path range, or mixed. */
START_TEST(epilogue_extreme_accumulators)
{
    struct tq_rng r = {0xE9170};
    const int32_t room = INT32_MAX - 4 * 255 * 128;
    const int32_t mults[] = {INT32_MAX, -INT32_MAX, INT32_C(1) << 30, -(INT32_C(1) << 30),
                             0, 1234567890, -1987654321, (INT32_C(1) << 30) + 1};
    const int32_t biases[] = {room, -room, room - 1, -room + 1, 0, 77, room + 1, -room - 1,
                              INT32_MAX, INT32_MIN};
    const int batch = 6, in_f = 4;
    /* initialised: gcc 12 for aarch64 warns maybe-uninitialized otherwise */
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1] = {NULL};
    const int nl = fast_levels(levels);
    for (int iter = 0; iter < 240; iter++) {
        const int out_c = iter % 3 == 0 ? 32 : iter % 3 == 1 ? 16 : 19;
        const struct q8_dense_shape d = {.batch = batch, .in_features = in_f,
                                         .out_features = out_c};
        int8_t x[6 * 4], w[32 * 4], want[6 * 32];
        int32_t bias[32], mult[32], shift[32];
        struct q8_requant rq;
        rq.in_zero_point = tq_int(&r, 0, 1) ? -128 : 127;
        rq.out_zero_point = pick_zp(&r);
        pick_clamp(&r, rq.out_zero_point, &rq.qmin, &rq.qmax);
        rq.n = tq_int(&r, 0, 3) ? out_c : 1;
        rq.multiplier = mult;
        rq.shift = shift;
        const int short_only = iter % 2 == 0; /* every shift >= 1 */
        for (int o = 0; o < out_c; o++) {
            mult[o] = mults[tq_int(&r, 0, 7)];
            switch (tq_int(&r, 0, 3)) {
            case 0: shift[o] = 1; break;
            case 1: shift[o] = Q8_SHIFT_MAX; break;
            case 2: shift[o] = (int32_t)tq_int(&r, 1, 31); break;
            default:
                shift[o] = short_only ? (int32_t)tq_int(&r, 1, 31)
                                      : (int32_t)tq_int(&r, Q8_SHIFT_MIN, 0);
                break;
            }
            if (mult[o] == 0 && !short_only)
                shift[o] = 0;
            const int bi = (int)tq_int(&r, 0, iter % 4 == 1 ? 9 : 5); /* some saturating */
            bias[o] = biases[bi];
            const int wk = (int)tq_int(&r, 0, 2);
            for (int k = 0; k < in_f; k++)
                w[o * in_f + k] = wk == 0 ? -128 : wk == 1 ? 127 : (int8_t)tq_int(&r, -128, 127);
        }
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < in_f; k++)
                x[b * in_f + k] = b == 0 ? 127 : b == 1 ? -128 : (int8_t)tq_int(&r, -128, 127);
        q8_dense__ref(&d, &rq, x, w, bias, want);
        for (int l = 0; l < nl; l++) {
            const struct q8_kernels *k = levels[l];
            void *pbase, *sbase = NULL;
            void *packed = offset_alloc(k->dense_pack_size(&d), 4, &pbase);
            const size_t ssize = k->dense_scratch_size(&d);
            void *scratch = ssize ? offset_alloc(ssize, 1, &sbase) : NULL;
            int8_t *got = act_alloc(batch * out_c);
            k->dense_pack(&d, w, bias, packed);
            k->dense_packed(&d, &rq, x, packed, scratch, got);
            ts_guarded_check(got, k->level);
            for (int i = 0; i < batch * out_c; i++)
                ck_assert_msg(got[i] == want[i],
                              "iter %d level %s: y[%d] = %d, reference %d (M %d shift %d bias "
                              "%d zx %d zy %d clamp [%d, %d])",
                              iter, k->level, i, got[i], want[i], mult[rq.n == 1 ? 0 : i % out_c],
                              shift[rq.n == 1 ? 0 : i % out_c], bias[i % out_c],
                              rq.in_zero_point, rq.out_zero_point, rq.qmin, rq.qmax);
            ts_guarded_free(got);
            offset_free(pbase, "packed weights");
            offset_free(sbase, "scratch");
        }
    }
}
END_TEST

/* ---- quantize / dequantize ---- */

/* A float input for quantize at scale sc: exact ties (k + 1/2) * sc when
 * sc is a power of two, the floats next to ties, saturating magnitudes,
 * infinities, NaN, zeros, subnormals, and plain random values. */
static float pick_float(struct tq_rng *r, float sc)
{
    const double k = (double)tq_int(r, -300, 300);
    switch (tq_int(r, 0, 11)) {
    case 0: return (float)((k + 0.5) * sc);
    case 1: return nextafterf((float)((k + 0.5) * sc), INFINITY);
    case 2: return nextafterf((float)((k + 0.5) * sc), -INFINITY);
    case 3: return (float)(k * sc);
    case 4: return tq_int(r, 0, 1) ? INFINITY : -INFINITY;
    case 5: return NAN;
    case 6: return tq_int(r, 0, 1) ? 0.0f : -0.0f;
    case 7: return (float)tq_uniform(r, -1e30, 1e30);
    case 8: return (float)(tq_uniform(r, -1.0, 1.0) * 1e-40); /* subnormal */
    default: return (float)(tq_uniform(r, -200.0, 200.0) * sc);
    }
}

/* The ties themselves: with scale 2^-3, 2.5 * 0.125 rounds half away
 * from zero to 3 (and -2.5 to -3), so q = 3 + zp. */
START_TEST(quantize_ties_by_hand)
{
    const struct q8_quantize_params p = {0.125f, 10, -128, 127};
    const float x[12] = {0.3125f, -0.3125f, 0.0625f, -0.0625f, 1000.0f, -1000.0f,
                         NAN,     INFINITY, -INFINITY, 0.1875f, -0.1875f, 15.0f};
    const int8_t want[12] = {13, 7, 11, 9, 127, -128, 10, 127, -128, 12, 8, 127};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int l = 0; l < nl; l++) {
        int8_t y[12];
        levels[l]->quantize(12, &p, x, y);
        for (int i = 0; i < 12; i++)
            ck_assert_msg(y[i] == want[i], "level %s: x %g -> %d, want %d", levels[l]->level,
                          (double)x[i], y[i], want[i]);
    }
}
END_TEST

START_TEST(quantize_equals_reference)
{
    struct tq_rng r = {0x9A4717};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    float x[203];
    int8_t want[203];
    for (int it = 0; it < 3000; it++) {
        struct q8_quantize_params p;
        p.scale = tq_int(&r, 0, 1) ? ldexpf(1.0f, -(int)tq_int(&r, -3, 12))
                                   : (float)tq_uniform(&r, 1e-4, 10.0);
        if (tq_int(&r, 0, 9) == 0)
            p.scale = (float)tq_uniform(&r, 1e-38, 1e-30); /* huge x / scale */
        p.zero_point = pick_zp(&r);
        pick_clamp(&r, p.zero_point, &p.qmin, &p.qmax);
        const int n = (int)tq_int(&r, 1, 203);
        for (int i = 0; i < n; i++)
            x[i] = pick_float(&r, p.scale);
        q8_quantize__ref(n, &p, x, want);
        /* x one float past a 64-byte boundary, y one byte past, guarded */
        float *xm = ts_guarded_alloc((size_t)n * sizeof *xm, sizeof *xm);
        memcpy(xm, x, (size_t)n * sizeof *xm);
        for (int l = 0; l < nl; l++) {
            int8_t *got = act_alloc(n);
            levels[l]->quantize(n, &p, xm, got);
            ts_guarded_check(got, levels[l]->level);
            for (int i = 0; i < n; i++)
                ck_assert_msg(got[i] == want[i],
                              "level %s: x %a scale %a zp %d [%d, %d] -> %d, reference %d",
                              levels[l]->level, (double)x[i], (double)p.scale, p.zero_point,
                              p.qmin, p.qmax, got[i], want[i]);
            ts_guarded_free(got);
        }
        ts_guarded_free(xm);
    }
}
END_TEST

START_TEST(dequantize_equals_reference)
{
    struct tq_rng r = {0xDE9A};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    int8_t x[77];
    float want[77];
    for (int it = 0; it < 500; it++) {
        struct q8_quantize_params p = {(float)tq_uniform(&r, 1e-6, 100.0), pick_zp(&r), -128,
                                       127};
        const int n = (int)tq_int(&r, 1, 77);
        fill_i8(&r, x, n, 0);
        q8_dequantize__ref(n, &p, x, want);
        /* x one byte past a 64-byte boundary, y one float past, guarded */
        int8_t *xm = act_alloc(n);
        memcpy(xm, x, (size_t)n);
        for (int l = 0; l < nl; l++) {
            float *got = ts_guarded_alloc((size_t)n * sizeof *got, sizeof *got);
            levels[l]->dequantize(n, &p, xm, got);
            ts_guarded_check(got, levels[l]->level); /* nothing written past n */
            ck_assert_msg(memcmp(got, want, (size_t)n * sizeof(float)) == 0, "level %s, n %d",
                          levels[l]->level, n);
            ts_guarded_free(got);
        }
        ts_guarded_free(xm);
    }
}
END_TEST

/* ---- dense with a float output ---- */

/* dense_f32 of every level against q8_dense_f32__ref, byte for byte: odd
 * sizes (tails of 16 columns of K and of 4 output channels), extreme
 * bytes and zero points, biases at the int32 limits (the saturation), the
 * activation clamps, per-tensor and per-channel scales; a reduction over
 * 65535 (the reference's path). */
START_TEST(dense_f32_equals_reference)
{
    struct tq_rng r = {0xF320};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int it = 0; it < 300; it++) {
        const int big = it == 0;
        struct q8_dense_shape s = {tq_int(&r, 1, 5), big ? 65536 + 7 : pick_odd(&r),
                                   big ? 3 : pick_odd(&r)};
        const int extreme = tq_int(&r, 0, 3) == 0;
        int8_t *x = act_alloc(s.batch * s.in_features);
        int8_t *w = malloc((size_t)s.out_features * s.in_features);
        int32_t *bias = malloc(sizeof(int32_t) * s.out_features);
        float *scale = malloc(sizeof(float) * s.out_features);
        float *want = malloc(sizeof(float) * s.batch * s.out_features);
        fill_i8(&r, x, s.batch * s.in_features, extreme);
        fill_i8(&r, w, (int64_t)s.out_features * s.in_features, extreme);
        for (int o = 0; o < s.out_features; o++) {
            switch (tq_int(&r, 0, 3)) {
            case 0: bias[o] = INT32_MAX - (int32_t)tq_int(&r, 0, 1000); break;
            case 1: bias[o] = INT32_MIN + (int32_t)tq_int(&r, 0, 1000); break;
            default: bias[o] = (int32_t)tq_int(&r, -100000, 100000); break;
            }
            scale[o] = (float)tq_uniform(&r, 1e-6, 1e-2);
        }
        const int act = (int)tq_int(&r, 0, 2);
        struct q8_acc_f32 p = {pick_zp(&r), tq_int(&r, 0, 1) ? s.out_features : 1, scale,
                               act ? 0.0f : -INFINITY, act == 2 ? 6.0f : INFINITY};
        const int32_t *b = tq_int(&r, 0, 4) ? bias : NULL;
        q8_dense_f32__ref(&s, &p, x, w, b, want);
        const size_t bytes = sizeof(float) * (size_t)(s.batch * s.out_features);
        for (int l = 0; l < nl; l++) {
            float *got = ts_guarded_alloc(bytes, sizeof(float));
            levels[l]->dense_f32(&s, &p, x, w, b, got);
            ts_guarded_check(got, levels[l]->level);
            ck_assert_msg(memcmp(got, want, bytes) == 0, "level %s, case %d (%lld x %d -> %d)",
                          levels[l]->level, it, (long long)s.batch, s.in_features,
                          s.out_features);
            ts_guarded_free(got);
        }
        ts_guarded_free(x);
        free(w), free(bias), free(scale), free(want);
    }
}
END_TEST

/* ---- pools ---- */

static void random_unary(struct tq_rng *r, struct q8_unary *u, double target)
{
    u->in_zero_point = pick_zp(r);
    u->out_zero_point = tq_int(r, 0, 3) ? pick_zp(r) : u->in_zero_point;
    pick_mult(r, target, &u->multiplier, &u->shift);
    pick_clamp(r, u->out_zero_point, &u->qmin, &u->qmax);
}

static void check_pool(struct tq_rng *r, const struct q8_pool2d_shape *s, const char *what)
{
    const int64_t nx = s->batch * s->in_h * s->in_w * s->c;
    const int64_t ny = s->batch * s->out_h * s->out_w * s->c;
    int8_t *x = act_alloc(nx), *want = malloc((size_t)ny), *got = act_alloc(ny);
    fill_i8(r, x, nx, 0);
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int is_max = 0; is_max < 2; is_max++) {
        struct q8_unary u;
        random_unary(r, &u, 1.0);
        (is_max ? q8_max_pool2d__ref : q8_avg_pool2d__ref)(s, &u, x, want);
        for (int l = 0; l < nl; l++) {
            memset(got, 0x5a, (size_t)ny);
            (is_max ? levels[l]->max_pool2d : levels[l]->avg_pool2d)(s, &u, x, got);
            ts_guarded_check(got, what);
            ck_assert_msg(memcmp(want, got, (size_t)ny) == 0,
                          "%s %s pool, level %s: differs from the reference (M %d shift %d)",
                          what, is_max ? "max" : "avg", levels[l]->level, u.multiplier,
                          u.shift);
        }
    }
    ts_guarded_free(x), free(want), ts_guarded_free(got);
}

START_TEST(pools_equal_reference)
{
    struct tq_rng r = {0x9001};
    char what[64];
    for (int i = 0; i < 300; i++) {
        struct q8_pool2d_shape s;
        memset(&s, 0, sizeof s);
        s.batch = tq_int(&r, 0, 2) ? 1 : 5;
        s.in_h = (int)tq_int(&r, 1, 9);
        s.in_w = (int)tq_int(&r, 1, 9);
        s.c = tq_int(&r, 0, 3) ? pick_odd(&r) : (int)tq_int(&r, 1, 130);
        s.kernel_h = (int)tq_int(&r, 1, 4);
        s.kernel_w = (int)tq_int(&r, 1, 4);
        s.stride_h = (int)tq_int(&r, 1, 3);
        s.stride_w = (int)tq_int(&r, 1, 3);
        s.pad_top = (int)tq_int(&r, 0, s.kernel_h - 1);
        s.pad_left = (int)tq_int(&r, 0, s.kernel_w - 1);
        /* out sizes that may run windows past the input, even fully */
        s.out_h = (int)tq_int(&r, 1, (s.in_h + s.pad_top) / s.stride_h + 2);
        s.out_w = (int)tq_int(&r, 1, (s.in_w + s.pad_left) / s.stride_w + 2);
        snprintf(what, sizeof what, "case %d", i);
        check_pool(&r, &s, what);
    }
    /* a window of 100 x 100 = 10000 cells: the avg epilogue that cannot
     * use the exact double path */
    struct q8_pool2d_shape big = {.batch = 1, .in_h = 100, .in_w = 100, .c = 19,
                                  .out_h = 2, .out_w = 2, .kernel_h = 100, .kernel_w = 100,
                                  .stride_h = 1, .stride_w = 1, .pad_top = 0, .pad_left = 0};
    for (int i = 0; i < 8; i++)
        check_pool(&r, &big, "100x100 window");
}
END_TEST

/* Max pools with identity requantization (the common case, a separate
 * path for up to 64 channels): shapes as above, every clamp. */
START_TEST(max_pool_identity_equals_reference)
{
    struct tq_rng r = {0x9002};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int i = 0; i < 300; i++) {
        struct q8_pool2d_shape s;
        memset(&s, 0, sizeof s);
        s.batch = (int)tq_int(&r, 1, 3);
        s.in_h = (int)tq_int(&r, 1, 9);
        s.in_w = (int)tq_int(&r, 1, 9);
        s.c = tq_int(&r, 0, 3) ? (int)tq_int(&r, 1, 64) : pick_odd(&r);
        s.kernel_h = i % 3 ? 2 : (int)tq_int(&r, 1, 4);
        s.kernel_w = i % 3 ? 2 : (int)tq_int(&r, 1, 4);
        s.stride_h = (int)tq_int(&r, 1, 3);
        s.stride_w = (int)tq_int(&r, 1, 3);
        s.pad_top = (int)tq_int(&r, 0, s.kernel_h - 1);
        s.pad_left = (int)tq_int(&r, 0, s.kernel_w - 1);
        s.out_h = (int)tq_int(&r, 1, (s.in_h + s.pad_top) / s.stride_h + 2);
        s.out_w = (int)tq_int(&r, 1, (s.in_w + s.pad_left) / s.stride_w + 2);
        struct q8_unary u;
        u.in_zero_point = u.out_zero_point = pick_zp(&r);
        u.multiplier = INT32_C(1) << 30;
        u.shift = -1;
        pick_clamp(&r, u.out_zero_point, &u.qmin, &u.qmax);
        const int64_t nx = s.batch * s.in_h * s.in_w * s.c;
        const int64_t ny = s.batch * s.out_h * s.out_w * s.c;
        int8_t *x = act_alloc(nx), *want = malloc((size_t)ny), *got = act_alloc(ny);
        fill_i8(&r, x, nx, 0);
        q8_max_pool2d__ref(&s, &u, x, want);
        for (int l = 0; l < nl; l++) {
            memset(got, 0x5a, (size_t)ny);
            levels[l]->max_pool2d(&s, &u, x, got);
            ts_guarded_check(got, levels[l]->level);
            ck_assert_msg(memcmp(want, got, (size_t)ny) == 0,
                          "case %d level %s: identity max pool differs from the reference", i,
                          levels[l]->level);
        }
        ts_guarded_free(x), free(want), ts_guarded_free(got);
    }
}
END_TEST

START_TEST(global_avg_pool_equals_reference)
{
    struct tq_rng r = {0x6A9};
    static const int64_t hws[] = {1, 2, 7, 49, 196, 9000};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int i = 0; i < 120; i++) {
        const int64_t batch = tq_int(&r, 0, 1) ? 1 : 5;
        const int64_t hw = hws[tq_int(&r, 0, 5)];
        const int c = tq_int(&r, 0, 2) ? pick_odd(&r) : (int)tq_int(&r, 1, 80);
        if (hw > 1000 && batch > 1 && c > 20)
            continue; /* keep the suite light */
        int8_t *x = act_alloc(batch * hw * c);
        int8_t *want = malloc((size_t)(batch * c)), *got = act_alloc(batch * c);
        fill_i8(&r, x, batch * hw * c, tq_int(&r, 0, 5) == 0);
        struct q8_unary u;
        random_unary(&r, &u, 1.0);
        q8_global_avg_pool__ref(batch, hw, c, &u, x, want);
        for (int l = 0; l < nl; l++) {
            memset(got, 0x5a, (size_t)(batch * c));
            levels[l]->global_avg_pool(batch, hw, c, &u, x, got);
            ts_guarded_check(got, levels[l]->level);
            ck_assert_msg(memcmp(want, got, (size_t)(batch * c)) == 0,
                          "global avg case %d (hw %lld, c %d), level %s: differs", i,
                          (long long)hw, c, levels[l]->level);
        }
        ts_guarded_free(x), free(want), ts_guarded_free(got);
    }
}
END_TEST

/* ---- add ---- */

/* Parameters as q8_add_prepare makes them (quanta-format(5), INT8 OPERATORS), from random
 * scales, with extreme zero points and clamps. */
static void random_add(struct tq_rng *r, struct q8_add_params *p)
{
    const double sa = tq_uniform(r, 0.001, 0.1), sb = sa * tq_uniform(r, 0.05, 20.0);
    const double sy = (sa + sb) * tq_uniform(r, 0.3, 3.0);
    const double t = 2 * (sa > sb ? sa : sb);
    p->a_zero_point = pick_zp(r);
    p->b_zero_point = pick_zp(r);
    p->out_zero_point = pick_zp(r);
    p->left_shift = 20;
    ck_assert(q8_multiplier_from_double(sa / t, &p->a_multiplier, &p->a_shift));
    ck_assert(q8_multiplier_from_double(sb / t, &p->b_multiplier, &p->b_shift));
    ck_assert(q8_multiplier_from_double(t / (1048576.0 * sy), &p->out_multiplier,
                                        &p->out_shift));
    pick_clamp(r, p->out_zero_point, &p->qmin, &p->qmax);
}

START_TEST(add_equals_reference)
{
    struct tq_rng r = {0xADD};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int i = 0; i < 400; i++) {
        const int64_t rows = tq_int(&r, 1, 9);
        int64_t b_n = tq_int(&r, 0, 2) ? pick_odd(&r) : tq_int(&r, 1, 70);
        const int mode = (int)tq_int(&r, 0, 2); /* same shape, [C], scalar */
        const int64_t n = rows * b_n;
        if (mode == 0)
            b_n = n;
        else if (mode == 2)
            b_n = 1;
        int8_t *a = act_alloc(n), *b = act_alloc(b_n);
        int8_t *want = malloc((size_t)n), *got = act_alloc(n);
        fill_i8(&r, a, n, 0);
        fill_i8(&r, b, b_n, tq_int(&r, 0, 4) == 0);
        struct q8_add_params p;
        random_add(&r, &p);
        q8_add__ref(n, b_n, &p, a, b, want);
        for (int l = 0; l < nl; l++) {
            memset(got, 0x5a, (size_t)n);
            levels[l]->add(n, b_n, &p, a, b, got);
            ts_guarded_check(got, levels[l]->level);
            ck_assert_msg(memcmp(want, got, (size_t)n) == 0,
                          "add case %d (n %lld, b_n %lld), level %s: differs", i, (long long)n,
                          (long long)b_n, levels[l]->level);
        }
        ts_guarded_free(a), ts_guarded_free(b), free(want), ts_guarded_free(got);
    }
}
END_TEST

/* Every table has every entry; the ref table's packed path is the
 * reference itself; a level the CPU lacks has no table. */
START_TEST(tables_complete)
{
    int present = 0;
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const struct q8_kernels *k = q8_kernels_for_level((enum kernels_level)l);
        if (!k) {
            ck_assert_ptr_null(f32_kernels_for_level((enum kernels_level)l));
            continue;
        }
        present++;
#define ENTRY_SET(name) ck_assert_msg(k->name != NULL, "%s table: " #name " is NULL", k->level);
        ENTRY_SET(conv2d) ENTRY_SET(dense) ENTRY_SET(max_pool2d) ENTRY_SET(avg_pool2d)
        ENTRY_SET(global_avg_pool) ENTRY_SET(add) ENTRY_SET(mul) ENTRY_SET(requant_clamp)
        ENTRY_SET(leaky_relu) ENTRY_SET(lut) ENTRY_SET(concat) ENTRY_SET(mean)
        ENTRY_SET(embedding) ENTRY_SET(softmax) ENTRY_SET(quantize) ENTRY_SET(dequantize)
        ENTRY_SET(conv2d_pack_size) ENTRY_SET(conv2d_pack) ENTRY_SET(conv2d_scratch_size)
        ENTRY_SET(conv2d_packed) ENTRY_SET(dense_pack_size) ENTRY_SET(dense_pack)
        ENTRY_SET(dense_scratch_size) ENTRY_SET(dense_packed)
#undef ENTRY_SET
    }
    ck_assert_int_ge(present, 1);
    const struct q8_kernels *ref = q8_kernels_for_level(KERNELS_LEVEL_REF);
    ck_assert_ptr_nonnull(ref);
    ck_assert_str_eq(ref->level, "ref");
    const struct q8_dense_shape d = {1, 5, 3};
    ck_assert_uint_eq(ref->dense_scratch_size(&d), 0);
}
END_TEST

/* A hand-computed dense case through every table (so ref and fast paths
 * are not merely equal to each other): x = [1, 2, 3] (zx = -1, so x - zx
 * = [2, 3, 4]), w = [[1, -1, 2], [-128, 127, 0]], bias [10, -5],
 * acc = [10 + 2 - 3 + 8, -5 - 256 + 381] = [17, 120]; M, shift = 1/4:
 * 17/4 = 4.25 -> 4, 120/4 = 30; zy = 3 -> [7, 33]. */
START_TEST(dense_by_hand)
{
    const int8_t x[3] = {1, 2, 3}, w[6] = {1, -1, 2, -128, 127, 0};
    const int32_t bias[2] = {10, -5};
    int32_t m, sh;
    ck_assert(q8_multiplier_from_double(0.25, &m, &sh));
    const struct q8_requant rq = {.in_zero_point = -1, .out_zero_point = 3, .qmin = -128,
                                  .qmax = 127, .n = 1, .multiplier = &m, .shift = &sh};
    const struct q8_dense_shape d = {1, 3, 2};
    const struct q8_kernels *levels[KERNELS_LEVEL_COUNT + 1];
    const int nl = fast_levels(levels);
    for (int l = 0; l < nl; l++) {
        const struct q8_kernels *k = levels[l];
        void *pbase, *sbase = NULL;
        void *packed = offset_alloc(k->dense_pack_size(&d), 4, &pbase);
        const size_t ss = k->dense_scratch_size(&d);
        void *scratch = ss ? offset_alloc(ss, 1, &sbase) : NULL;
        int8_t y[2] = {0, 0};
        k->dense_pack(&d, w, bias, packed);
        k->dense_packed(&d, &rq, x, packed, scratch, y);
        ck_assert_msg(y[0] == 7 && y[1] == 33, "level %s: [%d, %d], want [7, 33]", k->level,
                      y[0], y[1]);
        offset_free(pbase, "packed weights");
        offset_free(sbase, "scratch");
    }
}
END_TEST

Suite *suite_q8_fast(void); /* called by tests/main.c */
Suite *suite_q8_fast(void)
{
    Suite *s = suite_create("q8_fast");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, tables_complete);
    tcase_add_test(tc, dense_by_hand);
    tcase_add_test(tc, conv2d_packed_equals_reference);
    tcase_add_test(tc, dense_packed_equals_reference);
    tcase_add_test(tc, conv2d_pointwise_and_few_channels);
    tcase_add_test(tc, conv2d_im2col_shapes);
    tcase_add_test(tc, conv2d_in_place_shapes);
    tcase_add_test(tc, conv2d_in_place_pieces);
    tcase_add_test(tc, epilogue_extreme_accumulators);
    tcase_add_test(tc, max_pool_identity_equals_reference);
    tcase_add_test(tc, quantize_ties_by_hand);
    tcase_add_test(tc, quantize_equals_reference);
    tcase_add_test(tc, dequantize_equals_reference);
    tcase_add_test(tc, reduce_near_int32_limits);
    tcase_add_test(tc, extreme_sum_magnitude);
    tcase_add_test(tc, dense_f32_equals_reference);
    tcase_add_test(tc, pools_equal_reference);
    tcase_add_test(tc, global_avg_pool_equals_reference);
    tcase_add_test(tc, add_equals_reference);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            ts_add_level_skip(tc, "q8_fast", l, true);
    }
    suite_add_tcase(s, tc);
    return s;
}
