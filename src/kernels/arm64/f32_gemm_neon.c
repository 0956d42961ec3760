/* NEON float kernels of the neon and dotprod levels: an 8x8 SGEMM
 * micro-kernel (16 q-register accumulators, B rows of two vectors, A read
 * four k at a time and multiplied by lane), the same over pointed-to rows
 * of A (implicit GEMM), a 1x(4x8) GEMV kernel, and the direct depthwise
 * conv2d with 4 channels per vector. Every product goes through one fused
 * multiply-add (vfmaq_f32 or its by-lane form, the same rounding) in k
 * order from the bias, so a row gets the same bits from each of them
 * (f32_gemm.h). The shape wrapper and packing are in f32_gemm_common.c. */
#include <arm_neon.h>

#include "kernels/f32_gemm.h"

#define MR 8
#define NR 8
#define KC 256
#define MC (MR * 16)
_Static_assert(MR * NR <= F32_GEMM_TILE_MAX && F32_GEMV_PANELS * NR <= F32_GEMM_TILE_MAX,
               "tail tiles must fit the driver's local tile");
_Static_assert(MC <= F32_GEMM_MC_MAX && KC <= F32_GEMM_KC_MAX, "driver's stack arrays");

static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    /* FMAX/FMIN return NaN when either operand is NaN: NaN passes */
    return vminq_f32(hi, vmaxq_f32(lo, v));
}

/* The 8x8 tile's accumulators c<i>0, c<i>1 (row i), shared by the
 * explicit and the implicit GEMM: start, len k steps over row pointers
 * a<i>, end. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define DECL(i) float32x4_t c##i##0, c##i##1;
#define INIT(i) c##i##0 = v0; c##i##1 = v1;
#define LOAD(i) c##i##0 = vld1q_f32(c + i * ldc); c##i##1 = vld1q_f32(c + i * ldc + 4);
#define LOAD_A4(i) const float32x4_t va##i = vld1q_f32(a##i + k);
#define FMA_LANE(i, l)                                                                            \
    c##i##0 = vfmaq_laneq_f32(c##i##0, b0, va##i, l);                                             \
    c##i##1 = vfmaq_laneq_f32(c##i##1, b1, va##i, l);
#define FMA_L0(i) FMA_LANE(i, 0)
#define FMA_L1(i) FMA_LANE(i, 1)
#define FMA_L2(i) FMA_LANE(i, 2)
#define FMA_L3(i) FMA_LANE(i, 3)
#define FMA_ONE(i)                                                                                \
    {                                                                                             \
        const float32x4_t va = vld1q_dup_f32(a##i + k);                                           \
        c##i##0 = vfmaq_f32(c##i##0, b0, va);                                                     \
        c##i##1 = vfmaq_f32(c##i##1, b1, va);                                                     \
    }
#define B_ROW()                                                                                   \
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);                                   \
    b += NR;
#define CLAMP(i) c##i##0 = clamp4(c##i##0, lo, hi); c##i##1 = clamp4(c##i##1, lo, hi);
#define STORE(i) vst1q_f32(c + i * ldc, c##i##0); vst1q_f32(c + i * ldc + 4, c##i##1);
#define TILE_START()                                                                              \
    ROWS(DECL)                                                                                    \
    if (bias) {                                                                                   \
        const float32x4_t v0 = vld1q_f32(bias), v1 = vld1q_f32(bias + 4);                         \
        ROWS(INIT)                                                                                \
    } else {                                                                                      \
        ROWS(LOAD)                                                                                \
    }
/* k = 0 .. len-1 of rows a<i>, b advancing: four k per A load, then one */
#define TILE_K_LOOP(len)                                                                          \
    {                                                                                             \
        size_t k = 0;                                                                             \
        for (; k + 4 <= (len); k += 4) {                                                          \
            ROWS(LOAD_A4)                                                                         \
            { B_ROW() ROWS(FMA_L0) }                                                              \
            { B_ROW() ROWS(FMA_L1) }                                                              \
            { B_ROW() ROWS(FMA_L2) }                                                              \
            { B_ROW() ROWS(FMA_L3) }                                                              \
        }                                                                                         \
        for (; k < (len); k++) {                                                                  \
            B_ROW()                                                                               \
            ROWS(FMA_ONE)                                                                         \
        }                                                                                         \
    }
