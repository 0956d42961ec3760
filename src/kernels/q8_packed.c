/* Packed int8 conv2d/dense: packing, scratch sizes and the driver that
 * every level shares (q8_packed.h states the layouts and why the wrapping
 * int32 sums are exact). Portable C: the level's micro-kernels come in
 * through struct q8_gemm_ops. */
#include "kernels/q8_packed.h"

#include <string.h>

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static int64_t conv_k(const struct q8_conv2d_shape *s)
{
    return (int64_t)s->kernel_h * s->kernel_w * (s->in_c / s->groups);
}

static int is_depthwise(const struct q8_conv2d_shape *s)
{
    return s->groups == s->in_c && s->out_c == s->in_c;
}

static size_t kp_of(enum q8_gemm_format f, int64_t k)
{
    switch (f) {
    case Q8_FORMAT_I16: return round_up((size_t)k, 2);
    case Q8_FORMAT_U8: return round_up((size_t)k, 4);
    case Q8_FORMAT_U8K64: return round_up((size_t)k, 64);
    case Q8_FORMAT_U8K8: return round_up((size_t)k, 8);
    case Q8_FORMAT_RAW: break;
    }
    return (size_t)k;
}

static size_t elem_of(enum q8_gemm_format f)
{
    return f == Q8_FORMAT_I16 ? 2 : 1;
}

/* The header for a reduction of k per group: RAW when the format is RAW or
 * k is too long, DW when depthwise is asked for, else GEMM. */
static struct q8_packed_header plan(enum q8_gemm_format f, int64_t k, int groups, int out_c,
                                    int taps, int depthwise)
{
    struct q8_packed_header h;
    memset(&h, 0, sizeof h);
    h.magic = Q8_PACKED_MAGIC;
    h.k = (int32_t)(k > INT32_MAX ? INT32_MAX : k);
    h.groups = groups;
    h.out_c = out_c;
    h.n_g = out_c / groups;
    const size_t head = round_up(sizeof h, Q8_PACKED_ALIGN);
    const size_t chan = round_up((size_t)out_c * sizeof(int32_t), Q8_PACKED_ALIGN);
    h.bias_off = (int64_t)head;
    h.wsum_off = (int64_t)(head + chan);
    h.w_off = (int64_t)(head + 2 * chan);
    if (f == Q8_FORMAT_RAW || k > Q8_PACKED_MAX_K) {
        h.kind = Q8_PACKED_RAW;
        h.format = Q8_FORMAT_RAW;
        h.kp = h.k;
    } else if (depthwise) {
        h.kind = Q8_PACKED_DW;
        h.format = f;
        h.kp = h.k;
        h.cp = (int32_t)round_up((size_t)out_c, 16);
        (void)taps;
    } else {
        h.kind = Q8_PACKED_GEMM;
        h.format = f;
        h.kp = (int32_t)kp_of(f, k);
        h.blocks_g = (h.n_g + 15) / 16;
        h.block_bytes = (int64_t)((size_t)h.kp * 16 * elem_of(f));
    }
    return h;
}

static int is_pointwise(const struct q8_conv2d_shape *s)
{
    return s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_top == 0 && s->pad_left == 0 && s->out_h == s->in_h && s->out_w == s->in_w;
}

/* The plan of a conv. U8 and U8K8 (the vnni, dotprod and i8mm levels,
 * which read A in place) pack by kernel rows when each is one run of the
 * padded image (groups 1, dilation_w 1; pointwise convs have no padded
 * image): a run not a multiple of 4 (U8K8: 8) is padded with zero weights,
 * so the kernel can read whole quads (octets) from the image (the bytes
 * past the run meet zeros), unless that
 * costs over twice the MACs of the plain layout (then im2col): copying
 * rows of a few bytes costs more than the zero MACs up to there (a 3x3
 * conv over 3 channels: 36 instead of 28, faster with no im2col). */
static struct q8_packed_header conv_plan(enum q8_gemm_format f, const struct q8_conv2d_shape *s)
{
    const int64_t k = conv_k(s);
    struct q8_packed_header h =
        plan(f, k, s->groups, s->out_c, s->kernel_h * s->kernel_w, is_depthwise(s));
    if (h.kind != Q8_PACKED_GEMM || (f != Q8_FORMAT_U8 && f != Q8_FORMAT_U8K8) ||
        s->groups != 1 || s->dilation_w != 1 || is_pointwise(s))
        return h;
    const size_t kr = f == Q8_FORMAT_U8K8 ? 8 : 4;
    const int64_t kp_rows =
        (int64_t)s->kernel_h * (int64_t)round_up((size_t)(k / s->kernel_h), kr);
    if (kp_rows > (int64_t)h.kp * 2)
        return h;
    h.kh_rows = s->kernel_h;
    h.kp = (int32_t)kp_rows;
    h.block_bytes = (int64_t)h.kp * 16;
    return h;
}

