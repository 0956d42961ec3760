/* AVX-512 float kernels: an 8x32 SGEMM micro-kernel (16 zmm accumulators,
 * B rows of two vectors, A broadcast) over strided or (implicit GEMM)
 * pointed-to rows of A, a 1x(4x32) GEMV kernel, and the
 * direct depthwise conv2d with 16 channels per vector. The shape wrapper
 * and packing are in f32_gemm_common.c. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/f32_gemm.h"

#define MR 8
#define NR 32
#define KC 256
#define MC (MR * 16)
_Static_assert(MR * NR <= F32_GEMM_TILE_MAX && F32_GEMV_PANELS * NR <= F32_GEMM_TILE_MAX,
               "tail tiles must fit the driver's local tile");
_Static_assert(MC <= F32_GEMM_MC_MAX && KC <= F32_GEMM_KC_MAX, "driver's stack arrays");

static inline __m512 clamp16(__m512 v, __m512 lo, __m512 hi)
{
    /* max/min return their SECOND operand when one is NaN: NaN passes */
    return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
}

/* The 8x32 tile's accumulators c<i>0, c<i>1 (row i), shared by the
 * explicit and the implicit GEMM: start, k step over row pointers a<i>,
 * end. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define DECL(i) __m512 c##i##0, c##i##1;
#define INIT(i) c##i##0 = v0; c##i##1 = v1;
#define LOAD(i) c##i##0 = _mm512_loadu_ps(c + i * ldc); c##i##1 = _mm512_loadu_ps(c + i * ldc + 16);
#define STEP(i)                                                                                   \
    {                                                                                             \
        const __m512 va = _mm512_set1_ps(a##i[k]);                                                \
        c##i##0 = _mm512_fmadd_ps(va, b0, c##i##0);                                               \
        c##i##1 = _mm512_fmadd_ps(va, b1, c##i##1);                                               \
    }
#define CLAMP(i) c##i##0 = clamp16(c##i##0, lo, hi); c##i##1 = clamp16(c##i##1, lo, hi);
#define STORE(i) _mm512_storeu_ps(c + i * ldc, c##i##0); _mm512_storeu_ps(c + i * ldc + 16, c##i##1);
#define TILE_START()                                                                              \
    ROWS(DECL)                                                                                    \
    if (bias) {                                                                                   \
        const __m512 v0 = _mm512_loadu_ps(bias), v1 = _mm512_loadu_ps(bias + 16);                \
        ROWS(INIT)                                                                                \
    } else {                                                                                      \
        ROWS(LOAD)                                                                                \
    }
#define TILE_K_STEP()                                                                             \
    {                                                                                             \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);                      \
        b += NR;                                                                                  \
        ROWS(STEP)                                                                                \
    }
#define TILE_END()                                                                                \
    if (minmax) {                                                                                 \
        const __m512 lo = _mm512_set1_ps(minmax[0]), hi = _mm512_set1_ps(minmax[1]);             \
        ROWS(CLAMP)                                                                               \
    }                                                                                             \
    ROWS(STORE)

static void gemm_8x32(size_t mr, size_t kc, const float *a, size_t lda, const float *b, float *c,
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
    for (size_t k = 0; k < kc; k++)
        TILE_K_STEP()
    TILE_END()
}

static void igemm_8x32(size_t nseg, size_t seglen, const float *const *a, const size_t *off,
                       const float *b, float *c, size_t ldc, const float *bias,
                       const float *minmax)
{
    TILE_START()
    for (size_t s = 0; s < nseg; s++) {
        const size_t o = off[s];
        const float *a0 = a[0] + o, *a1 = a[1] + o, *a2 = a[2] + o, *a3 = a[3] + o;
        const float *a4 = a[4] + o, *a5 = a[5] + o, *a6 = a[6] + o, *a7 = a[7] + o;
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

static void gemv_1x32(size_t np, size_t kc, const float *a, const float *b, size_t b_stride,
                      float *c, const float *bias, const float *minmax)
{
    /* panels past np repeat the last one (computed, not stored) */
    const size_t o1 = np > 1 ? 1 : 0, o2 = np > 2 ? 2 : o1, o3 = np > 3 ? 3 : o2;
    const float *p0 = b, *p1 = b + o1 * b_stride, *p2 = b + o2 * b_stride, *p3 = b + o3 * b_stride;
    const float *init = bias ? bias : c;
    __m512 s00 = _mm512_loadu_ps(init), s01 = _mm512_loadu_ps(init + 16);
    __m512 s10 = _mm512_loadu_ps(init + o1 * NR), s11 = _mm512_loadu_ps(init + o1 * NR + 16);
    __m512 s20 = _mm512_loadu_ps(init + o2 * NR), s21 = _mm512_loadu_ps(init + o2 * NR + 16);
    __m512 s30 = _mm512_loadu_ps(init + o3 * NR), s31 = _mm512_loadu_ps(init + o3 * NR + 16);
    for (size_t k = 0; k < kc; k++) {
        const __m512 va = _mm512_set1_ps(a[k]);
        const size_t o = k * NR;
        s00 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p0 + o), s00);
        s01 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p0 + o + 16), s01);
        s10 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p1 + o), s10);
        s11 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p1 + o + 16), s11);
        s20 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p2 + o), s20);
        s21 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p2 + o + 16), s21);
        s30 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p3 + o), s30);
        s31 = _mm512_fmadd_ps(va, _mm512_loadu_ps(p3 + o + 16), s31);
    }
    if (minmax) {
        const __m512 lo = _mm512_set1_ps(minmax[0]), hi = _mm512_set1_ps(minmax[1]);
        s00 = clamp16(s00, lo, hi); s01 = clamp16(s01, lo, hi);
        s10 = clamp16(s10, lo, hi); s11 = clamp16(s11, lo, hi);
        s20 = clamp16(s20, lo, hi); s21 = clamp16(s21, lo, hi);
        s30 = clamp16(s30, lo, hi); s31 = clamp16(s31, lo, hi);
    }
    _mm512_storeu_ps(c, s00);
    _mm512_storeu_ps(c + 16, s01);
    if (np > 1) {
        _mm512_storeu_ps(c + NR, s10);
        _mm512_storeu_ps(c + NR + 16, s11);
    }
    if (np > 2) {
        _mm512_storeu_ps(c + 2 * NR, s20);
        _mm512_storeu_ps(c + 2 * NR + 16, s21);
    }
    if (np > 3) {
        _mm512_storeu_ps(c + 3 * NR, s30);
        _mm512_storeu_ps(c + 3 * NR + 16, s31);
    }
}

