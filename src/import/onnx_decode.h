/* Internal to src/import: what the ONNX decoders share, the model's
 * (onnx_model.c) and the tensors' (onnx_tensor.c). Each reads one field
 * of a protobuf message and fails with "<source>: <where>: <problem>". */
#ifndef QUANTA_IMPORT_ONNX_DECODE_H
#define QUANTA_IMPORT_ONNX_DECODE_H

#include "import/onnx_model.h"
#include "import/protobuf_wire.h"

/* Room for a message's "where" (the path of fields read). */
#define DEC_WHERE_MAX 512

/* What every decoder needs: where the bytes came from, for messages. */
struct dec {
    const char *source;
    const char *dir;
    struct quanta_error *err;
    int depth;                  /* of graphs within node attributes */
};

struct vec_i64 {
    int64_t *v;
    size_t n, cap;
};

struct vec_f64 {
    double *v;
    size_t n, cap;
};

enum quanta_status dec_fail(const struct dec *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum quanta_status dec_wire_fail(const struct dec *d, const char *where, enum pb_result r);
enum quanta_status dec_nomem(const struct dec *d);
/* Fails unless f has wire type wire. */
enum quanta_status dec_want_wire(const struct dec *d, const char *where,
                                 const struct pb_field *f, enum pb_wire wire,
                                 const char *field_name);

/* A string field: a NUL-terminated copy (a NUL inside is refused). With
 * size_out, any bytes (and their count); without, UTF-8 text only. */
enum quanta_status dec_string(const struct dec *d, const char *where,
                              const struct pb_field *f, const char *field_name, char **out,
                              size_t *size_out);
enum quanta_status dec_varint(const struct dec *d, const char *where,
                              const struct pb_field *f, const char *field_name,
                              int64_t *out);
/* An int32 field (data_type, type, elem_type): a varint that fits. */
enum quanta_status dec_int32(const struct dec *d, const char *where,
                             const struct pb_field *f, const char *field_name, int *out);
/* Repeated varints, packed (LEN) or not (VARINT); int32 fields are
 * sign-extended by the encoder to 64 bits, so both read the same. */
enum quanta_status dec_varints(const struct dec *d, const char *where,
                               const struct pb_field *f, const char *field_name,
                               struct vec_i64 *out);
/* Repeated float (width 4) or double (width 8), packed or not. */
enum quanta_status dec_fixed(const struct dec *d, const char *where,
                             const struct pb_field *f, const char *field_name,
                             size_t width, struct vec_f64 *out);

/* All of the regular file path (at most ONNX_MAX_FILE_SIZE bytes). */
enum quanta_status dec_read_file(const char *path, uint8_t **out, size_t *out_size,
                                 struct quanta_error *err);

/* The TensorProto in field f of parent (onnx_tensor.c); on failure t is
 * freed. */
enum quanta_status dec_tensor(const struct dec *d, const char *where_in,
                              const struct pb_reader *parent, const struct pb_field *f,
                              struct onnx_tensor *t);
void dec_tensor_free(struct onnx_tensor *t);

#endif