static size_t packed_bytes(const struct q8_packed_header *h, int64_t k, int taps)
{
    switch (h->kind) {
    case Q8_PACKED_RAW: return (size_t)h->w_off + (size_t)h->out_c * (size_t)k;
    case Q8_PACKED_DW: return (size_t)h->w_off + (size_t)taps * (size_t)h->cp * sizeof(int32_t);
    default: return (size_t)h->w_off + (size_t)h->groups * h->blocks_g * (size_t)h->block_bytes;
    }
}

/* Writes the packed form of w [out_c, k] (k per group; group g's output
 * channels are rows g*n_g ...). */
static void pack_into(const struct q8_packed_header *h, const int8_t *w, const int32_t *bias,
                      int taps, void *packed)
{
    uint8_t *base = packed;
    memset(base, 0, packed_bytes(h, h->k, taps));
    memcpy(base, h, sizeof *h);
    int32_t *pb = (int32_t *)(void *)(base + h->bias_off);
    int32_t *ps = (int32_t *)(void *)(base + h->wsum_off);
    const int64_t k = h->k;
    for (int o = 0; o < h->out_c; o++) {
        int32_t sum = 0; /* |sum| <= 65535 * 128; not needed (nor bounded) for RAW */
        for (int64_t i = 0; h->kind != Q8_PACKED_RAW && i < k; i++)
            sum += w[(int64_t)o * k + i];
        int32_t b = bias ? bias[o] : 0;
        memcpy(pb + o, &b, sizeof b);
        memcpy(ps + o, &sum, sizeof sum);
    }
    uint8_t *pw = base + h->w_off;
    if (h->kind == Q8_PACKED_RAW) {
        memcpy(pw, w, (size_t)h->out_c * (size_t)k);
        return;
    }
    if (h->kind == Q8_PACKED_DW) {
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < h->out_c; c++) {
                const int32_t v = (int32_t)(uint16_t)(int16_t)w[(int64_t)c * taps + t];
                memcpy(pw + ((size_t)t * h->cp + c) * sizeof(int32_t), &v, sizeof v);
            }
        return;
    }
    for (int g = 0; g < h->groups; g++)
        for (int j = 0; j < h->n_g; j++) {
            const int o = g * h->n_g + j;
            uint8_t *blk = pw + ((size_t)g * h->blocks_g + (size_t)(j / 16)) * h->block_bytes;
            const int col = j % 16;
            /* kh_rows: weight i of kernel row i / run sits at row i / run * run_p + i % run */
            const int64_t run = h->kh_rows ? k / h->kh_rows : k;
            const int64_t run_p = h->kh_rows ? h->kp / h->kh_rows : k;
            for (int64_t i0 = 0; i0 < k; i0++) {
                const int8_t v = w[(int64_t)o * k + i0];
                const int64_t i = i0 / run * run_p + i0 % run;
                if (h->format == Q8_FORMAT_I16) {
                    const int16_t v16 = v;
                    memcpy(blk + (((size_t)(i / 2) * 16 + col) * 2 + (size_t)(i % 2)) * 2, &v16,
                           sizeof v16);
                } else if (h->format == Q8_FORMAT_U8K8) {
                    blk[((size_t)(i / 8) * 16 + col) * 8 + (size_t)(i % 8)] = (uint8_t)v;
                } else {
                    blk[((size_t)(i / 4) * 16 + col) * 4 + (size_t)(i % 4)] = (uint8_t)v;
                }
            }
        }
}

/* Rows of A per chunk: about 192 KiB of A, a multiple of 32, in [32, 256]. */
static size_t chunk_rows(size_t a_stride)
{
    size_t mc = (size_t)192 * 1024 / a_stride;
    mc = mc < 32 ? 32 : mc > 256 ? 256 : mc;
    return mc / 32 * 32;
}

/* Bytes past the im2col rows that the fixed-size copies may write, and
 * past the padded image that they may read (see ---- im2col ----). */
#define RAW_SLACK 64

static size_t scratch_bytes(const struct q8_packed_header *h)
{
    if (h->kind != Q8_PACKED_GEMM)
        return 0;
    const size_t a_stride = (size_t)h->kp * elem_of((enum q8_gemm_format)h->format);
    const size_t mc = chunk_rows(a_stride);
    /* A, then the int8 im2col rows (the I16 stage; U8 builds in A), each
     * followed by RAW_SLACK bytes; convs add the padded image after them
     * (q8_conv2d_scratch_size_fmt). */
    const size_t stage = h->format == Q8_FORMAT_I16 ? mc * (size_t)h->kp + RAW_SLACK : 0;
    return Q8_PACKED_ALIGN + Q8_GEMM_WORK + mc * a_stride + RAW_SLACK + stage;
}

