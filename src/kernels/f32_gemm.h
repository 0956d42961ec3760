/* Internal to src/kernels: the float GEMM family behind the packed
 * conv2d/dense entries of the SIMD tables (x86 and arm64).
 *
 * C[M, N] = clamp(bias + A[M, K] * B[K, N]) with A row-major (row stride
 * lda: NHWC pixels of a 1x1 conv or dense inputs) or, for other convs,
 * read in place from a padded image (implicit GEMM: a pointer per row,
 * K as segments at fixed offsets from it), B packed once from the weights
 * into panels of nr columns, C row-major (row stride ldc).
 *
 * Packed layout of a GEMM-shaped conv2d/dense, per group g (dense: one
 * group), with K = kernel_h * kernel_w * (in_c / groups), N = out_c /
 * groups and Np = N rounded up to nr:
 *   [bias: Np floats][panel 0: K x nr][panel 1: K x nr] ... (Np / nr panels)
 * panel j row k holds B[k][j*nr .. j*nr+nr) = w[g*N + n][k]; columns past
 * N are zero. Depthwise conv2d (groups == in_c > 1, out_c = in_c * m):
 *   [bias: Cp floats][tap t = ky*kernel_w + kx: Cp floats] ...
 * with Cp = out_c rounded up to the vector lanes, zero past out_c.
 *
 * Summation order (what makes rows independent of the batch): every
 * output element starts from its bias and adds its K products in order
 * k = 0, 1, ..., in blocks of at most kc (the accumulator goes through C
 * between blocks, which is exact); the block bounds depend on the shape
 * only (dense: K; conv2d: K and the kernel-row layout). The ukernels and
 * the gemv kernel all follow it, so a row gets the same bits whichever of
 * them computes it and whichever piece of a split op it is in. */
#ifndef QUANTA_F32_GEMM_H
#define QUANTA_F32_GEMM_H

#include <stddef.h>
#include "kernels/kernels.h"

#define F32_GEMM_TILE_MAX 256   /* mr * nr of every level, for tail tiles */
#define F32_GEMV_PANELS 4       /* panels one gemv call covers */
#define F32_GEMM_MC_MAX 256     /* mc of every level: row pointers on the stack */
#define F32_GEMM_KC_MAX 512     /* kc of every level: segment offsets on the stack */

/* MR x nr tile: rows i < mr of A at a + i*lda (rows >= mr repeat row mr-1
 * and are computed but must have room in c: the caller passes a full
 * MR x nr tile); b = kc x nr packed rows; c rows at c + i*ldc. bias (nr
 * floats) starts the sums, else they continue from c; minmax ([lo, hi])
 * clamps at the end when non-NULL (last k block). */
typedef void (*f32_gemm_ukernel_fn)(size_t mr, size_t kc, const float *a, size_t lda,
                                    const float *b, float *c, size_t ldc, const float *bias,
                                    const float *minmax);

/* Implicit-GEMM tile (conv2d reading A in place from the padded image):
 * row i < MR of A is the concatenation over s < nseg of the seglen floats
 * at a[i] + off[s] (the caller passes MR row pointers, repeating the last
 * one for a short tile); b = (nseg * seglen) x nr packed rows; c, ldc,
 * bias and minmax as for the gemm ukernel, MR full rows of c. */
typedef void (*f32_igemm_ukernel_fn)(size_t nseg, size_t seglen, const float *const *a,
                                     const size_t *off, const float *b, float *c, size_t ldc,
                                     const float *bias, const float *minmax);

/* One row of A against np <= F32_GEMV_PANELS consecutive panels: b is the
 * first panel's kc x nr block, the next ones b_stride floats apart; c and
 * bias hold np * nr floats (panels past np are not written). */
typedef void (*f32_gemv_ukernel_fn)(size_t np, size_t kc, const float *a, const float *b,
                                    size_t b_stride, float *c, const float *bias,
                                    const float *minmax);

/* The whole depthwise conv2d over packed weights (layout above). */
typedef void (*f32_dwconv_fn)(const struct f32_conv2d_params *p, const float *x,
                              const float *packed, float *y);

