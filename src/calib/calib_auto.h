/* Method auto's second pass (see calib_run in include/quanta/calib.h):
 * given each value's five candidate ranges, streams the data through the
 * float model again and measures, for every candidate, the squared error
 * the value's fake quantization causes where the value is used. */
#ifndef QUANTA_CALIB_AUTO_H
#define QUANTA_CALIB_AUTO_H

#include "quanta/calib.h"

struct calib_auto_value {
    int value;                          /* graph value index */
    double lo[CALIB_METHOD_COUNT];      /* each single method's range (input) */
    double hi[CALIB_METHOD_COUNT];
    int first[CALIB_METHOD_COUNT];      /* the earliest method of the same
                                           scale and zero point (output) */
    double error[CALIB_METHOD_COUNT];   /* squared error summed over the
                                           readers and samples (output) */
    double signal;                      /* squared float outputs, summed
                                           alike (output) */
    enum calib_method chosen;           /* least error, earliest on ties */
};

/* Fills first, error, signal and chosen of vals[0..n) (distinct values of
 * float model g) over every sample of the feed; runners use threads. */
enum quanta_status calib_auto_measure(const struct graph *g, struct data_feed *feed, int threads,
                                      struct calib_auto_value *vals, int n,
                                      struct quanta_error *err);

/* Scale and zero point of quantize's default activation rule: asymmetric
 * int8 over [lo, hi] widened to include 0, as quantize_choose_params. */
void calib_fake_quant_params(double lo, double hi, float *scale, int32_t *zero_point);
/* x quantized to int8 with those and back. */
double calib_fake_quant(double x, float scale, int32_t zero_point);

/* calib_run with method auto (opt->method is ignored), also giving the
 * measurements of every value of the table (*detail: out->n_values
 * entries, table order; caller frees). */
enum quanta_status calib_run_auto(const struct graph *g, struct data_feed *feed,
                                  const struct calib_options *opt, struct calib_table *out,
                                  struct calib_auto_value **detail, struct quanta_error *err);

#endif