/* ---- A rows ---- */

/* Writes A elements from int8 inputs and padding taps, with the level's
 * SIMD copy where it has one. */
struct a_writer {
    enum q8_gemm_format f;
    size_t elem;
    int32_t zx;
    uint8_t pad_u8;             /* zx + 128: the U8 padding byte */
    q8_copy_a_fn copy;
};

static void copy_portable(void *dst, const int8_t *src, size_t n, int32_t zx, int i16)
{
    if (i16) {
        int16_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = (int16_t)(src[i] - zx);
    } else {
        uint8_t *d = dst;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, src + i, 8);
            v ^= UINT64_C(0x8080808080808080);
            memcpy(d + i, &v, 8);
        }
        for (; i < n; i++)
            d[i] = (uint8_t)src[i] ^ 0x80u;
    }
}

/* ---- im2col ----
 * Each image is first copied once into a padded buffer (struct pad_img):
 * every input value as its A byte (U8: x ^ 0x80; I16: x as is), the
 * padding around it as the padding's byte (U8 zx + 128; I16 zx). Every
 * tap of every output pixel then lies inside that buffer, so a row is a
 * few plain copies with no bounds test:
 *   U8   straight into A, k >= K 0;
 *   I16  into an int8 stage, k >= K zx; ONE conversion of the chunk by
 *        the level's copy_a (x - zx) then gives A (padding and tail 0).
 * The copies are fixed-size (8, 16 or 32-byte pieces: no call, no byte
 * loop): the bytes they write past a run belong to later taps or rows of
 * the chunk, written afterwards in increasing order, or to the RAW_SLACK
 * bytes after it; the bytes they read past a run lie in the padded buffer
 * or its RAW_SLACK zeroed bytes. */

/* The padded image: ph x pw pixels of in_c, input pixel (iy, ix) at
 * (iy + pad_top, ix + pad_left); ph, pw cover every tap of every output. */
struct pad_img {
    int8_t *buf;
    int ph, pw;
    int64_t b;                  /* the image it holds, -1 none */
};

static void pad_dims(const struct q8_conv2d_shape *s, int *ph, int *pw)
{
    const int64_t nh = (int64_t)(s->out_h - 1) * s->stride_h +
                       (int64_t)(s->kernel_h - 1) * s->dilation_h + 1;
    const int64_t nw = (int64_t)(s->out_w - 1) * s->stride_w +
                       (int64_t)(s->kernel_w - 1) * s->dilation_w + 1;
    const int64_t h = (int64_t)s->pad_top + s->in_h, w = (int64_t)s->pad_left + s->in_w;
    *ph = (int)(nh > h ? nh : h);
    *pw = (int)(nw > w ? nw : w);
}

static size_t pad_bytes(const struct q8_conv2d_shape *s)
{
    int ph, pw;
    pad_dims(s, &ph, &pw);
    return (size_t)ph * (size_t)pw * (size_t)s->in_c + RAW_SLACK;
}

/* Fills p->buf with image b. */
static void pad_image(const struct a_writer *w, const struct q8_conv2d_shape *s,
                      const int8_t *x, int64_t b, struct pad_img *p)
{
    const size_t c = (size_t)s->in_c;
    const size_t row = (size_t)p->pw * c;
    const int u8 = w->f != Q8_FORMAT_I16;
    const int pad = u8 ? w->pad_u8 : (uint8_t)(int8_t)w->zx;
    const size_t left = (size_t)s->pad_left * c, in_row = (size_t)s->in_w * c;
    const int8_t *xb = x + b * s->in_h * (int64_t)in_row;
    for (int y = 0; y < p->ph; y++) {
        int8_t *d = p->buf + (size_t)y * row;
        const int iy = y - s->pad_top;
        if (iy < 0 || iy >= s->in_h) {
            memset(d, pad, row);
            continue;
        }
        memset(d, pad, left);
        const int8_t *src = xb + (size_t)iy * in_row;
        if (!u8)
            memcpy(d + left, src, in_row);
        else if (w->copy)
            w->copy(d + left, src, in_row, w->zx);
        else
            copy_portable(d + left, src, in_row, w->zx, 0);
        memset(d + left + in_row, pad, row - left - in_row);
    }
    memset(p->buf + (size_t)p->ph * row, 0, RAW_SLACK);
    p->b = b;
}

/* n bytes, W: 8 or 16 (one copy of W), 32 (32-byte pieces), 0 (memcpy). */
static inline __attribute__((always_inline)) void run_copy(int8_t *d, const int8_t *p,
                                                           size_t n, const int W)
{
    if (W == 32) {
        for (size_t o = 0; o < n; o += 32)
            memcpy(d + o, p + o, 32);
    } else if (W) {
        memcpy(d, p, (size_t)W);
    } else {
        memcpy(d, p, n);
    }
}

