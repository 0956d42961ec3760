/* The AMX GEMM (src/kernels/x86/q8_gemm_amx.c) compiled against a C model
 * of the tile instructions it uses, so that its blocking, tile layout,
 * strides and epilogue are checked on machines without AMX (this one, and
 * CI's). The model: eight tiles of 16 rows x 64 bytes as palette 1 sets
 * them; tileloadd/tilestored copy rows at a byte stride; tdpbusd adds, for
 * every C row m and int32 column n, the four products u8 A[m][4k+i] x
 * s8 B[k][4n+i] of every k, wrapping like the hardware. Built with the
 * VNNI flags (name suffix) for the kernel's AVX-512 epilogue. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_packed.h"
#include "support/q8_amx_emulated.h"

static struct {
    int rows[8], colsb[8];
    uint8_t data[8][16][64];
} emu;

static void emu_loadconfig(const void *config)
{
    const uint8_t *c = config;
    for (int t = 0; t < 8; t++) {
        emu.colsb[t] = c[16 + 2 * t] | c[17 + 2 * t] << 8;
        emu.rows[t] = c[48 + t];
    }
}

static void emu_release(void)
{
    memset(&emu, 0, sizeof emu);
}

static void emu_zero(int t)
{
    memset(emu.data[t], 0, sizeof emu.data[t]);
}

static void emu_loadd(int t, const void *base, long stride)
{
    for (int r = 0; r < emu.rows[t]; r++)
        memcpy(emu.data[t][r], (const uint8_t *)base + r * stride, (size_t)emu.colsb[t]);
}

static void emu_stored(int t, void *base, long stride)
{
    for (int r = 0; r < emu.rows[t]; r++)
        memcpy((uint8_t *)base + r * stride, emu.data[t][r], (size_t)emu.colsb[t]);
}

static void emu_dpbusd(int c, int a, int b)
{
    for (int m = 0; m < emu.rows[c]; m++)
        for (int n = 0; n < emu.colsb[c] / 4; n++) {
            int32_t acc;
            memcpy(&acc, &emu.data[c][m][4 * n], 4);
            uint32_t sum = (uint32_t)acc;
            for (int k = 0; k < emu.colsb[a] / 4; k++)
                for (int i = 0; i < 4; i++)
                    sum += (uint32_t)((int32_t)emu.data[a][m][4 * k + i] *
                                      (int32_t)(int8_t)emu.data[b][k][4 * n + i]);
            acc = (int32_t)sum;
            memcpy(&emu.data[c][m][4 * n], &acc, 4);
        }
}

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbusd
#define _tile_loadconfig emu_loadconfig
#define _tile_release emu_release
#define _tile_zero(t) emu_zero(t)
#define _tile_loadd(t, base, stride) emu_loadd(t, base, stride)
#define _tile_stored(t, base, stride) emu_stored(t, base, stride)
#define _tile_dpbusd(c, a, b) emu_dpbusd(c, a, b)
#define q8_gemm_32x32__amx q8_gemm_32x32__amx_emulated
void q8_gemm_32x32__amx_emulated(const struct q8_gemm_args *g);
#include "kernels/x86/q8_gemm_amx.c"
#undef q8_gemm_32x32__amx

static const struct q8_gemm_ops ops = {Q8_FORMAT_U8K64, 32, q8_gemm_32x32__amx_emulated,
                                       q8_dwconv__avx512, q8_copy_a_u8__avx512, 0};

static size_t conv_pack_size(const struct q8_conv2d_shape *s)
{
    return q8_conv2d_pack_size_fmt(Q8_FORMAT_U8K64, s);
}

static void conv_pack(const struct q8_conv2d_shape *s, const int8_t *w, const int32_t *bias,
                      void *packed)
{
    q8_conv2d_pack_fmt(Q8_FORMAT_U8K64, s, w, bias, packed);
}

static size_t conv_scratch_size(const struct q8_conv2d_shape *s)
{
    return q8_conv2d_scratch_size_fmt(Q8_FORMAT_U8K64, s);
}

static void conv_packed(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                        const int8_t *x, const void *packed, void *scratch, int8_t *y)
{
    q8_conv2d_run(&ops, s, rq, x, packed, scratch, y);
}

static size_t dense_pack_size(const struct q8_dense_shape *s)
{
    return q8_dense_pack_size_fmt(Q8_FORMAT_U8K64, s);
}

static void dense_pack(const struct q8_dense_shape *s, const int8_t *w, const int32_t *bias,
                       void *packed)
{
    q8_dense_pack_fmt(Q8_FORMAT_U8K64, s, w, bias, packed);
}

static size_t dense_scratch_size(const struct q8_dense_shape *s)
{
    return q8_dense_scratch_size_fmt(Q8_FORMAT_U8K64, s);
}

static void dense_packed(const struct q8_dense_shape *s, const struct q8_requant *rq,
                         const int8_t *x, const void *packed, void *scratch, int8_t *y)
{
    q8_dense_run(&ops, s, rq, x, packed, scratch, y);
}

const struct q8_kernels *q8_amx_emulated_table(void)
{
    static struct q8_kernels table;
    const struct q8_kernels *vnni = q8_kernels_for_level(KERNELS_LEVEL_VNNI);
    if (!vnni)
        return NULL;
    table = *vnni;
    table.level = "amx (emulated tiles)";
    table.conv2d_pack_size = conv_pack_size;
    table.conv2d_pack = conv_pack;
    table.conv2d_scratch_size = conv_scratch_size;
    table.conv2d_packed = conv_packed;
    table.dense_pack_size = dense_pack_size;
    table.dense_pack = dense_pack;
    table.dense_scratch_size = dense_scratch_size;
    table.dense_packed = dense_packed;
    return &table;
}
