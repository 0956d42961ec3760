/* SHA-256 from FIPS 180-4, sections 4.1.2 (functions), 4.2.2 (constants),
 * 5.1.1 (padding), 5.3.3 (initial value) and 6.2.2 (computation). */
#include "quanta/sha256.h"
#include "base/sha256_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const uint32_t quanta_sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

#define SHA_CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define SHA_MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define SHA_BSIG0(x) (rotr32(x, 2) ^ rotr32(x, 13) ^ rotr32(x, 22))
#define SHA_BSIG1(x) (rotr32(x, 6) ^ rotr32(x, 11) ^ rotr32(x, 25))
#define SHA_SSIG0(x) (rotr32(x, 7) ^ rotr32(x, 18) ^ ((x) >> 3))
#define SHA_SSIG1(x) (rotr32(x, 17) ^ rotr32(x, 19) ^ ((x) >> 10))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++)
        w[t] = SHA_SSIG1(w[t - 2]) + w[t - 7] + SHA_SSIG0(w[t - 15]) + w[t - 16];

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + SHA_BSIG1(e) + SHA_CH(e, f, g) + quanta_sha256_k[t] + w[t];
        uint32_t t2 = SHA_BSIG0(a) + SHA_MAJ(a, b, c);
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void quanta_sha256_init(struct quanta_sha256 *ctx)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->h, h0, sizeof h0);
    ctx->n_bytes = 0;
    ctx->n_block = 0;
}

void quanta_sha256_update(struct quanta_sha256 *ctx, const void *bytes, size_t size)
{
    const uint8_t *p = bytes;
    ctx->n_bytes += size;
    if (ctx->n_block > 0) {
        size_t take = 64 - ctx->n_block;
        if (take > size)
            take = size;
        memcpy(ctx->block + ctx->n_block, p, take);
        ctx->n_block += take;
        p += take;
        size -= take;
        if (ctx->n_block < 64)
            return;
        sha256_block(ctx->h, ctx->block);
        ctx->n_block = 0;
    }
    size_t whole = size / 64;
    if (whole > 0 && quanta_sha256_blocks_x86(ctx->h, p, whole)) {
        p += 64 * whole;
        size -= 64 * whole;
    }
    for (; size >= 64; p += 64, size -= 64)
        sha256_block(ctx->h, p);
    if (size > 0) {
        memcpy(ctx->block, p, size);
        ctx->n_block = size;
    }
}

void quanta_sha256_final(struct quanta_sha256 *ctx, uint8_t digest[QUANTA_SHA256_SIZE])
{
    /* 5.1.1: append bit 1, zeros to 56 mod 64 bytes, then the length in bits (64-bit big endian). */
    uint64_t n_bits = ctx->n_bytes * 8;
    size_t n = ctx->n_block;
    ctx->block[n++] = 0x80;
    if (n > 56) {
        memset(ctx->block + n, 0, 64 - n);
        sha256_block(ctx->h, ctx->block);
        n = 0;
    }
    memset(ctx->block + n, 0, 56 - n);
    for (int i = 0; i < 8; i++)
        ctx->block[56 + i] = (uint8_t)(n_bits >> (56 - 8 * i));
    sha256_block(ctx->h, ctx->block);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(ctx->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)ctx->h[i];
    }
    ctx->n_block = 0;
}

void quanta_sha256_hex(const uint8_t digest[QUANTA_SHA256_SIZE], char hex[QUANTA_SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < QUANTA_SHA256_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * QUANTA_SHA256_SIZE] = '\0';
}

void quanta_sha256_buffer_hex(const void *bytes, size_t size, char hex[QUANTA_SHA256_HEX_SIZE])
{
    struct quanta_sha256 ctx;
    uint8_t digest[QUANTA_SHA256_SIZE];
    quanta_sha256_init(&ctx);
    quanta_sha256_update(&ctx, bytes, size);
    quanta_sha256_final(&ctx, digest);
    quanta_sha256_hex(digest, hex);
}

enum quanta_status quanta_sha256_file(const char *path, char hex_out[QUANTA_SHA256_HEX_SIZE],
                                      struct quanta_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct quanta_sha256 ctx;
    uint8_t buf[65536];
    quanta_sha256_init(&ctx);
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0)
        quanta_sha256_update(&ctx, buf, got);
    if (ferror(fp)) {
        int e = errno;
        fclose(fp);
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: cannot read: %s", path, strerror(e));
    }
    fclose(fp);
    uint8_t digest[QUANTA_SHA256_SIZE];
    quanta_sha256_final(&ctx, digest);
    quanta_sha256_hex(digest, hex_out);
    return QUANTA_OK;
}