static inline void tail_fill(int8_t *dst, uint64_t v8, size_t n)
{
    if (n <= 8) {
        memcpy(dst, &v8, 8);
    } else if (n <= 16) {
        memcpy(dst, &v8, 8);
        memcpy(dst + 8, &v8, 8);
    } else {
        memset(dst, (int)(v8 & 0xFF), n);
    }
}

/* n rows of consecutive output pixels of one output row: per kernel row
 * kh_n, kw_n runs of run bytes from src + kh * dy + kw * dxk; src advances
 * by dx per pixel. kh_n / kw_n are constants when inlined with them. */
static inline __attribute__((always_inline)) void pixel_rows(
    int8_t *dst, const int8_t *src, int n, size_t kp, const int kh_n, const int kw_n,
    int64_t dy, int64_t dxk, int64_t dx, size_t run, size_t tail, uint64_t tail8, const int W)
{
    for (int i = 0; i < n; i++, dst += kp, src += dx) {
        int8_t *d = dst;
        for (int kh = 0; kh < kh_n; kh++) {
            const int8_t *p = src + kh * dy;
            for (int kw = 0; kw < kw_n; kw++, d += run, p += dxk)
                run_copy(d, p, run, W);
        }
        if (tail)
            tail_fill(d, tail8, tail);
    }
}

/* pixel_rows with the copy size for run, and 3x1 runs (3x3 kernels
 * over whole kernel rows) unrolled. */
static inline __attribute__((always_inline)) void pixel_rows_w(
    int8_t *dst, const int8_t *src, int n, size_t kp, int kh_n, int kw_n, int64_t dy,
    int64_t dxk, int64_t dx, size_t run, size_t tail, uint64_t tail8, const int W)
{
    if (kh_n == 3 && kw_n == 1)
        pixel_rows(dst, src, n, kp, 3, 1, dy, dxk, dx, run, tail, tail8, W);
    else
        pixel_rows(dst, src, n, kp, kh_n, kw_n, dy, dxk, dx, run, tail, tail8, W);
}

static void pixel_rows_any(int8_t *dst, const int8_t *src, int n, size_t kp, int kh_n, int kw_n,
                           int64_t dy, int64_t dxk, int64_t dx, size_t run, size_t tail,
                           uint64_t tail8)
{
    if (run <= 8)
        pixel_rows_w(dst, src, n, kp, kh_n, kw_n, dy, dxk, dx, run, tail, tail8, 8);
    else if (run <= 16)
        pixel_rows_w(dst, src, n, kp, kh_n, kw_n, dy, dxk, dx, run, tail, tail8, 16);
    else if (run <= 256)
        pixel_rows_w(dst, src, n, kp, kh_n, kw_n, dy, dxk, dx, run, tail, tail8, 32);
    else
        pixel_rows(dst, src, n, kp, kh_n, kw_n, dy, dxk, dx, run, tail, tail8, 0);
}

/* Rows [0, mc) (stride kp bytes) for output pixels r0 .. r0 + mc - 1 of
 * group g, one output row (b, oy) at a time. With groups == 1 and
 * dilation_w == 1 a kernel row is one run of kernel_w * in_c bytes, else
 * kernel_w runs of in_c / groups. */
static void im2col_rows(const struct a_writer *w, const struct q8_conv2d_shape *s,
                        const int8_t *x, int g, int64_t r0, int mc, int8_t *rows, size_t kp,
                        struct pad_img *p)
{
    const int cg = s->in_c / s->groups;
    const size_t tail = kp - (size_t)s->kernel_h * s->kernel_w * cg;
    const uint64_t tail8 = UINT64_C(0x0101010101010101) *
                           (w->f == Q8_FORMAT_I16 ? (uint8_t)(int8_t)w->zx : 0u);
    const int whole = s->groups == 1 && s->dilation_w == 1;
    const int kw_n = whole ? 1 : s->kernel_w;
    const size_t run = whole ? (size_t)s->kernel_w * cg : (size_t)cg;
    const int64_t prow = (int64_t)p->pw * s->in_c;
    const int64_t dy = (int64_t)s->dilation_h * prow;
    const int64_t dxk = (int64_t)s->dilation_w * s->in_c;
    const int64_t dx = (int64_t)s->stride_w * s->in_c;
    const int64_t pix = (int64_t)s->out_h * s->out_w;
    int64_t b = r0 / pix;
    const int64_t rem = r0 % pix;
    int oy = (int)(rem / s->out_w), ox = (int)(rem % s->out_w);
    int i = 0;
    while (i < mc) {
        if (p->b != b)
            pad_image(w, s, x, b, p);
        const int n = s->out_w - ox < mc - i ? s->out_w - ox : mc - i;
        const int8_t *src = p->buf + (int64_t)oy * s->stride_h * prow + ox * dx + (int64_t)g * cg;
        pixel_rows_any(rows + (size_t)i * kp, src, n, kp, s->kernel_h, kw_n, dy, dxk, dx, run,
                       tail, tail8);
        i += n;
        ox += n;
        if (ox == s->out_w) {
            ox = 0;
            if (++oy == s->out_h) {
                oy = 0;
                b++;
            }
        }
    }
}

