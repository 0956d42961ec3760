/* AVX2 + FMA float kernels: a 6x16 SGEMM micro-kernel (12 ymm
 * accumulators, B rows of two vectors, A broadcast) over strided or
 * (implicit GEMM) pointed-to rows of A, a 1x(4x16) GEMV
 * kernel, and the direct depthwise conv2d with 8 channels per vector. The
 * shape wrapper and packing are in f32_gemm_common.c. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/f32_gemm.h"

#define MR 6
#define NR 16
#define KC 256
#define MC (MR * 24)
_Static_assert(MR * NR <= F32_GEMM_TILE_MAX && F32_GEMV_PANELS * NR <= F32_GEMM_TILE_MAX,
               "tail tiles must fit the driver's local tile");
_Static_assert(MC <= F32_GEMM_MC_MAX && KC <= F32_GEMM_KC_MAX, "driver's stack arrays");

static inline __m256 clamp8(__m256 v, __m256 lo, __m256 hi)
{
    /* max/min return their SECOND operand when one is NaN: NaN passes */
    return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

/* The 6x16 tile's accumulators c<i>0, c<i>1 (row i), shared by the
 * explicit and the implicit GEMM: start, k step over row pointers a<i>,
 * end. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##0, c##i##1;
#define INIT(i) c##i##0 = v0; c##i##1 = v1;
#define LOAD(i) c##i##0 = _mm256_loadu_ps(c + i * ldc); c##i##1 = _mm256_loadu_ps(c + i * ldc + 8);
#define STEP(i)                                                                                   \
    {                                                                                             \
        const __m256 va = _mm256_broadcast_ss(a##i + k);                                          \
        c##i##0 = _mm256_fmadd_ps(va, b0, c##i##0);                                               \
        c##i##1 = _mm256_fmadd_ps(va, b1, c##i##1);                                               \
    }
#define CLAMP(i) c##i##0 = clamp8(c##i##0, lo, hi); c##i##1 = clamp8(c##i##1, lo, hi);
#define STORE(i) _mm256_storeu_ps(c + i * ldc, c##i##0); _mm256_storeu_ps(c + i * ldc + 8, c##i##1);
#define TILE_START()                                                                              \
    ROWS(DECL)                                                                                    \
    if (bias) {                                                                                   \
        const __m256 v0 = _mm256_loadu_ps(bias), v1 = _mm256_loadu_ps(bias + 8);                 \
        ROWS(INIT)                                                                                \
    } else {                                                                                      \
        ROWS(LOAD)                                                                                \
    }
#define TILE_K_STEP()                                                                             \
    {                                                                                             \
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                       \
        b += NR;                                                                                  \
        ROWS(STEP)                                                                                \
    }
#define TILE_END()                                                                                \
    if (minmax) {                                                                                 \
        const __m256 lo = _mm256_set1_ps(minmax[0]), hi = _mm256_set1_ps(minmax[1]);             \
        ROWS(CLAMP)                                                                               \
    }                                                                                             \
    ROWS(STORE)

static void gemm_6x16(size_t mr, size_t kc, const float *a, size_t lda, const float *b, float *c,
                      size_t ldc, const float *bias, const float *minmax)
{
    const float *a0 = a;
    const float *a1 = mr > 1 ? a0 + lda : a0;
    const float *a2 = mr > 2 ? a1 + lda : a1;
    const float *a3 = mr > 3 ? a2 + lda : a2;
    const float *a4 = mr > 4 ? a3 + lda : a3;
    const float *a5 = mr > 5 ? a4 + lda : a4;
    TILE_START()
    for (size_t k = 0; k < kc; k++)
        TILE_K_STEP()
    TILE_END()
}

static void igemm_6x16(size_t nseg, size_t seglen, const float *const *a, const size_t *off,
                       const float *b, float *c, size_t ldc, const float *bias,
                       const float *minmax)
{
    TILE_START()
    for (size_t s = 0; s < nseg; s++) {
        const size_t o = off[s];
        const float *a0 = a[0] + o, *a1 = a[1] + o, *a2 = a[2] + o;
        const float *a3 = a[3] + o, *a4 = a[4] + o, *a5 = a[5] + o;
        for (size_t k = 0; k < seglen; k++)
            TILE_K_STEP()
    }
    TILE_END()
}
#undef TILE_START
#undef TILE_K_STEP
#undef TILE_END
#undef ROWS
#undef DECL
#undef INIT
#undef LOAD
#undef STEP
#undef CLAMP
#undef STORE

static void gemv_1x16(size_t np, size_t kc, const float *a, const float *b, size_t b_stride,
                      float *c, const float *bias, const float *minmax)
{
    /* panels past np repeat the last one (computed, not stored) */
    const size_t o1 = np > 1 ? 1 : 0, o2 = np > 2 ? 2 : o1, o3 = np > 3 ? 3 : o2;
    const float *p0 = b, *p1 = b + o1 * b_stride, *p2 = b + o2 * b_stride, *p3 = b + o3 * b_stride;
    const float *init = bias ? bias : c;
    __m256 s00 = _mm256_loadu_ps(init), s01 = _mm256_loadu_ps(init + 8);
    __m256 s10 = _mm256_loadu_ps(init + o1 * NR), s11 = _mm256_loadu_ps(init + o1 * NR + 8);
    __m256 s20 = _mm256_loadu_ps(init + o2 * NR), s21 = _mm256_loadu_ps(init + o2 * NR + 8);
    __m256 s30 = _mm256_loadu_ps(init + o3 * NR), s31 = _mm256_loadu_ps(init + o3 * NR + 8);
    for (size_t k = 0; k < kc; k++) {
        const __m256 va = _mm256_broadcast_ss(a + k);
        const size_t o = k * NR;
        s00 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p0 + o), s00);
        s01 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p0 + o + 8), s01);
        s10 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p1 + o), s10);
        s11 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p1 + o + 8), s11);
        s20 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p2 + o), s20);
        s21 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p2 + o + 8), s21);
        s30 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p3 + o), s30);
        s31 = _mm256_fmadd_ps(va, _mm256_loadu_ps(p3 + o + 8), s31);
    }
    if (minmax) {
        const __m256 lo = _mm256_set1_ps(minmax[0]), hi = _mm256_set1_ps(minmax[1]);
        s00 = clamp8(s00, lo, hi); s01 = clamp8(s01, lo, hi);
        s10 = clamp8(s10, lo, hi); s11 = clamp8(s11, lo, hi);
        s20 = clamp8(s20, lo, hi); s21 = clamp8(s21, lo, hi);
        s30 = clamp8(s30, lo, hi); s31 = clamp8(s31, lo, hi);
    }
    _mm256_storeu_ps(c, s00);
    _mm256_storeu_ps(c + 8, s01);
    if (np > 1) {
        _mm256_storeu_ps(c + NR, s10);
        _mm256_storeu_ps(c + NR + 8, s11);
    }
    if (np > 2) {
        _mm256_storeu_ps(c + 2 * NR, s20);
        _mm256_storeu_ps(c + 2 * NR + 8, s21);
    }
    if (np > 3) {
        _mm256_storeu_ps(c + 3 * NR, s30);
        _mm256_storeu_ps(c + 3 * NR + 8, s31);
    }
}

