/* Shared by the portable SHA-256 (sha256.c) and its x86 SHA-NI block
 * function (sha256_x86.c). */
#ifndef QUANTA_SHA256_INTERNAL_H
#define QUANTA_SHA256_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FIPS 180-4 section 4.2.2; 16-byte aligned for vector loads. */
extern const uint32_t quanta_sha256_k[64];

/* Compresses n_blocks 64-byte blocks of p into h with the CPU's SHA
 * instructions; false (h untouched) when the CPU has none. */
bool quanta_sha256_blocks_x86(uint32_t h[8], const uint8_t *p, size_t n_blocks);

#endif