/* n A elements from n int8 values (a chunk's rows, or a matrix row). */
static void convert_rows(const struct a_writer *w, uint8_t *a, const int8_t *raw, size_t n)
{
    if (w->copy)
        w->copy(a, raw, n, w->zx);
    else
        copy_portable(a, raw, n, w->zx, w->f == Q8_FORMAT_I16);
}

/* A rows [0, mc) from rows r0 .. of a [rows, ld] int8 matrix, columns
 * [c0, c0 + n): dense (ld = n = in_features), and a 1x1 stride-1 unpadded
 * conv (ld = in_c, pixels are rows; no im2col). Contiguous rows (n == ld
 * and no K padding) are one copy. */
static void matrix_rows(const struct a_writer *w, const int8_t *x, int64_t ld, int64_t c0,
                        size_t n, int64_t r0, int mc, uint8_t *a, size_t a_stride)
{
    const int8_t *src = x + r0 * ld + c0;
    if ((int64_t)n == ld && n * w->elem == a_stride) {
        convert_rows(w, a, src, n * (size_t)mc);
        return;
    }
    const size_t tail = a_stride - n * w->elem;
    for (int i = 0; i < mc; i++) {
        uint8_t *row = a + (size_t)i * a_stride;
        convert_rows(w, row, src + (int64_t)i * ld, n);
        if (tail)
            memset(row + a_stride - tail, 0, tail);
    }
}

/* ---- the driver ---- */

static void read_header(const void *packed, struct q8_packed_header *h)
{
    memcpy(h, packed, sizeof *h);
}

static void *align_ptr(void *p)
{
    return (void *)(((uintptr_t)p + (Q8_PACKED_ALIGN - 1)) & ~(uintptr_t)(Q8_PACKED_ALIGN - 1));
}

/* The source of the A rows: a conv2d (im2col) or a dense input. */
struct gemm_rows {
    const struct q8_conv2d_shape *conv; /* NULL: dense */
    const int8_t *x;
    int in_features;
};

/* A rows [0, mc) of a conv chunk (U8 straight into A; I16 through stage). */
static void im2col_chunk(const struct a_writer *w, const struct q8_conv2d_shape *s,
                         const int8_t *x, int g, int64_t r0, int mc, uint8_t *a, int kp,
                         int8_t *stage, struct pad_img *p)
{
    if (w->f != Q8_FORMAT_I16) {
        im2col_rows(w, s, x, g, r0, mc, (int8_t *)a, (size_t)kp, p);
        return;
    }
    im2col_rows(w, s, x, g, r0, mc, stage, (size_t)kp, p);
    convert_rows(w, a, stage, (size_t)mc * (size_t)kp);
}

/* Rows per GEMM call when A is implicit (the row pointers on the stack). */
#define IMPLICIT_ROWS 256

/* Whether A rows are read in place from the padded image: packed by
 * kernel rows (conv_plan). A thread's piece of a conv may be pointwise
 * (run_gemm makes no padded image for it): its kernel_h is 1, where the
 * kernel row layout is the plain one, so matrix_rows serves it. */
static int implicit_ok(const struct q8_gemm_ops *ops, const struct q8_packed_header *h,
                       const struct q8_conv2d_shape *s)
{
    return ops->implicit_a && h->kh_rows > 0 && !is_pointwise(s);
}

/* Row pointers of the output pixels r .. r + n - 1 of the image in p
 * (group 0): pixel (oy, ox) starts its kernel window at row oy * stride_h,
 * column ox * stride_w of the padded image. */
static void implicit_rows(const struct q8_conv2d_shape *s, const struct pad_img *p, int64_t r,
                          int n, const uint8_t **rowp)
{
    const int64_t prow = (int64_t)p->pw * s->in_c;
    const int64_t dx = (int64_t)s->stride_w * s->in_c;
    const int oy = (int)(r / s->out_w);
    int ox = (int)(r % s->out_w);
    const uint8_t *line = (const uint8_t *)p->buf + (int64_t)oy * s->stride_h * prow;
    const uint8_t *px = line + ox * dx;
    for (int i = 0; i < n; i++, px += dx) {
        if (ox++ == s->out_w) {
            ox = 1;
            line += (int64_t)s->stride_h * prow;
            px = line;
        }
        rowp[i] = px;
    }
}

/* Runs the GEMMs of rows [0, m) in chunks of at most chunk_rows (A stays
 * in L2), per group; with an implicit A, in chunks of at most
 * IMPLICIT_ROWS inside one image (the padded buffer holds one). */
