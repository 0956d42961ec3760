/* The kernel level, chosen once per process, and the float tables.
 *
 * Adding a level: a KERNELS_LEVEL_LIST entry in kernels.h, a CPU test in
 * level_supported (features from src/kernels/cpu_x86.c or cpu_arm64.c), a
 * table below, and its row in f32_kernels_for_level. Each architecture's
 * tables and levels exist only in its builds (kernels.h). */
#include "kernels/kernels.h"
#include "kernels/cpu_arm64.h"
#include "kernels/cpu_x86.h"
#include "kernels/q8_packed.h"

#include <pthread.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[KERNELS_LEVEL_COUNT] = {
#define KERNELS_LEVEL_NAME(id, name) [KERNELS_LEVEL_##id] = name,
    KERNELS_LEVEL_LIST(KERNELS_LEVEL_NAME)
#undef KERNELS_LEVEL_NAME
};

/* matmul: AVX-512 CPUs run the AVX2 kernel (both bit-exact with the
 * reference) */
#define F32_MATMUL_ref f32_matmul__ref
#define F32_MATMUL_avx2 f32_matmul__avx2
#define F32_MATMUL_avx512 f32_matmul__avx2
#define F32_MATMUL_neon f32_matmul__neon
/* sigmoid, tanh, math (F32_MATHV) and softmax, layer_norm (F32_VEC):
 * AVX-512 CPUs run the AVX2 kernels; neon has its own, with the same
 * error bounds (kernels.h) */
#define F32_MATHV_ref ref
#define F32_MATHV_avx2 avx2
#define F32_MATHV_avx512 avx2
#define F32_MATHV_neon neon
#define F32_VEC_ref ref
#define F32_VEC_avx2 avx2
#define F32_VEC_avx512 avx2
#define F32_VEC_neon neon
#define F32_MATHV_FN(fn, isa) F32_VEC_FN_(fn, F32_MATHV_##isa)
#define F32_VEC_FN(fn, isa) F32_VEC_FN_(fn, F32_VEC_##isa)
#define F32_VEC_FN_(fn, level) F32_VEC_FN__(fn, level)
#define F32_VEC_FN__(fn, level) fn##__##level

/* A float table: the level's own kernels (isa) for packed conv2d/dense and
 * the max/average pools, the reference for conv2d/dense with weights as
 * stored and for the other families. */
#define F32_TABLE(var, name, isa)                                                         \
    static const struct f32_kernels var = {                                                   \
        .level = name,                                                                        \
        .conv2d = f32_conv2d__ref,                                                            \
        .dense = f32_dense__ref,                                                              \
        .max_pool2d = f32_max_pool2d__##isa,                                                  \
        .avg_pool2d = f32_avg_pool2d__##isa,                                                  \
        .global_avg_pool = f32_global_avg_pool__ref,                                          \
        .conv3d = f32_conv3d__ref,                                                            \
        .max_pool3d = f32_max_pool3d__ref,                                                    \
        .avg_pool3d = f32_avg_pool3d__ref,                                                    \
        .relu = f32_relu__ref,                                                                \
        .relu6 = f32_relu6__ref,                                                              \
        .sigmoid = F32_MATHV_FN(f32_sigmoid, isa),                                            \
        .tanh = F32_MATHV_FN(f32_tanh, isa),                                                  \
        .leaky_relu = f32_leaky_relu__ref,                                                    \
        .add = f32_add__ref,                                                                  \
        .mul = f32_mul__ref,                                                                  \
        .math = F32_MATHV_FN(f32_math, isa),                                                  \
        .broadcast = f32_broadcast__ref,                                                      \
        .transpose = transpose__ref,                                                          \
        .slice = slice__ref,                                                                  \
        .pad = pad__ref,                                                                      \
        .resize_nearest = resize_nearest__ref,                                                \
        .resize_linear = f32_resize_linear__ref,                                              \
        .matmul = F32_MATMUL_##isa,                                                           \
        .softmax = F32_VEC_FN(f32_softmax, isa),                                              \
        .batch_norm = f32_batch_norm__ref,                                                    \
        .layer_norm = F32_VEC_FN(f32_layer_norm, isa),                                        \
        .instance_norm = f32_instance_norm__ref,                                              \
        .cast = f32_cast__ref,                                                                \
        .mean = f32_mean__ref,                                                                \
        .concat = f32_concat__ref,                                                            \
        .embedding = f32_embedding__ref,                                                      \
        .embedding_bag = f32_embedding_bag__ref,                                              \
        .conv2d_pack_size = f32_conv2d_pack_size__##isa,                                      \
        .conv2d_pack = f32_conv2d_pack__##isa,                                                \
        .conv2d_scratch_size = f32_conv2d_scratch_size__##isa,                                \
        .conv2d_packed = f32_conv2d_packed__##isa,                                            \
        .dense_pack_size = f32_dense_pack_size__##isa,                                        \
        .dense_pack = f32_dense_pack__##isa,                                                  \
        .dense_packed = f32_dense_packed__##isa,                                              \
    };