/* Depthwise: 8 output channels per vector; output channel o reads input
 * channel o / m (m = out_c / in_c): a masked load for m == 1, a gather
 * otherwise. Channel blocks outside, pixels inside, so the masks and
 * gather indices are made once per block. */
static void dwconv_8(const struct f32_conv2d_params *p, const float *x, const float *packed,
                     float *y)
{
    const size_t C = p->out_c, m = p->out_c / p->in_c;
    const size_t cp = (C + 7) / 8 * 8;
    const float *w = packed + cp;
    const __m256 lo = _mm256_set1_ps(p->out_min), hi = _mm256_set1_ps(p->out_max);
    for (size_t c0 = 0; c0 < C; c0 += 8) {
        int32_t lane_in[8], lane_on[8];
        for (size_t i = 0; i < 8; i++) {
            lane_on[i] = c0 + i < C ? -1 : 0;
            lane_in[i] = (int32_t)((c0 + i < C ? c0 + i : c0) / m);
        }
        const __m256i mask = _mm256_loadu_si256((const __m256i *)lane_on);
        const __m256i idx = _mm256_loadu_si256((const __m256i *)lane_in);
        const __m256 fmask = _mm256_castsi256_ps(mask);
        const __m256 bias = _mm256_loadu_ps(packed + c0);
        for (size_t n = 0; n < p->batch; n++) {
            const float *xn = x + n * p->in_h * p->in_w * p->in_c;
            for (size_t oy = 0; oy < p->out_h; oy++) {
                float *yrow = y + (n * p->out_h + oy) * p->out_w * C;
                for (size_t ox = 0; ox < p->out_w; ox++) {
                    __m256 acc = bias;
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
                            __m256 xv = m == 1 ? _mm256_maskload_ps(xp + c0, mask)
                                               : _mm256_mask_i32gather_ps(_mm256_setzero_ps(),
                                                                          xp, idx, fmask, 4);
                            __m256 wv = _mm256_loadu_ps(w + (ky * p->kernel_w + kx) * cp + c0);
                            acc = _mm256_fmadd_ps(xv, wv, acc);
                        }
                    }
                    _mm256_maskstore_ps(yrow + ox * C + c0, mask, clamp8(acc, lo, hi));
                }
            }
        }
    }
}

static const struct f32_gemm_config config = {
    .mr = MR, .nr = NR, .kc = KC, .mc = MC, .lanes = 8,
    .gemm = gemm_6x16, .igemm = igemm_6x16, .gemv = gemv_1x16, .dwconv = dwconv_8,
};

F32_GEMM_ENTRIES(avx2, config)
