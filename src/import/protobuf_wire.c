/* The protobuf wire format (see protobuf_wire.h): keys, varints, fixed
 * values, length-delimited payloads, all checked against the bytes left. */
#include "import/protobuf_wire.h"

#define PB_MAX_FIELD ((1u << 29) - 1)

const char *pb_result_string(enum pb_result r)
{
    switch (r) {
    case PB_OK: return "ok";
    case PB_END: return "end of message";
    case PB_TRUNCATED: return "truncated (a value runs past the end of the data)";
    case PB_VARINT_OVERFLOW: return "varint longer than 10 bytes or beyond 64 bits";
    case PB_BAD_LENGTH: return "length runs past the end of the enclosing message";
    case PB_GROUP: return "group fields (wire types 3 and 4) are not supported";
    case PB_BAD_WIRE_TYPE: return "invalid wire type (6 or 7)";
    case PB_BAD_FIELD: return "invalid field number";
    case PB_TOO_DEEP: return "messages nested too deeply";
    case PB_BAD_PACKED: return "packed values do not fill their length";
    }
    return "unknown error";
}

void pb_reader_init(struct pb_reader *r, const void *data, size_t size)
{
    r->pos = data;
    r->end = r->pos + (data ? size : 0);
    r->depth = 0;
}

enum pb_result pb_read_varint(const uint8_t **pos, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pos;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end)
            return PB_TRUNCATED;
        uint8_t b = *p++;
        /* The tenth byte carries bit 63 only. */
        if (i == 9 && b > 1)
            return PB_VARINT_OVERFLOW;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pos = p;
            *out = v;
            return PB_OK;
        }
    }
    return PB_VARINT_OVERFLOW;
}

static uint64_t load_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

enum pb_result pb_next(struct pb_reader *r, struct pb_field *f)
{
    if (r->pos >= r->end)
        return PB_END;
    const uint8_t *p = r->pos;
    uint64_t key;
    enum pb_result res = pb_read_varint(&p, r->end, &key);
    if (res != PB_OK)
        return res;
    uint64_t number = key >> 3;
    unsigned wire = (unsigned)(key & 7);
    if (number == 0 || number > PB_MAX_FIELD)
        return PB_BAD_FIELD;
    f->number = (uint32_t)number;
    f->wire = (enum pb_wire)wire;
    f->value = 0;
    f->data = NULL;
    f->size = 0;
    size_t left = (size_t)(r->end - p);
    switch (wire) {
    case PB_WIRE_VARINT:
        if ((res = pb_read_varint(&p, r->end, &f->value)) != PB_OK)
            return res;
        break;
    case PB_WIRE_I64:
        if (left < 8)
            return PB_TRUNCATED;
        f->value = load_le(p, 8);
        p += 8;
        break;
    case PB_WIRE_I32:
        if (left < 4)
            return PB_TRUNCATED;
        f->value = load_le(p, 4);
        p += 4;
        break;
    case PB_WIRE_LEN: {
        uint64_t len;
        if ((res = pb_read_varint(&p, r->end, &len)) != PB_OK)
            return res;
        if (len > (uint64_t)(r->end - p))
            return PB_BAD_LENGTH;
        f->data = p;
        f->size = (size_t)len;
        p += len;
        break;
    }
    case 3:
    case 4:
        return PB_GROUP;
    default:
        return PB_BAD_WIRE_TYPE;
    }
    r->pos = p;
    return PB_OK;
}

enum pb_result pb_enter(const struct pb_reader *parent, const struct pb_field *f,
                        struct pb_reader *child)
{
    if (parent->depth >= PB_MAX_DEPTH)
        return PB_TOO_DEEP;
    child->pos = f->data;
    child->end = f->data + f->size;
    child->depth = parent->depth + 1;
    return PB_OK;
}

enum pb_result pb_packed_varint_count(const uint8_t *data, size_t size, size_t *count)
{
    const uint8_t *p = data, *end = data + size;
    size_t n = 0;
    while (p < end) {
        uint64_t v;
        enum pb_result res = pb_read_varint(&p, end, &v);
        if (res != PB_OK)
            return res == PB_TRUNCATED ? PB_BAD_PACKED : res;
        n++;
    }
    *count = n;
    return PB_OK;
}

enum pb_result pb_packed_varints(const uint8_t *data, size_t size, int64_t *out, size_t count)
{
    const uint8_t *p = data, *end = data + size;
    for (size_t i = 0; i < count && p < end; i++) {
        uint64_t v;
        enum pb_result res = pb_read_varint(&p, end, &v);
        if (res != PB_OK)
            return res == PB_TRUNCATED ? PB_BAD_PACKED : res;
        out[i] = (int64_t)v;
    }
    return PB_OK;
}

enum pb_result pb_packed_fixed_count(const uint8_t *data, size_t size, size_t width,
                                     size_t *count)
{
    (void)data;
    if (width == 0 || size % width != 0)
        return PB_BAD_PACKED;
    *count = size / width;
    return PB_OK;
}
