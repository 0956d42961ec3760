/* The types every part of the quanta API shares: status codes, the
 * caller-owned error buffer, element types and shapes. Included by
 * quanta/quanta.h; see man quanta(3). C11, libc only. */
#ifndef QUANTA_TYPES_H
#define QUANTA_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* X(name, code, description). The codes are also quanta(1)'s exit codes. */
#define QUANTA_STATUS_LIST(X)                                                  \
    X(QUANTA_OK, 0, "success")                                                 \
    X(QUANTA_ERR_CHECK, 1, "a requested check failed")                         \
    X(QUANTA_ERR_USAGE, 2, "usage error")                                      \
    X(QUANTA_ERR_INPUT, 3, "invalid input file")                               \
    X(QUANTA_ERR_OUTPUT, 4, "cannot write output")                             \
    X(QUANTA_ERR_NOMEM, 5, "out of memory")                                    \
    X(QUANTA_ERR_INTERNAL, 6, "internal error")

enum quanta_status {
#define QUANTA_STATUS_ENUM(name, code, text) name = code,
    QUANTA_STATUS_LIST(QUANTA_STATUS_ENUM)
#undef QUANTA_STATUS_ENUM
};

#define QUANTA_ERROR_MESSAGE_MAX 512

/* Filled by a failing call: its status and a one-line message (lowercase,
 * no full stop) naming the file or node and the rule that was broken.
 * Owned by the caller; every call taking one accepts NULL. */
struct quanta_error {
    enum quanta_status status;
    char message[QUANTA_ERROR_MESSAGE_MAX];
};

/* Element types of the model format (quanta-format(5) section 1):
 * X(enum suffix, name in files, size in bytes). */
#define QUANTA_DTYPE_LIST(X)                                                   \
    X(F32, "F32", 4)                                                           \
    X(F16, "F16", 2)                                                           \
    X(BF16, "BF16", 2)                                                         \
    X(F64, "F64", 8)                                                           \
    X(I8, "I8", 1)                                                             \
    X(U8, "U8", 1)                                                             \
    X(I16, "I16", 2)                                                           \
    X(I32, "I32", 4)                                                           \
    X(I64, "I64", 8)                                                           \
    X(BOOL, "BOOL", 1)                                                         \
    X(I4, "I4", 1)                                                             \
    X(U16, "U16", 2)                                                           \
    X(U32, "U32", 4)                                                           \
    X(U64, "U64", 8)

enum quanta_dtype {
    QUANTA_DTYPE_INVALID = 0,
#define QUANTA_DTYPE_ENUM(id, name, size) QUANTA_##id,
    QUANTA_DTYPE_LIST(QUANTA_DTYPE_ENUM)
#undef QUANTA_DTYPE_ENUM
    QUANTA_DTYPE_COUNT
};

#define QUANTA_MAX_RANK 8

/* A shape. In a model's shapes dims[0] may be -1: "any batch size". */
struct quanta_shape {
    int rank;
    int64_t dims[QUANTA_MAX_RANK];
};

#endif
