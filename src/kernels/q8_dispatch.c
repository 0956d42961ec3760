/* The int8 kernel tables, one per level, chosen by the same process-wide
 * level as the float tables (kernels_init / kernels_select in dispatch.c).
 * A fast level adds its table here, with the same typedefs and, by
 * contract, the same bytes as ref.
 *
 * Levels: ref; avx2 (GEMM, pools, add in AVX2); avx512 (vpmaddwd zmm GEMM,
 * AVX-512 depthwise, pools, add); vnni (vpdpbusd GEMM + avx512); amx
 * (tdpbusd GEMM + avx512), which falls back to the vnni table when Linux
 * refuses tile permission. The avx2/avx512 pools, add, quantize and
 * dequantize serve the levels above them, and the AVX2 dense_f32, concat,
 * matmul and embedding bag every x86 level (cat and avx2up in Q8_TABLE).
 * Families without a fast variant keep ref. AArch64: ref; neon (NEON GEMM
 * of conv2d/dense, NEON pools, add, quantize, dequantize and concat, the
 * rest ref); dotprod (SDOT GEMM on the U8 layout, neon's depthwise and the
 * rest of neon's table); i8mm (USMMLA GEMM on the U8K8 layout, else as
 * dotprod). */
#include "kernels/kernels_q8.h"

#include <pthread.h>

#include "kernels/cpu_x86.h"
#include "kernels/q8_packed.h"

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

#define Q8_TABLE(var, name, pool, gemm, cat, avx2up)                                           \
    static const struct q8_kernels var = {                                                     \
        .level = name,                                                                         \
        .conv2d = q8_conv2d__ref,                                                              \
        .dense = q8_dense__ref,                                                                \
        .max_pool2d = q8_max_pool2d__##pool,                                                   \
        .avg_pool2d = q8_avg_pool2d__##pool,                                                   \
        .global_avg_pool = q8_global_avg_pool__##pool,                                         \
        .add = q8_add__##pool,                                                                 \
        .mul = q8_mul__ref,                                                                    \
        .matmul = q8_matmul__##avx2up,                                                         \
        .requant_clamp = q8_requant_clamp__ref,                                                \
        .leaky_relu = q8_leaky_relu__ref,                                                      \
        .lut = q8_lut__ref,                                                                    \
        .concat = q8_concat__##cat,                                                            \
        .mean = q8_mean__ref,                                                                  \
        .embedding = q8_embedding__ref,                                                        \
        .embedding_bag = q8_embedding_bag__##avx2up,                                           \
        .resize_linear = q8_resize_linear__ref,                                                \
        .softmax = q8_softmax__ref,                                                            \
        .quantize = q8_quantize__##pool,                                                       \
        .dequantize = q8_dequantize__##pool,                                                   \
        .conv2d_f32 = q8_conv2d_f32__ref,                                                      \
        .dense_f32 = q8_dense_f32__##avx2up,                                                   \
        .conv2d_pack_size = q8_conv2d_pack_size__##gemm,                                       \
        .conv2d_pack = q8_conv2d_pack__##gemm,                                                 \
        .conv2d_scratch_size = q8_conv2d_scratch_size__##gemm,                                 \
        .conv2d_packed = q8_conv2d_packed__##gemm,                                             \
        .dense_pack_size = q8_dense_pack_size__##gemm,                                         \
        .dense_pack = q8_dense_pack__##gemm,                                                   \
        .dense_scratch_size = q8_dense_scratch_size__##gemm,                                   \
        .dense_packed = q8_dense_packed__##gemm,                                               \
    };

Q8_TABLE(q8_ref, "ref", ref, ref, ref, ref)
#if defined(__x86_64__)
Q8_TABLE(q8_avx2, "avx2", avx2, avx2, avx2, avx2)
Q8_TABLE(q8_avx512, "avx512", avx512, avx512, avx2, avx2)
Q8_TABLE(q8_vnni, "vnni", avx512, vnni, avx2, avx2)
Q8_TABLE(q8_amx, "amx", avx512, amx, avx2, avx2)
#elif defined(__aarch64__)
Q8_TABLE(q8_neon, "neon", neon, neon, neon, ref)
Q8_TABLE(q8_dotprod, "dotprod", neon, dotprod, neon, ref)
Q8_TABLE(q8_i8mm, "i8mm", neon, i8mm, neon, ref)
#endif
#undef Q8_TABLE

static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_granted;

static void amx_request(void)
{
#if defined(ARCH_REQ_XCOMP_PERM)
    const struct cpu_x86 *f = cpu_x86_get();
    if (!f->amx_tile || !f->amx_int8 || !f->avx512vnni)
        return;
    /* Once per process; fails (e.g. ENOSPC under a sanitizer whose
     * sigaltstack is too small for the tile state) leave AMX unused. */
    amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

int q8_amx_ready(void)
{
    pthread_once(&amx_once, amx_request);
    return amx_granted;
}

const struct q8_kernels *q8_kernels_for_level(enum kernels_level level)
{
    if (!f32_kernels_for_level(level)) /* this CPU (or build) lacks the level */
        return NULL;
    switch (level) {
    case KERNELS_LEVEL_REF: return &q8_ref;
#if defined(__x86_64__)
    case KERNELS_LEVEL_AVX2: return &q8_avx2;
    case KERNELS_LEVEL_AVX512: return &q8_avx512;
    case KERNELS_LEVEL_VNNI: return &q8_vnni;
    case KERNELS_LEVEL_AMX: return q8_amx_ready() ? &q8_amx : &q8_vnni;
#elif defined(__aarch64__)
    case KERNELS_LEVEL_NEON: return &q8_neon;
    case KERNELS_LEVEL_DOTPROD: return &q8_dotprod;
    case KERNELS_LEVEL_I8MM: return &q8_i8mm;
#endif
    case KERNELS_LEVEL_COUNT: break;
    }
    return NULL;
}

const struct q8_kernels *q8_kernels_get(void)
{
    if (!f32_kernels_get()) /* kernels_init failed: no level chosen */
        return NULL;
    return q8_kernels_for_level(kernels_current_level());
}