F32_TABLE(f32_ref, "ref", ref)
#if defined(__aarch64__)
/* neon: NEON packed conv2d/dense, pools, matmul, sigmoid, tanh, math,
 * softmax and layer_norm; dotprod
 * and i8mm add int8 instructions only, their float tables are neon's */
F32_TABLE(f32_neon, "neon", neon)
F32_TABLE(f32_dotprod, "dotprod", neon)
F32_TABLE(f32_i8mm, "i8mm", neon)
#endif

#if defined(__x86_64__)
/* vnni and amx add int8 instructions only: their float tables are avx512's */
F32_TABLE(f32_avx2, "avx2", avx2)
F32_TABLE(f32_avx512, "avx512", avx512)
F32_TABLE(f32_vnni, "vnni", avx512)
F32_TABLE(f32_amx, "amx", avx512)
#endif
#undef F32_TABLE

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum kernels_level chosen = KERNELS_LEVEL_REF;
static struct quanta_error init_error; /* status QUANTA_OK when the choice succeeded */

const char *kernels_level_name(enum kernels_level level)
{
    return (unsigned)level < KERNELS_LEVEL_COUNT ? level_names[level] : "unknown";
}

/* Whether this CPU (and OS) can run the level; each level needs the
 * features of the ones below it. The reference runs everywhere. */
static int level_supported(enum kernels_level level)
{
#if defined(__x86_64__)
    const struct cpu_x86 *f = cpu_x86_get();
    bool avx2 = f->avx2 && f->fma && f->f16c;
    bool avx512 = avx2 && f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl;
    bool vnni = avx512 && f->avx512vnni;
#endif
    switch (level) {
    case KERNELS_LEVEL_REF: return 1;
#if defined(__x86_64__)
    case KERNELS_LEVEL_AVX2: return avx2;
    case KERNELS_LEVEL_AVX512: return avx512;
    case KERNELS_LEVEL_VNNI: return vnni;
    /* AMX also needs Linux to grant the tile state; a level the OS refuses
     * is not offered, so nothing runs the VNNI kernels under AMX's name */
    case KERNELS_LEVEL_AMX: return vnni && f->amx_tile && f->amx_int8 && q8_amx_ready();
#elif defined(__aarch64__)
    case KERNELS_LEVEL_NEON: return cpu_arm64_get()->asimd;
    case KERNELS_LEVEL_DOTPROD: return cpu_arm64_get()->asimddp;
    case KERNELS_LEVEL_I8MM: return cpu_arm64_get()->asimddp && cpu_arm64_get()->i8mm;
#endif
    case KERNELS_LEVEL_COUNT: break;
    }
    return 0;
}

void kernels_cpu_describe(char *buf, size_t size)
{
#if defined(__aarch64__)
    cpu_arm64_describe(buf, size);
#else
    cpu_x86_describe(buf, size);
#endif
}

static enum kernels_level best_level(void)
{
    for (int l = KERNELS_LEVEL_COUNT - 1; l > 0; l--)
        if (level_supported((enum kernels_level)l))
            return (enum kernels_level)l;
    return KERNELS_LEVEL_REF;
}

