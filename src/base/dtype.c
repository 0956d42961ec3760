#include "quanta/dtype.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[QUANTA_DTYPE_COUNT] = {
    [QUANTA_DTYPE_INVALID] = {"invalid", 0},
#define QUANTA_DTYPE_INFO(id, text, bytes) [QUANTA_##id] = {text, bytes},
    QUANTA_DTYPE_LIST(QUANTA_DTYPE_INFO)
#undef QUANTA_DTYPE_INFO
};

size_t quanta_dtype_size(enum quanta_dtype dtype)
{
    return (unsigned)dtype < QUANTA_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

uint64_t quanta_dtype_row_bytes(enum quanta_dtype dtype, int64_t n)
{
    return dtype == QUANTA_I4 ? (uint64_t)(n + 1) / 2 : (uint64_t)n * quanta_dtype_size(dtype);
}

uint64_t quanta_dtype_bytes(enum quanta_dtype dtype, const struct quanta_shape *shape)
{
    int64_t numel = quanta_shape_numel(shape);
    size_t esize = quanta_dtype_size(dtype);
    if (numel < 0 || esize == 0 || (uint64_t)numel > UINT64_MAX / esize)
        return UINT64_MAX;
    if (dtype != QUANTA_I4)
        return (uint64_t)numel * esize;
    int64_t d = shape->rank > 0 ? shape->dims[shape->rank - 1] : 1;
    if (d == 0)
        return 0;
    return (uint64_t)(numel / d) * quanta_dtype_row_bytes(dtype, d);
}

const char *quanta_dtype_name(enum quanta_dtype dtype)
{
    return (unsigned)dtype < QUANTA_DTYPE_COUNT ? dtype_info[dtype].name : "invalid";
}

enum quanta_dtype quanta_dtype_parse(const char *name)
{
    for (int d = 1; d < QUANTA_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_info[d].name) == 0)
            return (enum quanta_dtype)d;
    return QUANTA_DTYPE_INVALID;
}

bool quanta_dtype_is_float(enum quanta_dtype dtype)
{
    return dtype == QUANTA_F32 || dtype == QUANTA_F16 || dtype == QUANTA_BF16 ||
           dtype == QUANTA_F64;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float quanta_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf or nan */
        return bits_float(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t quanta_f32_to_f16(float f)
{
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) /* nan: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00u);
    if (abs >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) {
        /* below the smallest normal half (2^-14): subnormal, step 2^-24.
         * Scaling by 2^24 is exact; rintf rounds ties to even. */
        float scaled = bits_float(abs) * 0x1p24f;
        return (uint16_t)(sign | (uint16_t)rintf(scaled));
    }
    /* normal: drop 13 mantissa bits, round to nearest even; a carry into the
     * exponent is the correct result */
    uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

float quanta_bf16_to_f32(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

uint16_t quanta_f32_to_bf16(float f)
{
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void quanta_convert_to_f32(enum quanta_dtype dtype, const void *src, float *dst, size_t n)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++) {
        switch (dtype) {
        case QUANTA_F32: { float v; memcpy(&v, p + 4 * i, 4); dst[i] = v; break; }
        case QUANTA_F64: { double v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case QUANTA_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); dst[i] = quanta_f16_to_f32(v); break; }
        case QUANTA_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); dst[i] = quanta_bf16_to_f32(v); break; }
        case QUANTA_I8: dst[i] = (float)((const int8_t *)src)[i]; break;
        case QUANTA_U8: dst[i] = (float)p[i]; break;
        case QUANTA_BOOL: dst[i] = p[i] ? 1.0f : 0.0f; break;
        case QUANTA_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); dst[i] = (float)v; break; }
        case QUANTA_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); dst[i] = (float)v; break; }
        case QUANTA_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case QUANTA_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); dst[i] = (float)v; break; }
        case QUANTA_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); dst[i] = (float)v; break; }
        case QUANTA_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case QUANTA_I4: dst[i] = (float)quanta_i4_get(src, (int64_t)i); break; /* one row */
        default: dst[i] = 0.0f; break;
        }
    }
}

int64_t quanta_shape_numel(const struct quanta_shape *shape)
{
    int64_t n = 1;
    for (int i = 0; i < shape->rank; i++) {
        int64_t d = shape->dims[i];
        if (d < 0)
            return -1;
        if (d != 0 && n > INT64_MAX / d)
            return -1;
        n *= d;
    }
    return n;
}

bool quanta_shape_equal(const struct quanta_shape *a, const struct quanta_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

char *quanta_shape_format(const struct quanta_shape *shape, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < shape->rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)shape->dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}
