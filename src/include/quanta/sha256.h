/* SHA-256 (FIPS 180-4): streaming digest of bytes and of files, for the
 * provenance of models and data sets (model_sha256, data_sha256). */
#ifndef QUANTA_SHA256_H
#define QUANTA_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "quanta/status.h"

#define QUANTA_SHA256_SIZE 32                           /* digest bytes */
#define QUANTA_SHA256_HEX_SIZE (2 * QUANTA_SHA256_SIZE + 1) /* hex digits + NUL */

struct quanta_sha256 {
    uint32_t h[8];            /* intermediate hash value H(i) */
    uint64_t n_bytes;         /* message length so far */
    uint8_t block[64];        /* pending partial block */
    size_t n_block;           /* bytes pending in block, < 64 */
};

void quanta_sha256_init(struct quanta_sha256 *ctx);
/* Whole blocks go through the CPU's SHA instructions (x86 SHA-NI, about 7x
 * faster) when it has them. */
void quanta_sha256_update(struct quanta_sha256 *ctx, const void *bytes, size_t size);
/* Pads, writes the 32-byte digest and leaves ctx unusable until re-init. */
void quanta_sha256_final(struct quanta_sha256 *ctx, uint8_t digest[QUANTA_SHA256_SIZE]);

/* 64 lowercase hex digits and a NUL. */
void quanta_sha256_hex(const uint8_t digest[QUANTA_SHA256_SIZE], char hex[QUANTA_SHA256_HEX_SIZE]);

/* One call over a buffer: hex digest. */
void quanta_sha256_buffer_hex(const void *bytes, size_t size, char hex[QUANTA_SHA256_HEX_SIZE]);

/* Hex digest of a whole file, read in 64 KiB pieces (constant memory).
 * An unreadable file is QUANTA_ERR_INPUT naming the path. */
enum quanta_status quanta_sha256_file(const char *path, char hex_out[QUANTA_SHA256_HEX_SIZE],
                                      struct quanta_error *err);

#endif