/* Resolves a level name; origin prefixes messages ("QUANTA_ISA=" or ""). */
static enum quanta_status parse_level(const char *name, const char *origin,
                                      enum kernels_level *out, struct quanta_error *err)
{
    char available[128] = "";
    size_t used = 0;
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        if (!level_supported((enum kernels_level)l))
            continue;
        size_t len = strlen(level_names[l]);
        if (used + len + 3 >= sizeof available)
            break;
        if (used) {
            memcpy(available + used, ", ", 2);
            used += 2;
        }
        memcpy(available + used, level_names[l], len + 1);
        used += len;
    }
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        if (strcmp(name, level_names[l]) != 0)
            continue;
        if (!level_supported((enum kernels_level)l))
            return quanta_fail(err, QUANTA_ERR_USAGE,
                               "%s%s: kernel level not supported by this cpu (available: %s)",
                               origin, name, available);
        *out = (enum kernels_level)l;
        return QUANTA_OK;
    }
    return quanta_fail(err, QUANTA_ERR_USAGE, "%s%s: unknown kernel level (available: %s)",
                       origin, name, available);
}

static void init_choice(void)
{
    quanta_error_clear(&init_error);
    const char *env = getenv("QUANTA_ISA");
    if (env && *env) {
        enum kernels_level level;
        if (parse_level(env, "QUANTA_ISA=", &level, &init_error) == QUANTA_OK)
            chosen = level;
        return;
    }
    chosen = best_level();
}

enum quanta_status kernels_init(struct quanta_error *err)
{
    pthread_once(&init_once, init_choice);
    if (init_error.status != QUANTA_OK)
        return quanta_fail(err, init_error.status, "%s", init_error.message);
    return QUANTA_OK;
}

enum quanta_status kernels_select(const char *isa, struct quanta_error *err)
{
    pthread_once(&init_once, init_choice);
    if (!isa)
        return kernels_init(err);
    enum kernels_level level;
    enum quanta_status st = parse_level(isa, "", &level, err);
    if (st != QUANTA_OK)
        return st;
    chosen = level;
    quanta_error_clear(&init_error); /* an explicit choice overrides a bad QUANTA_ISA */
    return QUANTA_OK;
}

enum kernels_level kernels_current_level(void)
{
    pthread_once(&init_once, init_choice);
    return chosen;
}

const struct f32_kernels *f32_kernels_for_level(enum kernels_level level)
{
    if (!level_supported(level))
        return NULL;
    switch (level) {
    case KERNELS_LEVEL_REF: return &f32_ref;
#if defined(__x86_64__)
    case KERNELS_LEVEL_AVX2: return &f32_avx2;
    case KERNELS_LEVEL_AVX512: return &f32_avx512;
    case KERNELS_LEVEL_VNNI: return &f32_vnni;
    case KERNELS_LEVEL_AMX: return &f32_amx;
#elif defined(__aarch64__)
    case KERNELS_LEVEL_NEON: return &f32_neon;
    case KERNELS_LEVEL_DOTPROD: return &f32_dotprod;
    case KERNELS_LEVEL_I8MM: return &f32_i8mm;
#endif
    case KERNELS_LEVEL_COUNT:
        break;
    }
    return NULL;
}

const struct f32_kernels *f32_kernels_get(void)
{
    pthread_once(&init_once, init_choice);
    if (init_error.status != QUANTA_OK)
        return NULL;
    return f32_kernels_for_level(chosen);
}

/* kernels.h; the figures man quanta-bench(1) states. */
double kernels_peak_ops_per_cycle(enum kernels_level level, bool int8)
{
    switch (level) {
    case KERNELS_LEVEL_REF: return 2.0;
#if defined(__x86_64__)
    case KERNELS_LEVEL_AVX2: return int8 ? 2.0 * 16 * 2 : 2.0 * 8 * 2;
    case KERNELS_LEVEL_AVX512: return int8 ? 2.0 * 32 * 2 : 2.0 * 16 * 2;
    case KERNELS_LEVEL_VNNI: return int8 ? 2.0 * 64 * 2 : 2.0 * 16 * 2;
    case KERNELS_LEVEL_AMX: return int8 ? 1024.0 * 2 : 2.0 * 16 * 2;
#elif defined(__aarch64__)
    case KERNELS_LEVEL_NEON: return 2.0 * 4 * 2; /* int8 (smlal) and float alike */
    case KERNELS_LEVEL_DOTPROD: return int8 ? 2.0 * 16 * 2 : 2.0 * 4 * 2;
    case KERNELS_LEVEL_I8MM: return int8 ? 2.0 * 32 * 2 : 2.0 * 4 * 2;
#endif
    case KERNELS_LEVEL_COUNT: break;
    }
    return NAN;
}