struct f32_gemm_config {
    size_t mr, nr;   /* micro-tile rows (MR) and columns (panel width) */
    size_t kc;       /* k block: kc x nr of B stays in L1 across row tiles */
    size_t mc;       /* conv2d rows per chunk (a multiple of mr) */
    size_t lanes;    /* vector width in floats (depthwise channel padding) */
    f32_gemm_ukernel_fn gemm;
    f32_igemm_ukernel_fn igemm;
    f32_gemv_ukernel_fn gemv;
    f32_dwconv_fn dwconv;
};

/* The shape wrapper (f32_gemm_common.c): layout, packing, padded images, blocking
 * and the choice of 1x1 / depthwise / general conv, for any level's config. */
size_t f32_gemm_conv2d_pack_size(const struct f32_gemm_config *cfg,
                                 const struct f32_conv2d_params *p);
void f32_gemm_conv2d_pack(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                          const float *w, const float *b, float *packed);
size_t f32_gemm_conv2d_scratch_size(const struct f32_gemm_config *cfg,
                                    const struct f32_conv2d_params *p);
void f32_gemm_conv2d(const struct f32_gemm_config *cfg, const struct f32_conv2d_params *p,
                     const float *x, const float *packed, float *scratch, float *y);
size_t f32_gemm_dense_pack_size(const struct f32_gemm_config *cfg,
                                const struct f32_dense_params *p);
void f32_gemm_dense_pack(const struct f32_gemm_config *cfg, const struct f32_dense_params *p,
                         const float *w, const float *b, float *packed);
void f32_gemm_dense(const struct f32_gemm_config *cfg, const struct f32_dense_params *p,
                    const float *x, const float *packed, float *y);

/* Whether conv2d p runs as depthwise (groups == in_c > 1). */
static inline int f32_gemm_is_depthwise(const struct f32_conv2d_params *p)
{
    return p->groups > 1 && p->groups == p->in_c;
}

/* The seven packed conv2d/dense entries of a level (kernels.h), each the
 * shape wrapper above run with that level's config. */
#define F32_GEMM_ENTRIES(isa, cfg)                                                             \
    size_t f32_conv2d_pack_size__##isa(const struct f32_conv2d_params *p)                      \
    {                                                                                          \
        return f32_gemm_conv2d_pack_size(&(cfg), p);                                           \
    }                                                                                          \
    void f32_conv2d_pack__##isa(const struct f32_conv2d_params *p, const float *w,             \
                                const float *b, float *packed)                                 \
    {                                                                                          \
        f32_gemm_conv2d_pack(&(cfg), p, w, b, packed);                                         \
    }                                                                                          \
    size_t f32_conv2d_scratch_size__##isa(const struct f32_conv2d_params *p)                   \
    {                                                                                          \
        return f32_gemm_conv2d_scratch_size(&(cfg), p);                                        \
    }                                                                                          \
    void f32_conv2d_packed__##isa(const struct f32_conv2d_params *p, const float *x,           \
                                  const float *packed, float *scratch, float *y)               \
    {                                                                                          \
        f32_gemm_conv2d(&(cfg), p, x, packed, scratch, y);                                     \
    }                                                                                          \
    size_t f32_dense_pack_size__##isa(const struct f32_dense_params *p)                        \
    {                                                                                          \
        return f32_gemm_dense_pack_size(&(cfg), p);                                            \
    }                                                                                          \
    void f32_dense_pack__##isa(const struct f32_dense_params *p, const float *w,               \
                               const float *b, float *packed)                                  \
    {                                                                                          \
        f32_gemm_dense_pack(&(cfg), p, w, b, packed);                                          \
    }                                                                                          \
    void f32_dense_packed__##isa(const struct f32_dense_params *p, const float *x,             \
                                 const float *packed, float *y)                                \
    {                                                                                          \
        f32_gemm_dense(&(cfg), p, x, packed, y);                                               \
    }

#endif