static void run_gemm(const struct q8_gemm_ops *ops, const struct q8_packed_header *h,
                     const struct gemm_rows *src, int64_t m, const struct q8_requant *rq,
                     const void *packed, void *scratch, int8_t *y)
{
    const enum q8_gemm_format f = (enum q8_gemm_format)h->format;
    const size_t elem = elem_of(f);
    const size_t a_stride = (size_t)h->kp * elem;
    const size_t mc_max = chunk_rows(a_stride);
    uint8_t *work = align_ptr(scratch);
    uint8_t *a = work + Q8_GEMM_WORK;
    /* the I16 int8 stage (scratch_bytes); U8 builds its rows in A */
    int8_t *stage = f == Q8_FORMAT_I16 ? (int8_t *)(a + mc_max * a_stride + RAW_SLACK)
                                       : (int8_t *)a;
    const uint8_t *base = packed;
    const int32_t *bias = (const int32_t *)(const void *)(base + h->bias_off);
    const int32_t *wsum = (const int32_t *)(const void *)(base + h->wsum_off);
    const int8_t *w = (const int8_t *)(base + h->w_off);
    const int32_t zx = rq->in_zero_point;
    const struct q8_conv2d_shape *s = src->conv;
    const int per_channel = rq->n != 1;
    const struct a_writer aw = {f, elem, zx, (uint8_t)(zx + 128), ops->copy_a};
    const int pointwise = s && is_pointwise(s);
    /* the padded image after A (and the I16 stage): scratch_bytes + pad_bytes */
    struct pad_img pimg = {NULL, 0, 0, -1};
    if (s && !pointwise) {
        pimg.buf = (int8_t *)(a + mc_max * a_stride + RAW_SLACK) +
                   (f == Q8_FORMAT_I16 ? mc_max * (size_t)h->kp + RAW_SLACK : 0);
        pad_dims(s, &pimg.ph, &pimg.pw);
    }
    const int implicit = s && implicit_ok(ops, h, s);
    const uint8_t *rowp[IMPLICIT_ROWS];
    const int64_t pix = s ? (int64_t)s->out_h * s->out_w : 1;
    const int64_t step_max = implicit ? IMPLICIT_ROWS : (int64_t)mc_max;
    for (int g = 0; g < h->groups; g++) {
        for (int64_t m0 = 0, mc = 0; m0 < m; m0 += mc) {
            mc = m - m0 < step_max ? m - m0 : step_max;
            if (implicit) {
                const int64_t b = m0 / pix, r = m0 % pix;
                mc = pix - r < mc ? pix - r : mc;
                if (pimg.b != b)
                    pad_image(&aw, s, src->x, b, &pimg);
                implicit_rows(s, &pimg, r, (int)mc, rowp);
            }
            const int rows = (int)round_up((size_t)mc, (size_t)ops->m_align);
            if (!implicit) {
                if (!s)
                    matrix_rows(&aw, src->x, src->in_features, 0, (size_t)src->in_features, m0,
                                (int)mc, a, a_stride);
                else if (pointwise)
                    matrix_rows(&aw, src->x, s->in_c, (int64_t)g * (s->in_c / s->groups),
                                (size_t)h->k, m0, (int)mc, a, a_stride);
                else
                    im2col_chunk(&aw, s, src->x, g, m0, (int)mc, a, h->kp, stage, &pimg);
                if (rows > mc)
                    memset(a + (size_t)mc * a_stride, 0, (size_t)(rows - mc) * a_stride);
            }
            const int o0 = g * h->n_g;
            const struct q8_gemm_args args = {
                .mc = (int)mc,
                .nc = h->n_g,
                .kp = h->kp,
                .a = a,
                .a_stride = a_stride,
                .b = w + (size_t)g * h->blocks_g * (size_t)h->block_bytes,
                .b_block = (size_t)h->block_bytes,
                .bias = bias + o0,
                .wsum = wsum + o0,
                .mult = rq->multiplier + (per_channel ? o0 : 0),
                .shift = rq->shift + (per_channel ? o0 : 0),
                .per_channel = per_channel,
                .c = f == Q8_FORMAT_I16 ? 0 : zx + 128,
                .zy = rq->out_zero_point,
                .qmin = rq->qmin,
                .qmax = rq->qmax,
                .y = y + m0 * h->out_c + o0,
                .ldy = (size_t)h->out_c,
                .work = work,
                .a_row = implicit ? rowp : NULL,
                .a_kh = implicit ? h->kh_rows : 0,
                .a_dy = implicit ? (size_t)s->dilation_h * (size_t)pimg.pw * (size_t)s->in_c : 0,
            };
            ops->gemm(&args);
        }
    }
}

