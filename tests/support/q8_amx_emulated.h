/* The int8 table of the vnni level with its conv2d/dense running the AMX
 * GEMM on a C model of the tile instructions (q8_amx_emulated_vnni.c);
 * NULL where the CPU lacks VNNI (the kernel's epilogue is AVX-512). */
#ifndef QUANTA_TEST_Q8_AMX_EMULATED_H
#define QUANTA_TEST_Q8_AMX_EMULATED_H

#include "kernels/kernels_q8.h"

#if defined(__x86_64__)
const struct q8_kernels *q8_amx_emulated(void);
/* The table built from the vnni one; compiled with AVX-512 flags, so only
 * called once the CPU is known to have VNNI (q8_amx_emulated.c checks). */
const struct q8_kernels *q8_amx_emulated_vnni_table(const struct q8_kernels *vnni);
#else
/* the AMX GEMM is x86 code: nothing to emulate elsewhere */
static inline const struct q8_kernels *q8_amx_emulated(void)
{
    return NULL;
}
#endif

#endif
