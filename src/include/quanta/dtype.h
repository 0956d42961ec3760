/* Element types of the model format (model-format.md section 1) and the
 * conversions every layer needs. */
#ifndef QUANTA_DTYPE_H
#define QUANTA_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quanta/quanta_types.h" /* enum quanta_dtype, struct quanta_shape */

/* Bytes per element; 0 for QUANTA_DTYPE_INVALID. I4 (quanta's own, for
 * 4-bit embedding tables) packs two elements per byte along the last
 * axis, each row starting on a byte: its size here is 1 (a row's byte
 * count is quanta_dtype_row_bytes); storage is quanta_dtype_bytes. */
size_t quanta_dtype_size(enum quanta_dtype dtype);
/* Bytes of a row of n elements along the last axis. */
uint64_t quanta_dtype_row_bytes(enum quanta_dtype dtype, int64_t n);
/* "F32", ...; "invalid" for anything else. */
const char *quanta_dtype_name(enum quanta_dtype dtype);
/* Exact, case-sensitive match of a file dtype name; QUANTA_DTYPE_INVALID if unknown. */
enum quanta_dtype quanta_dtype_parse(const char *name);
bool quanta_dtype_is_float(enum quanta_dtype dtype); /* F32 F16 BF16 F64 */

/* IEEE binary16 and bfloat16. f32 -> f16/bf16 rounds to nearest, ties to
 * even; NaN stays NaN, overflow gives infinity. */
float quanta_f16_to_f32(uint16_t h);
uint16_t quanta_f32_to_f16(float f);
float quanta_bf16_to_f32(uint16_t b);
uint16_t quanta_f32_to_bf16(float f);

/* Converts n little-endian elements of any dtype to float (integers exactly
 * where float can hold them, BOOL as 0/1). */
void quanta_convert_to_f32(enum quanta_dtype dtype, const void *src, float *dst, size_t n);

/* ---- shapes ---- */

/* Product of the dims (1 for rank 0); -1 if a dim is negative or the
 * product overflows int64. */
int64_t quanta_shape_numel(const struct quanta_shape *shape);
bool quanta_shape_equal(const struct quanta_shape *a, const struct quanta_shape *b);
/* Bytes a tensor of dtype and shape takes: numel * size, or for I4
 * (numel / D) * ceil(D / 2) with D the last dim (1 byte for rank 0).
 * UINT64_MAX if the shape is invalid or the count overflows. */
uint64_t quanta_dtype_bytes(enum quanta_dtype dtype, const struct quanta_shape *shape);
/* Element i of an I4 row: a two's-complement nibble in [-8, 7], low
 * nibble first. */
static inline int quanta_i4_get(const void *row, int64_t i)
{
    int b = ((const unsigned char *)row)[i >> 1];
    int v = (i & 1) ? b >> 4 : b & 15;
    return v >= 8 ? v - 16 : v;
}
/* Writes "[1, 28, 28, 1]" into buf (truncated to size); returns buf. */
char *quanta_shape_format(const struct quanta_shape *shape, char *buf, size_t size);

#endif
