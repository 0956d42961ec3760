/* A small encoder of the protobuf wire format (the writing side of
 * src/import/protobuf_wire.h), enough for ONNX files: fields appended to
 * one growing buffer; a sub-message is opened, filled, and closed, which
 * writes its length in front of it (shortest varint, so the bytes are the
 * canonical encoding: same calls, same bytes).
 *
 * Errors are sticky: after an allocation failure or a message above 2 GiB
 * (protobuf's limit) every call does nothing and pbw_finish reports it. */
#ifndef QUANTA_IO_PROTOBUF_WRITE_H
#define QUANTA_IO_PROTOBUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PBW_MAX_DEPTH 16
#define PBW_MAX_SIZE 0x7fffffffu /* a message of more bytes cannot be read back */

struct pbw {
    uint8_t *buf;
    size_t size, cap;
    size_t open[PBW_MAX_DEPTH]; /* start of each open message's payload */
    int depth;
    bool failed;
};

void pbw_init(struct pbw *w);
void pbw_free(struct pbw *w);

/* Field writers: number is the field number. */
void pbw_varint(struct pbw *w, uint32_t number, uint64_t value);
void pbw_int64(struct pbw *w, uint32_t number, int64_t value); /* two's complement, 10 bytes if < 0 */
void pbw_float(struct pbw *w, uint32_t number, float value);   /* wire type 5 */
void pbw_bytes(struct pbw *w, uint32_t number, const void *data, size_t size);
void pbw_string(struct pbw *w, uint32_t number, const char *s);
/* Packed repeated int64 varints (one LEN field). */
void pbw_packed_int64(struct pbw *w, uint32_t number, const int64_t *v, size_t n);
void pbw_packed_float(struct pbw *w, uint32_t number, const float *v, size_t n);

/* Appends bytes already encoded as fields (a run of fields written by
 * another pbw), so that a message can be assembled from parts. */
void pbw_raw(struct pbw *w, const void *data, size_t size);

/* A sub-message: pbw_begin(w, number) ... fields ... pbw_end(w). */
void pbw_begin(struct pbw *w, uint32_t number);
void pbw_end(struct pbw *w);

/* True when every call succeeded and every message was closed; the
 * encoding is then w->buf[0 .. w->size). */
bool pbw_ok(const struct pbw *w);

#endif