size_t q8_conv2d_pack_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s)
{
    const struct q8_packed_header h = conv_plan(f, s);
    return packed_bytes(&h, conv_k(s), s->kernel_h * s->kernel_w);
}

void q8_conv2d_pack_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s, const int8_t *w,
                        const int32_t *bias, void *packed)
{
    const struct q8_packed_header h = conv_plan(f, s);
    pack_into(&h, w, bias, s->kernel_h * s->kernel_w, packed);
}

size_t q8_conv2d_scratch_size_fmt(enum q8_gemm_format f, const struct q8_conv2d_shape *s)
{
    const struct q8_packed_header h = conv_plan(f, s);
    const size_t n = scratch_bytes(&h);
    return n && !is_pointwise(s) ? n + pad_bytes(s) : n;
}

void q8_conv2d_run(const struct q8_gemm_ops *ops, const struct q8_conv2d_shape *s,
                   const struct q8_requant *rq, const int8_t *x, const void *packed,
                   void *scratch, int8_t *y)
{
    struct q8_packed_header h;
    read_header(packed, &h);
    const uint8_t *base = packed;
    const int32_t *bias = (const int32_t *)(const void *)(base + h.bias_off);
    if (h.kind == Q8_PACKED_RAW) {
        q8_conv2d__ref(s, rq, x, (const int8_t *)(base + h.w_off), bias, y);
    } else if (h.kind == Q8_PACKED_DW) {
        ops->dw(s, rq, x, (const int32_t *)(const void *)(base + h.w_off), h.cp, bias, y);
    } else {
        const struct gemm_rows src = {.conv = s, .x = x};
        run_gemm(ops, &h, &src, s->batch * s->out_h * s->out_w, rq, packed, scratch, y);
    }
}

size_t q8_dense_pack_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    return packed_bytes(&h, s->in_features, 1);
}

void q8_dense_pack_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s, const int8_t *w,
                       const int32_t *bias, void *packed)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    pack_into(&h, w, bias, 1, packed);
}

size_t q8_dense_scratch_size_fmt(enum q8_gemm_format f, const struct q8_dense_shape *s)
{
    const struct q8_packed_header h = plan(f, s->in_features, 1, s->out_features, 1, 0);
    return scratch_bytes(&h);
}

void q8_dense_run(const struct q8_gemm_ops *ops, const struct q8_dense_shape *s,
                  const struct q8_requant *rq, const int8_t *x, const void *packed,
                  void *scratch, int8_t *y)
{
    struct q8_packed_header h;
    read_header(packed, &h);
    const uint8_t *base = packed;
    if (h.kind == Q8_PACKED_RAW) {
        q8_dense__ref(s, rq, x, (const int8_t *)(base + h.w_off),
                      (const int32_t *)(const void *)(base + h.bias_off), y);
        return;
    }
    const struct gemm_rows src = {.conv = NULL, .x = x, .in_features = s->in_features};
    run_gemm(ops, &h, &src, s->batch, rq, packed, scratch, y);
}

/* ---- the levels' table entries ---- */

/* ref: the weights as stored, run by q8_conv2d__ref / q8_dense__ref. */
static const struct q8_gemm_ops ops_ref = {Q8_FORMAT_RAW, 1, NULL, NULL, NULL, 0};
#if defined(__x86_64__)
static const struct q8_gemm_ops ops_avx2 = {Q8_FORMAT_I16, 1, q8_gemm_6x16__avx2,
                                            q8_dwconv__avx2, q8_copy_a_i16__avx2, 0};
static const struct q8_gemm_ops ops_avx512 = {Q8_FORMAT_I16, 1, q8_gemm_8x32__avx512,
                                              q8_dwconv__avx512, q8_copy_a_i16__avx512, 0};
/* vnni reads conv A in place where implicit_ok (no im2col copy). */
static const struct q8_gemm_ops ops_vnni = {Q8_FORMAT_U8, 1, q8_gemm_8x32__vnni,
                                            q8_dwconv__avx512, q8_copy_a_u8__avx512, 1};
static const struct q8_gemm_ops ops_amx = {Q8_FORMAT_U8K64, 32, q8_gemm_32x32__amx,
                                           q8_dwconv__avx512, q8_copy_a_u8__avx512, 0};
/* The amx layout also runs on the vnni micro-kernel (kp is a multiple of
 * 4), used if tile permission was refused after packing. */
static const struct q8_gemm_ops ops_amx_on_vnni = {Q8_FORMAT_U8K64, 1, q8_gemm_8x32__vnni,
                                                   q8_dwconv__avx512, q8_copy_a_u8__avx512, 0};
#else
/* Other targets have no vnni kernels; its plan is still asked (tests). */
#if defined(__aarch64__)
/* neon: the I16 layout of avx2 under a NEON micro-kernel. */
static const struct q8_gemm_ops ops_neon = {Q8_FORMAT_I16, 1, q8_gemm_4x16__neon,
                                            q8_dwconv__neon, NULL, 0};
