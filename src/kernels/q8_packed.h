/* Packed int8 conv2d/dense: the layouts, the portable driver (groups,
 * im2col into scratch or rows read in place, chunks of rows) and the seam
 * to each level's GEMM micro-kernel and depthwise kernel. Internal to
 * src/kernels.
 *
 * A packed buffer starts with struct q8_packed_header (read with memcpy,
 * so no alignment is needed), then, at the byte offsets it gives:
 *   bias   int32 [out_c]             (zeros when the caller had none)
 *   wsum   int32 [out_c]             sum over k of w[o][k] (GEMM kinds)
 *   w      the weights of the kind:
 *     RAW   int8 as stored [out_c, K] (K > Q8_PACKED_MAX_K, and ref)
 *     GEMM  per group, per 16-column block (columns = the group's output
 *           channels, zeros past the last), kp/KR rows of 16 x KR:
 *             I16   KR = 2 int16: block[k/2][col][k%2]  (kp = K up to 2)
 *             U8    KR = 4 int8:  block[k/4][col][k%4]  (kp = K up to 4;
 *                   convs with kh_rows: each kernel row up to 4)
 *             U8K64 as U8 with kp = K rounded up to 64 (AMX B tiles are
 *                   16 quad-rows x 64 bytes of one block)
 *             U8K8  KR = 8 int8:  block[k/8][col][k%8]  (kp = K up to 8;
 *                   convs with kh_rows: each kernel row up to 8): one
 *                   column pair's 8 k are the 8x2 operand of I8MM's MMLA
 *           rows past the weights are zero, so whatever A holds there adds
 *           nothing.
 *     DW    int32 [kernel_h*kernel_w][cp], cp = out_c rounded up to 16:
 *           (uint16_t)w, so vpmaddwd of (x - zx) in an int32 lane (high
 *           half 0 or -1) with it is exactly (x - zx) * w.
 *
 * The GEMM A operand (im2col rows in scratch, one row per output pixel,
 * row k = (kh*kernel_w + kw)*in_c/groups + ci as in w; the vnni, dotprod
 * and i8mm levels read most convs' rows in place from the padded image
 * instead, see kh_rows and q8_gemm_args.a_row):
 *   I16  int16 x - zx; taps outside the input 0; k >= K 0.       c = 0
 *   U8, U8K64, U8K8  uint8 x + 128 (byte ^ 0x80); outside taps zx + 128;
 *        k >= K 0 (in place: image bytes, against zero weights).  c = zx + 128
 * and the s32 dot products D satisfy D - c * wsum[o] = sum (x - zx) * w
 * exactly: both sides are congruent mod 2^32 and the right side lies in
 * (-2^31, 2^31) for K <= 65535 (|x - zx| <= 255, |w| <= 128), so the
 * wrapping int32 arithmetic of the kernels gives it. Then
 *   acc = sat32(bias[o] + that), y = clamp(zy + rq(acc, M[o], shift[o]), qmin, qmax)
 * exactly as q8_conv2d__ref. */
#ifndef QUANTA_KERNELS_Q8_PACKED_H
#define QUANTA_KERNELS_Q8_PACKED_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels_q8.h"

#define Q8_PACKED_MAGIC 0x31503851 /* "Q8P1" */
#define Q8_PACKED_MAX_K 65535      /* longer reductions run the reference */
#define Q8_PACKED_ALIGN 64         /* sections start on this many bytes */

enum q8_packed_kind { Q8_PACKED_RAW = 1, Q8_PACKED_GEMM = 2, Q8_PACKED_DW = 3 };
enum q8_gemm_format {
    Q8_FORMAT_RAW = 0,
    Q8_FORMAT_I16 = 1,
    Q8_FORMAT_U8 = 2,
    Q8_FORMAT_U8K64 = 3,
    Q8_FORMAT_U8K8 = 4,
};

struct q8_packed_header {
    int32_t magic;
    int32_t kind;          /* enum q8_packed_kind */
    int32_t format;        /* enum q8_gemm_format (GEMM) */
    int32_t k, kp;         /* reduction length, padded as the format wants */
    int32_t groups;
    int32_t n_g;           /* output channels per group */
    int32_t blocks_g;      /* 16-column blocks per group */
    int32_t out_c;
    int32_t cp;            /* DW: out_c rounded up to 16 */
    int64_t block_bytes;   /* GEMM: bytes of one 16-column block */
    int64_t bias_off, wsum_off, w_off;
    /* GEMM U8 and U8K8 convs read in place (q8_packed.c, implicit A):
     * kernel_h, and the K axis is kh_rows rows of kp / kh_rows, each
     * kernel_w * in_c weights then zeros to a multiple of KR (4, 8; no
     * zeros when that run is already one: the plain layout). 0: the plain
     * layout. */
    int32_t kh_rows;
};

/* One call of a level's GEMM: C[mc x nc] = A[mc x kp] B[kp x nc] for one
 * group, then the epilogue into y. */
