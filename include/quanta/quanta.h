/* quanta: run quantized (int8) and float models from C.
 *
 * The runtime API, in libquanta and libquanta-rt alike. A model is loaded
 * once (quanta_model_load) and is then read-only; a session
 * (quanta_session_create) owns the buffers of one run and is used by one
 * thread at a time. Many sessions, in many threads, may share one model.
 * Every fallible call returns an enum quanta_status and, on failure, fills
 * the caller's struct quanta_error (which may be NULL). The library never
 * prints and never exits. See man quanta(3). The offline steps (import,
 * calibrate, quantize) are in quanta/quanta_offline.h (libquanta only). */
#ifndef QUANTA_PUBLIC_H
#define QUANTA_PUBLIC_H

#include <stddef.h>
#include <stdint.h>
#include "quanta/quanta_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QUANTA_VERSION "0.1.0"
#define QUANTA_VERSION_MAJOR 0
#define QUANTA_VERSION_MINOR 1
#define QUANTA_VERSION_PATCH 0

/* The library's version ("0.1.0"), which may be newer than the header's. */
const char *quanta_version(void);

/* The kernel level the library runs on this CPU: "ref", "avx2", "avx512",
 * "vnni", "amx", "neon", "dotprod", "i8mm" (the environment variable
 * QUANTA_ISA, read once, can force one). NULL when QUANTA_ISA names a level
 * this CPU or build lacks; sessions then fail to be created. */
const char *quanta_kernel_level(void);

/* A short description of a status ("invalid input file"). */
const char *quanta_status_message(enum quanta_status status);

/* "F32", "I8", ...; "invalid" for anything else. */
const char *quanta_dtype_name(enum quanta_dtype dtype);

/* ---- models ---- */

typedef struct quanta_model quanta_model;

/* Loads a model file (quanta-format(5), float or quantized): the file is
 * mapped, the graph validated. *model is NULL on failure. */
enum quanta_status quanta_model_load(quanta_model **model, const char *path,
                                     struct quanta_error *err);
/* After every session made from it has been freed. NULL is a no-op. */
void quanta_model_free(quanta_model *model);

int quanta_model_input_count(const quanta_model *model);
int quanta_model_output_count(const quanta_model *model);
/* Names owned by the model; NULL for an index out of range. */
const char *quanta_model_input_name(const quanta_model *model, int index);
const char *quanta_model_output_name(const quanta_model *model, int index);

/* The element type quanta_session_run takes for input index: QUANTA_F32
 * (float, already normalized) or QUANTA_I64 (ids of an embedding input).
 * QUANTA_DTYPE_INVALID for an index out of range. Outputs are always
 * float. */
enum quanta_dtype quanta_model_input_dtype(const quanta_model *model, int index);

/* The shape of input or output index in the graph's layout (images NHWC);
 * dims[0] is -1 when the batch size is free. QUANTA_ERR_USAGE for an index
 * out of range. */
enum quanta_status quanta_model_input_shape(const quanta_model *model, int index,
                                            struct quanta_shape *shape,
                                            struct quanta_error *err);
enum quanta_status quanta_model_output_shape(const quanta_model *model, int index,
                                             struct quanta_shape *shape,
                                             struct quanta_error *err);

/* Applies the "normalize" the model declares for float input index to n
 * raw integer sample values (pixels 0..255, say) as quanta(1) does when it
 * reads integer data: out[i] = (raw[i] * scale - mean[c]) / std[c], c =
 * i modulo the input's last dimension. Without a "normalize" out = raw.
 * raw and out may be the same array. */
enum quanta_status quanta_model_normalize(const quanta_model *model, int index,
                                          const float *raw, float *out, size_t n,
                                          struct quanta_error *err);

/* ---- sessions ---- */

typedef struct quanta_session quanta_session;

/* Zero-initialise, then set what you need; size = sizeof the struct (0 is
 * taken as this first version's size, so fields added later default). */
struct quanta_session_options {
    size_t size;
    int threads;        /* worker threads; 0: every core */
    int64_t max_batch;  /* the largest batch quanta_session_run will get; 0: 1,
                           or the model's fixed batch */
};

/* Plans the buffers of one run of up to max_batch samples; runs then
 * allocate nothing. The model must outlive the session. options NULL:
 * defaults. */
enum quanta_status quanta_session_create(quanta_session **session, const quanta_model *model,
                                         const struct quanta_session_options *options,
                                         struct quanta_error *err);
void quanta_session_free(quanta_session *session);

/* Runs batch samples (1 <= batch <= max_batch): inputs[i] holds input i's
 * batch samples in the graph's layout, C order, of the type
 * quanta_model_input_dtype says. QUANTA_ERR_INPUT for an id out of its
 * table's range; QUANTA_ERR_USAGE for a bad batch or NULL input. */
enum quanta_status quanta_session_run(quanta_session *session, int64_t batch,
                                      const void *const *inputs, struct quanta_error *err);

/* Output index of the last run, as float (int8 outputs dequantized), and
 * its shape (dims[0] = that run's batch; shape may be NULL). Owned by the
 * session, valid until the next run or its free. NULL before the first
 * run, after a run that failed, and for an index out of range. */
const float *quanta_session_output(const quanta_session *session, int index,
                                   struct quanta_shape *shape);

#ifdef __cplusplus
}
#endif

#endif
