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

#endif /* TS_SIMD_H */