struct q8_gemm_args {
    int mc;                     /* rows (A holds them padded to m_align) */
    int nc;                     /* columns = output channels of the group */
    int kp;
    const void *a;              /* row i at a + i * a_stride bytes */
    size_t a_stride;
    const int8_t *b;            /* the group's first block */
    size_t b_block;             /* bytes between blocks */
    const int32_t *bias, *wsum; /* [nc], the group's channels */
    const int32_t *mult, *shift;/* [nc] when per_channel, else [1] */
    int per_channel;
    int32_t c;                  /* D - c * wsum */
    int32_t zy, qmin, qmax;
    int8_t *y;                  /* row i, column j at y[i * ldy + j] */
    size_t ldy;
    void *work;                 /* Q8_GEMM_WORK bytes, 64-aligned */
    /* Implicit A (only to a level whose ops say implicit_a): when a_row is
     * set, a is unused and row i, k = kh * (kp / a_kh) + j is the byte at
     * a_row[i] + kh * a_dy + j: a conv's kernel rows read straight from
     * its padded image (kp / a_kh a multiple of 4; the bytes past a
     * kernel row's run meet zero weights), no im2col. */
    const uint8_t *const *a_row;
    int a_kh;
    size_t a_dy;
};
#define Q8_GEMM_WORK 4096

typedef void (*q8_gemm_ukernel_fn)(const struct q8_gemm_args *args);
/* Depthwise (groups == in_c == out_c): w32 as the DW layout above. */
typedef void (*q8_dw_ukernel_fn)(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                                 const int8_t *x, const int32_t *w32, int cp,
                                 const int32_t *bias, int8_t *y);

/* n A elements from n int8 inputs: U8 formats x ^ 0x80, I16 x - zx. */
typedef void (*q8_copy_a_fn)(void *dst, const int8_t *src, size_t n, int32_t zx);

struct q8_gemm_ops {
    enum q8_gemm_format format;
    int m_align;                /* A rows padded (zeros) to a multiple of this */
    q8_gemm_ukernel_fn gemm;
    q8_dw_ukernel_fn dw;        /* required: depthwise convs always pack the DW layout */
    q8_copy_a_fn copy_a;        /* SIMD copy of long runs; NULL: portable */
    int implicit_a;             /* gemm takes q8_gemm_args.a_row; required by
                                   Q8_FORMAT_U8 and U8K8 (their convs may
                                   pack kh_rows) */
};

/* The driver (q8_packed.c), shared by every level. */
size_t q8_conv2d_pack_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s);
void q8_conv2d_pack_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s, const int8_t *w,
                        const int32_t *bias, void *packed);
size_t q8_conv2d_scratch_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s);
void q8_conv2d_run(const struct q8_gemm_ops *ops, const struct q8_conv2d_shape *s,
                   const struct q8_requant *rq, const int8_t *x, const void *packed,
                   void *scratch, int8_t *y);
size_t q8_dense_pack_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s);
void q8_dense_pack_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s, const int8_t *w,
                       const int32_t *bias, void *packed);
size_t q8_dense_scratch_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s);
void q8_dense_run(const struct q8_gemm_ops *ops, const struct q8_dense_shape *s,
                  const struct q8_requant *rq, const int8_t *x, const void *packed,
                  void *scratch, int8_t *y);

/* Whether the vnni (dotprod) and i8mm levels run s reading A in place from
 * the padded image (no im2col): for tests to count what they cover. */
int q8_conv2d_in_place__vnni(const struct q8_conv2d_shape *s);
int q8_conv2d_in_place__i8mm(const struct q8_conv2d_shape *s);

/* The level GEMMs and depthwise kernels (src/kernels/x86/). */
void q8_gemm_6x16__avx2(const struct q8_gemm_args *args);
void q8_gemm_8x32__avx512(const struct q8_gemm_args *args);
void q8_gemm_8x32__vnni(const struct q8_gemm_args *args);
void q8_gemm_32x32__amx(const struct q8_gemm_args *args);
void q8_dwconv__avx2(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                     const int8_t *x, const int32_t *w32, int cp, const int32_t *bias, int8_t *y);
void q8_dwconv__avx512(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                       const int8_t *x, const int32_t *w32, int cp, const int32_t *bias,
                       int8_t *y);

/* The AArch64 GEMMs (src/kernels/arm64/): neon on the I16 layout, dotprod
 * on U8, i8mm on U8K8; the depthwise kernel of all three. */
void q8_gemm_4x16__neon(const struct q8_gemm_args *args);
void q8_gemm_4x16__dotprod(const struct q8_gemm_args *args);
void q8_gemm_4x16__i8mm(const struct q8_gemm_args *args);
void q8_dwconv__neon(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                     const int8_t *x, const int32_t *w32, int cp, const int32_t *bias, int8_t *y);

/* The A copies of the formats (q8_copy_a_fn). */
void q8_copy_a_i16__avx2(void *dst, const int8_t *src, size_t n, int32_t zx);
void q8_copy_a_i16__avx512(void *dst, const int8_t *src, size_t n, int32_t zx);
void q8_copy_a_u8__avx512(void *dst, const int8_t *src, size_t n, int32_t zx);

/* AMX tile permission (q8_dispatch.c): asks Linux once per process
 * (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); true when granted
 * and the CPU has AMX-INT8. */
int q8_amx_ready(void);

#endif
