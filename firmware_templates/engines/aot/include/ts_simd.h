/*
 * ts_simd.h - the few Armv7E-M DSP instructions the optimized aot kernels use.
 *
 * Written for tinyship from the Arm Architecture Reference Manual (no CMSIS sources).
 * Only included where __ARM_FEATURE_DSP is defined (Cortex-M4/M7/M33/M55).
 */
#ifndef TS_SIMD_H
#define TS_SIMD_H

#include <stdint.h>
#include <string.h>

/** 32-bit load from any address (the v7-M/v8-M cores allow unaligned LDR). */
static inline uint32_t ts_read32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/** 32-bit store to any address. */
static inline void ts_write32(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

/** SXTB16: bytes 0 and 2 sign-extended into the two halfwords. */
static inline uint32_t ts_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

/** SXTB16 ROR #8: bytes 1 and 3 sign-extended into the two halfwords. */
static inline uint32_t ts_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/** SXTAB16: halfwords of `a` plus bytes 0 and 2 of `x` sign-extended. */
static inline uint32_t ts_sxtab16(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/** SXTAB16 ROR #8: halfwords of `a` plus bytes 1 and 3 of `x` sign-extended. */
static inline uint32_t ts_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/** SMLAD: acc + lo(x)*lo(y) + hi(x)*hi(y) (16-bit signed halves). */
static inline int32_t ts_smlad(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

/** SMLABB: acc + lo(x)*lo(y). */
static inline int32_t ts_smlabb(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

/** SMLATT: acc + hi(x)*hi(y). */
static inline int32_t ts_smlatt(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

/** PKHBT: bottom halfword of `lo`, bottom halfword of `hi` on top. */
static inline uint32_t ts_pack_bb(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/** PKHTB: top halfword of `lo` at the bottom, top halfword of `hi` on top. */
static inline uint32_t ts_pack_tt(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/** The halfword pair (v, v) for SXTAB16 offsets. */
static inline uint32_t ts_dup16(int32_t v)
{
    return ((uint32_t)v & 0xFFFFu) | ((uint32_t)v << 16);
}

/*
 * Adds `n` pixels of 4 * `words` int8 channels each (`x`, pixels `step` bytes apart) into halfword-pair
 * sums: even[j] gets bytes 0 and 2 of word j (SXTAB16), odd[j] bytes 1 and 3 (SXTAB16 ROR #8). The
 * caller bounds the count so that no halfword overflows (256 pixels of -128). `words` is 1, 2 or 4 and
 * a constant where this is inlined, so the sums stay in registers.
 */
static inline __attribute__((always_inline)) void ts_sxtab16_pixels(const int8_t *x, int32_t n, int32_t step,
                                                                    int32_t words, uint32_t even[4], uint32_t odd[4])
{
    uint32_t e0 = even[0], o0 = odd[0], e1 = even[1], o1 = odd[1], e2 = even[2], o2 = odd[2], e3 = even[3],
             o3 = odd[3];
    for (; n > 0; --n, x += step) {
        const uint32_t w0 = ts_read32(x);
        e0 = ts_sxtab16(e0, w0);
        o0 = ts_sxtab16_ror8(o0, w0);
        if (words > 1) {
            const uint32_t w1 = ts_read32(x + 4);
            e1 = ts_sxtab16(e1, w1);
            o1 = ts_sxtab16_ror8(o1, w1);
        }
        if (words > 2) {
            const uint32_t w2 = ts_read32(x + 8), w3 = ts_read32(x + 12);
            e2 = ts_sxtab16(e2, w2);
            o2 = ts_sxtab16_ror8(o2, w2);
            e3 = ts_sxtab16(e3, w3);
            o3 = ts_sxtab16_ror8(o3, w3);
        }
    }
    even[0] = e0, odd[0] = o0, even[1] = e1, odd[1] = o1, even[2] = e2, odd[2] = o2, even[3] = e3, odd[3] = o3;
}

#endif /* TS_SIMD_H */
