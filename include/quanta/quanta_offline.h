/* The offline steps of quanta as single calls, libquanta only (not
 * libquanta-rt): import an ONNX model, calibrate a float model on data,
 * quantize it. Each reads files and writes one file, through a temporary
 * file renamed into place, so a failure leaves no partial output. Option
 * structs: zero-initialise (zero means the default), size = sizeof the
 * struct or 0. The CLI (quanta(1)) offers more options; these calls take
 * its defaults for the rest. See man quanta_offline(3). */
#ifndef QUANTA_OFFLINE_H
#define QUANTA_OFFLINE_H

#include <stddef.h>
#include <stdint.h>
#include "quanta/quanta.h"

#ifdef __cplusplus
extern "C" {
#endif

struct quanta_import_options {
    size_t size;
    const char *name;   /* graph name; NULL: the ONNX graph's */
};

/* quanta import ONNX -o OUTPUT: converts an ONNX model (opsets 6 to 18)
 * to a float quanta model. */
enum quanta_status quanta_import_onnx(const char *onnx_path, const char *output,
                                      const struct quanta_import_options *options,
                                      struct quanta_error *err);

enum quanta_calib_method {
    QUANTA_CALIB_MINMAX = 0,
    QUANTA_CALIB_MEANSTD,
    QUANTA_CALIB_PERCENTILE,
    QUANTA_CALIB_ENTROPY,
    QUANTA_CALIB_MSE,
};

struct quanta_calibrate_options {
    size_t size;
    enum quanta_calib_method method;   /* default minmax */
    double percentile;                 /* percentile: [50, 100]; 0: 99.99 */
    double k;                          /* meanstd: > 0; 0: 6 */
    int64_t samples;                   /* 0: every sample of the data file */
    int64_t batch;                     /* 0: 32 */
    int threads;                       /* 0: every core */
};

/* quanta calibrate MODEL --data DATA -o TABLE: runs the float model over
 * the data file (IDX, NPY or safetensors; NCHW data for models imported
 * from ONNX) and writes the calibration table (JSON). */
enum quanta_status quanta_calibrate_file(const char *model, const char *data,
                                         const char *output,
                                         const struct quanta_calibrate_options *options,
                                         struct quanta_error *err);

enum quanta_quantize_mode {
    QUANTA_QUANTIZE_STATIC = 0,     /* int8 weights and activations (needs a table) */
    QUANTA_QUANTIZE_WEIGHT_ONLY,    /* int8 weights, float activations */
    QUANTA_QUANTIZE_FP16,           /* float constants stored as F16 */
};

struct quanta_quantize_options {
    size_t size;
    enum quanta_quantize_mode mode;
    int per_tensor;                 /* nonzero: one weight scale per tensor, not per channel */
    int symmetric;                  /* nonzero: activations with zero point 0 */
    const char *const *exclude;     /* node names kept in float */
    int n_exclude;
};

/* quanta quantize MODEL --calib TABLE -o OUTPUT: rewrites the float model
 * with the ranges of the calibration table (static; calib may be NULL for
 * the other modes). A table made for another model (its SHA-256) is
 * QUANTA_ERR_INPUT. */
enum quanta_status quanta_quantize_file(const char *model, const char *calib,
                                        const char *output,
                                        const struct quanta_quantize_options *options,
                                        struct quanta_error *err);

#ifdef __cplusplus
}
#endif

#endif
