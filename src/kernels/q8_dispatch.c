/* The int8 kernel tables, one per level, chosen by the same process-wide
 * level as the float tables (kernels_init / kernels_select in dispatch.c).
 * A fast level adds its table here, with the same typedefs and, by
 * contract, the same bytes as ref. */
#include "kernels/kernels_q8.h"

static const struct q8_kernels q8_ref = {
    .level = "ref",
    .conv2d = q8_conv2d__ref,
    .dense = q8_dense__ref,
    .max_pool2d = q8_max_pool2d__ref,
    .avg_pool2d = q8_avg_pool2d__ref,
    .global_avg_pool = q8_global_avg_pool__ref,
    .add = q8_add__ref,
    .mul = q8_mul__ref,
    .requant_clamp = q8_requant_clamp__ref,
    .leaky_relu = q8_leaky_relu__ref,
    .lut = q8_lut__ref,
    .concat = q8_concat__ref,
    .mean = q8_mean__ref,
    .embedding = q8_embedding__ref,
    .softmax = q8_softmax__ref,
    .quantize = q8_quantize__ref,
    .dequantize = q8_dequantize__ref,
};

const struct q8_kernels *q8_kernels_for_level(enum kernels_level level)
{
    if (level == KERNELS_LEVEL_REF)
        return &q8_ref;
    return NULL;
}

const struct q8_kernels *q8_kernels_get(void)
{
    if (!f32_kernels_get()) /* kernels_init failed: no level chosen */
        return NULL;
    return q8_kernels_for_level(kernels_current_level());
}
