/* Protobuf wire encoder; see protobuf_write.h. */
#include "io/protobuf_write.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

void pbw_init(struct pbw *w)
{
    memset(w, 0, sizeof *w);
}

void pbw_free(struct pbw *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static bool reserve(struct pbw *w, size_t more)
{
    if (w->failed)
        return false;
    if (more > PBW_MAX_SIZE || w->size + more > PBW_MAX_SIZE) {
        w->failed = true;
        return false;
    }
    if (w->size + more <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->size + more)
        cap *= 2;
    uint8_t *buf = realloc(w->buf, cap);
    if (!buf) {
        w->failed = true;
        return false;
    }
    w->buf = buf;
    w->cap = cap;
    return true;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
}

static void raw_varint(struct pbw *w, uint64_t v)
{
    if (!reserve(w, 10))
        return;
    put_varint(w->buf + w->size, v);
    w->size += varint_size(v);
}

static void raw_bytes(struct pbw *w, const void *data, size_t size)
{
    if (!reserve(w, size))
        return;
    if (size)
        memcpy(w->buf + w->size, data, size);
    w->size += size;
}

static void key(struct pbw *w, uint32_t number, int wire)
{
    raw_varint(w, ((uint64_t)number << 3) | (uint64_t)wire);
}

void pbw_varint(struct pbw *w, uint32_t number, uint64_t value)
{
    key(w, number, WIRE_VARINT);
    raw_varint(w, value);
}

void pbw_int64(struct pbw *w, uint32_t number, int64_t value)
{
    pbw_varint(w, number, (uint64_t)value);
}

void pbw_float(struct pbw *w, uint32_t number, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, 4);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                     (uint8_t)(bits >> 24)};
    key(w, number, WIRE_I32);
    raw_bytes(w, le, 4);
}

void pbw_bytes(struct pbw *w, uint32_t number, const void *data, size_t size)
{
    key(w, number, WIRE_LEN);
    raw_varint(w, size);
    raw_bytes(w, data, size);
}

void pbw_string(struct pbw *w, uint32_t number, const char *s)
{
    pbw_bytes(w, number, s, strlen(s));
}

void pbw_packed_int64(struct pbw *w, uint32_t number, const int64_t *v, size_t n)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += varint_size((uint64_t)v[i]);
    key(w, number, WIRE_LEN);
    raw_varint(w, size);
    for (size_t i = 0; i < n; i++)
        raw_varint(w, (uint64_t)v[i]);
}

void pbw_packed_float(struct pbw *w, uint32_t number, const float *v, size_t n)
{
    key(w, number, WIRE_LEN);
    raw_varint(w, n * 4);
    for (size_t i = 0; i < n && reserve(w, 4); i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        for (int b = 0; b < 4; b++)
            w->buf[w->size++] = (uint8_t)(bits >> (8 * b));
    }
}

void pbw_raw(struct pbw *w, const void *data, size_t size)
{
    raw_bytes(w, data, size);
}

void pbw_begin(struct pbw *w, uint32_t number)
{
    key(w, number, WIRE_LEN);
    if (w->failed)
        return;
    if (w->depth == PBW_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    w->open[w->depth++] = w->size;
}

/* The payload is written first; its length goes in front of it once known,
 * moving the payload up by the varint's size. */
void pbw_end(struct pbw *w)
{
    if (w->failed)
        return;
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    size_t start = w->open[--w->depth];
    size_t len = w->size - start, n = varint_size(len);
    if (!reserve(w, n))
        return;
    memmove(w->buf + start + n, w->buf + start, len);
    put_varint(w->buf + start, len);
    w->size += n;
}

bool pbw_ok(const struct pbw *w)
{
    return !w->failed && w->depth == 0;
}