/* dotprod: the U8 layout of vnni (convs' A read in place) under SDOT. */
static const struct q8_gemm_ops ops_dotprod = {Q8_FORMAT_U8, 1, q8_gemm_4x16__dotprod,
                                               q8_dwconv__neon, NULL, 1};
/* i8mm: the U8K8 layout (convs' A read in place) under USMMLA. */
static const struct q8_gemm_ops ops_i8mm = {Q8_FORMAT_U8K8, 1, q8_gemm_4x16__i8mm,
                                            q8_dwconv__neon, NULL, 1};
#endif
static const struct q8_gemm_ops ops_vnni = {Q8_FORMAT_U8, 1, NULL, NULL, NULL, 1};
#endif

int q8_conv2d_in_place__vnni(const struct q8_conv2d_shape *s)
{
    const struct q8_packed_header h = conv_plan(ops_vnni.format, s);
    return implicit_ok(&ops_vnni, &h, s);
}

/* i8mm reads A in place (ops_i8mm.implicit_a) where its plan packs by
 * kernel rows; the plan is asked on every target (tests). */
int q8_conv2d_in_place__i8mm(const struct q8_conv2d_shape *s)
{
    const struct q8_packed_header h = conv_plan(Q8_FORMAT_U8K8, s);
    return h.kh_rows > 0 && !is_pointwise(s);
}

#if defined(__x86_64__)
static const struct q8_gemm_ops *amx_ops(void)
{
    return q8_amx_ready() ? &ops_amx : &ops_amx_on_vnni;
}
#endif

#define Q8_PACKED_LEVEL(isa, fmt, ops_expr)                                                    \
    size_t q8_conv2d_pack_size__##isa(const struct q8_conv2d_shape *s)                         \
    {                                                                                          \
        return q8_conv2d_pack_size_fmt(fmt, s);                                                \
    }                                                                                          \
    void q8_conv2d_pack__##isa(const struct q8_conv2d_shape *s, const int8_t *w,               \
                               const int32_t *bias, void *packed)                              \
    {                                                                                          \
        q8_conv2d_pack_fmt(fmt, s, w, bias, packed);                                           \
    }                                                                                          \
    size_t q8_conv2d_scratch_size__##isa(const struct q8_conv2d_shape *s)                      \
    {                                                                                          \
        return q8_conv2d_scratch_size_fmt(fmt, s);                                             \
    }                                                                                          \
    void q8_conv2d_packed__##isa(const struct q8_conv2d_shape *s, const struct q8_requant *rq,  \
                                 const int8_t *x, const void *packed, void *scratch, int8_t *y) \
    {                                                                                          \
        q8_conv2d_run(ops_expr, s, rq, x, packed, scratch, y);                                 \
    }                                                                                          \
    size_t q8_dense_pack_size__##isa(const struct q8_dense_shape *s)                           \
    {                                                                                          \
        return q8_dense_pack_size_fmt(fmt, s);                                                 \
    }                                                                                          \
    void q8_dense_pack__##isa(const struct q8_dense_shape *s, const int8_t *w,                 \
                              const int32_t *bias, void *packed)                               \
    {                                                                                          \
        q8_dense_pack_fmt(fmt, s, w, bias, packed);                                            \
    }                                                                                          \
    size_t q8_dense_scratch_size__##isa(const struct q8_dense_shape *s)                        \
    {                                                                                          \
        return q8_dense_scratch_size_fmt(fmt, s);                                              \
    }                                                                                          \
    void q8_dense_packed__##isa(const struct q8_dense_shape *s, const struct q8_requant *rq,    \
                                const int8_t *x, const void *packed, void *scratch, int8_t *y) \
    {                                                                                          \
        q8_dense_run(ops_expr, s, rq, x, packed, scratch, y);                                  \
    }

Q8_PACKED_LEVEL(ref, Q8_FORMAT_RAW, &ops_ref)
#if defined(__x86_64__)
Q8_PACKED_LEVEL(avx2, Q8_FORMAT_I16, &ops_avx2)
Q8_PACKED_LEVEL(avx512, Q8_FORMAT_I16, &ops_avx512)
Q8_PACKED_LEVEL(vnni, Q8_FORMAT_U8, &ops_vnni)
Q8_PACKED_LEVEL(amx, Q8_FORMAT_U8K64, amx_ops())
#endif
#if defined(__aarch64__)
Q8_PACKED_LEVEL(neon, Q8_FORMAT_I16, &ops_neon)
Q8_PACKED_LEVEL(dotprod, Q8_FORMAT_U8, &ops_dotprod)
Q8_PACKED_LEVEL(i8mm, Q8_FORMAT_U8K8, &ops_i8mm)
#endif
#undef Q8_PACKED_LEVEL