/* Depthwise: 16 output channels per vector; output channel o reads input
 * channel o / m (m = out_c / in_c): a plain load for m == 1, a gather
 * otherwise. Channel blocks outside, pixels inside, so the gather indices
 * are made once per block. */
static void dwconv_16(const struct f32_conv2d_params *p, const float *x, const float *packed,
                      float *y)
{
    const size_t C = p->out_c, m = p->out_c / p->in_c;
    const size_t cp = (C + 15) / 16 * 16;
    const float *w = packed + cp;
    const __m512 lo = _mm512_set1_ps(p->out_min), hi = _mm512_set1_ps(p->out_max);
    for (size_t c0 = 0; c0 < C; c0 += 16) {
        const __mmask16 mask = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1);
        int32_t lane_in[16];
        for (size_t i = 0; i < 16; i++)
            lane_in[i] = (int32_t)((c0 + i < C ? c0 + i : c0) / m);
        const __m512i idx = _mm512_loadu_si512(lane_in);
        const __m512 bias = _mm512_loadu_ps(packed + c0);
        for (size_t n = 0; n < p->batch; n++) {
            const float *xn = x + n * p->in_h * p->in_w * p->in_c;
            for (size_t oy = 0; oy < p->out_h; oy++) {
                float *yrow = y + (n * p->out_h + oy) * p->out_w * C;
                for (size_t ox = 0; ox < p->out_w; ox++) {
                    __m512 acc = bias;
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
                            __m512 xv = m == 1 ? _mm512_maskz_loadu_ps(mask, xp + c0)
                                               : _mm512_mask_i32gather_ps(_mm512_setzero_ps(),
                                                                          mask, idx, xp, 4);
                            __m512 wv = _mm512_loadu_ps(w + (ky * p->kernel_w + kx) * cp + c0);
                            acc = _mm512_fmadd_ps(xv, wv, acc);
                        }
                    }
                    _mm512_mask_storeu_ps(yrow + ox * C + c0, mask, clamp16(acc, lo, hi));
                }
            }
        }
    }
}

static const struct f32_gemm_config config = {
    .mr = MR, .nr = NR, .kc = KC, .mc = MC, .lanes = 16,
    .gemm = gemm_8x32, .igemm = igemm_8x32, .gemv = gemv_1x32, .dwconv = dwconv_16,
};

F32_GEMM_ENTRIES(avx512, config)