#define TILE_END()                                                                                \
    if (minmax) {                                                                                 \
        const float32x4_t lo = vdupq_n_f32(minmax[0]), hi = vdupq_n_f32(minmax[1]);               \
        ROWS(CLAMP)                                                                               \
    }                                                                                             \
    ROWS(STORE)

static void gemm_8x8(size_t mr, size_t kc, const float *a, size_t lda, const float *b, float *c,
                     size_t ldc, const float *bias, const float *minmax)
{
    const float *a0 = a;
    const float *a1 = mr > 1 ? a0 + lda : a0;
    const float *a2 = mr > 2 ? a1 + lda : a1;
    const float *a3 = mr > 3 ? a2 + lda : a2;
    const float *a4 = mr > 4 ? a3 + lda : a3;
    const float *a5 = mr > 5 ? a4 + lda : a4;
    const float *a6 = mr > 6 ? a5 + lda : a5;
    const float *a7 = mr > 7 ? a6 + lda : a6;
    TILE_START()
    TILE_K_LOOP(kc)
    TILE_END()
}

static void igemm_8x8(size_t nseg, size_t seglen, const float *const *a, const size_t *off,
                      const float *b, float *c, size_t ldc, const float *bias,
                      const float *minmax)
{
    TILE_START()
    for (size_t s = 0; s < nseg; s++) {
        const size_t o = off[s];
        const float *a0 = a[0] + o, *a1 = a[1] + o, *a2 = a[2] + o, *a3 = a[3] + o;
        const float *a4 = a[4] + o, *a5 = a[5] + o, *a6 = a[6] + o, *a7 = a[7] + o;
        TILE_K_LOOP(seglen)
    }
    TILE_END()
}
#undef TILE_START
#undef TILE_K_LOOP
#undef TILE_END
#undef ROWS
#undef DECL
#undef INIT
#undef LOAD
#undef LOAD_A4
#undef FMA_LANE
#undef FMA_L0
#undef FMA_L1
#undef FMA_L2
#undef FMA_L3
#undef FMA_ONE
#undef B_ROW
#undef CLAMP
#undef STORE

/* The gemv kernel's accumulators s<j>0, s<j>1 (panel j at p<j>); one k
 * step reads B at offset o, lane l of va. */
#define PANELS(X) X(0) X(1) X(2) X(3)
#define GV_STEP(j, o, l)                                                                          \
    s##j##0 = vfmaq_laneq_f32(s##j##0, vld1q_f32(p##j + (o)), va, l);                             \
    s##j##1 = vfmaq_laneq_f32(s##j##1, vld1q_f32(p##j + (o) + 4), va, l);
#define GV_K4(j) GV_STEP(j, o, 0) GV_STEP(j, o + NR, 1) GV_STEP(j, o + 2 * NR, 2) \
    GV_STEP(j, o + 3 * NR, 3)
#define GV_K1(j) GV_STEP(j, o, 0)
#define GV_CLAMP(j) s##j##0 = clamp4(s##j##0, lo, hi); s##j##1 = clamp4(s##j##1, lo, hi);

static void gemv_1x8(size_t np, size_t kc, const float *a, const float *b, size_t b_stride,
                     float *c, const float *bias, const float *minmax)
{
    /* panels past np repeat the last one (computed, not stored) */
    const size_t o1 = np > 1 ? 1 : 0, o2 = np > 2 ? 2 : o1, o3 = np > 3 ? 3 : o2;
    const float *p0 = b, *p1 = b + o1 * b_stride, *p2 = b + o2 * b_stride, *p3 = b + o3 * b_stride;
    const float *init = bias ? bias : c;
    float32x4_t s00 = vld1q_f32(init), s01 = vld1q_f32(init + 4);
    float32x4_t s10 = vld1q_f32(init + o1 * NR), s11 = vld1q_f32(init + o1 * NR + 4);
    float32x4_t s20 = vld1q_f32(init + o2 * NR), s21 = vld1q_f32(init + o2 * NR + 4);
    float32x4_t s30 = vld1q_f32(init + o3 * NR), s31 = vld1q_f32(init + o3 * NR + 4);
    size_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        const float32x4_t va = vld1q_f32(a + k);
        const size_t o = k * NR;
        PANELS(GV_K4)
    }
    for (; k < kc; k++) {
        const float32x4_t va = vld1q_dup_f32(a + k);
        const size_t o = k * NR;
        PANELS(GV_K1)
    }
    if (minmax) {
        const float32x4_t lo = vdupq_n_f32(minmax[0]), hi = vdupq_n_f32(minmax[1]);
        PANELS(GV_CLAMP)
    }
    vst1q_f32(c, s00);
    vst1q_f32(c + 4, s01);
    if (np > 1) {
        vst1q_f32(c + NR, s10);
        vst1q_f32(c + NR + 4, s11);
    }
    if (np > 2) {
        vst1q_f32(c + 2 * NR, s20);
        vst1q_f32(c + 2 * NR + 4, s21);
    }
    if (np > 3) {
        vst1q_f32(c + 3 * NR, s30);
        vst1q_f32(c + 3 * NR + 4, s31);
    }
}
#undef PANELS
#undef GV_STEP
#undef GV_K4
#undef GV_K1
#undef GV_CLAMP

