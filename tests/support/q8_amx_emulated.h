/* The int8 table of the vnni level with its conv2d/dense running the AMX
 * GEMM on a C model of the tile instructions (q8_amx_emulated_vnni.c);
 * NULL where the CPU lacks VNNI (the kernel's epilogue is AVX-512). */
#ifndef QUANTA_TEST_Q8_AMX_EMULATED_H
#define QUANTA_TEST_Q8_AMX_EMULATED_H

#include "kernels/kernels_q8.h"

#if defined(__x86_64__)
/* Built with the VNNI flags: call only where VNNI runs (the compiler may
 * use AVX-512 anywhere in it, before any check of its own). */
const struct q8_kernels *q8_amx_emulated_table(void);
/* The CPU check, here in the caller's flags. */
static inline const struct q8_kernels *q8_amx_emulated(void)
{
    return q8_kernels_for_level(KERNELS_LEVEL_VNNI) ? q8_amx_emulated_table() : NULL;
}
#else
/* the AMX GEMM is x86 code: nothing to emulate elsewhere */
static inline const struct q8_kernels *q8_amx_emulated(void)
{
    return NULL;
}
#endif

#endif
