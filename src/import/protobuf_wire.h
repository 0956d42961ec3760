/* A small decoder of the protobuf wire format, enough for ONNX files: a
 * message is a run of fields, each a key varint (field number << 3 | wire
 * type) followed by its payload. Everything is bounds-checked against the
 * buffer that holds the message; nothing here allocates.
 *
 *   wire type 0  varint, 1 to 10 bytes, little-endian base 128
 *   wire type 1  fixed 8 bytes (fixed64, sfixed64, double)
 *   wire type 2  length-delimited: a varint length, then that many bytes
 *                (strings, bytes, sub-messages, packed repeated scalars)
 *   wire type 5  fixed 4 bytes (fixed32, sfixed32, float)
 *   wire types 3, 4 (groups, deprecated) and 6, 7 are rejected. */
#ifndef QUANTA_IMPORT_PROTOBUF_WIRE_H
#define QUANTA_IMPORT_PROTOBUF_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of sub-messages a reader follows (the top message is
 * depth 0); ONNX needs 7 (model, graph, value_info, type, tensor type,
 * shape, dimension). */
#define PB_MAX_DEPTH 32

enum pb_wire {
    PB_WIRE_VARINT = 0,
    PB_WIRE_I64 = 1,
    PB_WIRE_LEN = 2,
    PB_WIRE_I32 = 5,
};

enum pb_result {
    PB_OK = 0,
    PB_END,             /* no more fields (pb_next only) */
    PB_TRUNCATED,       /* a varint, fixed value or key cut by the end */
    PB_VARINT_OVERFLOW, /* more than 10 bytes, or beyond 64 bits */
    PB_BAD_LENGTH,      /* a length beyond the end of the enclosing message */
    PB_GROUP,           /* wire type 3 or 4 */
    PB_BAD_WIRE_TYPE,   /* wire type 6 or 7 */
    PB_BAD_FIELD,       /* field number 0 or above 2^29 - 1 */
    PB_TOO_DEEP,        /* nesting beyond PB_MAX_DEPTH */
    PB_BAD_PACKED,      /* a packed run that is not a whole number of values */
};

/* "truncated", "varint longer than 10 bytes", ... (for messages). */
const char *pb_result_string(enum pb_result r);

/* A message being read: the bytes [pos, end) still to go. */
struct pb_reader {
    const uint8_t *pos;
    const uint8_t *end;
    int depth;
};

/* One field. For PB_WIRE_VARINT value is the varint; for I64 and I32 it
 * holds the little-endian fixed bytes; for LEN, data/size is the payload
 * (inside the reader's buffer). */
struct pb_field {
    uint32_t number;
    enum pb_wire wire;
    uint64_t value;
    const uint8_t *data;
    size_t size;
};

void pb_reader_init(struct pb_reader *r, const void *data, size_t size);

/* Decodes one varint from [*pos, end), advancing *pos. */
enum pb_result pb_read_varint(const uint8_t **pos, const uint8_t *end, uint64_t *out);

/* Reads the next field of r: PB_OK, PB_END when r is used up, or an error
 * (r is then left where the bad field starts). */
enum pb_result pb_next(struct pb_reader *r, struct pb_field *f);

/* A reader over the payload of LEN field f, one level deeper than parent:
 * PB_TOO_DEEP past PB_MAX_DEPTH. */
enum pb_result pb_enter(const struct pb_reader *parent, const struct pb_field *f,
                        struct pb_reader *child);

/* Helpers for scalar fields. */
static inline float pb_field_float(const struct pb_field *f)
{
    uint32_t bits = (uint32_t)f->value;
    float x;
    __builtin_memcpy(&x, &bits, 4);
    return x;
}
static inline double pb_field_double(const struct pb_field *f)
{
    double x;
    __builtin_memcpy(&x, &f->value, 8);
    return x;
}

/* Packed repeated scalars (a LEN payload): counts values, then decodes
 * them. Varints: the count of varints (each checked); fixed32/fixed64:
 * size / 4 or / 8, PB_BAD_PACKED unless it divides evenly. */
enum pb_result pb_packed_varint_count(const uint8_t *data, size_t size, size_t *count);
/* Decodes up to count varints into out (as int64, two's complement). */
enum pb_result pb_packed_varints(const uint8_t *data, size_t size, int64_t *out, size_t count);
enum pb_result pb_packed_fixed_count(const uint8_t *data, size_t size, size_t width,
                                     size_t *count);

#endif