/* Depthwise: 4 output channels per vector; output channel o reads input
 * channel o / m (m = out_c / in_c). A full block with m == 1 is one load
 * and one store; otherwise (a multiplier, or the last channels) the lanes
 * are gathered into a local vector and only the real channels stored.
 * Channel blocks outside, pixels inside. */
static void dwconv_4(const struct f32_conv2d_params *p, const float *x, const float *packed,
                     float *y)
{
    const size_t C = p->out_c, m = p->out_c / p->in_c;
    const size_t cp = (C + 3) / 4 * 4;
    const float *w = packed + cp;
    const float32x4_t lo = vdupq_n_f32(p->out_min), hi = vdupq_n_f32(p->out_max);
    for (size_t c0 = 0; c0 < C; c0 += 4) {
        const size_t nc = C - c0 < 4 ? C - c0 : 4;
        const int contiguous = m == 1 && nc == 4;
        size_t lane_in[4];
        for (size_t i = 0; i < 4; i++)
            lane_in[i] = (c0 + (i < nc ? i : 0)) / m;
        const float32x4_t bias = vld1q_f32(packed + c0);
        for (size_t n = 0; n < p->batch; n++) {
            const float *xn = x + n * p->in_h * p->in_w * p->in_c;
            for (size_t oy = 0; oy < p->out_h; oy++) {
                float *yrow = y + (n * p->out_h + oy) * p->out_w * C;
                for (size_t ox = 0; ox < p->out_w; ox++) {
                    float32x4_t acc = bias;
                    for (size_t ky = 0; ky < p->kernel_h; ky++) {
                        size_t py = oy * p->stride_h + ky * p->dilation_h;
                        if (py < p->pad_top || py - p->pad_top >= p->in_h)
                            continue;
                        const float *xrow = xn + (py - p->pad_top) * p->in_w * p->in_c;
                        for (size_t kx = 0; kx < p->kernel_w; kx++) {
                            size_t px = ox * p->stride_w + kx * p->dilation_w;
                            if (px < p->pad_left || px - p->pad_left >= p->in_w)
                                continue;
                            const float *xp = xrow + (px - p->pad_left) * p->in_c;
                            float32x4_t xv;
                            if (contiguous) {
                                xv = vld1q_f32(xp + c0);
                            } else {
                                const float g[4] = {xp[lane_in[0]], xp[lane_in[1]],
                                                    xp[lane_in[2]], xp[lane_in[3]]};
                                xv = vld1q_f32(g);
                            }
                            const float32x4_t wv =
                                vld1q_f32(w + (ky * p->kernel_w + kx) * cp + c0);
                            acc = vfmaq_f32(acc, xv, wv);
                        }
                    }
                    acc = clamp4(acc, lo, hi);
                    if (nc == 4) {
                        vst1q_f32(yrow + ox * C + c0, acc);
                    } else {
                        float out[4];
                        vst1q_f32(out, acc);
                        for (size_t i = 0; i < nc; i++)
                            yrow[ox * C + c0 + i] = out[i];
                    }
                }
            }
        }
    }
}

static const struct f32_gemm_config config = {
    .mr = MR, .nr = NR, .kc = KC, .mc = MC, .lanes = 4,
    .gemm = gemm_8x8, .igemm = igemm_8x8, .gemv = gemv_1x8, .dwconv = dwconv_4,
};

F32_GEMM_ENTRIES(neon, config)
